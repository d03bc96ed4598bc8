"""The `shopassist report` command: click-through and add-to-cart rates from the event log."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from assistant.config import Settings
from assistant.feedback import (
    DAY_COLUMNS,
    INTENT_COLUMNS,
    EventLog,
    build_report,
    day_cells,
    intent_cells,
    render_report,
)
from assistant.integrations import HandoffDesk

console = Console()
errors = Console(stderr=True)
RATE_COLUMNS = 7  # day to add-to-cart: what fits a terminal; the files have every column
LATEST_HANDOFFS = 10


def add_commands(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="click-through and add-to-cart rates per day and intent (HTML + PNG)"
    )
    report.add_argument("--since", type=_day, help="first day, YYYY-MM-DD (UTC, inclusive)")
    report.add_argument("--until", type=_day, help="last day, YYYY-MM-DD (UTC, inclusive)")
    report.add_argument("--out", type=Path, help="report folder (default DATA/reports)")
    report.set_defaults(handler=_report)


def _print_handoffs(settings: Settings) -> None:
    """Requests for a person: how many, whether the helpdesk took them, and the latest ones
    (staff read the shared conversations through GET /api/v1/handoffs)."""
    desk = HandoffDesk(settings.event_store, retention_days=settings.event_retention_days)
    try:
        counts, latest = desk.count(), desk.handoffs(limit=LATEST_HANDOFFS)
    finally:
        desk.close()
    console.print(
        f"Requests for a person: {counts['requests']} (delivered to the helpdesk "
        f"{counts['delivered']}, failed deliveries {counts['failed']}).",
        highlight=False,
    )
    if not latest:
        return
    table = Table(title="Latest requests for a person", title_justify="left")
    for column in ("reference", "created (UTC)", "conversation shared", "helpdesk"):
        table.add_column(column)
    for record in latest:
        row = record.to_dict()
        helpdesk = "delivered" if record.delivered else (record.delivery_error or "not sent")
        shared = "yes" if record.shared else "no"
        table.add_row(record.reference, row["created"], shared, Text(helpdesk))
    console.print(table)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def _report(args: argparse.Namespace, settings: Settings) -> int:
    if settings.event_db_url is None and not settings.events_db.exists():
        errors.print(
            f"No event log at {settings.events_db}: nothing has been recorded yet "
            "(the log starts with the first chat turn while `event_log` is on).",
            highlight=False,
        )
        return 1
    log = EventLog(settings.event_store, retention_days=settings.event_retention_days)
    try:
        report = build_report(log, args.since, args.until)
    finally:
        log.close()
    paths = render_report(report, args.out or settings.data_dir / "reports")

    days = Table(title=f"Per day: {report.period} (UTC)", title_justify="left")
    for column in DAY_COLUMNS[:RATE_COLUMNS]:
        days.add_column(column, justify="left" if column == "day" else "right", no_wrap=True)
    for row in report.days:
        days.add_row(*day_cells(row)[:RATE_COLUMNS])
    days.add_section()
    days.add_row(*day_cells(report.total)[:RATE_COLUMNS], style="bold")
    console.print(days)
    total = report.total
    console.print(
        f"Also: direct clicks {total.direct_clicks}, direct adds {total.direct_adds}, "
        f"removes {total.removes}, likes {total.likes}, dislikes {total.dislikes}.",
        highlight=False,
    )
    intents = Table(title="Per intent", title_justify="left")
    for column in INTENT_COLUMNS:
        intents.add_column(column, justify="left" if column == "intent" else "right")
    for intent in report.intents:
        intents.add_row(*map(Text, intent_cells(intent)))  # an intent is not markup
    console.print(intents)
    _print_handoffs(settings)
    for path in paths.values():
        console.print(f"Saved {path}", highlight=False, soft_wrap=True)
    return 0
