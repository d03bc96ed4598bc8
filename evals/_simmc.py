"""Sections 3 and 4: real shopper turns from SIMMC 2.0 (fashion, test-std), label-free and
against the hand-labelled sample.

Why a store of its own: the corpus talks about its own wardrobe, so its turns run against
`lexicon_catalog.jsonl` (a catalog in the corpus's words) ingested by the project's own ingest
into a temporary data dir; the NLU classifier is the main one (its cache is keyed by the
training file and settings, not by the catalog), only the catalog-driven slots change.

The label-free "names a product type" check splits the 27 intents into searches
(`SEARCH_INTENTS`), product questions (`QUESTION_INTENTS`) and the 13 others, listed below.
"""

from __future__ import annotations

import re
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sklearn.metrics import f1_score

from assistant import Assistant, RetrievalStack, Settings, open_store
from evals._keyword_baseline import keyword_intent
from evals._testsets import IntentLabel
from evals._turns import take_turn
from retrieval import CleaningConfig, EmbeddingCache, VectorIndex, ingest

Progress = Callable[[Iterable[Any], str], Iterable[Any]]
SIMMC_CATALOG = "simmc"
# A search: the shopper wants (more, other, fewer) products shown.
SEARCH_INTENTS = frozenset(
    {
        "browse_category",
        "search_products",
        "refine_search",
        "remove_filter",
        "sort_results",
        "show_more",
        "get_recommendation",
        "find_similar",
        "search_by_image",
    }
)
# A product question: about one or more specific items.
QUESTION_INTENTS = frozenset(
    {
        "product_details",
        "compare_products",
        "check_availability",
        "product_reviews",
        "complete_the_look",
    }
)
# Everything else (13): greet, goodbye, affirm, deny, ask_capabilities, human_handoff,
# out_of_scope, add_to_cart, remove_from_cart, view_cart, checkout, order_status, store_policy.
GREET_MIN_WORDS = 4  # "greet among turns over 3 words"
TARGETS = {"out_of_scope": 0.01, "ask_capabilities": 0.01, "greet_over_3_words": 0.005}


@dataclass(frozen=True, slots=True)
class SimmcTurn:
    line: int
    turn: int
    text: str
    intent: str
    action: str
    error: str | None


@contextmanager
def simmc_assistant(
    main: Assistant, settings: Settings, lexicon: Path, *, progress: bool
) -> Iterator[Assistant]:
    """An assistant over the lexicon catalog alone, in a temporary data dir that is deleted
    afterwards; the text encoder and the NLU cache are the main assistant's."""
    with tempfile.TemporaryDirectory(prefix="shopassist-simmc-") as folder:
        data = Path(folder)
        local = replace(settings, data_dir=data, image_model="none", chroma_url=None)
        store = open_store(local)
        cleaning = CleaningConfig.from_yaml(local.cleaning_file)
        ingest(lexicon, store, catalog=SIMMC_CATALOG, cleaning=cleaning, progress=progress)
        stack = RetrievalStack(
            settings=local,
            store=store,
            index=VectorIndex(path=local.chroma_dir),
            cache=EmbeddingCache(local.embedding_cache),
            text_encoder=main.stack.text_encoder,
            image_encoder=None,
            clip_encoder=None,
        )
        stack.indexer.sync(progress=progress)
        (data / "models").symlink_to(main.model_cache.resolve(), target_is_directory=True)
        yield Assistant(local, stack)


def type_words(assistant: Assistant) -> re.Pattern[str]:
    """The catalog's own product-type words (leaf categories, "Shirt, Vest" = two), singular
    or plural, whole words, case-insensitive; matched on the text with and without hyphens
    ("t-shirt" names "Tshirt")."""
    words: set[str] = set()
    for product in assistant.stack.store.products():
        for leaf in (product.category_path or [""])[-1].split(","):
            word = leaf.strip().lower()
            if word:
                words |= {word, word + "s", word + "es"}
                words |= {word[:-1]} if word.endswith("s") and len(word) > 3 else set()
    alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    return re.compile(rf"(?<!\w)({alternatives})(?!\w)", re.IGNORECASE)


def names_type(pattern: re.Pattern[str], text: str) -> bool:
    return bool(pattern.search(text) or pattern.search(text.replace("-", "")))


