"""Sessions that outlive their worker: the dialogue state's full record, and the session
stores (in memory, and in a real Redis started for these tests)."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import replace

import pytest
import redis
from conftest import RedisServer
from PIL import Image

from assistant import Assistant
from assistant._assistant import RATE_LIMITED, STORE_DOWN, UNAVAILABLE
from assistant._sessions import BUSY, RedisSessionStore, open_session_store
from assistant.security import SessionSigner
from dialogue import DialogueState, SearchRequest


def new_session() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


class TestStateRecord:
    def test_a_real_conversation_round_trips_through_json(self, assistant: Assistant):
        sid = new_session()
        for said in (
            "show me women's jackets",
            "in blue under $60, not striped",
            "add the second one",
            "M",
            "compare the first two",
        ):
            assistant.respond(sid, said)
        assistant.feedback(sid, assistant.state(sid).shown[0].id, 1)
        state = assistant.state(sid)
        assert state.cart and state.cart[0].size == "M" and state.compared
        assert state.shown and state.history and state.constraints.price_max == 60

        restored = DialogueState.from_record(json.loads(json.dumps(state.to_record())))

        assert restored == state
        # The next turn reads the restored state as it would have read the original.
        assert restored.shown[1].colors == state.shown[1].colors
        assert isinstance(restored.constraints.colors, tuple)

    def test_a_shoppers_photo_keeps_its_pixels(self, assistant: Assistant):
        state = DialogueState()
        state.image = Image.new("RGB", (31, 17), (200, 30, 90))
        state.image.putpixel((3, 4), (1, 2, 3))
        restored = DialogueState.from_record(json.loads(json.dumps(state.to_record())))
        assert restored.image.size == (31, 17)
        assert restored.image.tobytes() == state.image.tobytes()


def worker(assistant: Assistant, url: str, **settings: object) -> Assistant:
    """Another worker: its own assistant (model, live catalog, session store) over the same
    engine and event log, keeping its sessions in the Redis at `url`."""
    changed = replace(assistant.settings, session_store=url, **settings)
    return Assistant(changed, assistant.stack, events=assistant.events)


@pytest.fixture
def workers(assistant: Assistant, redis_server: RedisServer) -> tuple[Assistant, Assistant]:
    return worker(assistant, redis_server.url), worker(assistant, redis_server.url)


class TestRedisSessions:
    def test_a_conversation_alternating_between_workers_is_one_conversation(self, workers):
        one, two = workers
        sid = new_session()
        one.respond(sid, "show me women's jackets")
        refined = two.respond(sid, "in blue under $60")
        assert refined.suggestions and two.state(sid).constraints.price_max == 60
        second = refined.suggestions[1].card
        assert one.respond(sid, "add the second one").dialogue.action == "ask_size"
        added = two.respond(sid, "M")
        assert added.dialogue.action == "add_to_cart", added.text
        (line,) = one.state(sid).cart
        assert (line.product_id, line.size) == (second.id, "M")
        said = [turn.user for turn in one.state(sid).history]
        assert said == ["show me women's jackets", "in blue under $60", "add the second one", "M"]

    def test_turns_of_one_session_on_two_workers_never_interleave(self, workers, assistant):
        one, two = workers
        sid = new_session()
        bags = assistant.catalog.search(SearchRequest(text="bag", k=20)).matches
        product = next(m.card for m in bags if not (m.card.needs_size or m.card.needs_color))
        adds = 12

        def add(shop: Assistant) -> None:
            for _ in range(adds):
                shop.add_to_cart(sid, product.id)

        threads = [threading.Thread(target=add, args=(shop,)) for shop in (one, two)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        (line,) = one.state(sid).cart
        assert line.quantity == 2 * adds  # no add was lost to another worker's stale copy

    def test_sessions_expire_by_redis_ttl(self, assistant, redis_server):
        shop = worker(assistant, redis_server.url, session_idle_minutes=2)
        sid = new_session()
        shop.respond(sid, "show me bags")
        ttl = redis.Redis.from_url(redis_server.url).ttl(f"shopassist:state:{sid}")
        assert 0 < ttl <= 120
        shop.sessions.drop(sid)
        assert not shop.has_session(sid) and not keys_of(redis_server, sid)

    def test_the_new_session_budget_of_a_client_holds_across_workers(self, assistant, redis_server):
        one, two = (
            worker(assistant, redis_server.url, client_sessions_per_minute=6) for _ in range(2)
        )
        client = f"addr:{uuid.uuid4().hex}"
        replies = [(one, two)[n % 2].respond(new_session(), "hi", client=client) for n in range(6)]
        assert [r.dialogue.action == RATE_LIMITED for r in replies] == [False] * 5 + [True]
        assert replies[-1].text == BUSY

    def test_a_full_table_refuses_new_sessions_on_every_worker(self, assistant, redis_server):
        redis.Redis.from_url(redis_server.url).flushdb()
        one, two = (
            worker(assistant, redis_server.url, max_sessions=2, client_sessions_per_minute=0)
            for _ in range(2)
        )
        one.respond(new_session(), "show me bags")
        two.respond(new_session(), "show me bags")
        refused = one.respond(new_session(), "show me bags")
        assert refused.dialogue.action == RATE_LIMITED and refused.text == BUSY
        redis.Redis.from_url(redis_server.url).flushdb()

    def test_api_session_tokens_open_on_every_worker(self, assistant, redis_server, tmp_path):
        one, two = (
            SessionSigner.for_data_dir(data, stored=worker_store(assistant, redis_server).secret)
            for data in (tmp_path / "a", tmp_path / "b")
        )
        session_id, token = one.issue()
        assert two.session_of(token) == session_id
        assert not (tmp_path / "a").exists()  # the secret lives in Redis, not on a disk

    def test_an_unreachable_redis_is_named_not_a_traceback(self, assistant):
        from conftest import free_port

        url = f"redis://127.0.0.1:{free_port()}/0"
        with pytest.raises(ValueError, match=r"^session_store: cannot use Redis at redis://127"):
            open_session_store(replace(assistant.settings, session_store=url))

    def test_a_redis_that_goes_away_costs_a_turn_not_the_app(self, assistant, tmp_path):
        own = RedisServer(tmp_path / "redis")
        own.start()
        shop = worker(assistant, own.url)
        sid = new_session()
        assert shop.respond(sid, "show me bags").suggestions
        own.stop()
        reply = shop.respond(sid, "show me more")
        assert reply.dialogue.action == UNAVAILABLE and reply.text == STORE_DOWN
        own.start()  # same port, empty: the shopper starts again, nothing crashed
        assert shop.respond(sid, "show me bags").suggestions
        own.stop()


def worker_store(assistant: Assistant, server: RedisServer) -> RedisSessionStore:
    return RedisSessionStore.connect(server.url, assistant.settings)


def keys_of(server: RedisServer, sid: str) -> list[bytes]:
    return list(redis.Redis.from_url(server.url).scan_iter(f"shopassist:*{sid}*"))
