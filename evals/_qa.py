"""`shopassist eval qa`: product questions answered by the whole assistant, against a BM25
best-sentence baseline.

Why through `Assistant.respond`: the shopper's words reach the answerer only if the NLU and
the context rules route them there, so the figure that matters is the whole turn's. Each
question gets a fresh session in which the product is the one on screen and in focus, as after
the shopper opened its card ("tell me more about #1" on a one-product list): the question sets
ask about "a product the shopper has just been shown". Before timing, every product's answer
vectors are prepared (`Assistant.warm_answers`), as `shopassist serve` does at start-up; the
warm-up's own time is reported beside the per-question latency.

Grading (the sets' README): a `stated` question is answered when the reply contains the
evidence (or the stored sentence holding it, since the store's cleaning rewrites a few words
of the raw CSV) and does not say the data is silent; a `not_stated` question is right when the
reply says so.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from assistant import Assistant
from dialogue import ProductText, Source, product_sources
from evals._testsets import DEV, HELDOUT
from retrieval import BM25Index, tokenize

QA_SPLITS = {
    "dev": DEV / "qa" / "questions.yml",
    "dev2": DEV / "qa2" / "questions.yml",  # the first held-out set, read in issue 15's rounds
    "dev3": DEV / "qa3" / "questions.yml",  # the second held-out set, read in the sixth session
    "dev4": DEV / "qa4" / "questions.yml",  # the third held-out set, run four times, retired
    "dev5": DEV / "qa5" / "questions.yml",  # the fourth held-out set, run four times, retired
    "test": HELDOUT / "qa" / "questions.yml",
}
TOPICS = ("fit", "care", "material", "features", "weather", "use", "reviews")
ANSWERS = ("stated", "not_stated")
NOT_STATED_ACTIONS = frozenset({"answer_not_stated"})
# The stored sentence holding the evidence: this share of its words at least.
SENTENCE_COVER = 0.8
WORDS = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    sku: str
    question: str
    topic: str
    style: str
    answer: str
    source: str = ""
    evidence: str = ""

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Question:
        """One entry of a questions file, checked: a typo must stop the run with its id."""
        qid = str(entry.get("id", "?"))
        try:
            q = cls(
                id=qid,
                sku=str(entry["sku"]),
                question=str(entry["question"]),
                topic=str(entry["topic"]),
                style=str(entry.get("style", "")),
                answer=str(entry["answer"]),
                source=str(entry.get("source") or ""),
                evidence=str(entry.get("evidence") or ""),
            )
        except KeyError as exc:
            raise ValueError(f"{qid}: missing key {exc}") from exc
        if q.answer not in ANSWERS:
            raise ValueError(f"{qid}: answer must be one of {ANSWERS}")
        if q.answer == "stated" and not (q.evidence and q.source):
            raise ValueError(f"{qid}: a stated answer needs source and evidence")
        return q


def load_questions(path: Path) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise ValueError(f"{path}: expected `questions:`, a list")
    return [Question.from_entry(e) for e in data["questions"]]


def _words(text: str) -> list[str]:
    return WORDS.findall(text.lower().replace("\u2019", "'"))


def holds(reply: str, evidence: str, sources: Iterable[Source]) -> bool:
    """Whether the reply contains the evidence (as a run of words) or quotes the stored
    sentence that holds it."""
    said, wanted = _words(reply), _words(evidence)
    if not wanted:
        return False
    n = len(wanted)
    if any(said[i : i + n] == wanted for i in range(len(said) - n + 1)):
        return True
    flat = " ".join(said)
    for source in sources:
        words = set(_words(source.text))
        cover = sum(1 for w in wanted if w in words) / n
        if cover >= SENTENCE_COVER and " ".join(_words(source.text)) in flat:
            return True
    return False


class LexicalBaseline:
    """BM25 over the product's own sources (attributes, description sentences, review
    sentences): the best-scoring one is the answer, none sharing a word is "not stated"."""

    def answer(self, question: str, text: ProductText) -> tuple[str | None, list[Source]]:
        sources = product_sources(text)
        if not sources:
            return None, sources
        index = BM25Index(tokenize(f"{s.label} {s.text}") for s in sources)
        scores = index.scores(tokenize(question))
        best = int(scores.argmax())
        return (sources[best].text if scores[best] > 0 else None), sources


@dataclass(frozen=True, slots=True)
class Options:
    split: str = "dev"
    questions: Path | None = None
    limit: int | None = None
    progress: bool = True
    catalog: str = "luma"


class QaEvaluation:
    """Asks each question in a fresh session and grades the assistant and the baseline."""

    def __init__(self, assistant: Assistant, options: Options) -> None:
        self.assistant = assistant
        self.options = options
        self.baseline = LexicalBaseline()

    def run(self) -> dict[str, Any]:
        path = self.options.questions or QA_SPLITS[self.options.split]
        questions = load_questions(path)[: self.options.limit]
        # As `serve` does at start-up: products' sentence vectors ready before any question.
        started = time.perf_counter()
        warmed = self.assistant.warm_answers()
        warm_seconds = time.perf_counter() - started
        rows = [
            self._ask(q, i)
            for i, q in enumerate(
                tqdm(questions, desc="questions", disable=not self.options.progress)
            )
        ]
        return {
            "split": self.options.split,
            "questions_file": str(path),
            "n": len(rows),
            "setup": "fresh session per question; the product alone on screen and in focus; "
            "answers warmed for every product first, as `serve` does at start-up",
            "warm_up": {"products": warmed, "seconds": round(warm_seconds, 1)},
            "systems": {
                "assistant": _summary(rows, "assistant"),
                "bm25": _summary(rows, "bm25"),
            },
            "latency_ms": _latency([r["latency_ms"] for r in rows]),
            "routed_to_answerer": sum(r["routed"] for r in rows) / len(rows) if rows else None,
            "rows": rows,
        }

    def _ask(self, q: Question, i: int) -> dict[str, Any]:
        catalog = self.assistant.catalog
        pid = f"{self.options.catalog}:{q.sku}"
        card, text = catalog.product(pid), catalog.product_text(pid)
        if card is None or text is None:
            raise ValueError(f"{q.id}: product {pid} is not in the store")
        session = f"qa-{i}-{q.id}"
        self.assistant.reset(session)
        self.assistant.open_session(session)
        state = self.assistant.state(session)
        state.shown, state.focus, state.matches_shown = [card], card.id, 1
        started = time.perf_counter()
        reply = self.assistant.respond(session, q.question)
        latency = (time.perf_counter() - started) * 1000
        self.assistant.forget(session)
        action = reply.dialogue.action
        silent = action in NOT_STATED_ACTIONS
        sources = product_sources(text)
        quoted, _ = self.baseline.answer(q.question, text)
        return {
            "id": q.id,
            "topic": q.topic,
            "style": q.style,
            "answer": q.answer,
            "source": q.source or "not_stated",
            "assistant": _grade(q, reply.text, silent, sources),
            "assistant_said_not_stated": silent,
            "bm25": _grade(q, quoted or "", quoted is None, sources),
            "bm25_said_not_stated": quoted is None,
            "action": action,
            "routed": action.startswith("answer"),
            "latency_ms": round(latency, 2),
            "reply": reply.text,
        }


def _grade(q: Question, reply: str, silent: bool, sources: list[Source]) -> bool:
    if q.answer == "not_stated":
        return silent
    return not silent and holds(reply, q.evidence, sources)


def _summary(rows: list[dict[str, Any]], system: str) -> dict[str, Any]:
    def accuracy(subset: list[dict[str, Any]]) -> dict[str, Any]:
        return {"n": len(subset), "accuracy": _share(sum(r[system] for r in subset), len(subset))}

    said = [r for r in rows if r[f"{system}_said_not_stated"]]
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        for key in ("topic", "source", "style", "answer"):
            groups[key][r[key]].append(r)
    return {
        "accuracy": _share(sum(r[system] for r in rows), len(rows)),
        "not_stated_precision": _share(sum(r["answer"] == "not_stated" for r in said), len(said)),
        "not_stated_said": len(said),
        **{
            f"by_{key}": {name: accuracy(subset) for name, subset in sorted(groups[key].items())}
            for key in ("topic", "source", "style", "answer")
        },
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _latency(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 1),
        "p95": round(p95, 1),
        "max": round(ordered[-1], 1),
    }
