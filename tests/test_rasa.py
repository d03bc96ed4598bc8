"""The Rasa integration: the real rasa-sdk action server over HTTP (started in a thread over the
session assistant), called with webhook payloads shaped as Rasa sends them, and the exported
Rasa project checked against Rasa's documented file structure (Rasa itself is not installed)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import rasa_sdk
import yaml
from conftest import REPO, SAMPLE_GENERIC
from sanic import Sanic

from assistant import Assistant
from assistant.cli import main
from assistant.integrations import RASA_ACTIONS, create_action_app
from assistant.integrations._rasa import ENTITY_SLOTS, SLOT_TYPES
from dialogue import load_nlu, money

pytestmark = pytest.mark.slow

PROMPTS = REPO / "prompts"
REQUIRED_ACTIONS = {
    "action_search_products",
    "action_refine_search",
    "action_product_details",
    "action_compare_products",
    "action_add_to_cart",
    "action_view_cart",
}
RASA_SLOT_TYPES = {"text", "bool", "categorical", "float", "list", "any"}
# A card in the custom payload, key for key, as Rasa clients read it.
CARD_KEYS = [
    "id",
    "title",
    "price",
    "regular_price",
    "currency",
    "price_is_from",
    "sizes",
    "colors",
    "rating",
    "review_count",
    "in_stock",
    "image_url",
    "reason",
]


# The server -----------------------------------------------------------------------------------
class ThreadedServer:
    """rasa-sdk's Sanic app served on 127.0.0.1 from a background event loop."""

    def __init__(self, app: Sanic) -> None:
        self.app = app
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stopping = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._serve(),))

    async def _serve(self) -> None:
        server = await self.app.create_server(sock=self.sock, access_log=False)
        assert server is not None
        await server.startup()
        self.ready.set()
        await self.stopping.wait()
        server.close()
        await server.wait_closed()

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        assert self.ready.wait(30), "the action server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(30)
        self.loop.close()
        Sanic.unregister_app(self.app)


@dataclass
class Response:
    status: int
    body: Any


def http(url: str, method: str = "GET", body: Any = None, raw: bytes | None = None) -> Response:
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return Response(reply.status, json.loads(reply.read() or b"null"))
    except urllib.error.HTTPError as error:
        return Response(error.code, json.loads(error.read() or b"null"))


@pytest.fixture(scope="module")
def server(assistant: Assistant) -> Iterator[ThreadedServer]:
    with ThreadedServer(create_action_app(assistant)) as running:
        yield running


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Rasa project `shopassist export-rasa` writes from the repo's prompts."""
    out = tmp_path_factory.mktemp("rasa")
    url = "http://actions.example:5055/webhook"
    assert main(["export-rasa", str(out), "--action-url", url]) == 0
    return out


@pytest.fixture(scope="module")
def domain(project: Path) -> dict[str, Any]:
    """The domain as Rasa sends it with each call (`Domain.as_dict()`)."""
    loaded = yaml.safe_load((project / "domain.yml").read_text())
    return {**loaded, "forms": {}, "e2e_actions": []}


# Talking to it the way Rasa does --------------------------------------------------------------
@dataclass
class Turn:
    status: int
    body: Any
    events: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    custom: dict[str, Any] = field(default_factory=dict)

    def slot(self, name: str) -> Any:
        """The value this turn set, or KeyError when it left the slot alone."""
        return {e["name"]: e["value"] for e in self.events if e["event"] == "slot"}[name]

    def sets(self, name: str) -> bool:
        return any(e["event"] == "slot" and e["name"] == name for e in self.events)


