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
from functools import lru_cache
from itertools import pairwise
from typing import Literal

import numpy as np
from lemminflect import getAllLemmas
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

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
    r"\b(?:reviews?|reviewers?|people|customers?|buyers?|owners?|anyone|folks|others"
    r"|complain\w*|complaints?)\b",
    re.I,
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
# A question about fit, which reviewers' sizing verdicts answer. "Runs" only with a verdict:
# "sunny runs" and "after long runs" are about running.
FIT_QUESTION = re.compile(
    r"\b(?:fit|fits|fitting|sizing|size|sizes|small|large|big|tight|snug|loose)\b"
    r"|\bruns?\s+(?:\w+\s+)?(?:small|large|big|true|tight|long|short)\b",
    re.I,
)
# A question asking for a number ("how many litres?", "cotton percentage?", "inseam length?"):
# only a source giving one answers it ("Volume: 29 L.", "Two chest pockets."), never the bare
# list "Cotton, Spandex". Not "how's the leg length?", an opinion a reviewer may give.
ASKS_NUMBER = re.compile(
    r"\bhow\s+many\b|\bpercent(?:age)?\b|%|\bweight\s+limit\b|\bmax(?:imum)?\s+(?:weight|load)\b"
    r"|\bdimensions?\b|\bmeasurements?\b|\bvolume\b|\bcapacity\b|\blit(?:re|er)s?\b"
    r"|\binseam\s+length\b|\bwhat(?:'s|\s+is)\s+the\s+(?:\w+\s+)?length\b",
    re.I,
)
NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|single|dual"
    r"|double|triple)\b",
    re.I,
)
# Function words carry no fact ("after", "if", "always", "somewhere"): a standard English list,
# less the words that name a part or a property of a product ("top handles", "side pockets",
# "full zip", "thin", "made of", "size down").
FUNCTION_WORDS = ENGLISH_STOP_WORDS - {
    "back", "bottom", "front", "full", "side", "top", "thick", "thin", "fire", "empty", "made",
    "down", "two", "three", "four", "five", "six",
}  # fmt: skip
# "the leather messenger", "this foam roller": the words between a determiner and the product's
# name say which item is meant, not what is asked about it.
DETERMINERS = frozenset({"the", "this", "that", "these", "those", "your", "ur"})
# Words that ask for the card, not a fact: "tell me more", "details?", "how much is it?".
GENERIC_WORDS = (
    "tell more about details detail info information describe description price cost much "
    "spec specs overview summary know everything brand manufacturer rating rated stars "
    # which item, not what about it: "tell me about the first one"
    "first second third fourth fifth last one"
)
# "Who makes it?" asks for the brand, a field of the card ("made" alone is "made of").
WHO_MAKES = re.compile(r"\bwho\s+(?:makes?|made|manufactures?)\b", re.I)
# Parts of a product. A question naming parts is about those parts: a source answers it only
# when it names every one of them (or a synonym): "are the pockets zipped?" is not answered by
# "Full zip" nor by "I like the pockets".
PARTS = (
    "pocket zip hood strap sleeve cuff collar neck waistband liner lining pad cup buckle "
    "thumbhole drawstring button seam wheel clip compartment loop vent insole sole lace "
    "armhole"
)
# Words a sizing question turns on, which a shopper may misspell ("does it run smal?").
FIT_WORDS = "fit fits fitting sizing size sizes small large big tight snug loose"
# A question in several clauses ("I'm off to Scotland in May, will it keep the midges off?"): the
# clauses that ask (ending in "?" or opening as a question does) say what is asked; the others
# tell the shopper's situation, whose words no answer need share.
CLAUSE_BREAK = re.compile(r"(?<=[.!?;,])\s+|\s+[-\u2013\u2014/]\s+|\s*\.\.\.\s*")
ASKING = re.compile(
    r"^(?:is|are|was|were|does|do|did|can|could|will|would|should|has|have|got|any|anything"
    r"|how|hows|how's|what|whats|what's|which|where|when|why)\b",
    re.I,
)
# The weight of a word of those clauses beside one of the question's own (chosen on the dev
# question sets: 0 drops situation words an answer shares, "we camp a lot, is it tough
# enough?" answered by "tough enough for camping", and 1 lets the situation outweigh what is
# asked).
TOLD_WEIGHT = 0.25
# In the lexical share, a property of the synonyms' groups (waterproof, warm, odour, stretch)
# is what a shopper asks about more often than the other words; an activity ("on the school
# run", "before the gym") more often the situation they ask it in (weights chosen on the five
# dev question sets: 1.5 / 0.5 against 1 / 1, better or equal on each).
USES = "run hike gym travel commute"  # the synonym groups naming activities
PROPERTY_WEIGHT = 1.5
USE_WEIGHT = 0.5
STOCK_SIZES = "sizes in stock"  # the label of the sizes a product is offered in
MAX_CACHED_PRODUCTS = 2048
# A review sentence of at most this many words is quoted with the rest of its review, when the
# whole review has at most SHORT_REVIEW_WORDS.
SHORT_QUOTE_WORDS = 4
SHORT_REVIEW_WORDS = 30


