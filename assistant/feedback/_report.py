"""`shopassist report`: click-through and add-to-cart rates per day and per intent.

Computed by SQL aggregation over the event log (`assistant.feedback._events`): the queries return
per-day and per-intent totals, never the events, so a million events take about five seconds
and little memory. Definitions:

- **Day**: the UTC calendar day of an event; `since`/`until` are inclusive UTC days.
- **Impressions**: `shown` events (one per product card per turn).
- **Clicks**: `opened` plus `liked` events. **Adds**: `added` events. (The assistant records
  `opened` for the product of any reply about one product, an add-to-cart reply included, so
  adding from the chat also counts as a click.)
- **Credit**: a click or add counts on the day it happened and, per intent, for the intent of
  the turn that last showed that product to that session earlier in the log (that `shown`
  event's intent), even when that showing falls before `since`. A click or add on a product that
  session was never shown before is counted apart, as **direct**: it has no impression to
  divide by, so it is kept out of the rates.
- **Click-through rate** = credited clicks / impressions; **add-to-cart rate** = credited adds /
  impressions. Event-level, so one impression can earn both an open and a like (a rate can
  pass 100%). No impressions gives no rate (shown as "-").
- **Likes, dislikes, removes**: raw event counts (a thumbs up later taken back still counts).
  **Sessions**: distinct sessions with any event that day (or in the period, for the total).
"""

from __future__ import annotations

import base64
import io
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from assistant.feedback._database import day_of
from assistant.feedback._events import SECONDS_PER_DAY, EventKind, EventLog

DIRECT = "(direct)"  # clicks and adds on products the session was not shown first
UNKNOWN = "(unknown)"  # impressions recorded without an intent
EPOCH = date(1970, 1, 1)
CLICKS = (EventKind.OPENED, EventKind.LIKED)
# Kinds counted as they are, per day, and their column.
COUNTED = {
    EventKind.SHOWN: "impressions",
    EventKind.REMOVED: "removes",
    EventKind.LIKED: "likes",
    EventKind.DISLIKED: "dislikes",
}

# The same statements on SQLite and PostgreSQL (`assistant/feedback/_database.py`).
# One pass over the period's events: per UTC day, kind and intent.
COUNTS_SQL = f"""
SELECT {day_of("ts")}, kind, intent, COUNT(*)
FROM events WHERE ts >= ? AND ts < ? GROUP BY 1, 2, 3
"""
# Each click or add with the id of the last `shown` of the same product to the same session
# before it. `|| ''` keeps either engine on the session index (a session has tens of events, a
# popular product thousands); MATERIALIZED stops the subquery running once per use.
CREDIT_SQL = f"""
WITH acts AS MATERIALIZED (
    SELECT {day_of("e.ts")} AS day, e.kind AS kind, (
        SELECT s.id FROM events s
        WHERE s.session = e.session AND s.product_id || '' = e.product_id
          AND s.kind || '' = 'shown' AND s.id < e.id
        ORDER BY s.id DESC LIMIT 1
    ) AS shown_id
    FROM events e
    WHERE e.kind IN ('opened', 'liked', 'added') AND e.product_id IS NOT NULL
      AND e.ts >= ? AND e.ts < ?
)
SELECT acts.day, acts.kind, acts.shown_id IS NULL, shown.intent, COUNT(*)
FROM acts LEFT JOIN events shown ON shown.id = acts.shown_id
GROUP BY 1, 2, 3, 4
"""
SESSIONS_SQL = f"""
SELECT {day_of("ts")}, session FROM events WHERE ts >= ? AND ts < ? GROUP BY 1, 2
"""


class _Rated:
    """Click-through and add-to-cart rates of a row with impressions, clicks and adds."""

    __slots__ = ()
    impressions: int
    clicks: int
    adds: int

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def add_rate(self) -> float | None:
        return self.adds / self.impressions if self.impressions else None


@dataclass(frozen=True, slots=True)
class DayRates(_Rated):
    day: date | None  # None for the whole period
    sessions: int = 0
    impressions: int = 0
    clicks: int = 0
    adds: int = 0
    direct_clicks: int = 0
    direct_adds: int = 0
    removes: int = 0
    likes: int = 0
    dislikes: int = 0


@dataclass(frozen=True, slots=True)
class IntentRates(_Rated):
    intent: str
    impressions: int = 0
    clicks: int = 0
    adds: int = 0


