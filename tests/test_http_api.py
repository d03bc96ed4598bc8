"""The HTTP API on the real server: `ui.serve` runs the Gradio app and `/api/v1` on one port
over the session assistant (trained NLU, Luma + eShop engine, event log), called with httpx."""

from __future__ import annotations

import logging
import uuid
from functools import partial
from pathlib import Path

import httpx
import pytest
from conftest import DATASETS, start

from assistant.feedback import EventKind
from assistant.integrations.http_api import (
    API_TOKEN_ENV,
    INTERNAL_ERROR,
    LOCKED,
    MAX_BODY_BYTES,
    NO_SESSION,
    NO_SESSION_TOKEN,
    SESSION_HEADER,
    SESSION_RULE,
    STAFF_ONLY,
    WRONG_SESSION_TOKEN,
)

JACKET = "luma:WJ03"  # Augusta Pullover Jacket: sizes XS-XL, colours Blue, Orange, Red
BAG = "luma:24-MB01"  # Joust Duffle Bag: no size, no colour
WOMENS_JACKETS = {"q": "jacket", "category": "jackets", "gender": "women", "k": 50}


class ApiSession(str):
    """A session the server issued: its id (this string) and the header that proves it."""

    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {SESSION_HEADER: self.token}


def new_session(client: httpx.Client) -> ApiSession:
    response = client.post("/api/v1/sessions")
    assert response.status_code == 201, response.text
    body = response.json()
    session = ApiSession(body["session_id"])
    session.token = body["session_token"]
    return session


def chat(client: httpx.Client, session: ApiSession, message: str) -> dict:
    response = client.post("/api/v1/chat", json={"message": message}, headers=session.headers)
    assert response.status_code == 200, response.text
    return response.json()


def shown(reply: dict) -> list[str]:
    return [s["product"]["id"] for s in reply["suggestions"] + reply["alternatives"]]


def result_ids(body: dict) -> list[str]:
    relaxed = body["relaxation"]["results"] if body["relaxation"] else []
    return [h["product"]["id"] for h in body["results"] + body["alternatives"] + relaxed]


def assert_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "Traceback" not in detail
    for word in words:
        assert word in detail, detail
    return detail


