"""The `shopassist` command line: ingest and index catalogs, search, chat, train, evaluate."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict
from importlib.metadata import entry_points
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant._offline import go_offline
from assistant._retrieval import build_retrieval
from assistant.cli._dialogue import add_commands as add_dialogue_commands
from assistant.cli._doctor import add_commands as add_doctor_commands
from assistant.cli._feedback import add_commands as add_feedback_commands
from assistant.cli._init import add_commands as add_init_commands
from assistant.cli._rasa import add_commands as add_rasa_commands
from assistant.cli._report import add_commands as add_report_commands
from assistant.config import Settings, load_settings
from dialogue import PromptFileError
from retrieval import (
    FILTER_ATTRIBUTES,
    CatalogStore,
    CleaningConfig,
    EncoderUnavailable,
    Exclusions,
    Filters,
    Hit,
    IngestReport,
    IssueReason,
    Preferences,
    SearchQuery,
    SearchResult,
    SourceError,
    SourceFormat,
    ingest,
    load_image,
)

COMMANDS_GROUP = "shopassist.commands"
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
    except (SourceError, EncoderUnavailable, KeyError, ValueError, PromptFileError) as exc:
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
    ingest_cmd.add_argument("--no-index", action="store_true", help="skip the vector index sync")
    ingest_cmd.set_defaults(handler=_ingest)

    index_cmd = commands.add_parser("index", help="sync the vector index with the catalog store")
    index_cmd.add_argument("--no-progress", action="store_true", help="hide progress bars")
    index_cmd.set_defaults(handler=_index)

    search_cmd = commands.add_parser(
        "search", help="search the catalog (interactive when no query is given)"
    )
    search_cmd.add_argument("text", nargs="?", default="", help="what the shopper wants")
    search_cmd.add_argument("-k", type=int, default=5, help="how many results")
    search_cmd.add_argument("--min-price", type=float)
    search_cmd.add_argument("--max-price", type=float)
    for name in ("color", "size", "category", "gender", "brand", *FILTER_ATTRIBUTES):
        flag = name.replace("_", "-")
        search_cmd.add_argument(f"--{flag}", action="append", default=[], help="repeatable")
    for name in ("color", "category", "brand", *FILTER_ATTRIBUTES):
        flag = name.replace("_", "-")
        search_cmd.add_argument(f"--not-{flag}", action="append", default=[], help="repeatable")
    search_cmd.add_argument("--min-rating", type=float)
    search_cmd.add_argument("--on-sale", action="store_true")
    search_cmd.add_argument("--in-stock", action="store_true")
    search_cmd.add_argument("--cheaper", action="store_true", help="prefer lower prices")
    search_cmd.add_argument("--catalog", help="only this catalog")
    search_cmd.add_argument("--image", type=Path, help="find products that look like this photo")
    search_cmd.add_argument("--similar-to", help="product id for 'more like this'")
    search_cmd.add_argument("--json", action="store_true", help="print JSON")
    search_cmd.set_defaults(handler=_search)

    # The measurements' own commands come from `evals` through the entry point below; their
    # groups are made here so that they keep their place in the help.
    eval_cmd = commands.add_parser("eval", help="evaluations")
    eval_cmd.add_subparsers(metavar="WHAT")
    bench_cmd = commands.add_parser("bench", help="benchmarks (figures, never pass/fail)")
    bench_cmd.add_subparsers(metavar="WHAT")
    add_dialogue_commands(commands)

    add_rasa_commands(commands)
    add_feedback_commands(commands)
    add_doctor_commands(commands)
    add_report_commands(commands)
    add_init_commands(commands)
    for plugin in entry_points(group=COMMANDS_GROUP):  # e.g. `serve` from the ui package
        plugin.load()(commands)

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
    if not args.no_index:
        _sync_index(settings, progress=not args.no_progress)
    return 0


def _index(args: argparse.Namespace, settings: Settings) -> int:
    _sync_index(settings, progress=not args.no_progress)
    return 0


def _sync_index(settings: Settings, *, progress: bool) -> None:
    stack = build_retrieval(settings)
    for warning in stack.warnings:
        errors.print(f"[yellow]warning:[/] {warning}", highlight=False)
    stats = stack.indexer.sync(progress=progress)
    for name, encoded in stats.encoded.items():
        console.print(
            f"index {name}: {encoded} encoded, {stats.cached[name]} from cache, "
            f"{stats.removed[name]} removed",
            highlight=False,
        )
    if stats.unreadable_images:
        errors.print(f"[yellow]warning:[/] {len(stats.unreadable_images)} unreadable photos")
    console.print(f"Index in step with the catalog store ({stats.seconds:.1f}s).")


def _search(args: argparse.Namespace, settings: Settings) -> int:
    stack = build_retrieval(settings)
    if not stack.store.count():
        errors.print("The catalog store is empty: run `shopassist ingest SOURCE` first.")
        return 1
    image = None
    if args.image:
        image = load_image(args.image)
    if args.text or image is not None or args.similar_to:
        _print_result(stack.engine.search(_query(args, args.text, image)), as_json=args.json)
        return 0
    console.print("Type a query (empty line or Ctrl-D to quit).")
    for line in sys.stdin:
        if not line.strip():
            break
        _print_result(stack.engine.search(_query(args, line.strip(), None)), as_json=args.json)
    return 0


def _query(args: argparse.Namespace, text: str, image: object) -> SearchQuery:
    filters = Filters(
        price_min=args.min_price,
        price_max=args.max_price,
        colors=tuple(args.color),
        sizes=tuple(args.size),
        categories=tuple(args.category),
        genders=tuple(args.gender),
        brands=tuple(args.brand),
        attributes={name: tuple(getattr(args, name)) for name in FILTER_ATTRIBUTES},
        min_rating=args.min_rating,
        on_sale=args.on_sale,
        in_stock=args.in_stock,
        catalog=args.catalog,
    )
    exclude = Exclusions(
        colors=tuple(args.not_color),
        categories=tuple(args.not_category),
        brands=tuple(args.not_brand),
        attributes={name: tuple(getattr(args, f"not_{name}")) for name in FILTER_ATTRIBUTES},
    )
    return SearchQuery(
        text=text,
        filters=filters,
        exclude=exclude,
        prefer=Preferences(cheaper=args.cheaper),
        image=image,  # type: ignore[arg-type]
        similar_to=args.similar_to,
        k=args.k,
    )


def _print_result(result: SearchResult, *, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(_result_dict(result), ensure_ascii=False))
        return
    if not result.hits:
        console.print(result.empty_reason or "No results.", highlight=False)
        if result.relaxation:
            console.print(result.relaxation.description, highlight=False)
            _print_hits(result.relaxation.hits)
        return
    _print_hits(result.hits)


def _print_hits(hits: list[Hit]) -> None:
    table = Table(show_lines=True)
    for column in ("#", "product", "price", "sizes / colours", "why"):
        table.add_column(column)
    for rank, hit in enumerate(hits, start=1):
        product, evidence = hit.product, hit.evidence
        price = product.effective_price
        shown = (
            "" if price is None else f"${price:.2f}" + (" (from)" if product.price_is_from else "")
        )
        if product.on_sale and product.price is not None:
            shown += f" was ${product.price:.2f}"
        why = "; ".join(evidence.met)
        if evidence.text_span:
            why += f'\n"{evidence.text_span}"'
        if evidence.review_snippet:
            why += f'\nreviewer ({evidence.review_rating:.0f}/5): "{evidence.review_snippet}"'
        options = " ".join(product.sizes[:8]) + "\n" + ", ".join(product.colors[:6])
        table.add_row(str(rank), f"{product.title}\n[dim]{product.id}[/]", shown, options, why)
    console.print(table)


def _result_dict(result: SearchResult) -> dict[str, object]:
    def hit(h: Hit) -> dict[str, object]:
        return {"product": h.product.to_dict(), "score": h.score, "evidence": asdict(h.evidence)}

    return {
        "hits": [hit(h) for h in result.hits],
        "candidates": result.candidates,
        "empty_reason": result.empty_reason,
        "relaxation": None
        if result.relaxation is None
        else {
            "dropped": result.relaxation.dropped,
            "description": result.relaxation.description,
            "count": result.relaxation.count,
            "hits": [hit(h) for h in result.relaxation.hits],
        },
    }


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
