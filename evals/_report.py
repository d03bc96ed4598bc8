"""Terminal tables, the JSON report and the chart of `shopassist eval understanding`.

Why a chart: per-style NDCG and violation bars for two systems are read at a glance, a table
of 24 numbers is not. Every figure printed comes from the report dictionary, so what the
terminal shows, what the JSON keeps and what the README quotes are the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

JSON_NAME = "understanding.json"
CHART_NAME = "understanding.png"
SYSTEM_COLORS = {"assistant": "#4a7ab0", "bm25": "#c8884a", "keyword rules": "#c8884a"}


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_report(report: dict[str, Any], console: Console) -> None:
    if report.get("label_audit"):
        _print_audit(report["label_audit"], console)
    if "requests" in report:
        _print_requests(report["requests"]["summary"], console)
    if "conversations" in report:
        _print_conversations(report["conversations"]["summary"], console)
    if "simmc" in report:
        _print_simmc(report["simmc"], console)
    if "labels" in report:
        _print_labels(report["labels"], console)
    if report.get("crashes"):
        console.print(
            f"[bold red]{len(report['crashes'])} turn(s) crashed or failed inside the "
            "assistant[/]: see 'crashes' in the JSON report.",
        )


def _print_audit(audit: dict[str, Any], console: Console) -> None:
    for raw, stored in audit.get("renamed_attributes", {}).items():
        merged = audit.get("merged_attributes", {}).get(stored)
        also = f" (merged with {', '.join(r for r in merged if r != raw)})" if merged else ""
        console.print(
            f"[yellow]label audit:[/] raw attribute [bold]{raw}[/] is stored as "
            f"[bold]{stored}[/]{also}; graded there.",
            highlight=False,
        )
    for item in audit.get("missing", []):
        level = "[bold red]NOT KEPT[/]" if item["blocking"] else "[yellow]not carried[/]"
        console.print(
            f"label audit: {level} {item['store']} {item['key']} {item['label']!r} "
            f"(used by {', '.join(item['used_by'])})",
            highlight=False,
        )


def _print_requests(summary: dict[str, Any], console: Console) -> None:
    table = Table(title="Single-turn requests: first page, assistant vs BM25", title_justify="left")
    for column in (
        "style",
        "n",
        "NDCG@5",
        "violations",
        "nothing relevant",
        "no full match",
        "not carried: honest",
    ):
        table.add_column(column, justify="left" if column == "style" else "right")
    for style, mine in summary["assistant"].items():
        theirs = summary["bm25"][style]
        keys = (
            "ndcg@5",
            "violation_share",
            "nothing_relevant",
            "no_full_match",
            "not_carried_honest",
        )
        table.add_row(
            style,
            str(mine["requests"] + mine["not_carried"]),
            *(f"{fmt(mine[key])} / {fmt(theirs[key])}" for key in keys),
        )
    table.caption = "each cell: assistant / BM25"
    console.print(table)
    extra = Table(title="Requests: the assistant's page in more detail", title_justify="left")
    for column in (
        "style",
        "NDCG@5 with alternatives",
        "other-store cards",
        "with alternatives",
        "cards per page",
    ):
        extra.add_column(column, justify="left" if column == "style" else "right")
    for style, mine in summary["assistant"].items():
        keys = ("displayed_ndcg@5", "other_store_card_share", "with_alternatives", "mean_cards")
        extra.add_row(style, *(fmt(mine[key]) for key in keys))
    console.print(extra)


def _print_conversations(summary: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"Conversations ({summary['conversations']}, {summary['turns']} turns): "
        f"turn success {fmt(summary['turn_success'])}, whole-conversation success "
        f"{fmt(summary['conversation_success'])}",
        title_justify="left",
    )
    table.add_column("check")
    table.add_column("turns", justify="right")
    table.add_column("success", justify="right")
    for name, row in summary["by_check"].items():
        table.add_row(name, str(row["turns"]), fmt(row["success"]))
    show = summary["by_check"].get("show")
    if show:
        table.add_row(
            "show, first result only", str(show["turns"]), fmt(summary["show_first_result_ok"])
        )
    console.print(table)


def _print_simmc(simmc: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"SIMMC 2.0 shopper turns, label-free ({simmc['turns']} turns, "
        f"{simmc['dialogues']} dialogues)",
        title_justify="left",
    )
    for column in ("measure", "share", "target"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    targets = simmc["targets"]
    rows = [
        ("read as out_of_scope", simmc["out_of_scope"], targets["out_of_scope"]),
        ("read as ask_capabilities", simmc["ask_capabilities"], targets["ask_capabilities"]),
        (
            f"greet, turns over 3 words ({simmc['turns_over_3_words']})",
            simmc["greet_over_3_words"],
            targets["greet_over_3_words"],
        ),
        (
            f"naming a product type ({simmc['naming_a_type']}): neither search nor question",
            simmc["type_turns_not_search_or_question"],
            None,
        ),
    ]
    for label, share, target in rows:
        table.add_row(label, _percent(share), "" if target is None else f"<= {_percent(target)}")
    console.print(table)


def _print_labels(labels: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"SIMMC hand-labelled sample ({labels['labels']} turns, in dialogue context)",
        title_justify="left",
    )
    for column in ("system", "accuracy", "macro-F1", "accuracy, 'also' accepted"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for name, row in labels["systems"].items():
        table.add_row(
            name, fmt(row["accuracy"]), fmt(row["macro_f1"]), fmt(row["accuracy_also_ok"])
        )
    console.print(table)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def save(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """The JSON report and, when there is something to draw, the chart."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / JSON_NAME
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    paths = [path]
    if "requests" in report or "conversations" in report or "labels" in report:
        paths.append(_chart(report, out_dir / CHART_NAME))
    return paths


def _chart(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    if "requests" in report:
        panels += [
            ("ndcg@5", "First page NDCG@5 by style"),
            ("violation_share", "Cards breaking a stated constraint"),
        ]
    if "conversations" in report:
        panels.append(("checks", "Conversation turns: success by check"))
    if "labels" in report:
        panels.append(("labels", "SIMMC labelled turns"))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    for axis, (key, title) in zip(axes[0], panels, strict=True):
        if key == "checks":
            checks = report["conversations"]["summary"]["by_check"]
            names = list(checks)
            axis.barh(names, [checks[n]["success"] for n in names], color="#4a7ab0")
            axis.invert_yaxis()
            axis.set_xlim(0, 1)
        elif key == "labels":
            systems = report["labels"]["systems"]
            grouped_bars(axis, ["accuracy", "macro_f1", "accuracy_also_ok"], systems)
        else:
            summary = report["requests"]["summary"]
            styles = [s for s, row in summary["assistant"].items() if row[key] is not None]
            grouped_bars(axis, styles, summary, key)
        axis.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def grouped_bars(
    axis: Any, rows: list[str], systems: dict[str, Any], key: str | None = None
) -> None:
    """Horizontal bars, one group per row, one bar per system."""
    height = 0.8 / len(systems)
    for offset, (name, values) in enumerate(systems.items()):
        figures = [(values[row][key] if key else values[row]) or 0.0 for row in rows]
        positions = [i + offset * height for i in range(len(rows))]
        axis.barh(
            positions, figures, height=height, label=name, color=SYSTEM_COLORS.get(name, "#888888")
        )
    axis.set_yticks([i + height * (len(systems) - 1) / 2 for i in range(len(rows))], rows)
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.legend(fontsize=8, loc="lower right")
    axis.tick_params(labelsize=8)