@dataclass(frozen=True, slots=True)
class Report:
    since: date | None
    until: date | None
    days: list[DayRates]
    intents: list[IntentRates]
    total: DayRates
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def period(self) -> str:
        """The days asked for, narrowed to the days with events where a bound was left open."""
        start = self.since or (self.days[0].day if self.days else None)
        end = self.until or (self.days[-1].day if self.days else None)
        if start and end:
            return str(start) if start == end else f"{start} to {end}"
        if start or end:
            return f"from {start}" if start else f"up to {end}"
        return "no events"

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": None if self.since is None else str(self.since),
            "until": None if self.until is None else str(self.until),
            "period": self.period,
            "generated": self.generated.isoformat(timespec="seconds"),
            "total": _row_dict(self.total),
            "days": [_row_dict(d) for d in self.days],
            "intents": [_row_dict(i) for i in self.intents],
        }


@dataclass(slots=True)
class _Tallies:
    """The three aggregate queries' results, small whatever the log's size."""

    counts: list[tuple[int, str, str | None, int]]
    credit: list[tuple[int, str, int, str | None, int]]
    sessions: list[tuple[int, str]]


# Figures --------------------------------------------------------------------------------------
def daily_rates(
    log: EventLog, since: date | None = None, until: date | None = None
) -> list[DayRates]:
    """One row per UTC day that has any event in the period, oldest first."""
    return _days(_tally(log, since, until))


def intent_rates(
    log: EventLog, since: date | None = None, until: date | None = None
) -> list[IntentRates]:
    """One row per intent that showed products, most impressions first, then `DIRECT`."""
    return _intents(_tally(log, since, until))


def build_report(log: EventLog, since: date | None = None, until: date | None = None) -> Report:
    tallies = _tally(log, since, until)
    days = _days(tallies)
    total = DayRates(
        None,
        sessions=len({session for _, session in tallies.sessions}),
        **{
            name: sum(getattr(d, name) for d in days)
            for name in DayRates.__dataclass_fields__
            if name not in ("day", "sessions")
        },
    )
    return Report(since, until, days, _intents(tallies), total)


def _tally(log: EventLog, since: date | None, until: date | None) -> _Tallies:
    if since and until and since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
    low = _day_start(since) if since else float("-inf")
    high = _day_start(until + timedelta(days=1)) if until else float("inf")
    return _Tallies(
        log.db.read(COUNTS_SQL, (low, high)),
        log.db.read(CREDIT_SQL, (low, high)),
        log.db.read(SESSIONS_SQL, (low, high)),
    )


def _days(tallies: _Tallies) -> list[DayRates]:
    figures: dict[int, Counter[str]] = defaultdict(Counter)
    for day, kind, _, n in tallies.counts:
        if kind in COUNTED:  # opened and added are credited below; cleared is not reported
            figures[day][COUNTED[kind]] += n
    for day, kind, direct, _, n in tallies.credit:
        figures[day][("direct_" if direct else "") + _act(kind)] += n
    for day, _ in tallies.sessions:
        figures[day]["sessions"] += 1
    fields = [f for f in DayRates.__dataclass_fields__ if f != "day"]
    return [
        DayRates(EPOCH + timedelta(days=day), **{f: figures[day][f] for f in fields})
        for day in sorted(figures)
    ]


def _intents(tallies: _Tallies) -> list[IntentRates]:
    figures: dict[str, Counter[str]] = defaultdict(Counter)
    for _, kind, intent, n in tallies.counts:
        if kind == EventKind.SHOWN:
            figures[intent or UNKNOWN]["impressions"] += n
    direct: Counter[str] = Counter()
    for _, kind, is_direct, intent, n in tallies.credit:
        (direct if is_direct else figures[intent or UNKNOWN])[_act(kind)] += n
    rows = [IntentRates(intent, **counts) for intent, counts in figures.items()]
    rows.sort(key=lambda r: (-r.impressions, -r.clicks, r.intent))
    if direct:
        rows.append(IntentRates(DIRECT, **direct))
    return rows


def _row_dict(row: DayRates | IntentRates) -> dict[str, Any]:
    data = {k: str(v) if isinstance(v, date) else v for k, v in asdict(row).items()}
    return {**data, "ctr": _round(row.ctr), "add_rate": _round(row.add_rate)}


def _act(kind: str) -> str:
    return "clicks" if kind in CLICKS else "adds"


def _day_start(day: date) -> float:
    return (day - EPOCH).days * SECONDS_PER_DAY


