"""The retrieval measurements of the `shopassist` CLI: eval retrieval, eval audit, bench retrieval.

Added by `evals.add_commands` (the `shopassist.commands` entry point) under the `eval` and
`bench` commands.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from assistant import Settings, build_retrieval
from evals._retrieval_eval import K
from retrieval import CleaningConfig

console = Console()
errors = Console(stderr=True)


def add_eval_commands(eval_commands: Any) -> None:
    eval_retrieval = eval_commands.add_parser(
        "retrieval", help="the engine against baselines: attribute, photo, item-to-item"
    )
    eval_retrieval.add_argument("--catalog", default="luma", help="catalog to evaluate on")
    eval_retrieval.add_argument("--out", type=Path, help="report folder (default DATA/eval)")
    eval_retrieval.add_argument("--limit", type=int, help="at most this many queries per task")
    eval_retrieval.add_argument("--no-progress", action="store_true", help="hide progress bars")
    eval_retrieval.add_argument(
        "--photo-halves",
        default="all",
        help="photo queries graded on these, comma-separated: all, dev, test (a fixed split of "
        "the catalog's products; tune on dev, report test once)",
    )
    eval_retrieval.set_defaults(handler=_eval_retrieval)

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


def add_bench_commands(bench_commands: Any) -> None:
    bench_retrieval = bench_commands.add_parser(
        "retrieval", help="search latency, memory and throughput, real and synthetic"
    )
    bench_retrieval.add_argument(
        "--sizes", default="100000,1000000", help="synthetic index sizes, comma-separated"
    )
    bench_retrieval.add_argument("--repeat", type=int, default=30, help="queries per case")
    bench_retrieval.add_argument(
        "--index-dir", type=Path, help="keep the synthetic indexes here and reuse them next time"
    )
    bench_retrieval.add_argument("--ingest-size", type=int, default=20000, help="0 to skip")
    bench_retrieval.add_argument("--out", type=Path, help="report folder (default DATA/bench)")
    bench_retrieval.add_argument("--no-progress", action="store_true", help="hide progress bars")
    bench_retrieval.set_defaults(handler=_bench_retrieval)


def _eval_retrieval(args: argparse.Namespace, settings: Settings) -> int:
    from evals._retrieval_eval import RetrievalEvaluation, markdown_table, save_report
    from retrieval import load_image

    stack = build_retrieval(settings)
    stack.indexer.sync(progress=not args.no_progress)
    evaluation = RetrievalEvaluation(
        stack.engine,
        args.catalog,
        load_image if stack.image_encoder or stack.clip_encoder else None,
        progress=not args.no_progress,
        photo_halves=[h.strip() for h in args.photo_halves.split(",") if h.strip()],
    )
    tasks = evaluation.run(limit=args.limit)
    context = {
        "catalog": args.catalog,
        "products": len(evaluation.products),
        "text_model": stack.text_encoder.name,
        "image_model": stack.image_encoder.name if stack.image_encoder else None,
        "clip_model": stack.clip_encoder.name if stack.clip_encoder else None,
        "k": 10,
        "photo_halves": list(evaluation.photo_halves),
    }
    paths = save_report(tasks, args.out or settings.data_dir / "eval", context)
    console.print(markdown_table(tasks), highlight=False, markup=False)
    console.print(f"Saved {', '.join(str(p) for p in paths.values())}", highlight=False)
    return 0


def _eval_audit(args: argparse.Namespace, settings: Settings) -> int:
    from evals._retrieval_audit import audit_queries, run_audit, save_audit

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


def _bench_retrieval(args: argparse.Namespace, settings: Settings) -> int:
    import tempfile

    from evals import _retrieval_bench as _bench

    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    if any(size < 1000 for size in sizes) or args.repeat < 1:
        raise ValueError("--sizes must be >= 1000 each and --repeat >= 1")
    stack = build_retrieval(settings)
    report: dict[str, object] = {"rss_mb_models_loaded": round(_bench.rss_mb())}
    if stack.store.count():
        report["catalog"] = _bench.bench_catalog(stack.engine, args.repeat)
        _print_latency("sample catalog: filtered hybrid search (ms)", report["catalog"])
    with tempfile.TemporaryDirectory(prefix="shopassist-bench-") as work:
        index_dir = args.index_dir or Path(work)
        if args.ingest_size:
            cleaning = CleaningConfig.from_yaml(settings.cleaning_file)
            report["ingest"] = _bench.bench_ingest(args.ingest_size, cleaning, Path(work))
            console.print(f"ingest: {report['ingest']}", highlight=False)
        scales = []
        for size in sizes:
            result = _bench.bench_scale(
                size,
                text_model=settings.text_model,
                repeat=args.repeat,
                work_dir=index_dir,
                progress=not args.no_progress,
            )
            scales.append(asdict(result))
            _print_scale(result)
        report["scales"] = scales
    path = _bench.save(report, args.out or settings.data_dir / "bench")
    console.print(f"Saved {path}", highlight=False)
    return 0


def _print_latency(title: str, cases: object) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("case", "p50", "p95", "n"):
        table.add_column(column)
    for label, value in dict(cases).items():  # type: ignore[call-overload]
        if isinstance(value, dict):
            table.add_row(label, str(value["p50"]), str(value["p95"]), str(value["n"]))
    console.print(table)


def _print_scale(result: object) -> None:
    data = asdict(result)  # type: ignore[call-overload]
    speed = data["vectors_per_second"]
    console.print(
        f"[bold]{data['size']:,} vectors[/]: built in {data['build_seconds']} s, "
        + (f"{speed:,} vectors/s into Chroma" if speed else "index reused")
        + f", RSS {data['rss_mb']:,} MB",
        highlight=False,
    )
    _print_latency("engine: whole filtered hybrid search, fresh process (ms)", data["engine"])
    _print_latency(
        "engine: the same, in the process that built the index", data["engine_after_build"]
    )
    plans = Table(title="hard-filter plans, top 100 (ms)", title_justify="left")
    for column in ("filter", "selectivity", "plan", "p50", "p95", "recall vs exact"):
        plans.add_column(column)
    for row in data["filter_plans"]:
        plans.add_row(
            row["filter"],
            str(row["selectivity"]),
            row["plan"],
            str(row["p50"]),
            str(row["p95"]),
            str(row["recall_vs_exact"]),
        )
    console.print(plans)
    for key, where in (("hnsw", "fresh process"), ("hnsw_after_build", "building process")):
        sweep = Table(title=f"HNSW ef_search, unfiltered top 10, {where}", title_justify="left")
        for column in ("ef_search", "p50 ms", "p95 ms", "recall@10"):
            sweep.add_column(column)
        for row in data[key]:
            sweep.add_row(
                str(row["ef_search"]), str(row["p50"]), str(row["p95"]), str(row["recall@10"])
            )
        console.print(sweep)
