"""The dialogue measurements of the `shopassist` CLI: eval nlu, eval dialogue.

Added by `evals.add_commands` (the `shopassist.commands` entry point) under the `eval` command.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from tqdm import tqdm

from assistant import Settings

console = Console()
errors = Console(stderr=True)
DEFAULT_DIALOGUES = Path(__file__).resolve().parent.parent / "tests" / "dialogues" / "luma.yml"
LATENCY_SAMPLE = 300


def add_eval_commands(eval_commands: Any) -> None:
    nlu = eval_commands.add_parser("nlu", help="intent CV, CLINC150 out-of-scope, Bitext, latency")
    nlu.add_argument("--datasets", type=Path, help="shared datasets folder ($SHOPASSIST_DATASETS)")
    nlu.add_argument("--folds", type=int, default=5)
    nlu.add_argument("--bitext-per-intent", type=int, default=40)
    nlu.add_argument("--out", type=Path, help="report folder (default DATA/eval)")
    nlu.add_argument("--no-progress", action="store_true", help="hide progress bars")
    nlu.set_defaults(handler=_eval_nlu)

    dialogue = eval_commands.add_parser(
        "dialogue", help="joint goal accuracy on scripted dialogues"
    )
    dialogue.add_argument("--file", type=Path, default=DEFAULT_DIALOGUES, help="dialogues YAML")
    dialogue.add_argument("--out", type=Path, help="report folder (default DATA/eval)")
    dialogue.add_argument("--show-failures", type=int, default=20, help="print this many")
    dialogue.add_argument("--no-progress", action="store_true", help="hide progress bars")
    dialogue.set_defaults(handler=_eval_dialogue)


def _progress(enabled: bool) -> Any:
    def wrap(items: Iterable[Any], description: str, total: int) -> Iterable[Any]:
        return tqdm(items, desc=description, total=total, disable=not enabled)

    return wrap


def _eval_nlu(args: argparse.Namespace, settings: Settings) -> int:
    from dialogue import ClassifierSettings, EmbeddingMemo
    from evals._dialogue_eval import (
        NluReport,
        bitext_evaluation,
        clinc_evaluation,
        cross_validate,
        latency,
        nlu_markdown,
        write_nlu_report,
    )

    datasets = args.datasets or Path(os.environ.get("SHOPASSIST_DATASETS", "../shared/datasets"))
    progress = _progress(not args.no_progress)
    from evals._cli import build_assistant

    assistant = build_assistant(settings, retrain=True)
    nlu = assistant.model.nlu
    tuned = nlu.classifier.settings
    memo = EmbeddingMemo(
        assistant.model_cache / "nlu-embeddings.npz",
        assistant.stack.text_encoder.encode_texts,
        assistant.stack.text_encoder.name,
    )
    fields = _fields(tuned)
    variants = {
        "embeddings + char + word n-grams (default)": tuned,
        "embeddings + char n-grams": ClassifierSettings(**{**fields, "word_ngrams": False}),
        "embeddings only": ClassifierSettings(
            **{**fields, "char_ngrams": False, "word_ngrams": False}
        ),
    }
    report = NluReport(
        examples=len(nlu.data.examples),
        intents=len(nlu.data.intents),
        cross_validation=cross_validate(nlu, memo, variants, args.folds, progress),
        training_seconds=assistant.training.seconds if assistant.training else 0.0,
    )
    clinc = datasets / "clinc150" / "data_full.json"
    bitext = datasets / "bitext" / "customer_support_training.csv"
    samples = [e.text for e in nlu.data.examples][::4]
    if clinc.exists():
        report.clinc = clinc_evaluation(nlu, clinc, progress)
        samples += [t for t, _ in json.loads(clinc.read_text())["test"][::30]]
    else:
        errors.print(f"[yellow]warning:[/] {clinc} not found; CLINC150 skipped")
    if bitext.exists():
        report.bitext = bitext_evaluation(nlu, bitext, args.bitext_per_intent, progress=progress)
    else:
        errors.print(f"[yellow]warning:[/] {bitext} not found; Bitext skipped")
    report.latency_ms = latency(nlu, samples[:LATENCY_SAMPLE])
    paths = write_nlu_report(report, args.out or settings.data_dir / "eval")
    console.print(nlu_markdown(report), highlight=False, markup=False)
    console.print(f"Saved {', '.join(str(p) for p in paths)}", highlight=False)
    return 0


def _fields(settings: Any) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__slots__}


def _eval_dialogue(args: argparse.Namespace, settings: Settings) -> int:
    from evals._cli import build_assistant
    from evals._dialogue_eval import dialogue_markdown_failures, evaluate_dialogues

    assistant = build_assistant(settings)
    report = evaluate_dialogues(assistant.model, args.file, _progress(not args.no_progress))
    out = args.out or settings.data_dir / "eval"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "dialogue.json"
    path.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    console.print(report.markdown(), highlight=False, markup=False)
    if args.show_failures and report.failures:
        failures = dialogue_markdown_failures(report, args.show_failures)
        console.print(failures, highlight=False, markup=False)
    console.print(f"Saved {path}", highlight=False)
    return 0