def _round(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


# Output ---------------------------------------------------------------------------------------
DAY_COLUMNS = (
    "day",
    "sessions",
    "impressions",
    "clicks",
    "CTR",
    "adds",
    "add-to-cart",
    "direct clicks",
    "direct adds",
    "removes",
    "likes",
    "dislikes",
)
INTENT_COLUMNS = ("intent", "impressions", "clicks", "CTR", "adds", "add-to-cart")


def day_cells(row: DayRates) -> list[str]:
    return [
        "all days" if row.day is None else str(row.day),
        str(row.sessions),
        str(row.impressions),
        str(row.clicks),
        percent(row.ctr),
        str(row.adds),
        percent(row.add_rate),
        str(row.direct_clicks),
        str(row.direct_adds),
        str(row.removes),
        str(row.likes),
        str(row.dislikes),
    ]


def intent_cells(row: IntentRates) -> list[str]:
    return [
        row.intent,
        str(row.impressions),
        str(row.clicks),
        percent(row.ctr),
        str(row.adds),
        percent(row.add_rate),
    ]


def render_report(report: Report, out_dir: Path) -> dict[str, Path]:
    """Write report.html (self-contained: inline CSS, the chart as a data URI), report.png
    and report.json into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"report.{name}" for name in ("html", "png", "json")}
    png = _chart(report)
    paths["png"].write_bytes(png)
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    paths["html"].write_text(_html(report, png), encoding="utf-8")
    return paths


def _html(report: Report, png: bytes) -> str:
    days = [day_cells(d) for d in report.days]
    intents = [intent_cells(i) for i in report.intents]
    chart = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>shopassist report: {escape(report.period)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
tfoot td {{ font-weight: bold; }}
</style></head><body>
<h1>shopassist: click-through and add-to-cart rates</h1>
<p>Period: {escape(report.period)} (UTC days). Generated
{escape(report.generated.strftime("%Y-%m-%d %H:%M"))} UTC.</p>
<p>Impressions are product cards shown; clicks are details opened plus thumbs up. A click or add
counts on its own day, for the intent of the turn that last showed that product to that
session; one with no such showing is "direct" and kept out of the rates.</p>
<h2>Per day</h2>
{_table(DAY_COLUMNS, days, day_cells(report.total))}
<h2>Per intent</h2>
{_table(INTENT_COLUMNS, intents)}
<img alt="rates per day and per intent" src="data:image/png;base64,{chart}">
</body></html>
"""


def _table(columns: tuple[str, ...], rows: list[list[str]], total: list[str] | None = None) -> str:
    def row(cells: list[str]) -> str:
        return "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>"

    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    foot = f"\n<tfoot>{row(total)}</tfoot>" if total else ""
    body = "\n".join(row(cells) for cells in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>{foot}\n</table>"


def _chart(report: Report) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = [d for d in report.days if d.impressions]
    intents = [i for i in report.intents if i.impressions]  # empty exactly when days is
    height = max(4.0, 0.45 * len(intents) + 1)
    figure, (per_day, per_intent) = plt.subplots(1, 2, figsize=(12, height))
    per_day.set_title("Rates per day (UTC)")
    per_intent.set_title("Rates per intent")
    if days:
        _plot(figure, per_day, per_intent, days, intents)
    else:
        for axis in (per_day, per_intent):
            axis.set_axis_off()
            axis.text(0.5, 0.5, "no impressions", ha="center", transform=axis.transAxes)
    figure.tight_layout(rect=(0, 0, 1, 0.92))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _plot(
    figure: Any, per_day: Any, per_intent: Any, days: list[DayRates], intents: list[IntentRates]
) -> None:
    from matplotlib.dates import ConciseDateFormatter, DayLocator
    from matplotlib.ticker import PercentFormatter

    series = (("click-through", "ctr", "#4a7ab0"), ("add-to-cart", "add_rate", "#d08a3a"))
    x = [d.day for d in days]
    for offset, (label, rate, color) in zip((-0.2, 0.2), series, strict=True):
        per_day.plot(x, [getattr(d, rate) for d in days], marker="o", label=label, color=color)
        rows = [n + offset for n in range(len(intents))]
        per_intent.barh(rows, [getattr(i, rate) for i in intents], 0.4, color=color)
    locator = DayLocator(interval=max(1, ((x[-1] - x[0]).days + 2) // 8))  # whole days
    per_day.xaxis.set_major_locator(locator)
    per_day.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    per_day.set_xlim(x[0] - timedelta(days=1), x[-1] + timedelta(days=1))  # one day: not years
    per_day.set_ylim(bottom=0)
    per_day.yaxis.set_major_formatter(PercentFormatter(1.0))
    # A "$" in a label would start matplotlib's mathtext.
    labels = [i.intent.replace("$", r"\$") for i in intents]
    per_intent.set_yticks(range(len(intents)), labels)
    per_intent.invert_yaxis()
    per_intent.xaxis.set_major_formatter(PercentFormatter(1.0))
    figure.legend(*per_day.get_legend_handles_labels(), loc="upper center", ncol=2)
