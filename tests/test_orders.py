"""The store's order-lookup hook (issue 15, "keep promises"): "where is my order?" is answered
from the store's order system, as it answers, or says plainly that it could not be looked up.
A real local HTTP server plays the store's order system."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from assistant import Assistant
from assistant.integrations import HttpOrderLookup
from dialogue import OrderLookupUnavailable
from tests.conftest import free_port, serve_http, stop_http

ORDERS = {
    "104233": {
        "order_id": "104233",
        "status": "Shipped",
        "estimated_delivery": "Thursday 10 December",
        "tracking_url": "https://carrier.example/track/ZX81",
    },
    "LU-88231": {"order_id": "LU-88231", "status": "Being packed"},
}
# Order numbers the fake system answers badly.
SLOW, BROKEN, MISSHAPEN = "555000", "555001", "555002"


class OrderSystem:
    """The store's order system on 127.0.0.1: answers from ORDERS, 404 for unknown numbers."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []
        system = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                system.asked.append(body)
                number = body["order_id"]
                if number == SLOW:
                    time.sleep(3)
                payload: bytes | None = None
                if number == BROKEN:
                    payload = b"<html>500 upstream</html>"
                elif number == MISSHAPEN:
                    payload = json.dumps({"order_id": number}).encode()  # no status
                elif number in ORDERS:
                    payload = json.dumps(ORDERS[number]).encode()
                self.send_response(200 if payload else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload or b'{"error": "no such order"}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server, base = serve_http(Handler)
        self.url = f"{base}/orders/lookup"

    def close(self) -> None:
        stop_http(self.server)


@pytest.fixture(scope="module")
def orders() -> Iterator[OrderSystem]:
    system = OrderSystem()
    yield system
    system.close()


class TestHttpOrderLookup:
    def test_a_known_order_comes_back_as_the_system_gave_it(self, orders: OrderSystem):
        status = HttpOrderLookup(orders.url).lookup("104233")
        assert status is not None and status.status == "Shipped"
        assert status.estimated_delivery == "Thursday 10 December"
        assert status.tracking_url == "https://carrier.example/track/ZX81"
        assert orders.asked[-1] == {"order_id": "104233"}

    def test_an_unknown_order_is_none(self, orders: OrderSystem):
        assert HttpOrderLookup(orders.url).lookup("999999") is None

    @pytest.mark.parametrize("number", [SLOW, BROKEN, MISSHAPEN])
    def test_a_slow_broken_or_misshapen_answer_is_unavailable(
        self, orders: OrderSystem, number: str
    ):
        with pytest.raises(OrderLookupUnavailable):
            HttpOrderLookup(orders.url, timeout_seconds=1).lookup(number)

    def test_nobody_listening_is_unavailable(self):
        with pytest.raises(OrderLookupUnavailable):
            HttpOrderLookup(f"http://127.0.0.1:{free_port()}/x", timeout_seconds=1).lookup("1234")

    def test_a_hook_that_is_not_a_url_is_a_clear_error(self):
        with pytest.raises(ValueError, match="http"):
            HttpOrderLookup("orders.example.com")


class TestOrderConversation:
    @pytest.fixture
    def hooked(self, assistant: Assistant, orders: OrderSystem) -> Iterator[Assistant]:
        """The shared assistant with the order system as its lookup hook."""
        policy = assistant.model.policy
        policy.orders = HttpOrderLookup(orders.url, timeout_seconds=1)
        yield assistant
        policy.orders = None

    def test_asks_for_the_number_then_quotes_the_status(self, hooked: Assistant):
        sid = uuid.uuid4().hex
        asked = hooked.respond(sid, "where's my order?")
        assert asked.dialogue.action == "order_ask"
        found = hooked.respond(sid, "it's 104233")
        assert found.dialogue.action == "order_found"
        assert "Order 104233: Shipped." in found.text
        assert "Thursday 10 December" in found.text and "carrier.example/track/ZX81" in found.text
        assert not found.suggestions and not found.dialogue.state["filters"]

    def test_a_number_in_the_question_is_looked_up_at_once(self, hooked: Assistant):
        reply = hooked.respond(uuid.uuid4().hex, "has order LU-88231 been shipped yet?")
        assert "Order LU-88231: Being packed." in reply.text
        assert "Estimated delivery" not in reply.text  # the system gave none: none is said

    def test_an_unknown_or_unreachable_order_is_said_plainly(self, hooked: Assistant):
        unknown = hooked.respond(uuid.uuid4().hex, "track my order #999999")
        assert unknown.dialogue.action == "order_unknown" and "999999" in unknown.text
        broken = hooked.respond(uuid.uuid4().hex, f"status of order {BROKEN}?")
        assert broken.dialogue.action == "order_lookup_failed"

    def test_without_a_hook_the_reply_says_where_to_look(self, assistant: Assistant):
        reply = assistant.respond(uuid.uuid4().hex, "where is my order 104233")
        assert reply.dialogue.action == "order_status"
        assert "Shipped" not in reply.text