def sentences(text: str) -> tuple[str, ...]:
    """Plain-text sentences of a description or review, HTML tags removed, verbatim otherwise
    (answers quote them, and the quote must be findable in the product's text)."""
    plain = " ".join(TAG.sub(" ", text).split())
    return tuple(s.strip() for s in SENTENCE_BREAK.split(plain) if s.strip())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The word's dictionary lemma ("shrank" -> "shrink", "zippers" -> "zipper"), then one
    derivational suffix off when what is left is itself an English word ("washable" ->
    "wash", "zippered" / "zipper" -> "zip", "stretchy" -> "stretch"), so "carry" never meets
    "care" nor "shoulder" "should". Both sides of a comparison go through it."""
    word = word.lower()
    lemmas = getAllLemmas(word)
    for pos in ("VERB", "NOUN", "ADJ"):
        if lemmas.get(pos):
            word = lemmas[pos][0].lower()
            break
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and not lemmas:
        word = word[:-1]  # a plural lemminflect does not know
    for suffix in ("ingly", "able", "ible", "ing", "ied", "ed", "ly", "er", "y"):
        if not word.endswith(suffix) or len(word) - len(suffix) < 3:
            continue
        rest = word[: -len(suffix)]
        # "zipper" -> "zip", "running" -> "run"; never for "-y" ("carry" is not "car")
        undoubled = rest[:-1] if rest[-1] == rest[-2] and suffix != "y" else ""
        candidates = (rest, undoubled, rest + "e")
        found = next((c for c in candidates if c and _is_word(c)), None)
        if found is not None:
            return found
        break
    return word


@lru_cache(maxsize=65536)
def _is_word(word: str) -> bool:
    """An English content word (not a function word such as "should")."""
    return bool(getAllLemmas(word)) and word not in FUNCTION_WORDS and word not in STOP_WORDS


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
    values: list[frozenset[str]]  # an attribute's values' concepts (empty for sentences)
    reviews: list[int]  # the review a review sentence is from (-1 for other sources)
    words: frozenset[str] = frozenset()  # every word of its text, as written (lower case)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))


class ProductAnswerer:
    """Ranks a product's attributes, description sentences and review sentences against a
    question and returns what they say, or that they do not say it."""

    def __init__(self, embed: Embedder, settings: AnswerSettings | None = None) -> None:
        if not callable(embed):
            raise TypeError("ProductAnswerer needs an embedder: texts -> L2-normalised vectors")
        self.embed = embed
        self.settings = settings or AnswerSettings()
        # One word stands for its group's concept; a phrase ("water resistant", "made of")
        # only as a whole: "wind-resistant" is not waterproof, "make" not "made of".
        self._concept: dict[str, str] = {}
        self._phrases: dict[tuple[str, ...], str] = {}
        for group in self.settings.synonyms:
            entries = [tuple(stem(w) for w in WORD.findall(p.lower())) for p in group]
            entries = [e for e in entries if e]
            if not entries:
                continue
            concept = "".join(entries[0])
            for entry in entries:
                if len(entry) == 1:
                    self._concept.setdefault(entry[0], concept)
                else:
                    self._phrases.setdefault(entry, concept)
        self._longest_phrase = max((len(p) for p in self._phrases), default=0)
        self._concepts = frozenset(self._concept.values()) | frozenset(self._phrases.values())
        self._uses = frozenset(self._concept.get(stem(w), stem(w)) for w in USES.split())
        self._ignore = frozenset(stem(w) for w in self.settings.ignore) | {
            stem(w) for w in (STOP_WORDS | FUNCTION_WORDS) - {"size", "sizes"}
        }
        self._parts: frozenset[str] = frozenset()
        self._generic = self._terms(GENERIC_WORDS)
        self._parts = self._terms(PARTS)
        self._part_stems = frozenset(stem(w) for w in PARTS.split())
        # Words a misspelt question word may be meant as, beside the product's own.
        self._known = frozenset(FIT_WORDS.split())
        self._function = frozenset(
            w.lower() for w in (*STOP_WORDS, *FUNCTION_WORDS, *self.settings.ignore)
        )
        self._cache: OrderedDict[str, _Indexed] = OrderedDict()
        self._lock = threading.Lock()  # turns and a warm-up share the cache

    # Public ---------------------------------------------------------------------------------
    def asks_fact(self, question: str, title: str = "") -> bool:
        """Whether the question asks something specific ("does it have pockets?") rather than
        for the product in general ("tell me more", "price?"), which the details card answers."""
        terms = self._terms(WHO_MAKES.sub(" ", question), title)
        return bool(terms - self._generic) or bool(BEST_REVIEWED.search(question))

    def answer(self, question: str, text: ProductText, vector: np.ndarray | None = None) -> Answer:
        """The product's best sources for the question (at most two), fit advice from its
        reviews when the question is about fit, or no quotes when nothing scores high enough.
        `vector`: the question's embedding, when the caller already has it."""
        indexed = self._indexed(text)
        question = self._spelled(question, indexed)
        terms = self._terms(question, text.title)
        asked = self._terms(asked_clauses(question), text.title) or terms
        asks_fit = self._asks_fit(question, text.title)
        fit = self._fit(text.reviews) if asks_fit else None
        if fit is not None and fit.quotes:
            # Reviewers on sizing answer a fit question: their verdict when two agree, else
            # what they said.
            return Answer(text.id, text.title, () if fit.verdict else fit.quotes[:2], 1.0, fit)
        if not indexed.sources or not terms:
            return Answer(text.id, text.title)
        q = self._vector(question) if vector is None else vector
        scores = self._scores(question, asked, q, indexed, asks_fit, terms - asked)
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        best = float(scores[order[0]])
        if best < self.settings.threshold:
            return Answer(text.id, text.title, score=best)
        first = indexed.sources[order[0]]
        floor = max(self.settings.threshold, best - self.settings.second_quote_margin)
        # A second quote: the best of another kind of source (a reviewer beside the
        # description), or a close one.
        runner_up = next(
            (
                i
                for i in order[1:]
                if indexed.sources[i].text != first.text
                and scores[i] >= self.settings.threshold
                and (indexed.sources[i].kind != first.kind or scores[i] >= floor)
            ),
            None,
        )
        # The list to elaborate: the first quote, or the runner-up when the first is a bare
        # flag ("Performance fabric: Yes" before "Material: ...").
        leads = (order[0], runner_up) if first.text == "Yes" else (order[0],)
        for lead in leads:
            elaboration = None if lead is None else self._elaboration(lead, indexed, scores)
            if lead is not None and elaboration is not None:
                # "Material: Cotton, Polyester" and the description's "80% cotton/20%
                # polyester fleece": the list, then the sentence saying more of its values.
                return Answer(text.id, text.title, (indexed.sources[lead], elaboration), best)
        if first.kind == "review":
            # Another reviewer on the same point is a second voice, however it scores
            # against the first: "I'd like more resistance" beside "I wish it had more".
            runner_up = next(
                (
                    i
                    for i in order[1:]
                    if indexed.sources[i].kind == "review"
                    and indexed.reviews[i] != indexed.reviews[order[0]]
                    and scores[i] >= self.settings.threshold
                ),
                runner_up,
            )
        quotes = (first,) if runner_up is None else (first, indexed.sources[runner_up])
        return Answer(text.id, text.title, tuple(_in_context(q, text) for q in quotes), best)

    @staticmethod
    def _elaboration(first: int, indexed: _Indexed, scores: np.ndarray) -> Source | None:
        """For an attribute answer, the description sentence that names the most of its
        values (the best scoring of those), which says more about them than the list does."""
        source = indexed.sources[first]
        if source.kind != "attribute" or source.text == "Yes":
            return None
        values = indexed.values[first]
        if not values:
            return None
        best: tuple[int, float, int] | None = None
        for i, src in enumerate(indexed.sources):
            if src.kind != "description":
                continue
            named = len(values & indexed.stems[i])
            if named and (best is None or (named, scores[i]) > (best[0], best[1])):
                best = (named, float(scores[i]), i)
        return indexed.sources[best[2]] if best is not None else None

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
    @staticmethod
    def _asks_fit(question: str, title: str) -> bool:
        """A sizing question, its words other than the product's name ("is the Livingston
        Tight stretchy?" asks no fit)."""
        named = set(WORD.findall(title.lower()))
        rest = " ".join(w for w in WORD.findall(question.lower()) if w not in named)
        return FIT_QUESTION.search(rest) is not None

    def _terms(self, text: str, title: str = "", *, asked: bool = True) -> frozenset[str]:
        """The question's content concepts; the product's own title words are dropped (the
        shopper naming it says nothing about what they ask), and so are the words that name it
        with them ("the leather messenger", "are the foam grips..."). In the product's own text
        (`asked` False) only the title's words go: "that the shelf bra" in a bra's review is
        about its shelf. Synonym phrases count as their concept only as a whole."""
        named = {stem(w) for w in WORD.findall(title.lower())}
        words = WORD.findall(text.lower())
        stems = [stem(w) for w in words]
        phrased, concepts = self._phrased(stems)
        naming: set[int] = set(phrased)
        for i, s in enumerate(stems):
            if not asked or s not in named or not named or i in phrased:
                continue
            j = i - 1
            while j >= 0 and stems[j] in named:
                j -= 1
            start = j
            while start >= 0 and i - start <= 3 and words[start] not in DETERMINERS:
                start -= 1
            if start >= 0 and words[start] in DETERMINERS:
                naming.update(range(start + 1, i))
        kept = {s for i, s in enumerate(stems) if i not in naming}
        # a part written as two words: "arm holes" is "armholes", "thumb hole" "thumbhole"
        kept |= {joined for a, b in pairwise(words) if (joined := stem(a + b)) in self._parts}
        kept = kept - self._ignore - named
        return frozenset({self._concept.get(s, s) for s in kept if len(s) > 1} | concepts)

    def _parts_asked(self, question: str, terms: frozenset[str], title: str) -> set[str]:
        """The parts the question names by a part's own word ("hood", "zipper", "arm holes"),
        not by the garment's ("is this hoodie warm?"), nor by the product's name ("the Helena
        Hooded Fleece")."""
        words = WORD.findall(question.lower())
        named = {self._concept.get(s, s) for s in (stem(w) for w in WORD.findall(title.lower()))}
        said = {stem(w) for w in words} & self._part_stems
        said |= {joined for a, b in pairwise(words) if (joined := stem(a + b)) in self._parts}
        return {self._concept.get(s, s) for s in said} & terms - named

    def _phrased(self, stems: list[str]) -> tuple[set[int], set[str]]:
        """The positions of the synonym phrases in these stems (longest first), and their
        concepts."""
        used: set[int] = set()
        concepts: set[str] = set()
        for n in range(self._longest_phrase, 1, -1):
            for i in range(len(stems) - n + 1):
                concept = self._phrases.get(tuple(stems[i : i + n]))
                if concept is not None and not used & set(range(i, i + n)):
                    used.update(range(i, i + n))
                    concepts.add(concept)
        return used, concepts

    def _scores(
        self,
        question: str,
        terms: frozenset[str],
        q: np.ndarray,
        indexed: _Indexed,
        fit: bool = False,
        told: frozenset[str] = frozenset(),
    ) -> np.ndarray:
        """`terms`: what the question asks; `told`: the words of its clauses that only tell
        the shopper's situation, which count for less."""
        s = self.settings
        whole = self._weight(terms) + TOLD_WEIGHT * self._weight(told)
        lexical = np.array(
            [
                (self._weight(terms & stems) + TOLD_WEIGHT * self._weight(told & stems)) / whole
                for stems in indexed.stems
            ]
        )
        prior = {
            "attribute": s.attribute_prior,
            "description": s.description_prior,
            "review": s.reviewers_asked if ASKS_REVIEWERS.search(question) else 0.0,
        }
        priors = np.array([prior[src.kind] for src in indexed.sources])
        dense = indexed.vectors @ q
        # Cosine alone finds sentences on the topic; words shared with the question say it
        # answers this question. A source sharing no word must be very close in meaning.
        scores = dense + s.lexical_weight * lexical + priors
        if ASKS_NUMBER.search(question):
            scores[np.array([NUMBER.search(src.text) is None for src in indexed.sources])] = -1.0
        parts = self._parts_asked(question, terms, indexed.text.title)
        if parts:
            scores[np.array([not parts <= stems for stems in indexed.stems])] = -1.0
        if fit:
            # A sizing question is answered by what names its words ("Relaxed fit.", "the
            # sleeves are long"), never by a sentence merely close in meaning ("promises
            # superior warmth" to "does it run small?").
            scores[lexical == 0] = -1.0
            # nor by the sizes in stock, which say which sizes there are, not how they fit
            scores[np.array([src.label == STOCK_SIZES for src in indexed.sources])] = -1.0
        if ASKS_REVIEWERS.search(question):
            # "has anyone complained about the zipper?" asks for experience: only a reviewer
            # answers it, never the store's own description of the zipper.
            scores[np.array([src.kind != "review" for src in indexed.sources])] = -1.0
        return scores

    def _spelled(self, question: str, indexed: _Indexed) -> str:
        """The question with each word that is no English word ("smal", "shrinck", "inseem")
        read as the one word of the product's text (or a sizing word) it is one edit from,
        when there is exactly one ("small", "shrink", "inseam"). Only the product's words:
        "lifter" is no misspelt "liter" of the answer vocabulary."""
        named = set(WORD.findall(indexed.text.title.lower()))
        known = (indexed.words | self._known) - named - self._function

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) < 4 or lower in known or lower in self._function or lower in named:
                return word  # a word as the catalog has it, a function word or the name
            if getAllLemmas(lower):
                return word  # an English word
            close = {w for w in _one_edit(lower) if w in known and len(w) >= 3}
            return close.pop() if len(close) == 1 else word

        return re.sub(r"[A-Za-z]+", fix, question)

    def _weight(self, terms: frozenset[str]) -> float:
        """The terms' weight in the lexical share: a property the synonyms know ("waterproof",
        "odour") counts PROPERTY_WEIGHT, an activity (USES: running, the gym) USE_WEIGHT, any
        other word 1."""
        return sum(
            USE_WEIGHT if t in self._uses else PROPERTY_WEIGHT if t in self._concepts else 1.0
            for t in terms
        )

    def _vector(self, text: str) -> np.ndarray:
        return np.asarray(self.embed([text]), dtype=np.float32)[0]

    def _indexed(self, text: ProductText) -> _Indexed:
        with self._lock:
            cached = self._cache.get(text.id)
            if cached is not None and cached.text == text:
                self._cache.move_to_end(text.id)
                return cached
        sources = product_sources(text)
        stems = [self._terms(f"{src.label} {src.text}", text.title, asked=False) for src in sources]
        values = [
            self._terms(src.text, text.title, asked=False)
            if src.kind == "attribute"
            else frozenset()
            for src in sources
        ]
        reviews = [-1] * (len(sources) - sum(len(sentences(r.text)) for r in text.reviews))
        reviews += [n for n, r in enumerate(text.reviews) for _ in sentences(r.text)]
        words = frozenset(w for src in sources for w in WORD.findall(src.text.lower()))
        indexed = _Indexed(text, sources, stems, values, reviews, words)
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
        sources.append(Source("attribute", ", ".join(text.sizes), STOCK_SIZES))
    if text.colors:
        sources.append(Source("attribute", ", ".join(text.colors), "colours in stock"))
    sources += [Source("description", s) for s in text.description]
    sources += [
        Source("review", s, rating=r.rating) for r in text.reviews for s in sentences(r.text)
    ]
    return sources


