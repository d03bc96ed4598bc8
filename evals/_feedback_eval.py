"""`shopassist eval feedback`: does personalisation get simulated shoppers there sooner?

Each simulated shopper has a hidden target drawn from a real product: a kind of product (leaf
category and gender), a colour, a style (the catalog's own style attribute: hooded, v-neck...)
and a price band. They ask only for the department the kind sits in ("show me women's tops"
when they want a jacket), then each turn look at
the cards: a thumbs up for a card of the right kind sharing at least two of colour, style and
price band, a thumbs down for one of the wrong kind or sharing none, nothing otherwise; then
they ask for more. A turn succeeds when a card meets the whole target.

The same shoppers run three times, through the real `Assistant`: personalisation off, on with
an empty event log (cold start: in-session feedback only), and on after a first population of
shoppers has filled the log (co-likes across sessions).
"""

from __future__ import annotations

import json
import random
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import mean
from typing import Any

import numpy as np

from assistant import Assistant
from assistant.feedback import EventLog
from dialogue import ProductCard

MAX_TURNS = 8
PRICE_BANDS = 4
# Earlier shoppers per measured shopper in the co-likes condition (their log is the history).
WARMUP_FACTOR = 4
Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]


@dataclass(frozen=True, slots=True)
class Target:
    department: str
    category: str
    gender: str
    color: str
    style: str
    band: int

    @property
    def request(self) -> str:
        return f"show me {self.gender}'s {self.department.lower()}"


@dataclass(slots=True)
class Outcome:
    target: Target
    turns: int | None  # the turn that showed a matching card; None = not within MAX_TURNS


class Shopper:
    """One simulated shopper: judges cards against a hidden target."""

    def __init__(
        self,
        target: Target,
        band_of: Callable[[float | None], int],
        styles_of: Callable[[str], list[str]],
    ) -> None:
        self.target = target
        self.band_of = band_of
        self.styles_of = styles_of

    def _color(self, card: ProductCard) -> bool:
        return self.target.color.lower() in {c.lower() for c in card.colors}

    def _band(self, card: ProductCard) -> bool:
        return self.band_of(card.price) == self.target.band

    def _kind(self, card: ProductCard) -> bool:
        t = self.target
        genders = {g.lower() for g in card.genders}
        return card.category.lower() == t.category.lower() and (
            t.gender in genders or "unisex" in genders
        )

    def _shared(self, card: ProductCard) -> int:
        style = self.target.style.lower() in {s.lower() for s in self.styles_of(card.id)}
        return int(self._color(card)) + int(self._band(card)) + int(style)

    def satisfied_by(self, card: ProductCard) -> bool:
        return self._kind(card) and self._shared(card) == 3

    def thumbs(self, card: ProductCard) -> int:
        if not self._kind(card):
            return -1
        shared = self._shared(card)
        return 1 if shared >= 2 else -1 if shared == 0 else 0

    def shop(self, assistant: Assistant, personalise: bool) -> Outcome:
        session = f"eval-feedback-{uuid.uuid4().hex}"
        assistant.set_personalise(session, personalise)
        message = self.target.request
        for turn in range(1, MAX_TURNS + 1):
            reply = assistant.respond(session, message)
            cards = [s.card for s in (*reply.suggestions, *reply.dialogue.alternatives)]
            if any(self.satisfied_by(card) for card in cards):
                return Outcome(self.target, turn)
            if not cards and turn > 1:
                break  # nothing more to show
            for card in cards:
                if thumbs := self.thumbs(card):
                    assistant.feedback(session, card.id, thumbs)
            message = "show me more"
        return Outcome(self.target, None)


def price_bands(prices: list[float]) -> Callable[[float | None], int]:
    """Quartile bands of the catalog's prices (0 = cheapest)."""
    edges = np.quantile(prices, [i / PRICE_BANDS for i in range(1, PRICE_BANDS)])

    def band(price: float | None) -> int:
        return -1 if price is None else int(np.searchsorted(edges, price, side="right"))

    return band


