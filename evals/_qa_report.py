"""Terminal tables, the JSON report and the markdown table of `shopassist eval qa`.

Every figure printed or written comes from the report dictionary, so the terminal, the JSON and
the README quote the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evals._report import fmt, grouped_bars

SYSTEMS = ("assistant", "bm25")


def print_qa(report: dict[str, Any], console: Console) -> None:
    for title, key in (("Product questions by topic", "by_topic"), ("by source", "by_source")):
        console.print(_table(report, title, key))
    console.print(_headline(report), highlight=False)


def _table(report: dict[str, Any], title: str, key: str) -> Table:
    table = Table(title=f"{title} ({report['split']}, n={report['n']})", title_justify="left")
    table.add_column(key.removeprefix("by_"))
    table.add_column("n", justify="right")
    for system in SYSTEMS:
        table.add_column(system, justify="right")
    systems = report["systems"]
    for name, row in systems["assistant"][key].items():
        table.add_row(
            name, str(row["n"]), *(fmt(systems[s][key][name]["accuracy"]) for s in SYSTEMS)
        )
    return table


def _headline(report: dict[str, Any]) -> str:
    mine, lexical, latency = (
        report["systems"]["assistant"],
        report["systems"]["bm25"],
        report["latency_ms"],
    )
    return (
        f"answer accuracy {fmt(mine['accuracy'])} (BM25 {fmt(lexical['accuracy'])}); "
        f"'not stated' precision {fmt(mine['not_stated_precision'])} of "
        f"{mine['not_stated_said']} (BM25 {fmt(lexical['not_stated_precision'])}); "
        f"routed to the answerer {fmt(report['routed_to_answerer'])}; "
        f"latency p50 {fmt(latency['p50'], 1)} ms, p95 {fmt(latency['p95'], 1)} ms "
        f"(after a {report['warm_up']['seconds']} s warm-up of {report['warm_up']['products']} "
        "products)"
    )


def markdown(report: dict[str, Any]) -> str:
    """The README's table: overall, by topic, by source."""
    systems = report["systems"]
    lines = [
        f"Split `{report['split']}`, {report['n']} questions. {_headline(report)}.",
        "",
        "| | n | assistant | BM25 best sentence |",
        "|---|---|---|---|",
        f"| answer accuracy | {report['n']} | {fmt(systems['assistant']['accuracy'])} "
        f"| {fmt(systems['bm25']['accuracy'])} |",
        f"| 'not stated' precision | | {fmt(systems['assistant']['not_stated_precision'])} "
        f"| {fmt(systems['bm25']['not_stated_precision'])} |",
    ]
    for key in ("by_topic", "by_source"):
        for name, row in systems["assistant"][key].items():
            lines.append(
                f"| {key.removeprefix('by_')}: {name} | {row['n']} | {fmt(row['accuracy'])} "
                f"| {fmt(systems['bm25'][key][name]['accuracy'])} |"
            )
    return "\n".join(lines) + "\n"


def save_qa(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """The JSON report, the README's markdown table and a chart of accuracy by topic and by
    source, assistant beside the BM25 baseline."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"qa-{report['split']}"
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return [json_path, md_path, _chart(report, out_dir / f"{stem}.png")]


def _chart(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = (("by_topic", "Answer accuracy by topic"), ("by_source", "by expected source"))
    figure, axes = plt.subplots(1, len(keys), figsize=(9.2, 4.2), squeeze=False)
    for axis, (key, title) in zip(axes[0], keys, strict=True):
        systems = {name: report["systems"][name][key] for name in SYSTEMS}
        grouped_bars(axis, list(systems["assistant"]), systems, "accuracy")
        axis.set_title(f"{title} ({report['split']}, n={report['n']})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path
