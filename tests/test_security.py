"""Security defaults: loopback binding, the per-session rate limit, secrets kept out of settings
files and logs."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

import httpx
import pytest
from conftest import start

import assistant._assistant as facade
from assistant import Assistant, Settings
from assistant._assistant import RATE_BURST, RATE_LIMITED, SLOW_DOWN
from assistant.http_api import API_TOKEN_ENV
from dialogue import DialogueSettings, PromptFileError


def _session() -> str:
    return f"sec-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def limited(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> Assistant:
    """The session assistant with a limit of 6 turns a minute, on a clock the test moves."""
    monkeypatch.setattr(assistant, "settings", replace(assistant.settings, turns_per_minute=6))
    clock = [1000.0]
    monkeypatch.setattr(facade.time, "monotonic", lambda: clock[0])
    assistant.clock = clock  # type: ignore[attr-defined]
    return assistant


class TestDefaults:
    def test_everything_binds_to_loopback_by_default(self):
        from assistant._rasa import DEFAULT_HOST as RASA_HOST
        from ui.app import DEFAULT_HOST

        assert Settings().host == DEFAULT_HOST == RASA_HOST == "127.0.0.1"
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
            session = _session()
            with httpx.Client(base_url=url, timeout=60) as http:
                codes = [
                    http.post(
                        "/api/v1/chat", json={"session_id": session, "message": "watches"}
                    ).status_code
                    for _ in range(RATE_BURST + 1)
                ]
                assert codes == [200] * RATE_BURST + [429]
                refused = http.post(
                    "/api/v1/chat", json={"session_id": session, "message": "watches"}
                )
                assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
                assert refused.json()["detail"] == SLOW_DOWN
        finally:
            app.close()


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
                body = {"session_id": _session(), "message": f"my token is {token}"}
                http.post("/api/v1/chat", json=body, headers=bearer)
        finally:
            app.close()
        assert token not in caplog.text
