"""Answers to a shopper's question about a product, quoted from that product's own text.

Why extractive: a shopper deciding to buy needs what the store and its reviewers actually
said, not a plausible guess, so every answer is a verbatim quote (an attribute line, a
description sentence or a review sentence) or a plain "the product page doesn't say". Sources
are ranked by the question's words (stemmed, with a few domain synonyms from `dialogue.yml`)
plus the sentence encoder the NLU already loaded; a threshold chosen on the dev question set
decides between stated and not stated.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dialogue._config import AnswerSettings
from dialogue._entities import STOP_WORDS, attribute_label
from dialogue._protocol import Embedder, ProductText, ReviewFact

SourceKind = Literal["attribute", "description", "review"]
SOURCE_ORDER: tuple[SourceKind, ...] = ("attribute", "description", "review")
WORD = re.compile(r"[a-z0-9]+")
# A sentence ends at . ! ? (or a bullet) followed by space; "100% polyester." stays whole.
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\s*[•\u2022]\s*")
TAG = re.compile(r"<[^>]+>")
# Flag attributes ("eco_collection": "No"): a "yes" states something, a "no" is the catalog's
# default and states nothing, so only the first is a source.
FLAG_YES = frozenset({"yes", "1", "true"})
FLAG_NO = frozenset({"no", "0", "false"})
# "What do people say about...": the shopper wants the reviews' view.
ASKS_REVIEWERS = re.compile(
    r"\b(?:reviews?|reviewers?|people|customers?|buyers?|owners?|anyone|folks|others)\b", re.I
)
# "which has the best reviews?": a ranking by rating, not a quote.
BEST_REVIEWED = re.compile(
    r"\b(?:best|highest|top|better)[\s-]*(?:rated|reviewed|reviews?|ratings?)\b|\bmost\s+liked\b",
    re.I,
)
# What reviewers say about fit. Each pattern is one verdict; a review counts once per verdict.
FIT_VERDICTS: dict[str, re.Pattern[str]] = {
    "small": re.compile(
        r"\b(?:runs?|ran|running|fits?|fitted|sized?)\s+(?:a\s+)?(?:little\s+|bit\s+|lot\s+|"
        r"really\s+|very\s+|super\s+|way\s+)*(?:small|tight|snug)\b|\btoo\s+(?:small|tight)\b"
        r"|\b(?:size|order(?:ed)?|go(?:ing)?|went)\s+(?:a\s+|one\s+)?(?:size\s+)?up\b",
        re.I,
    ),
    "large": re.compile(
        r"\b(?:runs?|ran|running|fits?|fitted|sized?)\s+(?:a\s+)?(?:little\s+|bit\s+|lot\s+|"
        r"really\s+|very\s+|super\s+|way\s+)*(?:large|big|loose)\b|\btoo\s+(?:big|large|loose)\b"
        r"|\b(?:size|order(?:ed)?|go(?:ing)?|went)\s+(?:a\s+|one\s+)?(?:size\s+)?down\b",
        re.I,
    ),
    "true": re.compile(
        r"\btrue\s+to\s+size\b|\bfits?\s+(?:perfectly|just\s+right|as\s+expected)\b"
        r"|\bperfect\s+fit\b|\bsize\s+is\s+(?:right|perfect)\b",
        re.I,
    ),
}
# A question about fit, which reviewers' sizing verdicts answer.
FIT_QUESTION = re.compile(
    r"\b(?:fit|fits|fitting|sizing|size|sizes|small|large|big|tight|snug|loose|runs?)\b", re.I
)
# Words that ask for the card, not a fact: "tell me more", "details?", "how much is it?".
GENERIC_WORDS = (
    "tell more about details detail info information describe description price cost much "
    "spec specs overview summary know everything brand maker rating rated stars "
    # which item, not what about it: "tell me about the first one"
    "first second third fourth fifth last one"
)
MAX_CACHED_PRODUCTS = 2048


def sentences(text: str) -> tuple[str, ...]:
    """Plain-text sentences of a description or review, HTML tags removed, verbatim otherwise
    (answers quote them, and the quote must be findable in the product's text)."""
    plain = " ".join(TAG.sub(" ", text).split())
    return tuple(s.strip() for s in SENTENCE_BREAK.split(plain) if s.strip())


def stem(word: str) -> str:
    """A light English suffix stripper: enough that "washing", "washable" and "washed" meet,
    and "zippers" meets "zip". Both sides of a comparison go through it, so a crude stem that
    is the same for both is all that counts."""
    word = word.lower()
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ingly", "able", "ible", "ing", "ied", "ed", "ly", "er", "e", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]  # "zipp" -> "zip", "runn" -> "run"
    return word


@dataclass(frozen=True, slots=True)
class Source:
    """One quotable piece of a product's text, exactly as the catalog has it."""

    kind: SourceKind
    text: str  # the verbatim sentence, or the attribute's values joined by ", "
    label: str = ""  # the attribute's name as a shopper reads it ("material")
    rating: float | None = None  # the review's stars


@dataclass(frozen=True, slots=True)
class FitAdvice:
    """What reviewers say about sizing: `verdict` only when at least two reviews agree."""

    verdict: str | None  # "small" | "large" | "true"
    agreeing: int
    mentioning: int
    quotes: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """A question about one product, answered: `quotes` are what the product's data says (best
    first), empty when it says nothing on it (`stated` False)."""

    product_id: str
    title: str
    quotes: tuple[Source, ...] = ()
    score: float = 0.0
    fit: FitAdvice | None = None

    @property
    def stated(self) -> bool:
        return bool(self.quotes) or (self.fit is not None and self.fit.verdict is not None)


@dataclass(frozen=True, slots=True)
class ListAnswer:
    """A question across the shown products: the answers whose data supports it, in screen
    order, or the best-reviewed product when that is what was asked."""

    supported: tuple[Answer, ...] = ()
    best_reviewed: ProductText | None = None
    asked_count: int = 0


@dataclass(slots=True)
class _Indexed:
    """A product's sources with their stems and vectors, computed once per product text."""

    text: ProductText
    sources: list[Source]
    stems: list[frozenset[str]]
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))