class Conversation:
    """One Rasa conversation: fills entity slots from each message as Rasa's
    `action_extract_slots` does, posts the tracker to /webhook, applies the returned events."""

    def __init__(self, url: str, domain: dict[str, Any], sender: str) -> None:
        self.url, self.domain, self.sender = url, domain, sender
        self.slots: dict[str, Any] = dict.fromkeys(domain["slots"])
        self.events: list[dict[str, Any]] = [
            {"event": "action", "name": "action_session_start", "timestamp": time.time()},
            {"event": "session_started", "timestamp": time.time()},
        ]

    def payload(self, action: str, text: str, intent: str, entities: list[dict[str, Any]]):
        message = {
            "intent": {"name": intent, "confidence": 0.97},
            "entities": entities,
            "text": text,
            "message_id": f"m{len(self.events)}",
            "metadata": {},
            "intent_ranking": [{"name": intent, "confidence": 0.97}],
        }
        filled = {}
        for slot, spec in self.domain["slots"].items():
            for mapping in spec["mappings"]:
                values = [e["value"] for e in entities if e["entity"] == mapping.get("entity")]
                if mapping["type"] == "from_entity" and values:
                    filled[slot] = values
        self.slots.update(filled)
        self.events += [
            {"event": "action", "name": "action_listen", "timestamp": time.time()},
            {"event": "user", "text": text, "parse_data": message, "timestamp": time.time()},
            {"event": "action", "name": "action_extract_slots", "timestamp": time.time()},
            *({"event": "slot", "name": k, "value": v} for k, v in filled.items()),
        ]
        return {
            "next_action": action,
            "sender_id": self.sender,
            "tracker": {
                "sender_id": self.sender,
                "slots": dict(self.slots),
                "latest_message": message,
                "latest_event_time": time.time(),
                "followup_action": None,
                "paused": False,
                "events": list(self.events),
                "latest_input_channel": "rest",
                "active_loop": {},
                "latest_action": {"action_name": "action_extract_slots"},
                "latest_action_name": "action_extract_slots",
            },
            "domain": self.domain,
            "version": rasa_sdk.__version__,
        }

    def say(self, action: str, text: str, intent: str, **entities: str | tuple[str, str]) -> Turn:
        """Entities as `color="blue"`, or `category=("jackets", "jacket")` for words Rasa's
        synonym mapper turned into another value."""
        spans = []
        for entity, given in entities.items():
            words, value = (given, given) if isinstance(given, str) else given
            start = text.lower().find(words.lower())
            assert start >= 0, f"{words!r} is not in {text!r}"
            spans.append(
                {
                    "entity": entity,
                    "start": start,
                    "end": start + len(words),
                    "value": value,
                    "extractor": "DIETClassifier",
                    "processors": [] if words == value else ["EntitySynonymMapper"],
                }
            )
        reply = http(f"{self.url}/webhook", "POST", self.payload(action, text, intent, spans))
        assert reply.status == 200, reply.body
        self.events += [
            {"event": "action", "name": action, "timestamp": time.time()},
            *reply.body["events"],
        ]
        for event in reply.body["events"]:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
        (response,) = reply.body["responses"]
        return Turn(
            reply.status, reply.body, reply.body["events"], response["text"], response["custom"]
        )


@pytest.fixture
def chat(server: ThreadedServer, domain: dict[str, Any], request: pytest.FixtureRequest):
    return Conversation(server.url, domain, request.node.name[:100])


def search_women_jackets(chat: Conversation) -> Turn:
    return chat.say(
        "action_search_products",
        "show me women's jackets",
        "browse_category",
        gender="women",
        category=("jackets", "jacket"),
    )


def assert_catalog_facts(assistant: Assistant, product: dict[str, Any]) -> None:
    card = assistant.catalog.product(product["id"])
    assert card is not None
    assert product["title"] == card.title
    assert product["price"] == card.price and product["regular_price"] == card.regular_price
    assert product["sizes"] == list(card.sizes) and product["colors"] == list(card.colors)
    path, _, color = product["image_url"].partition("?color=")
    assert product["rating"] == card.rating and path.endswith("/image")
    assert not color or color in card.colors  # a colour's photo, when one was asked for
    assert "/" + "shared" not in product["image_url"]  # no server file path leaves the server


