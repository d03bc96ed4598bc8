"""The `shopassist` command line: ingest catalogs and inspect the catalog store."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant._offline import go_offline
from assistant.config import Settings, load_settings
from retrieval import (
    CatalogStore,
    CleaningConfig,
    IngestReport,
    IssueReason,
    SourceError,
    SourceFormat,
    ingest,
)

# Source names too generic to name a catalog after; the parent folder's name is used instead.
_GENERIC_STEMS = {"fixtures", "catalog", "products", "data", "export", "import"}

console = Console()
errors = Console(stderr=True)


def main(argv: Sequence[str] | None = None) -> int:
    go_offline()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings(args.config, data_dir=args.data_dir, prompts_dir=args.prompts_dir)
        return int(args.handler(args, settings))
    except (SourceError, ValueError) as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopassist", description=__doc__)
    parser.add_argument("--config", type=Path, help="settings YAML (or $SHOPASSIST_CONFIG)")
    parser.add_argument("--data-dir", type=Path, help="where the catalog store lives")
    parser.add_argument("--prompts-dir", type=Path, help="the product team's YAML folder")
    commands = parser.add_subparsers(metavar="COMMAND")

    ingest_cmd = commands.add_parser("ingest", help="load a catalog source into the store")
    ingest_cmd.add_argument("source", type=Path, help="file or folder to read")
    ingest_cmd.add_argument("--format", choices=[str(f) for f in SourceFormat], help="adapter")
    ingest_cmd.add_argument("--catalog", help="catalog name (default: from the source name)")
    ingest_cmd.add_argument("--images", type=Path, help="folder that image paths resolve in")
    ingest_cmd.add_argument("--allow-empty", action="store_true", help="accept zero products")
    ingest_cmd.add_argument("--report", type=Path, help="also write the report as JSON here")
    ingest_cmd.add_argument("--no-progress", action="store_true", help="hide progress bars")
    ingest_cmd.set_defaults(handler=_ingest)

    catalog_cmd = commands.add_parser("catalog", help="inspect the catalog store")
    catalog_commands = catalog_cmd.add_subparsers(metavar="ACTION")
    stats_cmd = catalog_commands.add_parser("stats", help="counts, prices and coverage")
    stats_cmd.add_argument("--catalog", help="only this catalog")
    stats_cmd.add_argument("--json", action="store_true", help="print JSON")
    stats_cmd.set_defaults(handler=_stats)
    show_cmd = catalog_commands.add_parser("show", help="one product as stored")
    show_cmd.add_argument("product_id", help="e.g. luma:MH01")
    show_cmd.set_defaults(handler=_show)
    return parser


def default_catalog_name(source: Path) -> str:
    """'../luma/fixtures' -> 'luma', 'my-shop.jsonl' -> 'my-shop'."""
    resolved = source.resolve()
    for part in (resolved.stem, *(p.name for p in resolved.parents)):
        slug = re.sub(r"[^a-z0-9_-]+", "-", part.lower()).strip("-_")
        if slug and slug not in _GENERIC_STEMS:
            return slug[:64]
    return "catalog"


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    catalog = args.catalog or default_catalog_name(args.source)
    store = CatalogStore(settings.catalog_db)
    report = ingest(
        args.source,
        store,
        catalog=catalog,
        cleaning=CleaningConfig.from_yaml(settings.cleaning_file),
        source_format=SourceFormat(args.format) if args.format else None,
        images_root=args.images,
        allow_empty=args.allow_empty,
        progress=not args.no_progress,
    )
    if args.report:
        args.report.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    _print_report(report)
    return 0


def _print_report(report: IngestReport) -> None:
    console.print(
        f"[bold]{report.catalog}[/]: {report.products} products, {report.variants} variants, "
        f"{report.images} images, {report.reviews_stored} reviews "
        f"({report.reviews_attached} attached), {report.links_stored} links "
        f"({report.links_resolved} resolved) from {report.source} [{report.format}]",
        highlight=False,
    )
    counts = report.counts()
    if not counts:
        console.print("No issues.")
        return
    table = Table(title="Ingest issues", title_justify="left")
    for column in ("reason", "count", "examples (file:row)"):
        table.add_column(column)
    for reason, count in counts.items():
        examples = "; ".join(
            f"{i.where} {i.detail}".strip() for i in report.examples(IssueReason(reason), 3)
        )
        table.add_row(reason, str(count), examples)
    console.print(table)


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    stats = CatalogStore(settings.catalog_db).stats(args.catalog)
    if args.json:
        console.print_json(json.dumps(asdict(stats)))
        return 0
    if not stats.products:
        console.print("The catalog store is empty: run `shopassist ingest SOURCE` first.")
        return 0
    console.print(
        f"[bold]{stats.products}[/] products ({_pairs(stats.per_catalog)}), {stats.variants} "
        f"variants, {stats.images} images, {stats.reviews_attached} reviews attached "
        f"(+{stats.reviews_orphan} for products not in the catalog), {stats.links} links "
        f"({stats.links_resolved} between known products)",
        highlight=False,
    )
    console.print(
        f"Prices: {stats.price_min:.2f} to {stats.price_max:.2f}, median {stats.price_median:.2f}"
        if stats.price_min is not None
        else "Prices: none",
        highlight=False,
    )
    table = Table(title="Products per category", title_justify="left")
    table.add_column("category")
    table.add_column("products", justify="right")
    for category, count in stats.per_category.items():
        table.add_row(category, str(count))
    console.print(table)
    coverage = Table(title="Attribute coverage (share of products)", title_justify="left")
    coverage.add_column("field")
    coverage.add_column("coverage", justify="right")
    for name, share in stats.coverage.items():
        coverage.add_row(name, f"{share:.0%}")
    console.print(coverage)
    console.print(f"Tags: {_pairs(stats.tags)}", highlight=False)
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    product = CatalogStore(settings.catalog_db).get(args.product_id)
    if product is None:
        errors.print(f"No product with id {args.product_id!r} (ids look like 'luma:MH01').")
        return 1
    console.print_json(json.dumps(product.to_dict(), ensure_ascii=False))
    return 0


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


if __name__ == "__main__":
    sys.exit(main())
