"""Do the labels the test sets use survive ingestion? Checked before anything is graded.

Why: a test set written against the raw catalog files can name a label (a Magento attribute
code, a value, a category) that the project's ingest renames, rewrites or drops; grading would
then silently call every product irrelevant. The audit lists every such label, loudly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from evals._grading import ATTRIBUTE_ALIASES, Grader, ProductFacts, stored_attribute
from evals._testsets import Conversation, Predicate, Request

_FACETS = {
    "categories_any": lambda f: f.categories,
    "colors_any": lambda f: f.colors,
    "colors_none": lambda f: f.colors,
    "sizes_any": lambda f: f.sizes,
    "materials_any": lambda f: f.materials,
    "materials_none": lambda f: f.materials,
    "sku_any": lambda f: {f.sku.casefold()},
    "brand": lambda f: {f.brand},
    "gender": lambda f: {g.casefold() for g in f.genders},
}


def predicates_of(
    requests: Iterable[Request], conversations: Iterable[Conversation]
) -> list[tuple[str, str, Predicate]]:
    """(store, where, predicate) for every predicate of both sets."""
    found = [(r.store, r.id, p) for r in requests for p in (r.kind, r.stated, r.soft) if p]
    for conversation in conversations:
        for number, turn in enumerate(conversation.turns, start=1):
            where = f"{conversation.id} turn {number}"
            show = turn.expect.get("show") or {}
            found += [
                (conversation.store, where, show[part])
                for part in ("kind", "stated", "soft")
                if show.get(part)
            ]
            if turn.expect.get("exclude"):
                found.append((conversation.store, where, turn.expect["exclude"]))
    return found


def audit(grader: Grader, predicates: list[tuple[str, str, Predicate]]) -> dict[str, Any]:
    """Labels no stored product of that store carries ("blocking" when no value of an any-of
    list is carried, so the key can never hold), and raw attribute codes that ingestion files
    under another name."""
    missing: dict[tuple[str, str, str, bool], list[str]] = defaultdict(list)
    renamed: dict[str, str] = {}
    for store, where, predicate in predicates:
        products = grader.in_store(store)
        if not products:
            missing[store, "store", store, True].append(where)
            continue
        for key, value in predicate.items():
            for labels, known in _labels(key, value, products):
                absent = [label for label in labels if label.casefold() not in known]
                for label in absent:
                    missing[store, key, label, len(absent) == len(labels)].append(where)
            if key == "attribute":
                renamed |= {n: stored_attribute(n) for n in value if n in ATTRIBUTE_ALIASES}
    merged = defaultdict(list)
    for raw, stored in ATTRIBUTE_ALIASES.items():
        merged[stored].append(raw)
    return {
        "missing": [
            {"store": s, "key": k, "label": v, "blocking": b, "used_by": sorted(set(w))[:8]}
            for (s, k, v, b), w in sorted(missing.items())
        ],
        "renamed_attributes": renamed,
        "merged_attributes": {
            stored: sorted(raws)
            for stored, raws in merged.items()
            if len(raws) > 1 and any(r in renamed for r in raws)
        },
    }


def _labels(
    key: str, value: Any, products: list[ProductFacts]
) -> Iterable[tuple[list[str], set[str]]]:
    """(an any-of list of labels, the values the store carries for that key)."""
    if key in _FACETS:
        known = {v for f in products for v in _FACETS[key](f)}
        yield [str(v) for v in (value if isinstance(value, list) else [value])], known
    elif key == "attribute":
        for name, allowed in value.items():
            stored = stored_attribute(name)
            carried = {v for f in products for v in f.attributes.get(stored, ())}
            yield [f"{name}={a}" for a in allowed], {f"{name}={v}".casefold() for v in carried}