class ProductAnswerer:
    """Ranks a product's attributes, description sentences and review sentences against a
    question and returns what they say, or that they do not say it."""

    def __init__(self, embed: Embedder, settings: AnswerSettings | None = None) -> None:
        if not callable(embed):
            raise TypeError("ProductAnswerer needs an embedder: texts -> L2-normalised vectors")
        self.embed = embed
        self.settings = settings or AnswerSettings()
        self._concept: dict[str, str] = {}
        for group in self.settings.synonyms:
            stems = [stem(w) for phrase in group for w in WORD.findall(phrase.lower())]
            for s in stems:
                self._concept.setdefault(s, stems[0])
        self._ignore = frozenset(stem(w) for w in self.settings.ignore) | {
            stem(w) for w in STOP_WORDS
        }
        self._generic = self._terms(GENERIC_WORDS)
        self._cache: OrderedDict[str, _Indexed] = OrderedDict()
        self._lock = threading.Lock()  # turns and a warm-up share the cache

    # Public ---------------------------------------------------------------------------------
    def asks_fact(self, question: str, title: str = "") -> bool:
        """Whether the question asks something specific ("does it have pockets?") rather than
        for the product in general ("tell me more", "price?"), which the details card answers."""
        terms = self._terms(question, title)
        return bool(terms - self._generic) or bool(BEST_REVIEWED.search(question))

    def answer(self, question: str, text: ProductText, vector: np.ndarray | None = None) -> Answer:
        """The product's best sources for the question (at most two), fit advice from its
        reviews when the question is about fit, or no quotes when nothing scores high enough.
        `vector`: the question's embedding, when the caller already has it."""
        indexed = self._indexed(text)
        terms = self._terms(question, text.title)
        fit = self._fit(text.reviews) if FIT_QUESTION.search(question) else None
        if fit is not None and fit.quotes:
            # Reviewers on sizing answer a fit question: their verdict when two agree, else
            # what they said.
            return Answer(text.id, text.title, () if fit.verdict else fit.quotes[:2], 1.0, fit)
        if not indexed.sources or not terms:
            return Answer(text.id, text.title)
        q = self._vector(question) if vector is None else vector
        scores = self._scores(question, terms, q, indexed)
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        best = float(scores[order[0]])
        if best < self.settings.threshold:
            return Answer(text.id, text.title, score=best)
        first = indexed.sources[order[0]]
        floor = max(self.settings.threshold, best - self.settings.second_quote_margin)
        # A second quote: the best of another kind of source (the description's percentages
        # beside the material attribute, a reviewer beside the description), or a close one.
        second = next(
            (
                indexed.sources[i]
                for i in order[1:]
                if indexed.sources[i].text != first.text
                and scores[i] >= self.settings.threshold
                and (indexed.sources[i].kind != first.kind or scores[i] >= floor)
            ),
            None,
        )
        return Answer(text.id, text.title, (first, second) if second else (first,), best)

    def warm(self, texts: Sequence[ProductText]) -> int:
        """Encode these products' sources ahead of their first question (a product's first
        question otherwise pays ~100 ms for them); returns how many were encoded."""
        done = 0
        for text in texts[:MAX_CACHED_PRODUCTS]:
            self._indexed(text)
            done += 1
        return done

    def across(self, question: str, texts: Sequence[ProductText]) -> ListAnswer:
        """The question asked of each shown product ("which of these are waterproof?"), the
        question embedded once."""
        if BEST_REVIEWED.search(question):
            rated = [t for t in texts if t.reviews]
            best = max(rated, key=lambda t: (_rating(t.reviews), len(t.reviews)), default=None)
            return ListAnswer(best_reviewed=best, asked_count=len(texts))
        vector = self._vector(question)
        answers = [self.answer(question, t, vector) for t in texts]
        return ListAnswer(tuple(a for a in answers if a.stated), asked_count=len(texts))

    # Ranking --------------------------------------------------------------------------------
    def _terms(self, text: str, title: str = "") -> frozenset[str]:
        """The question's content concepts; the product's own title words are dropped (the
        shopper naming it says nothing about what they ask)."""
        named = {stem(w) for w in WORD.findall(title.lower())}
        stems = {stem(w) for w in WORD.findall(text.lower())} - self._ignore - named
        return frozenset(self._concept.get(s, s) for s in stems if len(s) > 1)

    def _scores(
        self, question: str, terms: frozenset[str], q: np.ndarray, indexed: _Indexed
    ) -> np.ndarray:
        s = self.settings
        lexical = np.array([len(terms & stems) / len(terms) for stems in indexed.stems])
        prior = {
            "attribute": s.attribute_prior,
            "description": s.description_prior,
            "review": s.reviewers_asked if ASKS_REVIEWERS.search(question) else 0.0,
        }
        priors = np.array([prior[src.kind] for src in indexed.sources])
        dense = indexed.vectors @ q
        # Cosine alone finds sentences on the topic; words shared with the question say it
        # answers this question. A source sharing no word must be very close in meaning.
        return dense + s.lexical_weight * lexical + priors

    def _vector(self, text: str) -> np.ndarray:
        return np.asarray(self.embed([text]), dtype=np.float32)[0]

    def _indexed(self, text: ProductText) -> _Indexed:
        with self._lock:
            cached = self._cache.get(text.id)
            if cached is not None and cached.text == text:
                self._cache.move_to_end(text.id)
                return cached
        sources = product_sources(text)
        stems = [self._terms(f"{src.label} {src.text}", text.title) for src in sources]
        indexed = _Indexed(text, sources, stems)
        if sources:
            plain = [f"{src.label}: {src.text}" if src.label else src.text for src in sources]
            indexed.vectors = np.asarray(self.embed(plain), dtype=np.float32)
        with self._lock:
            self._cache[text.id] = indexed
            if len(self._cache) > MAX_CACHED_PRODUCTS:
                self._cache.popitem(last=False)
        return indexed

    @staticmethod
    def _fit(reviews: Sequence[ReviewFact]) -> FitAdvice:
        """Counts the reviews saying it runs small, large or true to size; a verdict only when
        at least two agree and outnumber every other verdict."""
        said: dict[str, list[Source]] = {verdict: [] for verdict in FIT_VERDICTS}
        for review in reviews:
            for verdict, pattern in FIT_VERDICTS.items():
                quote = next((x for x in sentences(review.text) if pattern.search(x)), None)
                if quote is not None:
                    said[verdict].append(Source("review", quote, rating=review.rating))
        mentioning = sum(1 for r in reviews if any(p.search(r.text) for p in FIT_VERDICTS.values()))
        ranked = sorted(said.items(), key=lambda kv: -len(kv[1]))
        top, quotes = ranked[0]
        runner_up = len(ranked[1][1])
        agreed = len(quotes) >= 2 and len(quotes) > runner_up
        all_quotes = tuple(q for _, qs in ranked for q in qs)
        shown = tuple(quotes) if agreed else all_quotes
        return FitAdvice(top if agreed else None, len(quotes), mentioning, shown)


def product_sources(text: ProductText) -> list[Source]:
    """Every quotable piece, in the order answers prefer them."""
    sources: list[Source] = []
    for name, values in text.attributes.items():
        lowered = {v.strip().lower() for v in values}
        if lowered <= FLAG_NO:
            continue
        shown = "Yes" if lowered <= FLAG_YES else ", ".join(values)
        sources.append(Source("attribute", shown, attribute_label(name)))
    if text.sizes:
        sources.append(Source("attribute", ", ".join(text.sizes), "sizes in stock"))
    if text.colors:
        sources.append(Source("attribute", ", ".join(text.colors), "colours in stock"))
    sources += [Source("description", s) for s in text.description]
    sources += [
        Source("review", s, rating=r.rating) for r in text.reviews for s in sentences(r.text)
    ]
    return sources


def _rating(reviews: Sequence[ReviewFact]) -> float:
    return sum(r.rating for r in reviews) / len(reviews)