# Tests ----------------------------------------------------------------------------------------
class TestActionServer:
    def test_health_and_the_registered_actions(self, server: ThreadedServer):
        assert http(f"{server.url}/health").body == {"status": "ok"}
        listed = http(f"{server.url}/actions")
        assert listed.status == 200
        assert [a["name"] for a in listed.body] == list(RASA_ACTIONS)
        assert set(RASA_ACTIONS) >= REQUIRED_ACTIONS

    def test_a_second_server_starts_in_the_same_process(
        self, server: ThreadedServer, assistant: Assistant
    ):
        Sanic.unregister_app(server.app)  # rasa-sdk names every app "rasa_sdk"
        try:
            with ThreadedServer(create_action_app(assistant)) as second:  # TouchUp is off
                assert http(f"{second.url}/health").body == {"status": "ok"}
        finally:
            Sanic.register_app(server.app)
        assert http(f"{server.url}/health").body == {"status": "ok"}

    def test_unknown_action_gets_rasa_sdks_404(self, chat: Conversation):
        payload = chat.payload("action_make_coffee", "coffee please", "out_of_scope", [])
        reply = http(f"{chat.url}/webhook", "POST", payload)
        assert reply.status == 404
        assert reply.body == {
            "error": "No registered action found for name 'action_make_coffee'.",
            "action_name": "action_make_coffee",
        }

    def test_malformed_payloads_get_rasa_sdks_errors(self, chat: Conversation):
        webhook = f"{chat.url}/webhook"
        assert http(webhook, "POST", raw=b"null").body == {"error": "Invalid body request"}
        assert http(webhook, "POST", raw=b"null").status == 400
        broken = http(webhook, "POST", raw=b'{"next_action": "action_view_cart", ')
        assert broken.status == 400 and "json" in broken.body["message"].lower()
        # rasa-sdk answers a call without a domain (and no known digest) with 449, "retry with
        # the domain", and one without a tracker with its generic 500 error body.
        payload = chat.payload("action_view_cart", "my cart", "view_cart", [])
        no_domain = http(webhook, "POST", {k: v for k, v in payload.items() if k != "domain"})
        assert no_domain.status == 449 and no_domain.body["action_name"] == "action_view_cart"
        no_tracker = http(webhook, "POST", {k: v for k, v in payload.items() if k != "tracker"})
        assert no_tracker.status == 500 and no_tracker.body["error"] == "'tracker'"

    def test_odd_slot_values_do_not_break_an_action(self, chat: Conversation):
        chat.slots.update(
            shown_products="luma:WJ08",  # a string where Rasa keeps a list
            cart=[{"product_id": 7}, "x", {"product_id": "luma:WJ08", "quantity": "lots"}],
            price_min="cheap",
            search_context=["not", "a", "dict"],
        )
        turn = chat.say("action_view_cart", "what's in my cart", "view_cart")
        assert turn.custom["cart"][0]["product_id"] == "luma:WJ08"
        assert turn.custom["cart"][0]["quantity"] == 1

    def test_a_failing_turn_answers_politely_and_keeps_the_slots(
        self, chat: Conversation, assistant: Assistant, monkeypatch: pytest.MonkeyPatch
    ):
        search_women_jackets(chat)

        def broken(*args: object) -> None:
            raise RuntimeError("policy bug")

        monkeypatch.setattr(assistant.model.policy, "act", broken)
        turn = chat.say("action_refine_search", "in red", "refine_search", color="red")
        assert turn.text == assistant.model.templates.render("error")
        assert turn.events == [] and turn.custom == {}