@lru_cache(maxsize=8192)
def _one_edit(word: str) -> frozenset[str]:
    """Every string one deletion, swap, change or insertion of a letter from `word`."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    changes = {a + c + b[1:] for a, b in splits if b for c in letters}
    inserts = {a + c + b for a, b in splits for c in letters}
    return frozenset(deletes | swaps | changes | inserts)


def asked_clauses(question: str) -> str:
    """The clauses of a question that ask something, without those that only tell the
    shopper's situation ("my last pair fell apart, do these last?" -> "do these last?"); the
    whole question when every clause asks or none does."""
    clauses = [c for c in CLAUSE_BREAK.split(question) if c.strip()]
    asking = [c for c in clauses if c.rstrip().endswith("?") or ASKING.match(c.strip())]
    return " ".join(asking) if asking and len(asking) < len(clauses) else question


def _in_context(source: Source, text: ProductText) -> Source:
    """A review sentence too short to stand alone ("Great support!", "WAY too long!") quoted
    with the rest of its review, when that review is short itself."""
    if source.kind != "review" or len(WORD.findall(source.text)) > SHORT_QUOTE_WORDS:
        return source
    for review in text.reviews:
        parts = sentences(review.text)
        if source.text in parts and len(WORD.findall(review.text)) <= SHORT_REVIEW_WORDS:
            return Source("review", " ".join(parts), rating=review.rating)
    return source


def _rating(reviews: Sequence[ReviewFact]) -> float:
    return sum(r.rating for r in reviews) / len(reviews)