def targets(
    cards: list[ProductCard],
    band_of: Callable[[float | None], int],
    styles_of: Callable[[str], list[str]],
    departments_of: Callable[[str], str],
    count: int,
    seed: int,
) -> list[Target]:
    """Targets drawn from real products, so every one is reachable in the catalog; products
    for one gender only, so the request names the shopper."""
    rng = random.Random(seed)
    eligible = [
        c
        for c in cards
        if c.category
        and c.colors
        and c.price
        and styles_of(c.id)
        and len({g.lower() for g in c.genders}) == 1
    ]
    eligible = [c for c in eligible if c.genders[0].lower() in ("men", "women")]
    rng.shuffle(eligible)
    chosen = []
    for card in eligible[:count]:
        color = rng.choice(sorted(card.colors))
        style = rng.choice(sorted(styles_of(card.id)))
        gender = card.genders[0].lower()
        department = departments_of(card.id)
        chosen.append(Target(department, card.category, gender, color, style, band_of(card.price)))
    return chosen


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    turns = [o.turns for o in outcomes]
    reached = [t for t in turns if t is not None]
    return {
        "shoppers": len(outcomes),
        "success_rate": round(len(reached) / max(1, len(outcomes)), 3),
        "mean_turns_to_success": round(mean(reached), 2) if reached else None,
        # Failures counted as one turn past the limit, so a system is not rewarded for
        # giving up: the figure to compare.
        "mean_turns_capped": round(mean(t or MAX_TURNS + 1 for t in turns), 2),
    }


def run(
    assistant: Assistant,
    shoppers: int,
    seed: int,
    progress: Progress,
    out_dir: Path,
) -> dict[str, Any]:
    """Run all three conditions with a private event log (the store's log is untouched)."""
    cards = [
        c for pid in assistant.stack.engine.view.products if (c := assistant.catalog.product(pid))
    ]
    band_of = price_bands([c.price for c in cards if c.price])
    products = assistant.stack.engine.view.products

    def styles_of(product_id: str) -> list[str]:
        return list(products[product_id].attribute_values("style"))

    def department_of(product_id: str) -> str:
        """ "Tops" for Women > Tops > Jackets: the level above the kind of product."""
        path = products[product_id].category_path
        return path[-2] if len(path) >= 3 else path[-1]

    warmup = targets(cards, band_of, styles_of, department_of, WARMUP_FACTOR * shoppers, seed + 1)
    measured = targets(cards, band_of, styles_of, department_of, shoppers, seed)
    saved_events, saved_co_liked = assistant.events, assistant.catalog.co_liked
    report: dict[str, Any] = {"max_turns": MAX_TURNS, "page_size": _page_size(assistant)}
    conditions = (
        ("personalisation off", False, ()),
        ("in-session feedback (cold start)", True, ()),
        ("in-session + co-likes from earlier shoppers", True, warmup),
    )
    try:
        with tempfile.TemporaryDirectory(prefix="shopassist-feedback-") as work:
            for number, (name, personalise, earlier) in enumerate(conditions):
                # A fresh log per condition: shoppers of one never inform another.
                log = EventLog(Path(work) / f"events-{number}.db", retention_days=None)
                # Cold start means no co-likes at all, not even from the shoppers measured
                # before this one.
                assistant.events = log
                assistant.catalog.co_liked = log.co_liked if earlier else None
                for target in progress(earlier, f"{name}: earlier shoppers", len(earlier)):
                    Shopper(target, band_of, styles_of).shop(assistant, True)
                frozen = log.count()
                outcomes = [
                    Shopper(t, band_of, styles_of).shop(assistant, personalise)
                    for t in progress(measured, name, len(measured))
                ]
                report[name] = {**summarise(outcomes), "events_before": frozen}
                report.setdefault("outcomes", {})[name] = [
                    {**asdict(o.target), "turns": o.turns} for o in outcomes
                ]
                log.close()
    finally:
        assistant.events, assistant.catalog.co_liked = saved_events, saved_co_liked
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "feedback.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def markdown(report: dict[str, Any]) -> str:
    rows = [
        "| condition | shoppers | reached target | mean turns (reached) | mean turns (capped) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, summary in report.items():
        if isinstance(summary, dict) and "success_rate" in summary:
            rows.append(
                f"| {name} | {summary['shoppers']} | {summary['success_rate']:.0%} | "
                f"{summary['mean_turns_to_success']} | {summary['mean_turns_capped']} |"
            )
    return "\n".join(rows)


def _page_size(assistant: Assistant) -> int:
    return assistant.model.policy.settings.page_size
