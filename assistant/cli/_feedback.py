"""The privacy command of the `shopassist` CLI: forget a session's recorded events."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from assistant.config import Settings
from assistant.feedback import EventLog

console = Console()


def add_commands(commands: Any) -> None:
    forget = commands.add_parser(
        "forget", help="delete every recorded event of one session (privacy request)"
    )
    forget.add_argument("session", help="the session id")
    forget.set_defaults(handler=_forget)


def _forget(args: argparse.Namespace, settings: Settings) -> int:
    if settings.event_db_url is None and not settings.events_db.exists():
        console.print(f"No event log at {settings.events_db}: nothing recorded, nothing to delete.")
        return 0
    log = EventLog(settings.event_store, retention_days=settings.event_retention_days)
    deleted = log.forget(args.session)
    log.close()
    console.print(f"Deleted {deleted} events of session {args.session!r}.", highlight=False)
    return 0