class TestChat:
    def test_a_turn_returns_catalog_cards_with_reasons(self, client, assistant):
        session = new_session(client)
        reply = chat(client, session, "show me women's jackets")
        assert reply["intent"] and reply["text"]
        assert reply["suggestions"]
        for suggestion in reply["suggestions"]:
            card = assistant.catalog.product(suggestion["product"]["id"])
            assert card is not None and "jackets" in card.categories
            assert suggestion["product"]["price"] == card.price
            assert suggestion["product"]["title"] == card.title
            assert suggestion["reason"]
        assert reply["state"]["shown"] == shown(reply)
        assert reply["state"]["filters"]["categories"] == ["jackets"]

    def test_refining_in_the_same_session_narrows(self, client, assistant):
        session = new_session(client)
        first = chat(client, session, "show me women's jackets")
        refined = chat(client, session, "in blue under $60")
        assert refined["state"]["filters"]["colors"] == ["blue"]
        assert refined["state"]["filters"]["price_max"] == 60
        assert refined["state"]["filters"]["categories"] == ["jackets"]  # kept from turn one
        assert refined["suggestions"] and shown(refined) != shown(first)
        for suggestion in refined["suggestions"]:
            card = assistant.catalog.product(suggestion["product"]["id"])
            assert "blue" in [c.lower() for c in card.colors] and card.price <= 60
            assert "jackets" in card.categories

    def test_a_thing_the_store_lacks_is_an_answer_not_a_server_error(self, client):
        """ "We don't carry socks." is a reply (200), never the 503 of a session store down."""
        reply = chat(client, new_session(client), "any socks?")
        assert "don't carry socks" in reply["text"]

    def test_two_sessions_stay_apart(self, client):
        one, two = new_session(client), new_session(client)
        chat(client, one, "show me women's jackets")
        chat(client, one, "in blue")
        assert client.post(
            f"/api/v1/sessions/{one}/cart", json={"product_id": BAG}, headers=one.headers
        ).is_success
        other = chat(client, two, "show me watches")
        assert "colors" not in other["state"]["filters"]
        assert other["state"]["filters"]["categories"] != ["jackets"]
        assert other["cart"] == []
        assert client.get(f"/api/v1/sessions/{two}", headers=two.headers).json()["turns"] == 1
        mine = client.get(f"/api/v1/sessions/{one}", headers=one.headers).json()
        assert mine["filters"]["colors"] == ["blue"] and mine["turns"] == 2
        assert [line["product_id"] for line in mine["cart"]] == [BAG]

    def test_bad_input_gets_a_readable_4xx(self, client):
        session = new_session(client)
        post = partial(client.post, "/api/v1/chat", headers=session.headers)
        assert_error(post(json={}), 422, "message")
        assert_error(post(json={"message": "x" * 1001}), 422, "message", "1000")
        assert_error(post(json={"message": "   "}), 422, "blank")
        old_client = {"session_id": session, "message": "hi"}  # the id alone no longer counts
        assert_error(post(json=old_client), 422, "session_id")
        huge = {"message": "x" * (MAX_BODY_BYTES + 1)}
        assert_error(post(json=huge), 413, str(MAX_BODY_BYTES))
        json_type = {**session.headers, "content-type": "application/json"}
        broken = client.post("/api/v1/chat", content=b"{", headers=json_type)
        assert_error(broken, 422, "invalid JSON")

    def test_an_unexpected_failure_is_a_generic_logged_500(
        self, client, assistant, monkeypatch, caplog
    ):
        def boom(*args, **kwargs):
            raise RuntimeError("secret internals")

        session = new_session(client)
        monkeypatch.setattr(assistant, "respond", boom)
        with caplog.at_level(logging.ERROR, logger="assistant.integrations.http_api"):
            response = client.post("/api/v1/chat", json={"message": "hi"}, headers=session.headers)
        detail = assert_error(response, 500)
        assert detail == INTERNAL_ERROR and "secret" not in response.text
        assert "POST /api/v1/chat" in caplog.text and "secret internals" in caplog.text
        monkeypatch.undo()
        assert chat(client, new_session(client), "show me watches")["suggestions"]  # still serving


