"""`shopassist report`: exact rates from a hand-written event log, the HTML and the CLI."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from assistant.cli import main
from assistant.feedback import EventKind, EventLog, build_report, render_report
from assistant.feedback._report import DIRECT, DayRates, IntentRates, daily_rates, intent_rates
from assistant.integrations import HandoffDesk, SharedConversation

DAY1, DAY2, DAY3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
SHOWN, OPENED, LIKED, DISLIKED = EventKind.SHOWN, EventKind.OPENED, EventKind.LIKED, "disliked"
ADDED, REMOVED = EventKind.ADDED, EventKind.REMOVED


def at(day: date, hour: int, minute: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).timestamp()


def write_log(target: Path | str, start: date = DAY1) -> EventLog:
    """Three UTC days, two intents. Expected figures are worked out in the tests."""
    day1, day2, day3 = start, start + timedelta(days=1), start + timedelta(days=2)
    log = EventLog(target, retention_days=None)

    def record(session: str, kind: EventKind | str, pids: list[str], ts: float, **kw: object):
        log.record(session, kind, pids, ts=ts, **kw)  # type: ignore[arg-type]

    # Day 1. Session a: a search shows p1-p3; opens p1, likes p2, adds p1 (all credited search).
    record("a", SHOWN, ["p1", "p2", "p3"], at(day1, 10), intent="search", positions=[1, 2, 3])
    record("a", OPENED, ["p1"], at(day1, 10, 1), intent="details")
    record("a", LIKED, ["p2"], at(day1, 10, 2))
    record("a", ADDED, ["p1"], at(day1, 10, 3), intent="add_to_cart")
    # Session b: "similar" shows p1 and p4; opens p5, never shown to b (direct); dislikes p4.
    record("b", SHOWN, ["p1", "p4"], at(day1, 11), intent="similar", positions=[1, 2])
    record("b", OPENED, ["p5"], at(day1, 11, 1), intent="details")
    record("b", DISLIKED, ["p4"], at(day1, 11, 2))
    # Day 2. b opens p4, shown to it yesterday by "similar"; then a search shows b p1.
    record("b", OPENED, ["p4"], at(day2, 9), intent="details")
    record("b", SHOWN, ["p1"], at(day2, 9, 1), intent="search", positions=[1])
    # a is shown p1 again, by "similar" this time, and opens it: the last showing gets it.
    record("a", SHOWN, ["p1"], at(day2, 10), intent="similar", positions=[1])
    record("a", OPENED, ["p1"], at(day2, 10, 1), intent="details")
    # c adds and removes p9 without being shown it (a direct add).
    record("c", ADDED, ["p9"], at(day2, 12), intent="add_to_cart")
    record("c", REMOVED, ["p9"], at(day2, 12, 1), intent="remove_from_cart")
    # Day 3: no impressions at all, one direct like.
    record("d", LIKED, ["p1"], at(day3, 8))
    return log


@pytest.fixture
def log(event_store: Path | str) -> Iterator[EventLog]:
    """The hand-written log, in SQLite and in PostgreSQL: the report's SQL runs on both."""
    log = write_log(event_store)
    yield log
    log.close()


class TestDailyRates:
    def test_exact_figures_per_day(self, log: EventLog):
        assert daily_rates(log) == [
            DayRates(
                DAY1,
                sessions=2,
                impressions=5,
                clicks=2,
                adds=1,
                direct_clicks=1,
                likes=1,
                dislikes=1,
            ),
            DayRates(DAY2, sessions=3, impressions=2, clicks=2, direct_adds=1, removes=1),
            DayRates(DAY3, sessions=1, direct_clicks=1, likes=1),
        ]

    def test_rates_and_zero_impressions(self, log: EventLog):
        day1, day2, day3 = daily_rates(log)
        assert (day1.ctr, day1.add_rate) == (pytest.approx(0.4), pytest.approx(0.2))
        assert (day2.ctr, day2.add_rate) == (1.0, 0.0)
        assert (day3.ctr, day3.add_rate) == (None, None)

    def test_since_until_are_inclusive_utc_days(self, log: EventLog):
        assert [d.day for d in daily_rates(log, since=DAY2)] == [DAY2, DAY3]
        assert [d.day for d in daily_rates(log, until=DAY1)] == [DAY1]
        only = daily_rates(log, since=DAY2, until=DAY2)
        assert [(d.day, d.impressions, d.clicks) for d in only] == [(DAY2, 2, 2)]
        assert daily_rates(log, since=date(2025, 4, 1)) == []

    def test_since_after_until_is_an_error(self, log: EventLog):
        with pytest.raises(ValueError, match="after"):
            daily_rates(log, since=DAY2, until=DAY1)


