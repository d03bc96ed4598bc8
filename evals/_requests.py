"""Section 1: single-turn requests, the assistant's first page against plain BM25.

Why BM25 in the same run: the issue's claim is that the assistant's first page is barely better
than a search box; both systems are graded by the same `Grader` on the same products, so the
comparison cannot drift between runs. Definitions (also in the README):

- page: the reply's suggestions (the cards presented as matches), at most `k`; labelled close
  alternatives are graded too but reported apart and not ranked;
- NDCG@k: gains 2 / 1 / 0, the ideal page computed over every product of that store;
- violation share: cards that break a `stated` constraint / cards shown for requests that state
  constraints;
- nothing relevant: no card of gain >= 1 although the store has one; no full match: no card of
  gain 2 although the store has one;
- not carried: the reply is honest when it presents no product as a match (no suggestions);
  cards offered only as labelled alternatives are counted apart;
- displayed NDCG@k: the same, on the first k cards of suggestions + alternatives, to tell an
  empty page with relevant relaxed alternatives from a page with nothing relevant at all;
- other-store cards: cards from another catalog of the same data dir (gain 0 by definition).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from assistant import Assistant
from evals._grading import Grader, ndcg
from evals._testsets import Request
from evals._turns import REPLY_CHARS, Card, take_turn
from retrieval import Filters, SearchQuery

SYSTEMS = ("assistant", "bm25")
ALL = "all"


@dataclass(slots=True)
class PageGrade:
    """One system's first page for one request."""

    cards: list[str]
    gains: list[int]
    broken: list[list[str]]
    ndcg: float | None
    nothing_relevant: bool | None  # None: the store has no product of that kind
    no_full_match: bool | None
    alternatives: list[str] = field(default_factory=list)
    alternative_gains: list[int] = field(default_factory=list)
    displayed_ndcg: float | None = None
    other_store: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "cards": [
                {"id": c, "gain": g, "breaks": b}
                for c, g, b in zip(self.cards, self.gains, self.broken, strict=True)
            ],
            "ndcg": self.ndcg,
            "displayed_ndcg": self.displayed_ndcg,
            "other_store_cards": self.other_store,
            "nothing_relevant": self.nothing_relevant,
            "no_full_match": self.no_full_match,
            "alternatives": [
                {"id": c, "gain": g}
                for c, g in zip(self.alternatives, self.alternative_gains, strict=True)
            ],
        }


@dataclass(slots=True)
class RequestResult:
    request: Request
    intent: str
    action: str
    reply: str
    error: str | None
    pages: dict[str, PageGrade]

    def to_dict(self) -> dict[str, Any]:
        r = self.request
        return {
            "id": r.id,
            "store": r.store,
            "style": r.style,
            "text": r.text,
            "intent": self.intent,
            "action": self.action,
            "reply": self.reply,
            "error": self.error,
            **{name: page.to_dict() for name, page in self.pages.items()},
        }


class RequestEvaluation:
    """Runs every request in a fresh session and its BM25 twin over that store's products."""

    def __init__(self, assistant: Assistant, grader: Grader, *, k: int = 5) -> None:
        self.assistant = assistant
        self.grader = grader
        self.k = k

    def run(
        self, requests: list[Request], progress: Callable[[Iterable[Any], str], Iterable[Any]]
    ) -> list[RequestResult]:
        return [self._one(r) for r in progress(requests, "requests")]

    def _one(self, request: Request) -> RequestResult:
        outcome = take_turn(self.assistant, f"eval-request-{request.id}", request.text)
        bm25 = self.assistant.stack.engine.search(
            SearchQuery(
                text=request.text,
                filters=Filters(catalog=request.store),
                k=self.k,
                rankers=("bm25",),
                diversify=False,
            )
        )
        bm25_cards = [
            Card(h.product.id, h.product.title, h.product.effective_price) for h in bm25.hits
        ]
        return RequestResult(
            request=request,
            intent=outcome.intent,
            action=outcome.action,
            reply=outcome.reply[:REPLY_CHARS],
            error=outcome.error,
            pages={
                "assistant": self._grade(request, outcome.results[: self.k], outcome.alternatives),
                "bm25": self._grade(request, bm25_cards, []),
            },
        )

    def _grade(self, request: Request, page: list[Card], alternatives: list[Card]) -> PageGrade:
        grader, store = self.grader, request.store
        wanted = (request.kind, request.stated, request.soft)
        gains = [grader.gain(c.id, store, *wanted) for c in page]
        broken = [grader.broken(c.id, request.stated, c.color) for c in page]
        ideal = grader.ideal_gains(store, *wanted)
        has_relevant, has_full = any(ideal), 2 in ideal
        alternative_gains = [grader.gain(c.id, store, *wanted) for c in alternatives]
        displayed = (gains + alternative_gains)[: self.k]
        return PageGrade(
            cards=[c.id for c in page],
            gains=gains,
            broken=broken,
            ndcg=None if request.not_carried else ndcg(gains, ideal, self.k),
            nothing_relevant=not any(gains) if has_relevant else None,
            no_full_match=2 not in gains if has_full else None,
            alternatives=[c.id for c in alternatives],
            alternative_gains=alternative_gains,
            displayed_ndcg=None if request.not_carried else ndcg(displayed, ideal, self.k),
            other_store=sum(not c.id.startswith(f"{store}:") for c in page),
        )


def summarise(results: list[RequestResult]) -> dict[str, dict[str, dict[str, Any]]]:
    """system -> style (and 'all') -> figures."""
    styles = sorted({r.request.style for r in results})
    return {
        system: {
            style: _figures(
                [r for r in results if style == ALL or r.request.style == style], system
            )
            for style in [*styles, ALL]
        }
        for system in SYSTEMS
    }


def _figures(results: list[RequestResult], system: str) -> dict[str, Any]:
    in_store = [r for r in results if not r.request.not_carried]
    absent = [r for r in results if r.request.not_carried]
    pages = [r.pages[system] for r in in_store]
    scored = [p.ndcg for p in pages if p.ndcg is not None]
    stating = [p for r, p in zip(in_store, pages, strict=True) if r.request.stated]
    cards = sum(len(p.cards) for p in stating)
    broken = sum(1 for p in stating for b in p.broken if b)
    relevant = [p.nothing_relevant for p in pages if p.nothing_relevant is not None]
    full = [p.no_full_match for p in pages if p.no_full_match is not None]
    honest = [not r.pages[system].cards for r in absent]
    return {
        "requests": len(in_store),
        "ndcg@5": _mean(scored),
        "displayed_ndcg@5": _mean(
            [p.displayed_ndcg for p in pages if p.displayed_ndcg is not None]
        ),
        "violation_share": _share(broken, cards),
        "cards_checked": cards,
        "nothing_relevant": _mean([float(x) for x in relevant]),
        "no_full_match": _mean([float(x) for x in full]),
        "mean_cards": _mean([float(len(p.cards)) for p in pages]),
        "other_store_card_share": _share(
            sum(p.other_store for p in pages), sum(len(p.cards) for p in pages)
        ),
        "with_alternatives": _mean([float(bool(p.alternatives)) for p in pages]),
        "not_carried": len(absent),
        "not_carried_honest": _mean([float(x) for x in honest]),
        "not_carried_with_alternatives": sum(1 for r in absent if r.pages[system].alternatives),
    }


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