class TestSearch:
    def test_filters_return_only_matching_products(self, client, assistant):
        params = {"q": "jacket", "color": "Blue", "price_min": 40, "price_max": 60, "k": 20}
        body = client.get("/api/v1/search", params=params).json()
        assert body["results"] and body["total"] >= len(body["results"])
        for hit in body["results"]:
            card = assistant.catalog.product(hit["product"]["id"])
            assert "blue" in [c.lower() for c in card.colors]
            assert 40 <= card.price <= 60 and hit["product"]["price"] == card.price
            assert hit["product"]["sizes"] == list(card.sizes)
            assert hit["evidence"]["met"]  # says which constraints it meets

    def test_a_search_with_a_session_is_recorded_as_shown(self, client, assistant):
        session = new_session(client)
        params = {"q": "hoodie", "k": 4}
        found = client.get("/api/v1/search", params=params, headers=session.headers).json()
        ids = [h["product"]["id"] for h in found["results"]]
        events = assistant.events.events(session)
        assert [(e.kind, e.product_id, e.position) for e in events] == [
            (EventKind.SHOWN, pid, n) for n, pid in enumerate(ids, 1)
        ]
        assert {e.intent for e in events} == {"api_search"}

    def test_repeated_filters_are_alternatives(self, client, assistant):
        params = [("q", "tee"), ("color", "Red"), ("color", "Yellow"), ("gender", "men")]
        body = client.get("/api/v1/search", params=params).json()
        colours = set()
        for hit in body["results"]:
            card = assistant.catalog.product(hit["product"]["id"])
            found = {c.lower() for c in card.colors} & {"red", "yellow"}
            assert found and "men" in [g.lower() for g in card.genders]
            colours |= found
        assert colours == {"red", "yellow"}

    def test_each_filter_attribute_filters_under_its_own_name(self, client, assistant):
        params = [("pattern", "Striped"), ("material", "Polyester"), ("material", "Mesh")]
        body = client.get("/api/v1/search", params=params).json()
        assert body["results"]
        for hit in body["results"]:
            attributes = hit["product"]["attributes"]
            assert "Striped" in attributes["pattern"]
            assert {"Polyester", "Mesh"} & set(attributes["material"])
        crowded = [("q", "tee"), *(("pattern", f"p{n}") for n in range(21))]
        assert_error(client.get("/api/v1/search", params=crowded), 400, "pattern")

    def test_nothing_matching_says_why_and_offers_the_relaxed_search(self, client):
        params = {"q": "jacket", "color": "Blue", "price_max": 1}
        body = client.get("/api/v1/search", params=params).json()
        assert body["results"] == [] and body["total"] == 0
        assert "$1.00" in body["empty_reason"]
        assert body["relaxation"]["description"] and body["relaxation"]["results"]

    @pytest.mark.parametrize(
        ("params", "status", "word"),
        [
            ({"q": "jacket", "price_min": -5}, 422, "price_min"),
            ({"q": "jacket", "price_max": "nan"}, 422, "price_max"),
            ({"q": "jacket", "price_min": 80, "price_max": 20}, 400, "price_min 80"),
            ({"q": "jacket", "k": 0}, 422, "k"),
            ({"q": "jacket", "k": 51}, 422, "50"),
            ({"q": "jacket", "on_sale": "maybe"}, 422, "on_sale"),
            ({"q": "x" * 501}, 422, "q"),
            ({}, 400, "filter"),
        ],
    )
    def test_invalid_filters_are_refused_with_a_message(self, client, params, status, word):
        assert_error(client.get("/api/v1/search", params=params), status, word)

    def test_photos_are_urls_served_by_the_api_not_server_paths(self, client):
        response = client.get("/api/v1/search", params={"q": "duffle bag", "k": 3})
        assert str(DATASETS) not in response.text
        url = response.json()["results"][0]["product"]["image_url"]
        assert url.startswith("/api/v1/products/") and url.endswith("/image")
        photo = client.get(url)
        assert photo.status_code == 200 and photo.headers["content-type"].startswith("image/")
        assert len(photo.content) > 1000

    def test_a_colour_search_shows_that_colours_photo(self, client, assistant):
        params = {"q": "hoodie", "color": "Orange", "k": 5}
        products = [
            r["product"] for r in client.get("/api/v1/search", params=params).json()["results"]
        ]
        assert products
        for product in products:
            card = assistant.catalog.product(product["id"])
            (orange,) = [path for color, path in card.color_images if color == "Orange"]
            assert product["image_color"] == "Orange"
            assert product["image_url"].endswith("/image?color=Orange")
            photo = client.get(product["image_url"])
            assert photo.status_code == 200 and photo.content == Path(orange).read_bytes()
        main = client.get(products[0]["image_url"].split("?")[0]).content
        assert main == Path(assistant.catalog.product(products[0]["id"]).image).read_bytes()


class TestProducts:
    def test_detail_is_the_catalog_card(self, client, assistant):
        card = assistant.catalog.product(JACKET)
        for path in (f"/api/v1/products/{JACKET}", "/api/v1/products/luma%3AWJ03"):
            body = client.get(path).json()
            assert (body["id"], body["title"], body["price"]) == (card.id, card.title, card.price)
            assert body["sizes"] == list(card.sizes) and body["colors"] == list(card.colors)
            assert body["review_count"] == card.review_count == len(body["reviews"])

    def test_unknown_product_is_404(self, client):
        assert_error(client.get("/api/v1/products/luma:NOPE"), 404, "luma:NOPE")
        assert_error(client.get("/api/v1/products/luma:NOPE/similar"), 404, "luma:NOPE")
        assert_error(client.get("/api/v1/products/luma:NOPE/image"), 404)

    def test_opening_with_a_session_is_recorded(self, client, assistant):
        session = new_session(client)
        assert client.get(f"/api/v1/products/{JACKET}", headers=session.headers).is_success
        events = assistant.events.events(session)
        assert [(e.kind, e.product_id) for e in events] == [(EventKind.OPENED, JACKET)]

    def test_similar_items_exclude_the_seed(self, client, assistant):
        body = client.get(f"/api/v1/products/{JACKET}/similar", params={"k": 5}).json()
        ids = [h["product"]["id"] for h in body["results"]]
        assert len(ids) == 5 and JACKET not in ids and len(set(ids)) == 5
        kinds = [assistant.catalog.product(pid).category for pid in ids]
        assert kinds.count("Jackets") >= 3  # content neighbours: mostly jackets too
        assert_error(client.get(f"/api/v1/products/{JACKET}/similar?k=99"), 422, "k")


