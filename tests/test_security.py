"""Security defaults: loopback binding, the per-session rate limit, secrets kept out of settings
files and logs."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

import httpx
import pytest
from conftest import start
from test_http_api import assert_error, new_session

import assistant._sessions as facade
from assistant import Assistant, Settings
from assistant._assistant import RATE_LIMITED, SLOW_DOWN
from assistant._sessions import BUSY, EVICTABLE_IDLE_S, RATE_BURST
from assistant.integrations.http_api import API_TOKEN_ENV
from dialogue import DialogueSettings, PromptFileError


def _session() -> str:
    return f"sec-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def limited(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> Assistant:
    """The session assistant with a limit of 6 turns a minute, on a clock the test moves."""
    limit = replace(assistant.settings, turns_per_minute=6)
    monkeypatch.setattr(assistant, "settings", limit)
    monkeypatch.setattr(assistant.sessions, "settings", limit)  # the sessions' budgets
    clock = [1000.0]
    monkeypatch.setattr(facade.time, "monotonic", lambda: clock[0])
    assistant.clock = clock  # type: ignore[attr-defined]
    return assistant


class TestDefaults:
    def test_everything_binds_to_loopback_by_default(self):
        from assistant.integrations import ACTION_SERVER_HOST
        from ui.app import DEFAULT_HOST

        assert Settings().host == DEFAULT_HOST == ACTION_SERVER_HOST == "127.0.0.1"
        assert Settings().share is False

    def test_a_key_in_a_prompt_file_is_refused(self, tmp_path):
        secret = "sk-do-not-store-me"
        path = tmp_path / "dialogue.yml"
        path.write_text(f"llm:\n  enabled: true\n  api_key: {secret}\n", encoding="utf-8")
        with pytest.raises(PromptFileError) as caught:
            DialogueSettings.load(path)
        assert "api_key" in str(caught.value) and secret not in str(caught.value)

    def test_settings_have_no_secret_fields(self):
        names = {name.lower() for name in Settings.__dataclass_fields__}
        assert not {n for n in names if any(w in n for w in ("password", "token", "key"))}


class TestRateLimit:
    def test_a_burst_then_a_friendly_slow_down(self, limited: Assistant):
        session = _session()
        for _ in range(RATE_BURST):
            assert limited.respond(session, "show me watches").dialogue.action != RATE_LIMITED
        turns = len(limited.state(session).history)
        refused = limited.respond(session, "show me hoodies")
        assert refused.dialogue.action == RATE_LIMITED and refused.text == SLOW_DOWN
        assert len(limited.state(session).history) == turns  # the refused turn changed nothing
        other = limited.respond(_session(), "show me hoodies")  # other sessions unaffected
        assert other.dialogue.action != RATE_LIMITED
        limited.clock[0] += 10  # type: ignore[attr-defined]  # 6 a minute: one turn per 10 s
        assert limited.respond(session, "show me hoodies").dialogue.action != RATE_LIMITED
        assert limited.respond(session, "show me hoodies").dialogue.action == RATE_LIMITED

    def test_the_api_answers_429_with_retry_after(self, limited: Assistant, monkeypatch):
        monkeypatch.delenv(API_TOKEN_ENV, raising=False)
        app, url = start(limited)
        try:
            with httpx.Client(base_url=url, timeout=60) as http:
                session = new_session(http)
                turn = {"json": {"message": "watches"}, "headers": session.headers}
                codes = [
                    http.post("/api/v1/chat", **turn).status_code for _ in range(RATE_BURST + 1)
                ]
                assert codes == [200] * RATE_BURST + [429]
                refused = http.post("/api/v1/chat", **turn)
                assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
                assert refused.json()["detail"] == SLOW_DOWN
        finally:
            app.close()


def own_assistant(assistant: Assistant, **settings: object) -> Assistant:
    """A second assistant over the same engine and event log, with its own limits."""
    return Assistant(
        replace(assistant.settings, **settings), assistant.stack, events=assistant.events
    )


def from_address(url: str, address: str) -> httpx.Client:
    """A client whose requests come from another loopback address (another shopper)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, timeout=60, transport=transport)


