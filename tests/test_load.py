"""`shopassist bench load`: a tiny bounded run on the real server (the session assistant behind
`ui.serve`, as in test_http_api), and proof that its checker catches leaks, 500s and 429s.
Timing is never asserted."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from test_http_api import new_session, start

from assistant import Assistant, Settings
from assistant.integrations.http_api import API_TOKEN_ENV, INTERNAL_ERROR, SESSION_HEADER
from evals._bench_load import (
    FAILED_TURN,
    Line,
    Screen,
    ServerProcess,
    SessionCheck,
    Step,
    Tally,
    api_lines,
    check_target,
    conversation,
    hostile_load,
    listening_process,
    run,
    session,
)
from evals._cli_load import add_commands

BAG = "luma:24-MB01"  # Joust Duffle Bag: no size, no colour, so the API adds it as is


@pytest.fixture(scope="module")
def url(assistant) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(API_TOKEN_ENV, raising=False)
        app, base = start(assistant)
    try:
        yield base
    finally:
        app.close()


@pytest.mark.slow
def test_a_short_bounded_run_checks_every_session(url, assistant, tmp_path):
    server = listening_process(url)
    assert server == ServerProcess(os.getpid())  # the in-process server, found by its port
    events = assistant.events.count()
    report = run(
        url, [4], 6, soak=4, gradio_sessions=2, server=server, forget=True, out_dir=tmp_path
    )
    # Forgotten as against a real store (`--url`): API sessions deleted, UI sessions opted out.
    assert assistant.events.count() == events and report["sessions_forgotten"]
    saved = json.loads((tmp_path / "load.json").read_text())
    assert saved["levels"] == report["levels"]
    (level,) = saved["levels"]
    assert level["shoppers"] == 4 and level["turns"] > 0 and level["turns_per_s"] > 0
    assert level["errors"] == 0 and level["leaks"] == 0, (
        level["error_samples"] + level["leak_samples"]
    )
    assert level["sessions"] == level["sessions_checked"] > 0
    assert level["cart_adds_checked"] > 0  # the checks had something to check
    assert set(level["latency_ms"]) == {"p50", "p95", "p99", "max", "n"}
    assert level["latency_ms"]["n"] == level["turns"]
    for key in (
        "rate_limited",
        "session_turns_per_min",
        "server_cpu_pct",
        "client_cpu_pct",
        "other_cpu_pct",
    ):
        assert key in level
    assert level["server_rss_mb"] > 100
    assert "sustainable" in saved and saved["cpus"] == os.cpu_count()
    queue = saved["gradio_queue"]
    assert queue["turns"] > 0 and queue["errors"] == 0 and queue["leaks"] == 0, queue
    assert queue["sessions"] == queue["sessions_checked"] > 0
    soak = saved["soak"]
    assert soak["turns"] > 0 and soak["errors"] == 0 and soak["leaks"] == 0
    assert soak["rss_mb_start"] > 100 and soak["rss_mb_max"] >= soak["rss_mb_end"]
    assert soak["mb_per_min"] is not None and len(soak["samples"]) >= 2


@pytest.mark.slow
def test_a_flood_from_one_client_loses_no_shoppers_cart(assistant):
    """One client floods session creation, turns and reads while shoppers (each from its own
    address) chat with a server whose table holds few sessions: the flood is refused with 429
    and no shopper loses a cart or gets an error."""
    guarded = Assistant(
        replace(
            assistant.settings,
            client_requests_per_minute=120,  # a burst of 20, then 2 a second
            client_sessions_per_minute=60,
            max_sessions=60,
        ),
        assistant.stack,
        events=assistant.events,
    )
    app, hostile_url = start(guarded)
    try:  # `bench load --hostile` runs this in its client process
        hostile = hostile_load(hostile_url, 6, 3, 0, False, 4)
    finally:
        app.close()
    assert hostile["sessions_checked"] > 0 and hostile["turns"] > 0
    assert hostile["lost_carts"] == 0 and hostile["errors"] == 0, hostile["error_samples"]
    assert hostile["leaks"] == 0, hostile["leak_samples"]
    flood = hostile["flood"]
    assert flood["requests"] > flood["served"] > 0
    assert flood["served"] <= 20 + 2 * 5  # its budget over the 3 s run, and some slack
    assert flood["rate_limited"] > 0 and flood["share_429"] > 0
    assert set(flood["other_statuses"]) <= {"401"}  # reads without a token: refused plainly


class TestChecker:
    def test_a_product_the_session_never_saw_is_a_leak(self, url):
        """A real session, then another session's product slipped into its cart on the
        server: the final check reports it."""
        check = SessionCheck("real")
        with httpx.Client(base_url=url, timeout=60) as http:
            sid = new_session(http)
            own = sid.headers
            for step in (Step("show me women's jackets"), Step("what's in my cart")):
                body = {"message": step.text}
                reply = http.post("/api/v1/chat", json=body, headers=own)
                check.observe(step, Screen.from_api(reply.json()))
            assert check.problems == [] and BAG not in check.seen
            added = http.post(f"/api/v1/sessions/{sid}/cart", json={"product_id": BAG}, headers=own)
            assert added.is_success
            cart = http.get(f"/api/v1/sessions/{sid}/cart", headers=own).json()
            state = http.get(f"/api/v1/sessions/{sid}", headers=own).json()
        check.final(api_lines(cart["lines"]), state)
        assert any(f"holds {BAG}, never shown" in p for p in check.problems), check.problems
        assert any("GET cart has" in p for p in check.problems)  # and the replies never said so

    def test_a_fabricated_cart_and_a_wrong_add_are_reported(self):
        check = SessionCheck("s")
        check.observe(Step("jackets"), _screen(listed=["a:1", "a:2"]))
        assert check.problems == []
        check.observe(Step("add the first one in size M", adds=1, size="M"),
                      _screen(listed=[], cart=[Line("a:2", "M", None, 1)]))  # fmt: skip
        assert "this session's target is a:1" in check.problems[-1]
        check.final([Line("other:9", None, None, 1)], _state(["a:1", "a:2"], turns=2))
        assert any("holds other:9, never shown" in p for p in check.problems)

    def test_an_add_as_scripted_is_clean(self):
        check = SessionCheck("s")
        check.observe(Step("jackets"), _screen(listed=["a:1", "a:2"]))
        check.observe(
            Step("add #2 in M", adds=2, size="M"), _screen([], [Line("a:2", "M", "Blue", 1)])
        )
        check.observe(Step("remove it", removes=True), _screen([], []))
        assert check.problems == [] and (check.adds, check.removes) == (1, 1)

    def test_errors_and_429s_are_counted_apart(self):
        """A 500 and a 200 carrying the dialogue's failure notice are errors (the session is
        then left unchecked); a 429 is counted apart and the turn is sent again."""
        tally = Tally()
        deadline = time.monotonic() + 30

        async def drive() -> None:
            transport = httpx.MockTransport(_fake_api())
            async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
                for texts in (["hello", "limited", "cart"], ["hello", "boom"], ["oops"]):
                    steps = [Step(text) for text in texts]
                    await session(http, tally, steps, deadline, forget=False)

        asyncio.run(drive())
        assert tally.errors == 2 and tally.rate_limited == 1 and tally.leaks == 0
        assert "-> 500" in tally.error_samples[0] and INTERNAL_ERROR in tally.error_samples[0]
        assert "dialogue failed on 'oops'" in tally.error_samples[1]
        assert (tally.sessions, tally.sessions_checked) == (3, 1)
        assert len(tally.latencies_ms) == 5  # not the 429 nor the 500; the 'oops' was answered


class TestTarget:
    def test_a_non_loopback_url_is_refused_without_allow_remote(self, tmp_path):
        parser = argparse.ArgumentParser()
        commands = parser.add_subparsers()
        add_commands(commands.add_parser("bench").add_subparsers())
        args = parser.parse_args(["bench", "load", "--url", "http://shop.example.com:7860"])
        with pytest.raises(ValueError, match="--allow-remote"):
            args.handler(args, Settings(data_dir=tmp_path))
        assert parser.parse_args(["bench", "load", "--shoppers", "10,25"]).shoppers == [10, 25]

    def test_loopback_targets_pass_and_remote_ones_need_the_flag(self):
        for url in ("http://127.0.0.1:7860/", "http://[::1]:7860", "http://localhost:7860"):
            assert check_target(url) == url.rstrip("/")
        assert check_target("https://10.0.0.5", allow_remote=True) == "https://10.0.0.5"
        for url in ("http://10.0.0.5:7860", "http://127.0.0.1.example.com"):
            with pytest.raises(ValueError, match="--allow-remote"):
                check_target(url)
        with pytest.raises(ValueError, match="--url must look like"):
            check_target("127.0.0.1:7860")


def test_scripts_fill_every_blank():
    for name in ("refine and add", "compare and details", "add then remove", "two adds", "gear"):
        _, steps = conversation(random.Random(1), name)
        assert all("{" not in step.text and "{" not in (step.size or "") for step in steps)


# Fakes -----------------------------------------------------------------------------------------
def _screen(listed: list[str], cart: list[Line] | None = None) -> Screen:
    return Screen(listed, [], cart or [])


def _state(shown: list[str], turns: int) -> dict:
    return {"shown": shown, "turns": turns, "cart": [], "focus": None, "liked": [],
            "disliked": [], "pending_add": None}  # fmt: skip


def _fake_api():
    """The API's shapes, answering 'boom' with a 500, 'oops' with the dialogue's failure
    notice, and 'limited' with one 429 first."""
    turns: dict[str, int] = {}
    limited: set[str] = set()

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/sessions"):
            sid = f"api-{len(turns)}"
            turns[sid] = 0
            return httpx.Response(201, json={"session_id": sid, "session_token": f"{sid}.t"})
        if request.method == "POST":
            body = json.loads(request.content)
            sid, text = request.headers[SESSION_HEADER].split(".")[0], body["message"]
            if text == "boom":
                return httpx.Response(500, json={"detail": INTERNAL_ERROR})
            if text == "limited" and sid not in limited:
                limited.add(sid)
                return httpx.Response(429, json={"detail": "slow"}, headers={"Retry-After": "0"})
            turns[sid] = turns.get(sid, 0) + 1
            reply = {"suggestions": [], "alternatives": [], "comparison": None, "product": None,
                     "cart": [], "state": _state([], turns[sid] - 1),
                     "action": FAILED_TURN if text == "oops" else "search"}  # fmt: skip
            return httpx.Response(200, json=reply)
        sid = path.split("/")[4]
        if path.endswith("/cart"):
            return httpx.Response(200, json={"lines": []})
        return httpx.Response(200, json=_state([], turns.get(sid, 0)))

    return handle