class TestCart:
    def path(self, session: str) -> str:
        return f"/api/v1/sessions/{session}/cart"

    def test_sizes_and_colours_are_checked_against_the_catalog(self, client):
        session = new_session(client)
        post = partial(client.post, headers=session.headers)
        cart = self.path(session)
        sizes = ("XS", "S", "M", "L", "XL")
        assert_error(post(cart, json={"product_id": JACKET}), 400, "needs a size", *sizes)
        wrong = {"product_id": JACKET, "size": "XXXL", "color": "Blue"}
        assert_error(post(cart, json=wrong), 400, "XXXL", *sizes)
        no_colour = {"product_id": JACKET, "size": "M"}
        assert_error(post(cart, json=no_colour), 400, "colour", "Blue", "Orange", "Red")
        bad_colour = {"product_id": JACKET, "size": "M", "color": "Purple"}
        assert_error(post(cart, json=bad_colour), 400, "Purple", "Blue, Orange, Red")
        assert_error(post(cart, json={"product_id": "luma:NOPE"}), 404, "luma:NOPE")
        for quantity in (0, 100):
            too = {"product_id": BAG, "quantity": quantity}
            assert_error(post(cart, json=too), 422, "quantity")
        empty = {"lines": [], "items": 0, "total": 0.0}
        assert client.get(cart, headers=session.headers).json() == empty

    def test_add_merge_and_remove(self, client, assistant):
        session = new_session(client)
        cart = self.path(session)
        price = assistant.catalog.product(JACKET).price
        jacket = {"product_id": JACKET, "size": "m", "color": "blue", "quantity": 2}
        post, get = (partial(call, headers=session.headers) for call in (client.post, client.get))
        body = post(cart, json=jacket).json()
        line = body["lines"][0]
        assert (line["size"], line["color"]) == ("M", "Blue")  # the catalog's spelling
        assert line["unit_price"] == price and line["total"] == round(2 * price, 2)
        post(cart, json={**jacket, "quantity": 1})
        post(cart, json={"product_id": BAG})  # one size: no size needed
        body = get(cart).json()
        assert [(li["product_id"], li["quantity"]) for li in body["lines"]] == [
            (JACKET, 3),
            (BAG, 1),
        ]
        bag_price = assistant.catalog.product(BAG).price
        assert body["items"] == 4 and body["total"] == round(3 * price + bag_price, 2)
        assert assistant.state(session).cart[0].quantity == 3  # the dialogue sees it too
        delete = partial(client.delete, headers=session.headers)
        after = delete(f"{cart}/{JACKET}").json()
        assert [li["product_id"] for li in after["lines"]] == [BAG]
        assert_error(delete(f"{cart}/{JACKET}"), 404, "not in the cart")
        kinds = [(e.kind, e.product_id) for e in assistant.events.events(session)]
        assert kinds.count((EventKind.ADDED, JACKET)) == 2
        assert (EventKind.REMOVED, JACKET) in kinds

    def test_the_chat_sees_the_cart(self, client):
        session = new_session(client)
        bags = {"product_id": BAG, "quantity": 2}
        client.post(self.path(session), json=bags, headers=session.headers)
        reply = chat(client, session, "what's in my cart?")
        assert [(li["product_id"], li["quantity"]) for li in reply["cart"]] == [(BAG, 2)]
        assert "Joust Duffle Bag" in reply["text"]

    def test_bad_session_id_is_400(self, client):
        session = new_session(client)
        bad = client.get("/api/v1/sessions/bad%20id/cart", headers=session.headers)
        assert_error(bad, 400, SESSION_RULE)

    def test_a_line_holds_at_most_99_however_many_adds(self, client, assistant):
        session = new_session(client)
        post = partial(client.post, self.path(session), headers=session.headers)
        first = shown(chat(client, session, "show me duffle bags"))[0]
        assert not assistant.catalog.product(first).needs_size
        assert post(json={"product_id": first, "quantity": 99}).is_success
        assert_error(post(json={"product_id": first, "quantity": 1}), 400, "at most 99", "99")
        reply = chat(client, session, "add 5 of the first one to my cart")
        assert reply["cart"][0]["quantity"] == 99 and "at most 99" in reply["text"]