class TestClientLimits:
    """Per-client budgets: one client can neither exhaust the server nor evict shoppers."""

    def test_a_client_over_its_request_budget_gets_429_and_others_do_not(
        self, assistant: Assistant, monkeypatch
    ):
        monkeypatch.delenv(API_TOKEN_ENV, raising=False)
        app, url = start(own_assistant(assistant, client_requests_per_minute=30))
        try:
            with from_address(url, "127.0.0.2") as flood, from_address(url, "127.0.0.3") as other:
                search = {"q": "bag"}
                codes = [flood.get("/api/v1/search", params=search).status_code for _ in range(8)]
                assert codes == [200] * 5 + [429] * 3  # a burst of 5, then 30 a minute
                refused = flood.get("/api/v1/search", params=search)
                assert_error(refused, 429, "too many requests")
                assert 1 <= int(refused.headers["Retry-After"]) <= 2
                # The web app's writes count against the same budget.
                assert flood.post("/gradio_api/queue/join", json={}).status_code == 429
                assert other.get("/api/v1/search", params=search).status_code == 200
        finally:
            app.close()

    def test_new_sessions_per_client_are_capped(self, assistant: Assistant, monkeypatch):
        monkeypatch.delenv(API_TOKEN_ENV, raising=False)
        app, url = start(own_assistant(assistant, client_sessions_per_minute=6))
        try:
            with from_address(url, "127.0.0.4") as flood, from_address(url, "127.0.0.5") as other:
                codes = [flood.post("/api/v1/sessions").status_code for _ in range(7)]
                assert codes == [201] * 5 + [429] * 2
                refused = flood.post("/api/v1/sessions")
                assert_error(refused, 429, "busy")
                assert int(refused.headers["Retry-After"]) >= 1
                assert other.post("/api/v1/sessions").status_code == 201
        finally:
            app.close()

    def test_a_full_server_refuses_new_sessions_rather_than_evict_a_live_cart(
        self, assistant: Assistant, monkeypatch
    ):
        shop = own_assistant(assistant, max_sessions=3, client_sessions_per_minute=0)
        clock = [5000.0]
        monkeypatch.setattr(facade.time, "monotonic", lambda: clock[0])
        live = [_session() for _ in range(3)]
        for session in live:
            shop.respond(session, "show me bags")
            shop.respond(session, "add the first one")
            assert shop.state(session).cart
        refused = shop.respond(_session(), "show me bags", client="addr:flood")
        assert refused.dialogue.action == RATE_LIMITED and refused.text == BUSY
        assert all(shop.state(session).cart for session in live)  # nobody evicted
        assert not shop.has_session("never-opened") and shop.state("never-opened").cart == []
        clock[0] += EVICTABLE_IDLE_S + 1  # every shopper idle for over ten minutes
        shop.respond(live[0], "what's in my cart?")  # one comes back
        newcomer = _session()
        assert shop.respond(newcomer, "show me bags").dialogue.action != RATE_LIMITED
        assert shop.has_session(newcomer) and shop.state(live[0]).cart
        assert not shop.has_session(live[1])  # the longest idle made room

    def test_web_sessions_count_against_the_clients_budget(self, assistant: Assistant):
        shop = own_assistant(assistant, client_sessions_per_minute=6)
        replies = [shop.respond(_session(), "hi", client="addr:10.0.0.9") for _ in range(6)]
        assert [r.dialogue.action == RATE_LIMITED for r in replies] == [False] * 5 + [True]
        assert replies[-1].text == BUSY
        assert shop.respond(_session(), "hi", client="addr:10.0.0.10").text != BUSY

    def test_event_rows_per_session_are_capped_per_minute(self, assistant: Assistant, monkeypatch):
        shop = own_assistant(assistant, events_per_minute=20)
        clock = [9000.0]
        monkeypatch.setattr(facade.time, "monotonic", lambda: clock[0])
        session = _session()
        for _ in range(6):
            shop.respond(session, "show me women's jackets")
            shop.respond(session, "show me more")
        rows = len(assistant.events.events(session))
        assert 0 < rows <= 20
        clock[0] += 60
        shop.respond(session, "show me bags")
        assert rows < len(assistant.events.events(session)) <= rows + 20


class TestSecretsStayOutOfLogs:
    def test_the_api_token_is_never_logged(self, assistant: Assistant, monkeypatch, caplog):
        token = f"tok-{uuid.uuid4().hex}"
        monkeypatch.setenv(API_TOKEN_ENV, token)
        caplog.set_level(logging.DEBUG)
        app, url = start(assistant)
        try:
            with httpx.Client(base_url=url, timeout=60) as http:
                bearer = {"Authorization": f"Bearer {token}"}
                wrong = {"Authorization": f"Bearer {token}x"}
                assert http.get("/api/v1/search", params={"q": "bag"}, headers=bearer).is_success
                assert (
                    http.get("/api/v1/search", params={"q": "bag"}, headers=wrong).status_code
                    == 401
                )
                opened = http.post("/api/v1/sessions", headers=bearer).json()
                session = {"X-Session-Token": opened["session_token"]}
                body = {"message": f"my token is {token}"}
                assert http.post("/api/v1/chat", json=body, headers=bearer | session).is_success
        finally:
            app.close()
        assert token not in caplog.text