class TestIntentRates:
    def test_credit_goes_to_the_last_showing_and_direct_is_apart(self, log: EventLog):
        search, similar, direct = intent_rates(log)
        assert search == IntentRates("search", impressions=4, clicks=2, adds=1)
        assert similar == IntentRates("similar", impressions=3, clicks=2, adds=0)
        assert direct == IntentRates(DIRECT, impressions=0, clicks=2, adds=1)
        assert (search.ctr, search.add_rate) == (0.5, 0.25)
        assert similar.ctr == pytest.approx(2 / 3)
        assert (direct.ctr, direct.add_rate) == (None, None)

    def test_a_showing_before_since_still_earns_the_click(self, log: EventLog):
        # b's day-2 open of p4 counts for "similar", which showed it on day 1.
        rows = {r.intent: r for r in intent_rates(log, since=DAY2, until=DAY2)}
        assert rows["similar"] == IntentRates("similar", impressions=1, clicks=2, adds=0)
        assert rows["similar"].ctr == 2.0  # event-level: can pass 100%
        assert rows["search"] == IntentRates("search", impressions=1, clicks=0, adds=0)
        assert rows[DIRECT] == IntentRates(DIRECT, impressions=0, clicks=0, adds=1)

    def test_no_direct_row_without_direct_events(self, log: EventLog):
        assert [r.intent for r in intent_rates(log, until=DAY1)] == ["search", "similar", DIRECT]
        log.forget("b")  # b's open of p5 was day 1's only direct event
        assert [r.intent for r in intent_rates(log, until=DAY1)] == ["search"]

    def test_report_total_counts_each_session_once(self, log: EventLog):
        total = build_report(log).total
        assert total == DayRates(
            None,
            sessions=4,
            impressions=7,
            clicks=4,
            adds=1,
            direct_clicks=2,
            direct_adds=1,
            removes=1,
            likes=2,
            dislikes=1,
        )


class TestRenderReport:
    def test_files_tables_and_embedded_png(self, log: EventLog, tmp_path: Path):
        paths = render_report(build_report(log), tmp_path / "out")
        assert {p.name for p in paths.values()} == {"report.html", "report.png", "report.json"}
        html = paths["html"].read_text(encoding="utf-8")
        assert html.count("<table>") == 2
        assert "Period: 2025-03-01 to 2025-03-03" in html
        assert "<tr><td>2025-03-01</td><td>2</td><td>5</td><td>2</td><td>40.0%</td>" in html
        assert "<tr><td>2025-03-03</td><td>1</td><td>0</td><td>0</td><td>-</td>" in html
        assert "<tr><td>search</td><td>4</td><td>2</td><td>50.0%</td><td>1</td><td>25.0%" in html
        assert "<tr><td>(direct)</td><td>0</td><td>2</td><td>-</td><td>1</td><td>-</td>" in html
        assert not re.search(r"""(src|href)=["']?(https?:|//)|<script""", html)
        embedded = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
        assert embedded is not None
        png = base64.b64decode(embedded.group(1))
        assert png == paths["png"].read_bytes()
        with Image.open(io.BytesIO(png)) as image:
            assert image.format == "PNG" and image.width > 500
        data = json.loads(paths["json"].read_text(encoding="utf-8"))
        assert data["days"][0]["ctr"] == 0.4 and data["days"][2]["ctr"] is None
        assert data["intents"][-1] == {
            "intent": DIRECT,
            "impressions": 0,
            "clicks": 2,
            "adds": 1,
            "ctr": None,
            "add_rate": None,
        }

    def test_hostile_intent_is_escaped(self, log: EventLog, tmp_path: Path):
        hostile = '<script>alert("x")</script>$'
        log.record("e", SHOWN, ["p1"], intent=hostile, ts=at(DAY3, 9))
        log.record("e", OPENED, ["p1"], ts=at(DAY3, 9, 1))
        paths = render_report(build_report(log), tmp_path)
        html = paths["html"].read_text(encoding="utf-8")
        assert "<script" not in html
        assert "<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;$</td>" in html

    def test_empty_period(self, log: EventLog, tmp_path: Path):
        report = build_report(log, since=date(2030, 1, 1))
        assert report.days == [] and report.intents == [] and report.period == "from 2030-01-01"
        html = render_report(report, tmp_path)["html"].read_text(encoding="utf-8")
        assert "<tfoot><tr><td>all days</td><td>0</td><td>0</td><td>0</td><td>-</td>" in html