class TestSearchActions:
    def test_search_returns_catalog_cards_and_sets_shown_products(
        self, chat: Conversation, assistant: Assistant
    ):
        turn = search_women_jackets(chat)
        products = turn.custom["products"]
        assert turn.custom["action"] == "search" and len(products) >= 3
        assert turn.slot("shown_products") == [p["id"] for p in products]
        for position, product in enumerate(products, 1):
            assert_catalog_facts(assistant, product)
            # the wire card's fields (`assistant.integrations.wire`)
            assert list(product) == CARD_KEYS
            card = assistant.catalog.product(product["id"])
            assert "jackets" in card.categories and "Women" in card.genders
            assert product["reason"]
            assert f"{position}. {card.title} ({money(card.price)}" in turn.text
        assert "jackets for women" in turn.text
        # Rasa filled the slots with its own words; they come back in the catalog's spelling.
        assert turn.slot("category") == ["jackets"]
        assert not turn.sets("gender")  # "women" is already the catalog's value

    def test_refine_narrows_to_the_colour_slot(self, chat: Conversation, assistant: Assistant):
        first = search_women_jackets(chat)
        before = [p["id"] for p in first.custom["products"]]
        assert any("Blue" not in p["colors"] for p in first.custom["products"])
        turn = chat.say("action_refine_search", "in blue please", "refine_search", color="blue")
        products = turn.custom["products"]
        assert products and all("Blue" in p["colors"] for p in products)
        assert turn.slot("shown_products") == [p["id"] for p in products] != before
        for product in products:
            assert_catalog_facts(assistant, product)
            assert "Women" in assistant.catalog.product(product["id"]).genders
            assert product["image_url"].endswith("?color=Blue")
        assert "for women, in blue" in turn.text
        assert chat.slots["color"] == ["blue"] and chat.slots["gender"] == ["women"]

    def test_refine_with_a_price_sets_the_price_slot(self, chat: Conversation):
        search_women_jackets(chat)
        turn = chat.say("action_refine_search", "under $60", "refine_search")
        assert turn.slot("price_max") == 60.0 and turn.custom["products"]
        assert all(p["price"] <= 60 for p in turn.custom["products"])

    def test_a_request_for_a_person_is_recorded_with_its_reference(
        self, chat: Conversation, assistant: Assistant
    ):
        turn = chat.say("action_human_handoff", "can I talk to a human", "human_handoff")
        (record,) = assistant.handoffs.handoffs(session=chat.sender)
        assert record.shared is None  # Rasa keeps the conversation: nothing is shared
        assert record.reference in turn.text
        assert assistant.model.policy.store_policy.handoff in turn.text

    def test_negated_entity_becomes_an_exclusion(self, chat: Conversation):
        search_women_jackets(chat)
        # Rasa tags "black" as a colour and fills the slot; the action reads the negation.
        turn = chat.say("action_refine_search", "not black", "refine_search", color="black")
        assert turn.slot("color") is None
        assert turn.slot("search_context")["exclude"] == {"colors": ["black"]}
        assert turn.custom["products"] and "not black" in turn.text

    def test_a_filter_attribute_is_a_slot_and_its_exclusion_carries_over(
        self, chat: Conversation, assistant: Assistant
    ):
        chat.say("action_search_products", "shorts", "search_products", category="shorts")
        turn = chat.say("action_refine_search", "striped ones", "refine_search", pattern="striped")
        assert chat.slots["pattern"] == ["striped"] and turn.custom["products"]
        for product in turn.custom["products"]:
            assert "Striped" in assistant.catalog.product(product["id"]).attributes["pattern"]
        turn = chat.say("action_refine_search", "not wool", "refine_search", material="wool")
        assert turn.slot("search_context")["exclude"] == {"material": ["wool"]}
        again = chat.say("action_refine_search", "cheapest first", "sort_results")
        assert again.custom["products"]
        for product in again.custom["products"]:
            card = assistant.catalog.product(product["id"])
            assert "Wool" not in card.attributes.get("material", ())  # still excluded

    def test_new_category_starts_over_but_keeps_the_cart(self, chat: Conversation):
        search_women_jackets(chat)
        chat.say("action_refine_search", "in blue", "refine_search", color="blue")
        line = {
            "product_id": "luma:WJ08",
            "title": "Adrienne Trek Jacket",
            "unit_price": 57.0,
            "quantity": 1,
            "size": "M",
            "color": "Gray",
        }
        chat.slots["cart"] = [line]
        turn = chat.say(
            "action_search_products",
            "show me men's hoodies",
            "search_products",
            gender="men",
            category="hoodies",
        )
        assert turn.slot("color") is None and chat.slots["gender"] == ["men"]
        assert turn.slot("category") == ["hoodies & sweatshirts"]
        assert not turn.sets("cart") and turn.custom["cart"] == [line]

    def test_a_value_the_store_does_not_carry_is_said_plainly(self, chat: Conversation):
        turn = chat.say(
            "action_search_products",
            "navy jackets",
            "search_products",
            color="navy",
            category="jackets",
        )
        assert "don't carry navy" in turn.text
        # The unknown value leaves the slot: it filters nothing.
        assert turn.slot("color") is None and chat.slots["category"] == ["jackets"]
        assert turn.custom["products"]


