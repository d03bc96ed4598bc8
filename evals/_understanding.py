"""`shopassist eval understanding`: the whole assistant on language nobody on the project wrote.

Four sections, each through `Assistant.respond` with a fresh session per request, conversation
or dialogue: held-out single-turn requests (against BM25), held-out conversations, every SIMMC
2.0 shopper turn (label-free), and the hand-labelled SIMMC sample (against keyword rules).
Nothing here feeds back into the assistant: the sets are read, run and graded, never tuned on.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from tqdm import tqdm

from assistant import Assistant, Settings
from evals import _conversations, _requests, _simmc
from evals._audit import audit, predicates_of
from evals._grading import Grader
from evals._testsets import (
    REPO,
    SPLITS,
    load_conversations,
    load_dialogues,
    load_labels,
    load_requests,
)

SECTIONS = ("requests", "conversations", "simmc", "labels")
DIALOGUES_FILE = "fashion_dialogues.jsonl"
LEXICON_FILE = "lexicon_catalog.jsonl"
SET_FILES = {
    "requests": "requests.yml",
    "conversations": "conversations.yml",
    "labels": "simmc_intents.yml",
}


def default_simmc_dir() -> Path:
    """`$SHOPASSIST_DATASETS/simmc2_teststd`, else the shared datasets beside the repo."""
    root = os.environ.get("SHOPASSIST_DATASETS")
    return (Path(root) if root else REPO.parent / "shared" / "datasets") / "simmc2_teststd"


@dataclass(frozen=True, slots=True)
class Options:
    """What to run: the CLI's options; a file left out comes from the split's folder."""

    split: str = "test"
    requests: Path | None = None
    conversations: Path | None = None
    labels: Path | None = None
    simmc: Path | None = None
    sections: tuple[str, ...] = SECTIONS
    limit: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose from {sorted(SPLITS)}")

    def file(self, name: str) -> Path:
        """The `requests`, `conversations` or `labels` file to read."""
        chosen: Path | None = getattr(self, name)
        return chosen or SPLITS[self.split] / SET_FILES[name]


def evaluation_settings(settings: Settings) -> Settings:
    """The project's settings, minus what would make a run unrepeatable or slow: no event log
    (co-likes from earlier sessions would re-rank results; the eval must not write shopper
    events), no per-session rate limit (a script types faster than a person), no speech."""
    return replace(settings, event_log=False, turns_per_minute=0, speech_backend="none")


class UnderstandingEvaluation:
    """Runs the chosen sections on one assistant and returns the report dictionary."""

    def __init__(self, assistant: Assistant, settings: Settings, options: Options) -> None:
        self.assistant = assistant
        self.settings = settings
        self.options = options
        self.console = Console(stderr=True)
        self.grader = Grader(assistant.stack.store.products())
        self.crashes: list[dict[str, Any]] = []

    def progress(self, items: Iterable[Any], description: str) -> Iterable[Any]:
        items = list(items)
        return tqdm(items, desc=description, total=len(items), disable=not self.options.progress)

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        options, sections = self.options, self.options.sections
        report: dict[str, Any] = {}
        requests = conversations = []
        if "requests" in sections:
            requests = self._in_stores(load_requests(options.file("requests"))[: options.limit])
        if "conversations" in sections:
            conversations = load_conversations(options.file("conversations"))[: options.limit]
            conversations = self._in_stores(conversations)
        if requests or conversations:
            report["label_audit"] = audit(self.grader, predicates_of(requests, conversations))
        if requests:
            report["requests"] = self._requests(requests)
        if conversations:
            report["conversations"] = self._conversations(conversations)
        if "simmc" in sections or "labels" in sections:
            report.update(self._simmc(sections))
        report["crashes"] = self.crashes
        report["context"] = self._context(sections, time.perf_counter() - started)
        return report

    def _in_stores(self, entries: list[Any]) -> list[Any]:
        """Entries whose store is in the data dir (and is the one served, when the assistant
        serves one catalog: SHOPASSIST_CATALOG); the others are skipped, loudly."""
        stores = {f.catalog for f in self.grader.facts.values()}
        missing = sorted({e.store for e in entries} - stores)
        served = self.settings.catalog
        if served is not None:
            skipped = sorted({e.store for e in entries} - {served} - set(missing))
            if skipped:
                self.console.print(f"serving the {served} catalog alone: {', '.join(skipped)} "
                                   "entries are left out")  # fmt: skip
            stores &= {served}
        if missing:
            self.console.print(
                f"[bold red]warning:[/] no catalog named {', '.join(missing)} in the data dir; "
                "its entries are skipped (ingest it as `make sample-catalog` does)."
            )
        return [e for e in entries if e.store in stores]

    def _requests(self, requests: list[Any]) -> dict[str, Any]:
        results = _requests.RequestEvaluation(self.assistant, self.grader).run(
            requests, self.progress
        )
        self.crashes += [
            {"section": "requests", "where": r.request.id, "text": r.request.text, "error": r.error}
            for r in results
            if r.error
        ]
        return {
            "summary": _requests.summarise(results),
            "results": [r.to_dict() for r in results],
        }

    def _conversations(self, conversations: list[Any]) -> dict[str, Any]:
        evaluation = _conversations.ConversationEvaluation(self.assistant, self.grader)
        results = evaluation.run(conversations, self.progress)
        self.crashes += [
            {
                "section": "conversations",
                "where": f"{r.conversation.id} turn {t.number}",
                "text": t.outcome.user,
                "error": t.outcome.error,
            }
            for r in results
            for t in r.turns
            if t.outcome.error
        ]
        return {
            "summary": _conversations.summarise(results),
            "first_failures": [f for r in results if (f := r.first_failure())],
            "results": [
                {
                    "id": r.conversation.id,
                    "ok": r.ok,
                    "turns": [_turn_row(t) for t in r.turns],
                }
                for r in results
            ],
        }

    def _simmc(self, sections: tuple[str, ...]) -> dict[str, Any]:
        folder = self.options.simmc or default_simmc_dir()
        dialogues = load_dialogues(folder / DIALOGUES_FILE)
        limit = self.options.limit
        labels = load_labels(self.options.file("labels"))[:limit] if "labels" in sections else []
        # dialogue line -> the last turn to send: whole dialogues for the label-free section,
        # up to the labelled turn for the labels (its earlier turns are its context).
        counted = range(len(dialogues))[:limit] if "simmc" in sections else range(0)
        last_turn = {line: len(dialogues[line]) - 1 for line in counted}
        for label in labels:
            last_turn[label.line] = max(last_turn.get(label.line, 0), label.turn)
        out: dict[str, Any] = {}
        with _simmc.simmc_assistant(
            self.assistant, self.settings, folder / LEXICON_FILE, progress=self.options.progress
        ) as assistant:
            turns = _simmc.run_dialogues(assistant, dialogues, last_turn, self.progress)
            if "simmc" in sections:
                whole = [t for t in turns.values() if t.line in counted]
                out["simmc"] = _simmc.label_free(whole, _simmc.type_words(assistant))
            if labels:
                out["labels"] = _simmc.labelled(labels, turns)
        self.crashes += [
            {
                "section": "simmc",
                "where": f"line {t.line} turn {t.turn}",
                "text": t.text,
                "error": t.error,
            }
            for t in turns.values()
            if t.error
        ]
        return out

    def _context(self, sections: tuple[str, ...], seconds: float) -> dict[str, Any]:
        catalogs: dict[str, int] = {}
        for facts in self.grader.facts.values():
            catalogs[facts.catalog] = catalogs.get(facts.catalog, 0) + 1
        options = self.options
        return {
            "sections": list(sections),
            "limit": options.limit,
            "catalogs": catalogs,
            "served_catalog": self.settings.catalog,  # None: every catalog as one store
            "split": options.split,
            "files": {
                **{name: str(options.file(name)) for name in SET_FILES},
                "simmc": str(options.simmc or default_simmc_dir()),
            },
            "page_size": 5,
            "git": _git_state(),
            "text_model": self.assistant.stack.text_encoder.name,
            "seconds": round(seconds, 1),
        }


def _turn_row(turn: _conversations.TurnResult) -> dict[str, Any]:
    return {
        "turn": turn.number,
        "ok": turn.ok,
        "failed": turn.failed,
        "intent": turn.outcome.intent,
        "action": turn.outcome.action,
    }


def _git_state() -> dict[str, Any] | None:
    """The commit and the files changed in the work tree, so a figure can be traced to the
    code that produced it (others may be editing the tree)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    return {"head": head, "changed_files": changed}
