"""The learning loop: the event log, personalised search, privacy, and the feedback evaluation."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.feedback import SECONDS_PER_DAY, EventKind, EventLog
from retrieval import Personal, SearchEngine, SearchQuery


def _session() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def log(event_store: Path | str) -> Iterator[EventLog]:
    """An empty log in SQLite and in PostgreSQL: co-likes and retention run on both."""
    log = EventLog(event_store, retention_days=30)
    yield log
    log.close()


class TestEventLog:
    def test_records_in_order_with_positions_and_intent(self, log: EventLog):
        log.record("s1", EventKind.SHOWN, ["a", "b"], intent="search_products", positions=[1, 2])
        log.record("s1", "liked", ["b"])
        events = log.events("s1")
        assert [(e.kind, e.product_id, e.position) for e in events] == [
            (EventKind.SHOWN, "a", 1),
            (EventKind.SHOWN, "b", 2),
            (EventKind.LIKED, "b", None),
        ]
        assert events[0].intent == "search_products"

    def test_rejects_unknown_kinds_and_misaligned_positions(self, log: EventLog):
        with pytest.raises(ValueError):
            log.record("s1", "purchased", ["a"])
        with pytest.raises(ValueError):
            log.record("s1", EventKind.SHOWN, ["a", "b"], positions=[1])
        assert log.count() == 0

    def test_stores_no_message_text(self, log: EventLog):
        if log.path is not None:
            rows = sqlite3.connect(log.path).execute("PRAGMA table_info(events)")
            columns = [row[1] for row in rows]
        else:
            rows, _ = log.db.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'events' ORDER BY ordinal_position"
            )
            columns = [row[0] for row in rows]
        assert columns == ["id", "ts", "session", "kind", "product_id", "intent", "position"]

    def test_forget_deletes_one_session_only(self, log: EventLog):
        log.record("s1", EventKind.LIKED, ["a", "b"])
        log.record("s2", EventKind.LIKED, ["a"])
        assert log.forget("s1") == 2
        assert log.events("s1") == []
        assert len(log.events("s2")) == 1

    def test_retention_purges_old_events(self, log: EventLog):
        now = 1_800_000_000.0
        log.record("old", EventKind.SHOWN, ["a"], ts=now - 31 * SECONDS_PER_DAY)
        log.record("new", EventKind.SHOWN, ["a"], ts=now - 29 * SECONDS_PER_DAY)
        assert log.purge(now) == 1
        assert [e.session for e in log.events()] == ["new"]

    def test_retention_must_be_positive(self, tmp_path: Path):
        with pytest.raises(ValueError):
            EventLog(tmp_path / "e.db", retention_days=0)

    def test_co_liked_scores_shared_interest(self, log: EventLog):
        for session, liked in (("s1", "xy"), ("s2", "xy"), ("s3", "xz"), ("s4", "z"), ("s5", "w")):
            log.record(session, EventKind.LIKED, list(liked))
        scores = dict(log.co_liked(["x"]))
        assert set(scores) == {"y", "z"}  # w was never liked with x
        # y: 2 of x's 3 sessions, liked by 2 sessions; z: 1 of 3, liked by 2 sessions.
        assert scores["y"] == pytest.approx(2 / (3 * 2) ** 0.5, abs=1e-4)
        assert scores["z"] == pytest.approx(1 / (3 * 2) ** 0.5, abs=1e-4)
        assert log.co_liked(["unknown"]) == []

    def test_a_later_dislike_or_taken_back_like_cancels_interest(self, log: EventLog):
        log.record("s1", EventKind.LIKED, ["x", "y"])
        log.record("s1", EventKind.DISLIKED, ["y"])
        log.record("s2", EventKind.ADDED, ["x", "z"])
        log.record("s2", EventKind.CLEARED, ["z"])
        assert log.co_liked(["x"]) == []


class TestPersonalisedSearch:
    def test_disliked_products_and_their_near_duplicates_are_hidden(self, engine: SearchEngine):
        plain = engine.search(SearchQuery(text="stasis ball", k=5))
        disliked = plain.hits[0].product
        assert "Stasis Ball" in disliked.title
        hidden = set(engine.near_duplicates([disliked.id]))
        assert disliked.id in hidden and len(hidden) > 1  # its other sizes go with it
        personal = engine.search(
            SearchQuery(text="stasis ball", k=5, personal=Personal(disliked=(disliked.id,)))
        )
        assert personal.hits
        assert not {h.product.id for h in personal.hits} & hidden
        assert all("Stasis Ball" not in h.product.title for h in personal.hits)

    def test_liked_products_pull_similar_ones_up(self, engine: SearchEngine):
        query = SearchQuery(text="women's jacket", k=10)
        plain = [h.product.id for h in engine.search(query).hits]
        liked = plain[-1]
        nudged = [
            h.product.id
            for h in engine.search(
                SearchQuery(text="women's jacket", k=10, personal=Personal(liked=(liked,)))
            ).hits
        ]
        assert set(nudged) == set(plain)  # a nudge re-ranks; it does not change the set
        assert nudged.index(liked) < plain.index(liked)

    def test_co_likes_join_content_for_more_like_this(self, engine: SearchEngine):
        seed = engine.search(SearchQuery(text="women's jacket", k=1)).hits[0].product.id
        plain = [h.product.id for h in engine.search(SearchQuery(similar_to=seed, k=5)).hits]
        outsider = next(
            h.product.id
            for h in engine.search(SearchQuery(text="yoga mat strap", k=10)).hits
            if h.product.id not in plain
        )
        personal = Personal(co_liked=((outsider, 1.0),))
        hits = engine.search(SearchQuery(similar_to=seed, k=5, personal=personal)).hits
        assert outsider in [h.product.id for h in hits]
        assert "also_liked" in next(h for h in hits if h.product.id == outsider).evidence.channels

    def test_without_co_likes_more_like_this_is_content_only(self, engine: SearchEngine):
        seed = engine.search(SearchQuery(text="men's hoodie", k=1)).hits[0].product.id
        first = engine.search(SearchQuery(similar_to=seed, k=5)).hits
        assert all("also_liked" not in h.evidence.channels for h in first)


class TestAssistantFeedback:
    def test_turns_record_what_was_shown_and_done(self, assistant: Assistant):
        session = _session()
        reply = assistant.respond(session, "show me women's jackets")
        shown = [s.card.id for s in (*reply.suggestions, *reply.dialogue.alternatives)]
        assistant.respond(session, "tell me about the first one")
        assistant.respond(session, "add the first one in size M in gray")
        events = assistant.events.events(session) if assistant.events else []
        kinds = [(e.kind, e.product_id) for e in events]
        assert [(EventKind.SHOWN, pid) for pid in shown] == kinds[: len(shown)]
        assert [e.position for e in events[: len(shown)]] == list(range(1, len(shown) + 1))
        assert {e.intent for e in events[: len(shown)]} == {reply.dialogue.intent}
        assert reply.dialogue.intent in ("browse_category", "search_products")
        assert (EventKind.OPENED, shown[0]) in kinds
        assert (EventKind.ADDED, shown[0]) in kinds

    def test_a_thumbs_down_product_is_never_shown_again(self, assistant: Assistant):
        session = _session()
        first = assistant.respond(session, "show me men's hoodies").suggestions[0].card.id
        assistant.feedback(session, first, -1)
        shown: list[str] = []
        reply = assistant.respond(session, "show me men's hoodies")
        for _ in range(3):
            shown += [s.card.id for s in reply.suggestions]
            reply = assistant.respond(session, "show me more")
        assert shown and first not in shown
        assert len(shown) == len(set(shown))  # paging never repeats a product

    def test_opting_out_forgets_and_stops_personalising(self, assistant: Assistant):
        session = _session()
        first = assistant.respond(session, "show me men's hoodies").suggestions[0].card.id
        assistant.feedback(session, first, -1)
        assert assistant.events is not None and assistant.events.events(session)
        assistant.set_personalise(session, False)
        assert assistant.events.events(session) == []
        again = assistant.respond(session, "show me men's hoodies")
        assistant.feedback(session, again.suggestions[1].card.id, 1)
        assert first in [s.card.id for s in again.suggestions]  # the thumbs-down no longer hides
        assert assistant.events.events(session) == []  # and nothing is recorded
        assistant.reset(session)
        assert assistant.state(session).personalise is False  # starting over keeps the choice

    def test_forget_deletes_state_and_events(self, assistant: Assistant):
        session = _session()
        assistant.respond(session, "show me women's tees")
        assert assistant.forget(session) > 0
        assert assistant.events is not None and assistant.events.events(session) == []
        assert assistant.state(session).shown == []

    def test_feedback_validation(self, assistant: Assistant):
        with pytest.raises(KeyError):
            assistant.feedback(_session(), "luma:no-such-product", 1)
        product = assistant.respond(_session(), "women's tees").suggestions[0].card.id
        with pytest.raises(ValueError):
            assistant.feedback(_session(), product, 5)


class TestFeedbackEvaluation:
    def test_the_shopper_judges_cards_against_the_hidden_target(self):
        from dialogue import ProductCard
        from evals._feedback_eval import Shopper, Target, price_bands

        band_of = price_bands([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0])
        styles = {"a": ["Hooded"], "b": ["Hooded"], "c": ["Crew"], "d": ["Hooded"]}
        target = Target("Tops", "Jackets", "women", "Blue", "Hooded", band_of(75.0))
        shopper = Shopper(target, band_of, lambda pid: styles[pid])

        def card(pid: str, price: float, colors: tuple[str, ...], kind: str = "Jackets"):
            return ProductCard(pid, pid, price, category=kind, colors=colors, genders=("Women",))

        exact = card("a", 78.0, ("Blue", "Red"))
        close = card("b", 15.0, ("Blue",))  # colour and style, wrong price band
        far = card("c", 15.0, ("Red",))  # shares nothing
        wrong_kind = card("d", 78.0, ("Blue",), kind="Tees")
        assert shopper.satisfied_by(exact)
        assert not any(shopper.satisfied_by(c) for c in (close, far, wrong_kind))
        assert [shopper.thumbs(c) for c in (exact, close, far, wrong_kind)] == [1, 1, -1, -1]
        assert target.request == "show me women's tops"

    def test_three_conditions_on_the_real_assistant(self, assistant: Assistant, tmp_path: Path):
        import json

        from evals._feedback_eval import run

        before = assistant.events
        report = run(assistant, 5, 3, lambda items, *_: items, tmp_path)
        conditions = [k for k, v in report.items() if isinstance(v, dict) and "success_rate" in v]
        assert len(conditions) == 3
        assert all(report[c]["shoppers"] == 5 for c in conditions)
        assert [report[c]["events_before"] > 0 for c in conditions] == [False, False, True]
        for name in conditions:
            turns = [o["turns"] for o in report["outcomes"][name]]
            assert all(t is None or 1 <= t <= report["max_turns"] for t in turns)
        assert json.loads((tmp_path / "feedback.json").read_text())["max_turns"] == 8
        assert assistant.events is before  # the store's own log is untouched


class TestForgetCommand:
    def test_forget_deletes_a_sessions_events(self, tmp_path: Path, capsys):
        from assistant.cli import main

        log = EventLog(tmp_path / "events.db")
        log.record("web-1", EventKind.LIKED, ["a", "b"])
        log.record("web-2", EventKind.LIKED, ["a"])
        assert main(["--data-dir", str(tmp_path), "forget", "web-1"]) == 0
        assert "Deleted 2 events" in capsys.readouterr().out
        assert [e.session for e in log.events()] == ["web-2"]

    def test_forget_without_a_log_says_so(self, tmp_path: Path, capsys):
        from assistant.cli import main

        assert main(["--data-dir", str(tmp_path), "forget", "web-1"]) == 0
        # Rich wraps at 80 columns, where depends on the temporary path's length.
        assert "nothing recorded" in " ".join(capsys.readouterr().out.split())
