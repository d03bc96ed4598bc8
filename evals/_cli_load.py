"""The `shopassist bench load` command: concurrent shoppers against the app's HTTP API."""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant.config import Settings

console = Console()


def add_commands(bench_commands: Any) -> None:
    load = bench_commands.add_parser(
        "load", help="concurrent shoppers over the HTTP API: turns/s, latency, errors, leaks"
    )
    load.add_argument(
        "--shoppers", type=_counts, default=[50], help="concurrent shoppers, or a ramp: 10,25,50"
    )
    load.add_argument("--duration", type=float, default=60.0, help="seconds per level")
    load.add_argument(
        "--url", help="a running `shopassist serve` (default: start one here on a free port)"
    )
    load.add_argument(
        "--allow-remote", action="store_true", help="allow a --url that is not loopback"
    )
    load.add_argument(
        "--soak", type=float, default=0.0, help="then this many seconds at the smallest level"
    )
    load.add_argument(
        "--gradio-sessions", type=int, default=4, help="sessions through the UI queue, 0 = off"
    )
    load.add_argument(
        "--forget-sessions",
        action="store_true",
        help="delete each session after its checks, as expiring sessions would (always on "
        "with --url); a soak then shows memory held by anything but the sessions themselves",
    )
    load.add_argument(
        "--hostile",
        type=int,
        default=0,
        help="then 20 shoppers chat while one client floods sessions, turns and reads over "
        "this many connections (0 = off)",
    )
    load.add_argument("--out", type=Path, help="report folder (default DATA/bench)")
    load.set_defaults(handler=_bench_load)


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected numbers like 10,25,50") from None
    if not counts:
        raise argparse.ArgumentTypeError("expected numbers like 10,25,50")
    return counts


def _bench_load(args: argparse.Namespace, settings: Settings) -> int:
    from evals._bench_load import check_target, listening_process, run

    if args.gradio_sessions < 0:
        raise ValueError("--gradio-sessions must be >= 0")
    options: dict[str, Any] = {
        "soak": args.soak,
        "gradio_sessions": args.gradio_sessions,
        "out_dir": args.out or settings.data_dir / "bench",
        "on_level": _print_level,
        "forget": True if args.url else args.forget_sessions,
        "hostile": args.hostile,
    }
    if args.url:
        url = check_target(args.url, allow_remote=args.allow_remote)
        server = listening_process(url)
        if server is None:
            console.print("Server process not found on this box: no server RSS or CPU.")
        # Forgotten after their checks, so the target's event log holds no bench traffic.
        report = run(url, args.shoppers, args.duration, server=server, **options)
    else:
        report = _in_process(settings, args.shoppers, args.duration, options)
    _print_report(report)
    return 0


def _in_process(
    settings: Settings, shoppers: list[int], seconds: float, options: dict[str, Any]
) -> dict[str, Any]:
    """The real app and API served from this process (so its RSS and CPU are the server's),
    recording events to a throwaway log: bench shoppers must not shape real co-liked data."""
    from assistant import Assistant, open_store
    from assistant.feedback import EventLog
    from evals._bench_load import ServerProcess, local_server, run

    if not open_store(settings).count():  # before loading any model
        raise ValueError("The catalog store is empty: run `shopassist ingest SOURCE` first.")
    with tempfile.TemporaryDirectory(prefix="shopassist-load-") as work:
        events = (
            EventLog(Path(work) / "events.db", retention_days=settings.event_retention_days)
            if settings.event_log
            else None
        )
        # The levels measure the engine: bench shoppers have no think time, so per-client
        # budgets meant for people are off there. The hostile run gets its own server over the
        # same models with the configured budgets, since that is what it tests.
        unlimited = replace(settings, client_requests_per_minute=0, client_sessions_per_minute=0)
        assistant = Assistant(unlimited, events=events)
        guarded = Assistant(settings, assistant.stack, events=events)
        with local_server(assistant) as url, local_server(guarded) as hostile_url:
            console.print(f"Serving the app and API on {url} (pid {os.getpid()}).")
            server = ServerProcess(os.getpid())
            return run(url, shoppers, seconds, server=server, hostile_url=hostile_url, **options)


