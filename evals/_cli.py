"""The measurements' commands (`shopassist eval ...`, `shopassist bench ...`), added under the
`eval` and `bench` commands by an entry point; this module holds `eval understanding`, `eval qa`,
`eval feedback` and `bench e2e`, the others come from `evals/_cli_*.py`.

Why an entry point: `evals` sits above `assistant` (evals -> assistant), so `assistant/cli/_main.py`
cannot import it; like `ui`'s `serve`, it registers through `shopassist.commands`. That hook
hands over the top-level subcommands only, so the `eval` group is found among them and its
subcommand table extended (argparse offers no public accessor for a parser's subparsers).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from tqdm import tqdm

from assistant import Assistant, Settings, open_store
from evals._cli_asr import add_commands as add_asr_commands
from evals._cli_dialogue import add_eval_commands as add_dialogue_eval_commands
from evals._cli_load import add_commands as add_load_commands
from evals._cli_retrieval import add_bench_commands as add_retrieval_bench_commands
from evals._cli_retrieval import add_eval_commands as add_retrieval_eval_commands
from evals._qa import QA_SPLITS, QaEvaluation
from evals._qa import Options as QaOptions
from evals._qa_report import print_qa, save_qa
from evals._report import print_report, save
from evals._testsets import SPLITS
from evals._understanding import (
    SECTIONS,
    Options,
    UnderstandingEvaluation,
    default_simmc_dir,
    evaluation_settings,
)

# Wide enough for the requests table when the output is a file or a pipe (80 columns).
console = Console(width=max(Console().width, 120))


def add_commands(commands: Any) -> None:
    """Entry point of `shopassist.commands`: every `eval` and `bench` command, in the order
    their help lists them."""
    bench = _group(commands, "bench", "benchmarks (figures, never pass/fail)")
    add_retrieval_bench_commands(bench)
    e2e = bench.add_parser("e2e", help="whole text and voice turns: latency, memory")
    e2e.add_argument("--rounds", type=int, default=5, help="passes over the scripted chats")
    e2e.add_argument("--voice-repeat", type=int, default=10, help="5-second voice turns, 0 = off")
    e2e.add_argument("--out", type=Path, help="report folder (default DATA/bench)")
    e2e.set_defaults(handler=_bench_e2e)
    add_load_commands(bench)
    evaluations = _group(commands, "eval", "evaluations")
    add_retrieval_eval_commands(evaluations)
    add_dialogue_eval_commands(evaluations)
    add_asr_commands(evaluations)
    feedback = evaluations.add_parser(
        "feedback", help="simulated shoppers: turns to their target with and without feedback"
    )
    feedback.add_argument("--shoppers", type=int, default=60, help="simulated shoppers per run")
    feedback.add_argument("--seed", type=int, default=7)
    feedback.add_argument("--out", type=Path, help="report folder (default DATA/eval)")
    feedback.add_argument("--no-progress", action="store_true", help="hide progress bars")
    feedback.set_defaults(handler=_eval_feedback)
    understanding = _group(commands, "eval", "evaluations").add_parser(
        "understanding",
        help="the whole assistant on held-out requests, conversations and SIMMC shopper turns",
    )
    understanding.add_argument(
        "--split",
        choices=sorted(SPLITS),
        default="test",
        help="test: sample_data/heldout, never tuned on; dev, dev-v10 .. dev-v1: "
        "sample_data/dev/v11, v10 .. v1, earlier test sets whose failures guided changes "
        "(default test)",
    )
    understanding.add_argument("--requests", type=Path, help="override the split's file")
    understanding.add_argument("--conversations", type=Path, help="override the split's file")
    understanding.add_argument(
        "--simmc", type=Path, help=f"SIMMC 2.0 folder (default {default_simmc_dir()})"
    )
    understanding.add_argument("--labels", type=Path, help="override the split's file")
    understanding.add_argument(
        "--only", help=f"comma-separated sections among {', '.join(SECTIONS)} (default: all)"
    )
    understanding.add_argument("--limit", type=int, help="at most N entries per section")
    understanding.add_argument("--out", type=Path, help="report folder (default DATA/eval)")
    understanding.add_argument("--no-progress", action="store_true", help="hide progress bars")
    understanding.set_defaults(handler=_eval_understanding)
    qa = _group(commands, "eval", "evaluations").add_parser(
        "qa", help="product questions (fit, care, material, ...) answered from the product's text"
    )
    qa.add_argument(
        "--split",
        choices=sorted(QA_SPLITS),
        default="dev",
        help="dev: sample_data/dev/qa, for tuning; dev2 .. dev5: sample_data/dev/qa2 .. qa5, "
        "the first to fourth held-out sets, retired since; test: "
        "sample_data/heldout/qa, never tuned on (default dev)",
    )
    qa.add_argument("--questions", type=Path, help="override the split's questions file")
    qa.add_argument("--limit", type=int, help="at most N questions")
    qa.add_argument("--out", type=Path, help="report folder (default DATA/eval)")
    qa.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    qa.set_defaults(handler=_eval_qa)


def _eval_qa(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be >= 1")
    settings = evaluation_settings(settings)
    options = QaOptions(
        split=args.split, questions=args.questions, limit=args.limit, progress=not args.no_progress
    )
    report = QaEvaluation(build_assistant(settings), options).run()
    print_qa(report, console)
    paths = save_qa(report, args.out or settings.data_dir / "eval")
    console.print(f"Saved {', '.join(str(p) for p in paths)}", highlight=False)
    return 0


def _progress(args: argparse.Namespace) -> Callable[[Iterable[Any], str, int], Iterable[Any]]:
    """A tqdm bar per stage of a long evaluation, unless --no-progress."""

    def wrap(items: Iterable[Any], description: str, total: int) -> Iterable[Any]:
        return tqdm(items, desc=description, total=total, disable=args.no_progress)

    return wrap


def _eval_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from evals._feedback_eval import markdown, run

    if args.shoppers < 1:
        raise ValueError("--shoppers must be >= 1")
    out = args.out or settings.data_dir / "eval"
    report = run(build_assistant(settings), args.shoppers, args.seed, _progress(args), out)
    console.print(markdown(report), highlight=False, markup=False)
    console.print(f"Saved {out / 'feedback.json'}", highlight=False)
    return 0


def _bench_e2e(args: argparse.Namespace, settings: Settings) -> int:
    from evals._bench_e2e import run

    if args.rounds < 1 or args.voice_repeat < 0:
        raise ValueError("--rounds must be >= 1 and --voice-repeat >= 0")
    report = run(build_assistant(settings), args.rounds, args.voice_repeat,
                 args.out or settings.data_dir / "bench")  # fmt: skip
    console.print_json(json.dumps(report))
    return 0


def _group(commands: Any, name: str, summary: str) -> Any:
    """The subcommand table of the existing `eval` or `bench` command (created when missing)."""
    parser = commands.choices.get(name) or commands.add_parser(name, help=summary)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(metavar="WHAT")


def build_assistant(settings: Settings, *, retrain: bool = False) -> Assistant:
    """The assistant under test, over the data dir's catalogs (`retrain`: the intent model
    fitted afresh rather than read from its cache)."""
    if not open_store(settings).count():  # before loading any model
        raise ValueError("The catalog store is empty: run `make sample-catalog` first.")
    return Assistant(settings, retrain=retrain)


def _sections(only: str | None) -> tuple[str, ...]:
    if not only:
        return SECTIONS
    chosen = tuple(s.strip() for s in only.split(",") if s.strip())
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        raise ValueError(f"--only: unknown section(s) {unknown}; choose from {SECTIONS}")
    return chosen


def _eval_understanding(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be >= 1")
    settings = evaluation_settings(settings)
    options = Options(
        split=args.split,
        requests=args.requests,
        conversations=args.conversations,
        labels=args.labels,
        simmc=args.simmc,
        sections=_sections(args.only),
        limit=args.limit,
        progress=not args.no_progress,
    )
    report = UnderstandingEvaluation(build_assistant(settings), settings, options).run()
    print_report(report, console)
    paths = save(report, args.out or settings.data_dir / "eval")
    console.print(f"Saved {', '.join(str(p) for p in paths)}", highlight=False)
    return 0
