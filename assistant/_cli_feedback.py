"""The feedback commands of the `shopassist` CLI: eval feedback, forget."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant._cli_dialogue import _assistant, _progress
from assistant._events import EventLog
from assistant.config import Settings

console = Console()


def add_commands(commands: Any, eval_commands: Any) -> None:
    forget = commands.add_parser(
        "forget", help="delete every recorded event of one session (privacy request)"
    )
    forget.add_argument("session", help="the session id")
    forget.set_defaults(handler=_forget)

    feedback = eval_commands.add_parser(
        "feedback", help="simulated shoppers: turns to their target with and without feedback"
    )
    feedback.add_argument("--shoppers", type=int, default=60, help="simulated shoppers per run")
    feedback.add_argument("--seed", type=int, default=7)
    feedback.add_argument("--out", type=Path, help="report folder (default DATA/eval)")
    feedback.add_argument("--no-progress", action="store_true", help="hide progress bars")
    feedback.set_defaults(handler=_eval_feedback)


def _forget(args: argparse.Namespace, settings: Settings) -> int:
    if settings.event_db_url is None and not settings.events_db.exists():
        console.print(f"No event log at {settings.events_db}: nothing recorded, nothing to delete.")
        return 0
    log = EventLog(settings.event_store, retention_days=settings.event_retention_days)
    deleted = log.forget(args.session)
    log.close()
    console.print(f"Deleted {deleted} events of session {args.session!r}.", highlight=False)
    return 0


def _eval_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from assistant._feedback_eval import markdown, run

    if args.shoppers < 1:
        raise ValueError("--shoppers must be >= 1")
    out = args.out or settings.data_dir / "eval"
    progress = _progress(not args.no_progress)
    report = run(_assistant(settings), args.shoppers, args.seed, progress, out)
    console.print(markdown(report), highlight=False, markup=False)
    console.print(f"Saved {out / 'feedback.json'}", highlight=False)
    return 0
