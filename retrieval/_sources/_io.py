"""Reading helpers shared by the source adapters: tolerant decoding, CSV rows with line
numbers, prices, and image paths that cannot escape their root."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval._model import ImageRole, Product, ProductLink, Review
from retrieval._report import IngestReport, IssueReason, SourceError

_PRICE_RE = re.compile(r"^[^\d\-+.,]*([-+]?\d[\d,.\s]*)[^\d]*$")


@dataclass(slots=True)
class ReviewRecord:
    sku: str
    review: Review
    source: str
    row: int | None


@dataclass(slots=True)
class LinkRecord:
    sku: str
    link: ProductLink
    source: str
    row: int | None


@dataclass(slots=True)
class SourceRecords:
    """What an adapter read, before cleaning, de-duplication and link resolution."""

    products: list[tuple[Product, str, int | None]] = field(default_factory=list)
    reviews: list[ReviewRecord] = field(default_factory=list)
    links: list[LinkRecord] = field(default_factory=list)
    # Variant and component SKUs that stand for a stored product (reviews/links resolve through it).
    sku_aliases: dict[str, str] = field(default_factory=dict)


def read_text(path: Path, report: IngestReport) -> str:
    """The file as text; lines that are not UTF-8 are decoded as Windows-1252 and reported."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(raw.decode("cp1252", errors="replace"))
            report.add(IssueReason.NON_UTF8, path.name, number, "decoded as Windows-1252")
    return "\n".join(lines)


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def without_surrogates(value: Any) -> Any:
    """A parsed JSON value with every lone surrogate (a bad "\\ud800" escape, which no UTF-8
    file or SQLite text can hold) replaced by U+FFFD; valid pairs were already joined."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {without_surrogates(k): without_surrogates(v) for k, v in value.items()}
    return value


def with_escapes_mended(value: Any, report: IngestReport, source: str, line: int) -> Any:
    """`without_surrogates`, reporting the row when a bad escape was mended."""
    clean = without_surrogates(value)
    if clean != value:
        report.add(IssueReason.NON_UTF8, source, line, "bad \\u escape replaced")
    return clean


def csv_rows(
    path: Path,
    report: IngestReport,
    *,
    required: tuple[str, ...] = (),
    expected: tuple[str, ...] = (),
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; a missing required column makes the file unreadable.

    Missing `expected` columns are reported once and read as empty, so one absent column does
    not sink the file. Rows with extra cells are reported and skipped.
    """
    text = read_text(path, report)
    if not text.strip():
        report.add(IssueReason.EMPTY_FILE, path.name)
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing_required = [c for c in required if c not in header]
    if missing_required:
        raise SourceError(f"{path}: missing required column(s): {', '.join(missing_required)}")
    for column in expected:
        if column not in header:
            report.add(IssueReason.MISSING_COLUMN, path.name, 1, f"column '{column}' is missing")
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a cell over the csv module's field size limit
            report.add(IssueReason.MALFORMED_ROW, path.name, line, f"unreadable row: {exc}")
            line = max(reader.line_num, line) + 1
            continue
        if None in row:
            report.add(IssueReason.MALFORMED_ROW, path.name, line, "more cells than columns")
        else:
            yield line, {k: (v or "").strip() for k, v in row.items()}
        line = reader.line_num + 1


def parse_price(value: str | float | int | None) -> float | None:
    """A non-negative price from '52', '$1,234.50', '45 USD'; None when empty.

    Raises ValueError for text that is not a price, or a negative one.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"not a price: {value!r}"[:120])
    if isinstance(value, int | float):
        number = float(value)
    else:
        match = _PRICE_RE.match(value.strip())
        if not match:
            raise ValueError(f"not a price: {value!r}")
        digits = re.sub(r"[,\s]", "", match.group(1))
        try:
            number = float(digits)
        except ValueError as exc:
            raise ValueError(f"not a price: {value!r}") from exc
    if number < 0 or number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"not a valid price: {value!r}")
    return round(number, 2)


def price_or_report(
    value: str | float | int | None, report: IngestReport, source: str, row: int | None
) -> float | None:
    """`parse_price`, reporting a bad value instead of failing the row."""
    try:
        return parse_price(value)
    except ValueError as exc:
        report.add(IssueReason.BAD_PRICE, source, row, str(exc))
        return None


def resolve_image(
    root: Path | None, reference: str, report: IngestReport, source: str, row: int | None
) -> Path | None:
    """The absolute path of an image inside `root`, or None (reported) when it is unsafe or
    absent. References are relative to root even when they start with '/' (Magento style)."""
    if root is None:
        report.add(IssueReason.MISSING_IMAGE, source, row, f"{reference}: no image folder")
        return None
    base = root.resolve()
    candidate = (base / reference.lstrip("/\\")).resolve()
    if not candidate.is_relative_to(base):
        report.add(IssueReason.UNSAFE_IMAGE_PATH, source, row, f"{reference} leaves {base}")
        return None
    if not candidate.is_file():
        report.add(IssueReason.MISSING_IMAGE, source, row, reference)
        return None
    return candidate


def image_role(reference: str, *, first: bool) -> ImageRole:
    """Role from the file name convention (`_main`, `_back`, `_alt1`); else the first is main."""
    stem = Path(reference).stem.lower()
    if "back" in stem:
        return ImageRole.BACK
    if re.search(r"_alt\d*$", stem):
        return ImageRole.ALT
    if stem.endswith("_main") or first:
        return ImageRole.MAIN
    return ImageRole.ALT


def split_values(value: str, separators: str = "|\n") -> list[str]:
    """Multi-valued cells: 'a|b', or one value per line as Magento's sample data writes them."""
    parts = re.split("|".join(re.escape(s) for s in separators), value)
    return [p.strip() for p in parts if p.strip()]