class TestFeedback:
    def disliked_top_jacket(self, client) -> str:
        """The first suggestion a fresh session gets for women's jackets."""
        return shown(chat(client, new_session(client), "show me women's jackets"))[0]

    def search(self, client, session: ApiSession | None = None) -> list[str]:
        headers = session.headers if session else {}
        body = client.get("/api/v1/search", params=WOMENS_JACKETS, headers=headers).json()
        return result_ids(body)

    def test_a_thumbs_down_hides_the_product_from_that_session(self, client):
        top = self.disliked_top_jacket(client)
        session = new_session(client)
        assert top in self.search(client, session)
        thumbs = {"product_id": top, "value": -1}
        body = client.post(
            f"/api/v1/sessions/{session}/feedback", json=thumbs, headers=session.headers
        ).json()
        assert body == {"personalise": True, "liked": [], "disliked": [top]}
        assert top not in self.search(client, session)
        assert top in self.search(client)  # everyone else still sees it
        for message in ("show me women's jackets", "show me more"):
            assert top not in shown(chat(client, session, message))
        similar = client.get(
            f"/api/v1/products/{JACKET}/similar", params={"k": 20}, headers=session.headers
        ).json()
        assert top not in result_ids(similar)

    def test_after_opting_out_thumbs_change_nothing_and_nothing_is_recorded(
        self, client, assistant
    ):
        top = self.disliked_top_jacket(client)
        session = new_session(client)
        chat(client, session, "show me women's jackets")
        assert assistant.events.events(session)  # shown events, while allowed
        privacy = client.put(
            f"/api/v1/sessions/{session}/privacy",
            json={"personalise": False},
            headers=session.headers,
        )
        assert privacy.json()["personalise"] is False
        assert assistant.events.events(session) == []  # opting out forgets them
        thumbs = {"product_id": top, "value": -1}
        assert client.post(
            f"/api/v1/sessions/{session}/feedback", json=thumbs, headers=session.headers
        ).is_success
        assert top in self.search(client, session)
        assert shown(chat(client, session, "show me women's jackets"))[0] == top
        assert assistant.events.events(session) == []
        assert (
            client.get(f"/api/v1/sessions/{session}", headers=session.headers).json()["personalise"]
            is False
        )

    def test_the_privacy_choice_can_come_with_a_chat_turn(self, client, assistant):
        session = new_session(client)
        body = {"message": "show me watches", "personalise": False}
        reply = client.post("/api/v1/chat", json=body, headers=session.headers).json()
        assert reply["state"]["personalise"] is False and reply["suggestions"]
        assert assistant.events.events(session) == []

    def test_bad_feedback_is_refused(self, client):
        session = new_session(client)
        url = f"/api/v1/sessions/{session}/feedback"
        post = partial(client.post, url, headers=session.headers)
        assert_error(post(json={"product_id": "luma:NOPE", "value": 1}), 404)
        for value in (2, True, "1"):
            assert_error(post(json={"product_id": JACKET, "value": value}), 422)
        privacy = url.replace("feedback", "privacy")
        assert_error(client.put(privacy, json={}, headers=session.headers), 422)


