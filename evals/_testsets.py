"""Typed readers for the understanding sets (sample_data/heldout, sample_data/dev/v*) and SIMMC.

Why typed: a misspelt key in a hand-written YAML entry must stop the run with its id, not
quietly grade every product as relevant. The meaning of each key is in
sample_data/heldout/README.md; this module only checks shapes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
HELDOUT = REPO / "sample_data" / "heldout"
DEV = REPO / "sample_data" / "dev"
# "test": the sets nobody has tuned on (their figures are the progress claims); "dev" (the latest
# retired test sets), "dev-v10" .. "dev-v1": earlier test sets whose failures were read to choose
# changes, kept as regression checks.
SPLITS = {
    "test": HELDOUT,
    "dev": DEV / "v11",
    "dev-v10": DEV / "v10",
    "dev-v9": DEV / "v9",
    "dev-v8": DEV / "v8",
    "dev-v7": DEV / "v7",
    "dev-v6": DEV / "v6",
    "dev-v5": DEV / "v5",
    "dev-v4": DEV / "v4",
    "dev-v3": DEV / "v3",
    "dev-v2": DEV / "v2",
    "dev-v1": DEV / "v1",
}
PREDICATE_KEYS = frozenset(
    {
        "categories_any",
        "gender",
        "colors_any",
        "colors_none",
        "sizes_any",
        "materials_any",
        "materials_none",
        "attribute",
        "brand",
        "price_max",
        "price_min",
        "on_sale",
        "sku_any",
        "text_any",
        "none",
    }
)
EXPECT_KEYS = frozenset(
    {
        "show",
        "exclude",
        "sorted",
        "cheaper_than",
        "cart_has",
        "cart_lacks",
        "asks",
        "about",
        "compare",
    }
)
REFERENCE = re.compile(r"^turn (\d+) shown (\d+)$")

Predicate = dict[str, Any]


class HeldoutFormatError(ValueError):
    """A test-set entry that does not follow the documented format."""


def check_predicate(predicate: Any, where: str) -> Predicate:
    """The predicate itself, after checking that every key is documented."""
    if predicate is None:
        return {}
    if not isinstance(predicate, dict):
        raise HeldoutFormatError(f"{where}: a predicate is a mapping, got {predicate!r}")
    unknown = set(predicate) - PREDICATE_KEYS
    if unknown:
        raise HeldoutFormatError(f"{where}: unknown predicate key(s) {sorted(unknown)}")
    return predicate


@dataclass(frozen=True, slots=True)
class Request:
    """One single-turn request with its graded intent (`kind`, `stated`, `soft`)."""

    id: str
    store: str
    text: str
    style: str
    kind: Predicate
    stated: Predicate = field(default_factory=dict)
    soft: Predicate = field(default_factory=dict)

    @property
    def not_carried(self) -> bool:
        return bool(self.kind.get("none"))


@dataclass(frozen=True, slots=True)
class ScriptedTurn:
    user: str
    expect: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    store: str
    note: str
    turns: tuple[ScriptedTurn, ...]


@dataclass(frozen=True, slots=True)
class IntentLabel:
    """A hand label for one SIMMC shopper turn, by position (the text stays in the corpus)."""

    line: int
    turn: int
    intent: str
    also: str | None = None
    confidence: str = "high"


def load_requests(path: Path) -> list[Request]:
    entries = _yaml(path).get("requests") or []
    requests = []
    for entry in entries:
        where = f"{path.name}:{entry.get('id', '?')}"
        requests.append(
            Request(
                id=str(entry["id"]),
                store=str(entry["store"]),
                text=str(entry["text"]),
                style=str(entry["style"]),
                kind=check_predicate(entry.get("kind"), f"{where} kind"),
                stated=check_predicate(entry.get("stated"), f"{where} stated"),
                soft=check_predicate(entry.get("soft"), f"{where} soft"),
            )
        )
    return requests


def load_conversations(path: Path) -> list[Conversation]:
    conversations = []
    for entry in _yaml(path).get("conversations") or []:
        turns = []
        for number, turn in enumerate(entry["turns"], start=1):
            expect = turn.get("expect") or {}
            unknown = set(expect) - EXPECT_KEYS
            if unknown:
                raise HeldoutFormatError(f"{entry['id']} turn {number}: unknown check(s) {unknown}")
            turns.append(ScriptedTurn(str(turn["user"]), expect))
        conversations.append(
            Conversation(str(entry["id"]), str(entry["store"]), entry.get("note", ""), tuple(turns))
        )
    return conversations


def load_labels(path: Path) -> list[IntentLabel]:
    return [
        IntentLabel(
            line=int(row["line"]),
            turn=int(row["turn"]),
            intent=str(row["intent"]),
            also=row.get("also"),
            confidence=str(row.get("confidence", "high")),
        )
        for row in _yaml(path).get("labels") or []
    ]


def load_dialogues(path: Path) -> list[list[str]]:
    """The shopper turns of each dialogue, by line of the JSONL file (labels use the line)."""
    dialogues = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                dialogues.append([str(t.get("user", "")) for t in json.loads(line)["turns"]])
    return dialogues


def parse_reference(reference: str) -> tuple[int, int]:
    """'turn 3 shown 2' -> (3, 2), both 1-based."""
    match = REFERENCE.match(reference.strip())
    if not match:
        raise HeldoutFormatError(f"not a reference: {reference!r} (expected 'turn T shown N')")
    return int(match.group(1)), int(match.group(2))


def _yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise HeldoutFormatError(f"{path}: expected a mapping at the top")
    return data