def _print_level(name: str, summary: dict[str, Any]) -> None:
    latency = summary["latency_ms"]
    console.print(
        f"{name}: {summary['turns']} turns, {summary['turns_per_s']} turns/s, "
        f"p95 {latency['p95']} ms, {summary['errors']} errors, {summary['leaks']} leaks",
        highlight=False,
    )


def _print_report(report: dict[str, Any]) -> None:
    """Two tables that fit a terminal: speed, then correctness and resources."""
    rows = [(f"API, {level['shoppers']} shoppers", level) for level in report["levels"]]
    queue = report.get("gradio_queue", {})
    if "turns" in queue:
        rows.append((f"Gradio queue, {queue['concurrent_sessions']} sessions", queue))
    if report.get("soak"):
        rows.append((f"soak, {report['soak']['shoppers']} shoppers", report["soak"]))
    if report.get("hostile"):
        rows.append((f"under a flood, {report['hostile']['shoppers']} shoppers", report["hostile"]))
    speed = _table(
        f"bench load: {report['target']}, {report['cpus']} CPUs, "
        f"{report['seconds_per_level']:g}s per level (latency in ms)",
        ("run", "turns", "turns/s", "p50", "p95", "p99", "max"),
    )
    health = _table(
        "correctness and resources",
        ("run", "errors", "429s", "leaks", "checked", "CPU % server", "client", "other", "RSS MB"),
    )
    for name, row in rows:
        latency = row["latency_ms"]
        speed.add_row(
            name,
            str(row["turns"]),
            str(row["turns_per_s"]),
            *(str(latency[k]) for k in ("p50", "p95", "p99", "max")),
        )
        health.add_row(
            name,
            str(row["errors"]),
            str(row["rate_limited"]),
            str(row["leaks"]),
            f"{row['sessions_checked']}/{row['sessions']}",
            str(row["server_cpu_pct"]),
            str(row["client_cpu_pct"]),
            str(row["other_cpu_pct"]),
            str(row["server_rss_mb"]),
        )
    console.print(speed)
    console.print(health)
    for name, row in rows:
        for message in row["error_samples"] + row["leak_samples"]:
            console.print(f"  {name}: {message}", highlight=False, markup=False)
    if "skipped" in queue:
        console.print(f"Gradio queue run skipped: {queue['skipped']}", highlight=False)
    best = report["sustainable"]
    console.print(
        f"Sustained at p95 <= {report['p95_target_ms']:g} ms with no error or leak: "
        + (
            f"{best['turns_per_s']} turns/s with {best['shoppers']} shoppers "
            f"(p95 {best['p95_ms']} ms)"
            if best
            else "no level"
        ),
        highlight=False,
    )
    soak = report.get("soak")
    if soak and soak["rss_mb_start"] is not None:
        console.print(
            f"Soak {soak['seconds']:g}s: server RSS {soak['rss_mb_start']} -> "
            f"{soak['rss_mb_end']} MB (max {soak['rss_mb_max']}), {soak['mb_per_min']} MB/min, "
            f"{soak['sessions']} sessions",
            highlight=False,
        )
    hostile = report.get("hostile")
    if hostile:
        flood = hostile["flood"]
        console.print(
            f"Flood ({flood['connections']} connections, one client): {flood['requests']} "
            f"requests, {flood['served']} served, {flood['rate_limited']} refused with 429 "
            f"({(flood['share_429'] or 0):.0%}), other {flood['other_statuses']}; shoppers: "
            f"{hostile['lost_carts']} lost carts, {hostile['errors']} errors; server RSS "
            f"{hostile['rss_mb_start']} -> {hostile['rss_mb_end']} MB",
            highlight=False,
        )
    if report.get("saved"):
        console.print(f"Saved {report['saved']}", highlight=False)


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="left" if column == "run" else "right")
    return table
