"""The recommendation audit command of the `shopassist` CLI: eval audit."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from assistant._retrieval import build_retrieval
from assistant.config import Settings
from retrieval._evaluation import K

console = Console()
errors = Console(stderr=True)


def add_commands(eval_commands: Any) -> None:
    audit = eval_commands.add_parser(
        "audit", help="exposure skew by brand, category and price band; diversity; novelty"
    )
    audit.add_argument("--k", type=int, default=K, help="recommendation slots per query")
    audit.add_argument(
        "--limit", type=int, help="at most this many attribute queries (x2 free text)"
    )
    audit.add_argument("--out", type=Path, help="report folder (default DATA/eval)")
    audit.add_argument("--no-progress", action="store_true", help="hide progress bars")
    audit.set_defaults(handler=_eval_audit)


def _eval_audit(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval._audit import audit_queries, run_audit, save_audit

    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be >= 1")
    stack = build_retrieval(settings)
    if not stack.store.count():
        errors.print("The catalog store is empty: run `shopassist ingest SOURCE` first.")
        return 1
    stack.indexer.sync(progress=not args.no_progress)
    engine = stack.engine
    products = list(engine.view.products.values())
    queries = audit_queries(products, args.limit)
    report = run_audit(engine, products, queries, args.k, progress=not args.no_progress)
    report.context["text_model"] = stack.text_encoder.name
    for title, header, rows in report.tables():
        table = Table(title=title, title_justify="left")
        for column in header:
            table.add_column(column, justify="left" if column == header[0] else "right")
        for row in rows:
            table.add_row(*map(Text, row))  # catalog values are never markup
        console.print(table)
    paths = save_audit(report, args.out or settings.data_dir / "eval")
    console.print(f"Saved {', '.join(str(p) for p in paths.values())}", highlight=False)
    return 0
