"""What an ingest noticed: every skipped, repaired or dropped thing, with a row reference."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class IssueReason(StrEnum):
    """Why a row or value was repaired, skipped or dropped (the report's counting key)."""

    EMPTY_FILE = "empty_file"
    MISSING_COLUMN = "missing_column"
    MISSING_ID = "missing_id"
    BAD_PRICE = "bad_price"
    MISSING_PRICE = "missing_price"
    MISSING_IMAGE = "missing_image"
    UNSAFE_IMAGE_PATH = "unsafe_image_path"
    DUPLICATE_ID = "duplicate_id"
    NON_UTF8 = "non_utf8"
    MALFORMED_ROW = "malformed_row"
    ORPHAN_VARIANT = "orphan_variant"
    REVIEW_UNKNOWN_PRODUCT = "review_unknown_product"
    REVIEW_TOO_SHORT = "review_too_short"
    REVIEW_SPAM = "review_spam"
    BAD_RATING = "bad_rating"
    LINK_UNKNOWN_PRODUCT = "link_unknown_product"


@dataclass(frozen=True, slots=True)
class IngestIssue:
    reason: IssueReason
    source: str
    row: int | None = None
    detail: str = ""

    @property
    def where(self) -> str:
        return self.source if self.row is None else f"{self.source}:{self.row}"


@dataclass(slots=True)
class IngestReport:
    """Counts of what was stored plus every issue; saved with the catalog and printed by the CLI."""

    catalog: str
    source: str
    format: str
    products: int = 0
    variants: int = 0
    images: int = 0
    reviews_attached: int = 0
    reviews_stored: int = 0
    links_resolved: int = 0
    links_stored: int = 0
    issues: list[IngestIssue] = field(default_factory=list)

    def add(
        self, reason: IssueReason, source: str, row: int | None = None, detail: str = ""
    ) -> None:
        self.issues.append(IngestIssue(reason, source, row, detail))

    def counts(self) -> dict[str, int]:
        return dict(Counter(str(issue.reason) for issue in self.issues).most_common())

    def examples(self, reason: IssueReason, limit: int = 5) -> list[IngestIssue]:
        return [issue for issue in self.issues if issue.reason == reason][:limit]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["issue_counts"] = self.counts()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestReport:
        fields = {k: v for k, v in data.items() if k != "issue_counts"}
        fields["issues"] = [
            IngestIssue(**{**i, "reason": IssueReason(i["reason"])}) for i in data.get("issues", [])
        ]
        return cls(**fields)


class SourceError(Exception):
    """The source as a whole cannot be read; nothing is written and the old catalog stays."""