def run_dialogues(
    assistant: Assistant, dialogues: list[list[str]], last_turn: dict[int, int], progress: Progress
) -> dict[tuple[int, int], SimmcTurn]:
    """The shopper turns of each chosen dialogue (line -> last turn index to send), in order,
    in one fresh session per dialogue."""
    turns: dict[tuple[int, int], SimmcTurn] = {}
    for line in progress(sorted(last_turn), "SIMMC dialogues"):
        for index, text in enumerate(dialogues[line][: last_turn[line] + 1]):
            outcome = take_turn(assistant, f"eval-simmc-{line}", text)
            turns[line, index] = SimmcTurn(
                line, index, text, outcome.intent, outcome.action, outcome.error
            )
    return turns


def label_free(turns: list[SimmcTurn], type_pattern: re.Pattern[str]) -> dict[str, Any]:
    """Shares of turns read as out_of_scope, ask_capabilities, greet (turns over 3 words), and
    of turns naming a product type that get neither a search nor a product question."""
    long_turns = [t for t in turns if len(t.text.split()) >= GREET_MIN_WORDS]
    typed = [t for t in turns if names_type(type_pattern, t.text)]
    misrouted = [t for t in typed if t.intent not in SEARCH_INTENTS | QUESTION_INTENTS]
    return {
        "turns": len(turns),
        "dialogues": len({t.line for t in turns}),
        "out_of_scope": _share(turns, "out_of_scope"),
        "ask_capabilities": _share(turns, "ask_capabilities"),
        "greet_over_3_words": _share(long_turns, "greet"),
        "turns_over_3_words": len(long_turns),
        "naming_a_type": len(typed),
        "type_turns_not_search_or_question": len(misrouted) / len(typed) if typed else None,
        "type_turns_other_intents": dict(Counter(t.intent or t.action for t in misrouted)),
        "intents": dict(Counter(t.intent or t.action for t in turns).most_common()),
        "errors": [{"line": t.line, "turn": t.turn, "error": t.error} for t in turns if t.error],
        "targets": TARGETS,
        "examples": {
            name: [t.text for t in turns if t.intent == name][:5]
            for name in ("out_of_scope", "ask_capabilities", "greet")
        },
    }


def _share(turns: list[SimmcTurn], intent: str) -> float | None:
    return sum(t.intent == intent for t in turns) / len(turns) if turns else None


def labelled(labels: list[IntentLabel], turns: dict[tuple[int, int], SimmcTurn]) -> dict[str, Any]:
    """Act accuracy and macro-F1 (over the intents the labels use) of the assistant and of the
    frozen keyword baseline; `also` counted as acceptable in a second accuracy."""
    kept = [label for label in labels if (label.line, label.turn) in turns]
    gold = [label.intent for label in kept]
    systems = {
        "assistant": [turns[lb.line, lb.turn].intent for lb in kept],
        "keyword rules": [keyword_intent(turns[lb.line, lb.turn].text) for lb in kept],
    }
    classes = sorted(set(gold))
    report: dict[str, Any] = {"labels": len(kept), "classes": classes, "systems": {}}
    for name, predicted in systems.items():
        also = [p in (lb.intent, lb.also) for p, lb in zip(predicted, kept, strict=True)]
        report["systems"][name] = {
            "accuracy": _accuracy(gold, predicted),
            "macro_f1": _macro_f1(gold, predicted, classes),
            "accuracy_also_ok": statistics.fmean(also) if also else None,
            "recall_by_intent": {c: _accuracy(*_where(gold, predicted, c)) for c in classes},
            "confusions": [
                {"label": g, "predicted": p, "turns": n}
                for (g, p), n in Counter(
                    (g, p) for g, p in zip(gold, predicted, strict=True) if g != p
                ).most_common(12)
            ],
        }
    return report


def _where(gold: list[str], predicted: list[str], intent: str) -> tuple[list[str], list[str]]:
    pairs = [(g, p) for g, p in zip(gold, predicted, strict=True) if g == intent]
    return [g for g, _ in pairs], [p for _, p in pairs]


def _accuracy(gold: list[str], predicted: list[str]) -> float | None:
    if not gold:
        return None
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def _macro_f1(gold: list[str], predicted: list[str], classes: list[str]) -> float | None:
    if not gold:
        return None
    return float(f1_score(gold, predicted, labels=classes, average="macro", zero_division=0))