class TestSessions:
    def test_state_and_forget(self, client, assistant):
        session = new_session(client)
        chat(client, session, "show me women's jackets")
        client.get(f"/api/v1/products/{JACKET}", headers=session.headers)
        client.post(
            f"/api/v1/sessions/{session}/cart", json={"product_id": BAG}, headers=session.headers
        )
        state = client.get(f"/api/v1/sessions/{session}", headers=session.headers).json()
        assert state["turns"] == 1 and state["shown"] and state["cart"][0]["product_id"] == BAG
        recorded = len(assistant.events.events(session))
        kinds = {e.kind for e in assistant.events.events(session)}
        assert {EventKind.SHOWN, EventKind.OPENED, EventKind.ADDED} <= kinds
        forgotten = client.delete(f"/api/v1/sessions/{session}", headers=session.headers).json()
        assert forgotten == {"session_id": session, "events_deleted": recorded}
        assert assistant.events.events(session) == []
        gone = client.get(f"/api/v1/sessions/{session}", headers=session.headers)
        assert_error(gone, 404, NO_SESSION)


class TestSessionOwnership:
    """Sessions are issued by the server and open only with their own token."""

    def test_the_server_issues_an_unguessable_id_and_a_separate_token(self, client, assistant):
        one, two = new_session(client), new_session(client)
        assert one != two and one.startswith("api-") and len(one) >= 20
        assert one.token != one and one.token.startswith(f"{one}.")
        assert assistant.has_session(one) and assistant.has_session(two)

    def test_another_sessions_token_or_a_bare_id_opens_nothing(self, client, assistant):
        owner, intruder = new_session(client), new_session(client)
        chat(client, owner, "show me women's jackets")
        bags = {"product_id": BAG, "quantity": 2}
        client.post(f"/api/v1/sessions/{owner}/cart", json=bags, headers=owner.headers)
        events = len(assistant.events.events(owner))
        base = f"/api/v1/sessions/{owner}"
        attempts = [
            ("GET", base, None),
            ("GET", f"{base}/cart", None),
            ("POST", f"{base}/cart", {"product_id": BAG}),
            ("DELETE", f"{base}/cart/{BAG}", None),
            ("POST", f"{base}/feedback", {"product_id": BAG, "value": -1}),
            ("PUT", f"{base}/privacy", {"personalise": False}),
            ("DELETE", base, None),
        ]
        forged = owner.token[:-4] + ("AAAA" if not owner.token.endswith("AAAA") else "BBBB")
        for method, url, body in attempts:
            assert_error(client.request(method, url, json=body), 401, NO_SESSION_TOKEN)
            for token in (intruder.token, str(owner), forged, f"{owner}.{intruder.token}"):
                refused = client.request(method, url, json=body, headers={SESSION_HEADER: token})
                assert_error(refused, 403, WRONG_SESSION_TOKEN)
        state = client.get(base, headers=owner.headers).json()
        assert [(li["product_id"], li["quantity"]) for li in state["cart"]] == [(BAG, 2)]
        assert state["personalise"] is True and state["disliked"] == []
        assert len(assistant.events.events(owner)) == events

    def test_a_chat_needs_a_session_token(self, client):
        refused = client.post("/api/v1/chat", json={"message": "show me watches"})
        assert_error(refused, 401, NO_SESSION_TOKEN)

    def test_reads_never_create_sessions(self, client, assistant):
        session = new_session(client)
        client.delete(f"/api/v1/sessions/{session}", headers=session.headers)
        assert not assistant.has_session(session)
        for path in (f"/api/v1/sessions/{session}", f"/api/v1/sessions/{session}/cart"):
            assert_error(client.get(path, headers=session.headers), 404, NO_SESSION)
        searched = client.get("/api/v1/search", params={"q": "bag"}, headers=session.headers)
        assert_error(searched, 404, NO_SESSION)
        assert not assistant.has_session(session)
        assert_error(client.get("/api/v1/sessions/api-guessed"), 401, NO_SESSION_TOKEN)
        assert not assistant.has_session("api-guessed")