class TestProductActions:
    def test_details_of_the_second_shown_item(self, chat: Conversation, assistant: Assistant):
        shown = search_women_jackets(chat).slot("shown_products")
        turn = chat.say("action_product_details", "tell me about the second one", "product_details")
        card = assistant.catalog.product(shown[1])
        assert turn.custom["product"]["id"] == shown[1]
        assert_catalog_facts(assistant, turn.custom["product"])
        assert turn.text.startswith(f"{card.title}: {money(card.price)}")
        assert f"Sizes: {', '.join(card.sizes)}" in turn.text
        assert turn.slot("focus_product") == shown[1]

    def test_compare_the_first_two(self, chat: Conversation, assistant: Assistant):
        shown = search_women_jackets(chat).slot("shown_products")
        turn = chat.say("action_compare_products", "compare the first two", "compare_products")
        table = turn.custom["comparison"]
        assert table["product_ids"] == shown[:2]
        cards = [assistant.catalog.product(pid) for pid in shown[:2]]
        assert table["titles"] == [c.title for c in cards]
        assert dict(table["rows"])["Price"] == [money(c.price) for c in cards]
        assert all(c.title in turn.text for c in cards)
        assert turn.slot("search_context")["compared"] == shown[:2]

    def test_a_reference_past_the_list_is_explained(self, chat: Conversation):
        search_women_jackets(chat)
        turn = chat.say("action_product_details", "what about #9", "product_details")
        assert '"#9"' in turn.text and turn.custom["product"] is None

    def test_an_unknown_product_id_gets_a_clear_message(self, chat: Conversation):
        chat.slots["shown_products"] = ["luma:NOPE", "luma:WJ08"]
        turn = chat.say("action_product_details", "the first one", "product_details")
        assert "luma:NOPE" in turn.text and "not in the catalog" in turn.text
        assert turn.custom["action"] == "unknown_product" and turn.custom["product"] is None
        assert turn.events == []
        second = chat.say("action_product_details", "and the second one", "product_details")
        assert second.custom["product"]["id"] == "luma:WJ08"


