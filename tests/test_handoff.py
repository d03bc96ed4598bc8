"""Asking for a person (issue 15, "keep promises"): the request is recorded where staff see it,
sent to the store's helpdesk when it has a webhook, and the reply says only what the store's
policy file says will happen. A real local HTTP server stands in for the helpdesk."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant
from assistant.feedback import Database
from assistant.integrations import HandoffDesk, SharedConversation
from tests.conftest import serve_http, stop_http

# How long a test waits for the background delivery before it fails (not a timing check).
DELIVERY_WAIT_SECONDS = 20.0


class Helpdesk:
    """A helpdesk webhook on 127.0.0.1: keeps every JSON body; answers with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                desk.received.append(json.loads(self.rfile.read(length)))
                self.send_response(desk.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server, base = serve_http(Handler)
        self.url = f"{base}/hooks/handoff"

    def close(self) -> None:
        stop_http(self.server)


@pytest.fixture
def helpdesk() -> Iterator[Helpdesk]:
    desk = Helpdesk()
    yield desk
    desk.close()


def wait_until(check: Any) -> Any:
    deadline = time.monotonic() + DELIVERY_WAIT_SECONDS
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the background delivery never finished")


class TestHandoffDesk:
    def test_a_request_is_recorded_listed_and_forgotten(self, tmp_path: Path):
        desk = HandoffDesk(tmp_path / "events.db")
        shared = SharedConversation([{"shopper": "hi", "assistant": "hello"}], [])
        first, delivery = desk.request("s1", shared)
        second, _ = desk.request("s2", None)
        assert delivery is None  # no webhook: recorded only
        assert first.reference == f"H-{first.id:05d}" and second.id > first.id
        latest = desk.handoffs()
        assert [r.session for r in latest] == ["s2", "s1"]
        assert latest[1].shared == shared and latest[0].shared is None
        assert desk.count() == {"requests": 2, "delivered": 0, "failed": 0}
        assert desk.forget("s1") == 1 and [r.session for r in desk.handoffs()] == ["s2"]
        desk.close()

    def test_old_requests_expire_with_the_retention_period(self, tmp_path: Path):
        desk = HandoffDesk(tmp_path / "events.db", retention_days=1)
        desk.request("old", None, now=1_000.0)
        desk.request("new", None, now=1_000.0 + 2 * 86_400)
        assert [r.session for r in desk.handoffs()] == ["new"]
        desk.close()

    def test_the_helpdesk_gets_the_request_as_json(self, tmp_path: Path, helpdesk: Helpdesk):
        desk = HandoffDesk(tmp_path / "events.db", webhook_url=helpdesk.url)
        shared = SharedConversation([{"shopper": "a person please", "assistant": "..."}], [])
        record, delivery = desk.request("s1", shared)
        assert delivery is not None
        delivered = delivery.result(timeout=DELIVERY_WAIT_SECONDS)
        assert delivered.delivered is not None and delivered.delivery_error is None
        body = helpdesk.received[0]["handoff"]
        assert body["reference"] == record.reference and body["session"] == "s1"
        assert body["shared"]["transcript"] == shared.transcript
        assert desk.handoffs()[0].delivered is not None
        desk.close()

    def test_a_failed_delivery_is_kept_with_the_request(self, tmp_path: Path):
        broken = Helpdesk(status=500)
        desk = HandoffDesk(tmp_path / "events.db", webhook_url=broken.url, timeout_seconds=2)
        _, delivery = desk.request("s1", None)
        assert delivery is not None
        assert delivery.result(timeout=DELIVERY_WAIT_SECONDS).delivery_error == "HTTP 500"
        broken.close()
        _, unreachable = desk.request("s2", None)  # nobody listens there any more
        assert unreachable is not None
        assert unreachable.result(timeout=DELIVERY_WAIT_SECONDS).delivery_error
        assert desk.count() == {"requests": 2, "delivered": 0, "failed": 2}
        desk.close()

    def test_a_desk_shutting_down_still_records_the_request(self, tmp_path: Path):
        desk = HandoffDesk(tmp_path / "events.db", webhook_url="http://127.0.0.1:9/hook")
        desk._sender.shutdown()
        record, delivery = desk.request("s1", None)
        assert delivery is None and desk.handoffs()[0].id == record.id
        desk.close()

    def test_a_webhook_that_is_not_a_url_is_a_clear_error(self, tmp_path: Path):
        with pytest.raises(ValueError, match="http"):
            HandoffDesk(tmp_path / "events.db", webhook_url="helpdesk.example.com/hook")


class TestHandoffStore:
    def test_requests_are_kept_listed_and_forgotten_on_either_database(self, event_store):
        desk = HandoffDesk(event_store)
        shared = SharedConversation([{"shopper": "hi", "assistant": "hello"}], [{"id": "a:1"}])
        first, _ = desk.request("s1", shared, now=1_800_000_000.0)
        second, _ = desk.request("s2", None)
        assert second.id > first.id and first.reference.startswith("H-")
        assert [r.session for r in desk.handoffs()] == ["s2", "s1"]
        (kept,) = desk.handoffs(session="s1")
        assert kept.shared == shared and kept.created == 1_800_000_000.0
        assert desk.count() == {"requests": 2, "delivered": 0, "failed": 0}
        assert desk.forget("s1") == 1 and desk.count()["requests"] == 1
        desk.close()


class TestHandoffConversation:
    @pytest.fixture
    def desk(self, assistant: Assistant, tmp_path: Path, helpdesk: Helpdesk) -> Iterator[Any]:
        """The shared assistant with a desk of its own that calls the local helpdesk."""
        original = assistant.handoffs
        assistant.handoffs = HandoffDesk(tmp_path / "events.db", webhook_url=helpdesk.url)
        yield assistant.handoffs
        assistant.handoffs.close()
        assistant.handoffs = original

    def test_a_yes_shares_the_conversation_and_the_cart(
        self, assistant: Assistant, desk: HandoffDesk, helpdesk: Helpdesk
    ):
        sid = uuid.uuid4().hex
        first = assistant.respond(sid, "men's hoodies").suggestions[0].card
        assistant.add_to_cart(sid, first.id, size="M", color=first.colors[0])
        asked = assistant.respond(sid, "can I talk to someone from your team please")
        assert asked.dialogue.action == "handoff_consent"
        assert "May I share this conversation" in asked.text
        assert not desk.handoffs(session=sid)  # nothing recorded before the answer
        done = assistant.respond(sid, "yes")
        assert done.dialogue.action == "handoff"
        record = desk.handoffs(session=sid)[0]
        assert record.reference in done.text
        assert assistant.model.policy.store_policy.handoff in done.text  # the store's words
        assert record.shared is not None
        shoppers = [turn["shopper"] for turn in record.shared.transcript]
        assert shoppers[0] == "men's hoodies" and shoppers[-1] == "yes"
        assert [(line["product_id"], line["size"]) for line in record.shared.cart] == [
            (first.id, "M")
        ]
        wait_until(lambda: helpdesk.received)
        assert helpdesk.received[0]["handoff"]["reference"] == record.reference

    def test_a_no_passes_the_request_on_without_the_conversation(
        self, assistant: Assistant, desk: HandoffDesk, helpdesk: Helpdesk
    ):
        sid = uuid.uuid4().hex
        assistant.respond(sid, "I'd like to speak to a human")
        done = assistant.respond(sid, "no thanks")
        record = desk.handoffs(session=sid)[0]
        assert record.shared is None and record.reference in done.text
        assert "without this conversation" in done.text
        wait_until(lambda: helpdesk.received)
        assert helpdesk.received[0]["handoff"]["shared"] is None

    def test_moving_on_asks_nobody(self, assistant: Assistant, desk: HandoffDesk):
        sid = uuid.uuid4().hex
        assistant.respond(sid, "get me a real person")
        reply = assistant.respond(sid, "actually, show me women's jackets")
        assert reply.suggestions and not desk.handoffs(session=sid)
        assert assistant.respond(sid, "yes").dialogue.action != "handoff"

    def test_forgetting_a_session_deletes_its_requests(
        self, assistant: Assistant, desk: HandoffDesk
    ):
        sid = uuid.uuid4().hex
        assistant.respond(sid, "can I talk to a person")
        assistant.respond(sid, "yes")
        assert desk.handoffs(session=sid)
        assistant.forget(sid)
        assert not desk.handoffs(session=sid)

    def test_a_request_that_cannot_be_recorded_promises_nothing(
        self, assistant: Assistant, desk: HandoffDesk, tmp_path: Path
    ):
        sid = uuid.uuid4().hex
        assistant.respond(sid, "can I talk to a person")
        desk._db.close()  # the database is gone (a full disk, a lost volume)
        reply = assistant.respond(sid, "yes")
        assert reply.text == assistant.model.templates.render("handoff_failed")
        assert "H-" not in reply.text
        desk._db = Database(tmp_path / "reopened.db")