class TestServer:
    def test_openapi_documents_the_routes(self, client):
        routes = {
            ("post", "/api/v1/sessions"),
            ("post", "/api/v1/chat"),
            ("get", "/api/v1/search"),
            ("get", "/api/v1/products/{product_id}"),
            ("get", "/api/v1/products/{product_id}/similar"),
            ("get", "/api/v1/products/{product_id}/image"),
            ("get", "/api/v1/sessions/{session_id}"),
            ("delete", "/api/v1/sessions/{session_id}"),
            ("get", "/api/v1/sessions/{session_id}/cart"),
            ("post", "/api/v1/sessions/{session_id}/cart"),
            ("delete", "/api/v1/sessions/{session_id}/cart/{product_id}"),
            ("post", "/api/v1/sessions/{session_id}/feedback"),
            ("put", "/api/v1/sessions/{session_id}/privacy"),
            ("get", "/api/v1/handoffs"),
        }
        for url in ("/openapi.json", "/api/v1/openapi.json"):
            schema = client.get(url).json()
            listed = {(m, p) for p, ops in schema["paths"].items() for m in ops}
            assert routes <= listed, url
        own = client.get("/api/v1/openapi.json").json()
        assert {p for _, p in routes} == set(own["paths"])  # only the API's own routes
        search = {
            p["name"]: p["schema"] for p in own["paths"]["/api/v1/search"]["get"]["parameters"]
        }
        assert search["k"]["maximum"] == 50 and search["k"]["minimum"] == 1
        reply = own["components"]["schemas"]["ChatReply"]["properties"]
        assert {"text", "suggestions", "comparison", "cart", "state"} <= set(reply)
        assert "404" in own["paths"]["/api/v1/products/{product_id}"]["get"]["responses"]

    def test_the_gradio_page_still_loads(self, client):
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert client.get("/config").status_code == 200
        assert_error(client.get("/api/v1/nothing-here"), 404)

    def test_a_token_guards_every_api_route(self, assistant, monkeypatch):
        token = "t0ken-" + uuid.uuid4().hex
        monkeypatch.setenv(API_TOKEN_ENV, token)
        app, url = start(assistant)
        try:
            with httpx.Client(base_url=url, timeout=60) as http:
                search = {"q": "jacket"}
                for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": token}):
                    refused = http.get("/api/v1/search", params=search, headers=headers)
                    assert_error(refused, 401, "bearer token")
                    assert refused.headers["www-authenticate"] == "Bearer"
                assert_error(http.get(f"/api/v1/products/{JACKET}"), 401)
                assert_error(http.get("/api/v1/openapi.json"), 401)
                good = {"Authorization": f"Bearer {token}"}
                assert http.get("/api/v1/search", params=search, headers=good).status_code == 200
                assert http.get(f"/api/v1/products/{JACKET}", headers=good).status_code == 200
                assert http.get("/").status_code == 200  # the shopper app needs no token
                # Staff read handoff requests (with any shared conversation) with the token only.
                assert_error(http.get("/api/v1/handoffs"), 401)
                sid, asked = uuid.uuid4().hex, "can I talk to a person please"
                assistant.respond(sid, asked)
                assistant.respond(sid, "yes")
                listed = http.get("/api/v1/handoffs", params={"limit": 500}, headers=good)
                assert listed.status_code == 200
                mine = [h for h in listed.json() if h["session"] == sid]
                assert mine and mine[0]["reference"].startswith("H-")
                assert mine[0]["shared"]["transcript"][0]["shopper"] == asked
        finally:
            app.close()

    def test_handoff_requests_stay_closed_on_an_api_without_a_token(self, client):
        assert_error(client.get("/api/v1/handoffs"), 403, STAFF_ONLY)

    def test_a_ui_login_without_a_token_locks_the_api(self, assistant, monkeypatch):
        monkeypatch.delenv(API_TOKEN_ENV, raising=False)
        app, url = start(assistant, auth=("shop", "s3cret"))
        try:
            with httpx.Client(base_url=url, timeout=60) as http:
                assert_error(http.get("/api/v1/search", params={"q": "jacket"}), 401, LOCKED)
                assert http.get("/config").status_code == 401  # the UI login still applies
        finally:
            app.close()