class TestCartActions:
    def test_add_without_a_size_asks_and_adds_nothing(self, chat: Conversation):
        shown = search_women_jackets(chat).slot("shown_products")
        turn = chat.say("action_add_to_cart", "add the first one", "add_to_cart")
        assert turn.custom["action"] == "ask_size" and "size" in turn.text.lower()
        assert not turn.sets("cart") and turn.custom["cart"] == []
        assert turn.slot("focus_product") == shown[0]
        # The shopper answers with a size (and colour); the focused item goes in.
        answer = chat.say("action_add_to_cart", "M in gray", "add_to_cart", size="M", color="gray")
        assert [line["product_id"] for line in answer.slot("cart")] == [shown[0]]

    def test_add_with_a_size_then_view_the_cart(self, chat: Conversation, assistant: Assistant):
        search_women_jackets(chat)
        blue = chat.say("action_refine_search", "in blue", "refine_search", color="blue")
        first = blue.custom["products"][0]
        turn = chat.say(
            "action_add_to_cart", "add the first one in size M", "add_to_cart", size="M"
        )
        card = assistant.catalog.product(first["id"])
        expected = {
            "product_id": card.id,
            "title": card.title,
            "unit_price": card.price,
            "quantity": 1,
            "size": "M",
            "color": "Blue",
        }
        assert turn.slot("cart") == [expected]
        assert turn.custom["action"] == "add_to_cart" and money(card.price) in turn.text
        view = chat.say("action_view_cart", "what's in my cart?", "view_cart")
        assert view.custom["cart"] == [expected]
        assert view.custom["cart_total"] == card.price
        assert f"1 x {card.title} (Blue, size M): {money(card.price)}" in view.text
        assert not view.sets("cart")

    def test_cart_prices_come_from_the_catalog_not_the_slot(
        self, chat: Conversation, assistant: Assistant
    ):
        card = assistant.catalog.product("luma:WJ08")
        chat.slots["cart"] = [
            {
                "product_id": "luma:WJ08",
                "title": "Free jacket",
                "unit_price": 0.01,
                "quantity": 2,
                "size": "M",
                "color": "Gray",
            }
        ]
        turn = chat.say("action_view_cart", "show my cart", "view_cart")
        assert turn.custom["cart"][0]["unit_price"] == card.price
        assert card.title in turn.text and "Free jacket" not in turn.text
        assert money(card.price * 2) in turn.text and "$0.01" not in turn.text

    def test_a_product_gone_from_the_catalog_leaves_the_cart(self, chat: Conversation):
        chat.slots["cart"] = [
            {"product_id": "luma:GONE", "quantity": 1},
            {"product_id": "luma:WJ08", "quantity": 1, "size": "S", "color": "Gray"},
        ]
        turn = chat.say("action_view_cart", "my cart", "view_cart")
        assert "luma:GONE is no longer in the catalog" in turn.text
        assert [line["product_id"] for line in turn.slot("cart")] == ["luma:WJ08"]

    def test_empty_cart(self, chat: Conversation):
        turn = chat.say("action_view_cart", "what's in my cart", "view_cart")
        assert turn.text == "Your cart is empty." and turn.events == []