class TestReportCli:
    def test_report_end_to_end(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
        # Recent days, so the default 90-day retention keeps them when the CLI opens the log.
        start = datetime.fromtimestamp(time.time(), UTC).date() - timedelta(days=3)
        write_log(tmp_path / "events.db", start).close()
        assert main(["--data-dir", str(tmp_path), "report"]) == 0
        out = capsys.readouterr().out
        folder = tmp_path / "reports"
        for name in ("report.html", "report.png", "report.json"):
            assert (folder / name).stat().st_size > 0 and f"Saved {folder / name}\n" in out
        assert "40.0%" in out and "50.0%" in out and DIRECT in out and "direct adds 1" in out
        data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        assert data["total"]["impressions"] == 7 and data["total"]["sessions"] == 4
        assert "Requests for a person: 0 " in out

    def test_requests_for_a_person_are_listed(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ):
        start = datetime.fromtimestamp(time.time(), UTC).date() - timedelta(days=3)
        write_log(tmp_path / "events.db", start).close()
        desk = HandoffDesk(tmp_path / "events.db")
        record, _ = desk.request("s1", SharedConversation([{"shopper": "hi", "assistant": "hi"}]))
        desk.request("s2", None)
        desk.close()
        assert main(["--data-dir", str(tmp_path), "report"]) == 0
        out = capsys.readouterr().out
        assert "Requests for a person: 2 (delivered to the helpdesk 0, failed deliveries 0)" in out
        assert record.reference in out and "not sent" in out

    def test_since_until_and_out(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
        start = datetime.fromtimestamp(time.time(), UTC).date() - timedelta(days=3)
        write_log(tmp_path / "events.db", start).close()
        day2 = str(start + timedelta(days=1))
        args = ["--data-dir", str(tmp_path), "report", "--since", day2, "--until", day2]
        assert main([*args, "--out", str(tmp_path / "mine")]) == 0
        data = json.loads((tmp_path / "mine" / "report.json").read_text(encoding="utf-8"))
        assert [d["day"] for d in data["days"]] == [day2]
        assert data["total"]["clicks"] == 2 and data["total"]["direct_adds"] == 1
        capsys.readouterr()
        bad = ["--data-dir", str(tmp_path), "report", "--since", day2, "--until", str(start)]
        assert main(bad) == 1
        assert "after" in capsys.readouterr().err

    def test_without_a_log(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
        assert main(["--data-dir", str(tmp_path), "report"]) == 1
        assert "No event log" in capsys.readouterr().err
        assert not (tmp_path / "events.db").exists() and not (tmp_path / "reports").exists()

    def test_bad_date(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
        with pytest.raises(SystemExit):
            main(["--data-dir", str(tmp_path), "report", "--since", "03/01/2025"])
        assert "not a YYYY-MM-DD date" in capsys.readouterr().err
