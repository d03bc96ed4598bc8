"""The `shopassist doctor` command: do the catalog store and the vector index agree?"""

from __future__ import annotations

import argparse
import json
import sqlite3
from typing import Any

from rich.console import Console
from rich.markup import escape

from assistant._retrieval import (
    _clip_encoder,
    _image_encoder,
    colour_encoder,
    open_index,
    open_store,
)
from assistant.config import Settings
from retrieval import (
    CatalogStore,
    DoctorReport,
    ProblemKind,
    SentenceTextEncoder,
    check_catalog,
    check_server,
    index_unreadable,
    store_damaged,
)

console = Console()


def add_commands(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor", help="check that the catalog store and the vector index agree, and say the fix"
    )
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.add_argument(
        "--server",
        metavar="URL",
        help="also check that the server at URL (e.g. http://127.0.0.1:7860) answers from the "
        "store's catalog version",
    )
    doctor.set_defaults(handler=_doctor)


def diagnose(settings: Settings, server: str | None = None) -> DoctorReport:
    """Opens the store, index and models that `shopassist index` would, so both agree on which
    collections there should be; a store or server that cannot be opened is itself the finding.
    With `server` (a URL), also whether that running server answers from the store's catalog
    version (it reloads by itself after an ingest; one that stays behind quotes old prices)."""
    try:
        store = open_store(settings)
    except sqlite3.DatabaseError as exc:
        return DoctorReport(problems=[store_damaged(settings.catalog_db, [str(exc)])])
    report = _diagnose(settings, store)
    if server and not any(p.kind == ProblemKind.STORE_DAMAGED for p in report.problems):
        version = store.version()
        report.counts["catalog_version"] = version
        report.problems += check_server(server, version)
    return report


def _diagnose(settings: Settings, store: CatalogStore) -> DoctorReport:
    try:
        index = open_index(settings)
    except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
        location = str(settings.chroma_dir)
        return DoctorReport(problems=[index_unreadable(location, settings.chroma_url, str(exc))])
    warnings: list[str] = []
    image_encoder = _image_encoder(settings)
    clip_encoder = _clip_encoder(settings, warnings)
    colour = colour_encoder(image_encoder, clip_encoder)
    report = check_catalog(
        store,
        index,
        SentenceTextEncoder(settings.text_model).name,
        image_encoder.name if image_encoder else None,
        clip_encoder.name if clip_encoder else None,
        colour_name=colour.name if colour else None,
        cache_path=settings.embedding_cache,
    )
    report.notes += warnings
    return report


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    report = diagnose(settings, args.server)
    if args.json:
        console.print_json(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print(report, args.server)
    return 0 if report.ok else 1


def _print(report: DoctorReport, server: str | None = None) -> None:
    counts = ", ".join(f"{name} {count}" for name, count in report.counts.items())
    if counts:
        console.print(f"Counts: {counts}", highlight=False, soft_wrap=True)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    if report.ok:
        console.print("[green]Healthy:[/] the catalog store and the vector index agree.")
        if server:
            version = report.counts.get("catalog_version")
            console.print(
                f"[green]Current:[/] the server at {escape(server)} runs catalog version "
                f"{version}, the store's.",
                highlight=False,
                soft_wrap=True,
            )
        return
    for problem in report.problems:
        examples = f" (e.g. {', '.join(problem.examples)})" if problem.examples else ""
        console.print(
            f"[red]problem:[/] {escape(problem.message + examples)}",
            highlight=False,
            soft_wrap=True,
        )
    # One line per distinct repair, in the order found: a re-ingest comes before a re-index.
    console.print("[bold]To repair:[/]")
    for repair in dict.fromkeys(p.repair for p in report.problems):
        console.print(f"  {repair}", highlight=False, soft_wrap=True, markup=False)