class TestExportRasa:
    def test_domain_matches_our_nlu_and_the_server(
        self, project: Path, domain: dict[str, Any], server: ThreadedServer
    ):
        nlu = load_nlu(PROMPTS / "nlu.yml")
        assert domain["version"] == "3.1"
        assert domain["intents"] == nlu.intents and len(domain["intents"]) == 27
        served = [a["name"] for a in http(f"{server.url}/actions").body]
        assert domain["actions"] == served
        annotated = {span.entity for e in nlu.examples for span in e.entities}
        assert annotated <= set(domain["entities"])
        assert set(domain["slots"]) == set(SLOT_TYPES)
        for name, slot in domain["slots"].items():
            assert slot["type"] in RASA_SLOT_TYPES and slot["type"] == SLOT_TYPES[name]
            (mapping,) = slot["mappings"]
            if name in ENTITY_SLOTS:
                assert mapping == {"type": "from_entity", "entity": name}
                assert name in domain["entities"]
            else:
                assert mapping == {"type": "custom"}
        for name, variants in domain["responses"].items():
            assert name.startswith("utter_") and variants
            assert all(set(v) == {"text"} and "{" not in v["text"] for v in variants)
        assert {"utter_greet", "utter_goodbye"} <= set(domain["responses"])
        assert domain["session_config"]["carry_over_slots_to_new_session"] is True

    def test_rules_send_every_intent_to_an_action_or_response(
        self, project: Path, domain: dict[str, Any]
    ):
        rules = yaml.safe_load((project / "data" / "rules.yml").read_text())
        assert rules["version"] == "3.1"
        routed = {}
        for rule in rules["rules"]:
            assert set(rule) == {"rule", "steps"} and len(rule["steps"]) == 2
            (intent,), (action,) = (step.values() for step in rule["steps"])
            assert set(rule["steps"][0]) == {"intent"} and set(rule["steps"][1]) == {"action"}
            assert intent in domain["intents"] or intent == "nlu_fallback"
            assert action in domain["actions"] or action in domain["responses"]
            routed[intent] = action
        # A photo search needs an image, which Rasa's text channels do not carry.
        assert set(domain["intents"]) - set(routed) == {"search_by_image"}
        assert routed["refine_search"] == "action_refine_search"
        assert routed["browse_category"] == "action_search_products"
        assert routed["greet"] == "utter_greet"
        # A request for a person is recorded by an action, never a canned promise.
        assert routed["human_handoff"] == "action_human_handoff"
        assert set(RASA_ACTIONS) <= set(routed.values())

    def test_nlu_is_our_file_and_endpoints_point_at_the_server(self, project: Path):
        written = project / "data" / "nlu.yml"
        assert written.read_bytes() == (PROMPTS / "nlu.yml").read_bytes()
        nlu = yaml.safe_load(written.read_text())
        assert nlu["version"] == "3.1"
        kinds = {next(iter(k for k in item if k != "examples")) for item in nlu["nlu"]}
        assert kinds <= {"intent", "synonym", "lookup", "regex"}
        assert all(isinstance(item["examples"], str) for item in nlu["nlu"])
        endpoints = yaml.safe_load((project / "endpoints.yml").read_text())
        assert endpoints == {"action_endpoint": {"url": "http://actions.example:5055/webhook"}}

    def test_config_is_a_rasa_pipeline(self, project: Path):
        config = yaml.safe_load((project / "config.yml").read_text())
        assert config["recipe"] == "default.v1" and config["language"] == "en"
        names = [c["name"] for c in config["pipeline"]]
        assert names[0] == "WhitespaceTokenizer" and "DIETClassifier" in names
        # Synonyms map what the extractors found, so the mapper comes after them.
        assert names.index("EntitySynonymMapper") > names.index("RegexEntityExtractor")
        assert "RulePolicy" in [p["name"] for p in config["policies"]]

    def test_default_action_url(self, tmp_path: Path):
        assert main(["export-rasa", str(tmp_path)]) == 0
        endpoints = yaml.safe_load((tmp_path / "endpoints.yml").read_text())
        assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:5055/webhook"


class TestActionsCommand:
    def test_empty_store_is_refused_before_loading_models(self, tmp_path: Path, capsys):
        assert main(["--data-dir", str(tmp_path), "actions", "--port", "5999"]) == 1
        assert "store is empty" in capsys.readouterr().err

    def test_serves_over_http_until_stopped(
        self, tmp_path: Path, assistant: Assistant, domain: dict[str, Any]
    ):
        data = tmp_path / "data"
        source = str(SAMPLE_GENERIC / "catalog.jsonl")
        assert main(["--data-dir", str(data), "ingest", source, "--no-progress"]) == 0
        # The session's trained intent model: the server loads it instead of training anew.
        shutil.copytree(assistant.model_cache, data / "models")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "SHOPASSIST_IMAGE_MODEL": "none", "SHOPASSIST_SPEECH_BACKEND": "none"}
        command = [
            sys.executable,
            "-m",
            "assistant.cli",
            "--data-dir",
            str(data),
            "actions",
            "--port",
            str(port),
        ]
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    assert http(f"{url}/health").body == {"status": "ok"}
                    break
                except urllib.error.URLError:
                    assert process.poll() is None and time.monotonic() < deadline
                    time.sleep(0.5)
            assert [a["name"] for a in http(f"{url}/actions").body] == list(RASA_ACTIONS)
            turn = Conversation(url, domain, "cli").say(
                "action_search_products",
                "a waterproof jacket",
                "search_products",
                category="jacket",
            )
            top = turn.custom["products"][0]
            assert (top["id"], top["price"], top["regular_price"]) == ("generic:TS-100", 69, 89)
        finally:
            process.terminate()
            output = process.communicate(timeout=30)[0]
        assert f"on http://127.0.0.1:{port}" in output
