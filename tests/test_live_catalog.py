"""Catalog updates reach a running assistant without a restart (issue 12, "Trust first").

A shop of five products is ingested and indexed into a temporary data folder; a real
`Assistant` (trained NLU, policy, templates, embedded Chroma, MiniLM) serves it. Then a
separate process runs `shopassist ingest` (store + index sync, as an operator would) with one
price changed, one product removed and one added in a colour and category the shop never had.
The running assistant must quote and charge the new price, find the new product, refuse the
removed one, say what changed in the cart, and never fail a turn while it reloads; `shopassist
doctor --server` must say when a server still runs an older catalog version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from conftest import REPO, start

from assistant import Assistant, RetrievalStack, Settings
from assistant._live_catalog import reprice
from assistant.cli import main
from assistant.integrations.http_api import API_TOKEN_ENV, SESSION_HEADER
from dialogue import CartLine, DialogueState, ProductCard
from retrieval import (
    CatalogIndexer,
    CatalogStamp,
    CatalogStore,
    EmbeddingCache,
    IngestReport,
    SearchQuery,
    VectorIndex,
    ingest,
)
from ui._html import cart_html

pytestmark = pytest.mark.slow
JACKET, MUG, TOTE = "shop:P1", "shop:P3", "shop:P6"


def _product(pid: str, title: str, price: float, category: str, color: str | None, text: str):
    attributes = {"color": [color]} if color else {}
    return {
        "id": pid,
        "title": title,
        "description": text,
        "price": price,
        "brand": "Northfold",
        "category": category,
        "attributes": attributes,
    }


V1 = [
    _product("P1", "Trail Shell Jacket", 89, "Women/Jackets", "Blue", "Light waterproof shell."),
    _product("P2", "Merino Tee", 45, "Men/Tees", "Red", "Soft merino wool tee."),
    _product("P3", "Enamel Camp Mug", 12.5, "Gear/Mugs", None, "Enamel mug for coffee."),
    _product("P4", "Down Vest", 120, "Women/Vests", "Black", "Warm packable down vest."),
    _product("P5", "Storm Rain Jacket", 95, "Men/Jackets", "Black", "Rain jacket with a hood."),
]
# The update: the shell jacket is cheaper, the mug is gone, an olive tote bag (a colour and a
# category the shop never had) is new.
V2 = [
    {**V1[0], "price": 79},
    *V1[1:2],
    *V1[3:],
    _product("P6", "Canvas Tote Bag", 35, "Gear/Bags", "Olive", "Roomy canvas tote bag."),
]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def reingest(data: Path, source: Path) -> None:
    """`shopassist ingest` (the store, then the vector index) in a separate process."""
    env = {
        **os.environ,
        "SHOPASSIST_IMAGE_MODEL": "none",
        "SHOPASSIST_SPEECH_BACKEND": "none",
    }
    argv = ["--data-dir", str(data), "ingest", str(source), "--catalog", "shop", "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def make_shop(
    folder: Path,
    text_encoder: Any,
    cleaning: Any,
    models: Path | None = None,
    **options: Any,
) -> Assistant:
    """V1 ingested and indexed in `folder/data`, and an assistant serving it (the intent model
    copied from `models` when given: training it takes a minute)."""
    data = folder / "data"
    settings = Settings(
        data_dir=data,
        image_model="none",
        speech_backend="none",
        turns_per_minute=0,
        catalog_check_seconds=0,  # per turn only, unless a test starts the watcher
        **options,
    )
    store = CatalogStore(settings.catalog_db)
    index = VectorIndex(path=settings.chroma_dir)
    cache = EmbeddingCache(settings.embedding_cache)
    ingest(
        _write(folder / "v1.jsonl", V1), store, catalog="shop", cleaning=cleaning, progress=False
    )
    CatalogIndexer(store, index, cache, text_encoder).sync(progress=False)
    _write(folder / "v2.jsonl", V2)
    if models is not None:
        shutil.copytree(models, data / "models", dirs_exist_ok=True)
    stack = RetrievalStack(settings, store, index, cache, text_encoder, None, None)
    return Assistant(settings, stack)


@pytest.fixture(scope="module")
def models(tmp_path_factory, text_encoder, cleaning) -> Path:
    """The intent model, trained once for this module's assistants."""
    shop = make_shop(tmp_path_factory.mktemp("models"), text_encoder, cleaning)
    return shop.model_cache


@pytest.fixture
def shop(tmp_path, text_encoder, cleaning, models) -> Assistant:
    return make_shop(tmp_path, text_encoder, cleaning, models)


def ids(reply) -> list[str]:
    return [s.card.id for s in (*reply.suggestions, *reply.dialogue.alternatives)]


def position(reply, product_id: str) -> int:
    return [s.card.id for s in reply.suggestions].index(product_id) + 1


class TestVersionStamp:
    """`CatalogStore.version()`: bumped in the transaction that replaces a catalog, and only
    then; `stamp().index` after a sync that changed the vectors."""

    def test_each_catalog_replacement_bumps_it_once(self, tmp_path, store, cleaning):
        assert store.version() == 0 and store.stamp() == CatalogStamp(0, 0)
        v1, v2 = _write(tmp_path / "v1.jsonl", V1), _write(tmp_path / "v2.jsonl", V2)
        ingest(v1, store, catalog="shop", cleaning=cleaning, progress=False)
        assert store.version() == 1
        ingest(v2, store, catalog="shop", cleaning=cleaning, progress=False)
        ingest(v1, store, catalog="other", cleaning=cleaning, progress=False)
        assert store.version() == 3
        assert CatalogStore(store.path).version() == 3  # another connection reads the same

    def test_a_failed_replacement_leaves_it_and_the_catalog_alone(self, tmp_path, store, cleaning):
        ingest(_write(tmp_path / "v1.jsonl", V1), store, catalog="shop", cleaning=cleaning,
               progress=False)  # fmt: skip
        before = [p.to_dict() for p in store.products()]
        twice = store.products()[:1] * 2  # the same id twice: the insert fails mid-transaction
        report = IngestReport(catalog="shop", source="broken", format="generic")
        with pytest.raises(Exception, match="UNIQUE"):
            store.replace_catalog("shop", twice, [], [], report)
        assert store.version() == 1
        assert [p.to_dict() for p in store.products()] == before
        with pytest.raises(Exception, match="no product"):
            ingest(_write(tmp_path / "empty.jsonl", []), store, catalog="shop", cleaning=cleaning,
                   progress=False)  # fmt: skip
        assert store.version() == 1

    def test_the_index_version_moves_only_when_a_sync_changes_vectors(
        self, tmp_path, store, cleaning, text_encoder
    ):
        index = VectorIndex(path=tmp_path / "chroma")
        indexer = CatalogIndexer(store, index, EmbeddingCache(tmp_path / "cache.db"), text_encoder)
        ingest(_write(tmp_path / "v1.jsonl", V1), store, catalog="shop", cleaning=cleaning,
               progress=False)  # fmt: skip
        indexer.sync(progress=False)
        assert store.stamp() == CatalogStamp(catalog=1, index=1)
        indexer.sync(progress=False)  # nothing to do
        assert store.stamp() == CatalogStamp(catalog=1, index=1)
        ingest(_write(tmp_path / "v2.jsonl", V2), store, catalog="shop", cleaning=cleaning,
               progress=False)  # fmt: skip
        assert store.stamp() == CatalogStamp(catalog=2, index=1)
        indexer.sync(progress=False)
        assert store.stamp() == CatalogStamp(catalog=2, index=2)


class TestReprice:
    """`reprice`, the pure part of following a catalog update: cart lines and shown cards."""

    def test_cart_lines_and_shown_cards_follow_the_catalog(self):
        jacket = ProductCard(JACKET, "Trail Shell Jacket", 89.0, colors=("Blue", "Red"),
                             color_images=(("Red", "red.png"),))  # fmt: skip
        mug = ProductCard(MUG, "Enamel Camp Mug", 12.5)
        state = DialogueState(
            cart=[
                CartLine(JACKET, jacket.title, 89.0, 1, "M", "Blue"),
                CartLine(JACKET, jacket.title, 89.0, 2, "L", "Blue"),
                CartLine(MUG, mug.title, 12.5),
            ],
            shown=[mug, jacket.in_color("Red")],
        )
        catalog = {JACKET: replace(jacket, price=79.0)}
        notices = reprice(state, catalog.get)
        assert notices == [
            "The price of Trail Shell Jacket changed from $89.00 to $79.00.",  # once, not twice
            "Enamel Camp Mug is no longer in our catalog. It is marked in your cart; please "
            "remove it before checking out.",
        ]
        assert [(line.unit_price, line.removed) for line in state.cart] == [
            (79.0, False),
            (79.0, False),
            (12.5, True),
        ]
        assert state.shown[0] is mug  # kept in its place: "the first one" still means it
        assert state.shown[1].price == 79.0 and state.shown[1].image == "red.png"
        assert reprice(state, catalog.get) == []  # nothing new to say
        catalog[MUG] = mug
        assert reprice(state, catalog.get) == ["Enamel Camp Mug is back in our catalog."]
        assert not state.cart[2].removed

    def test_the_app_cart_shows_the_flag(self):
        html = cart_html([CartLine(MUG, "Enamel Camp Mug", 12.5, removed=True)], 12.5)
        assert "sa-line-gone" in html and "no longer in our catalog" in html
        assert "sa-line-gone" not in cart_html([CartLine(MUG, "Enamel Camp Mug", 12.5)], 12.5)


class TestChromaAcrossProcesses:
    def test_reopen_shows_what_another_process_wrote(self, tmp_path):
        """Embedded Chroma caches a collection per process: without `reopen`, vectors another
        process wrote are missed (or reads fail with "Error finding id")."""
        index = VectorIndex(path=tmp_path / "chroma")
        index.upsert("tcol", ["a", "b", "c"], np.eye(3, 4, dtype=np.float32), [{"k": 1}] * 3)
        assert index.vectors("tcol")[0] == ["a", "b", "c"]
        child = (
            "import sys, numpy as np; from pathlib import Path; "
            "from retrieval._index import VectorIndex; "
            "i = VectorIndex(path=Path(sys.argv[1])); i.delete('tcol', ['c']); "
            "i.upsert('tcol', ['a', 'd'], np.array([[0, 0, 0, 1], [0, 0, 1, 1]], np.float32), "
            "[{'k': 2}, {'k': 2}])"
        )
        subprocess.run(
            [sys.executable, "-c", child, str(tmp_path / "chroma")], cwd=REPO, check=True
        )
        index.reopen()
        found, matrix, _ = index.vectors("tcol")
        assert sorted(found) == ["a", "b", "d"]
        vectors = dict(zip(found, matrix, strict=True))
        assert np.allclose(vectors["a"], [0, 0, 0, 1]) and np.allclose(vectors["d"], [0, 0, 1, 1])
        assert [pid for pid, _ in index.query("tcol", np.array([0, 0, 0, 1], np.float32), 2)] == [
            "a",
            "d",
        ]


class TestCatalogUpdate:
    def test_a_reingest_in_another_process_reaches_running_sessions(self, shop, tmp_path):
        data = shop.settings.data_dir
        # Before: one session carts the mug (API) and the shell jacket (chat) at the old prices;
        # another has only seen the mug.
        mugs = shop.respond("s1", "show me mugs")
        assert MUG in ids(mugs)
        shop.add_to_cart("s1", MUG)
        jackets = shop.respond("s1", "show me jackets")
        jacket = position(jackets, JACKET)
        assert f"${89:.2f}" in jackets.text
        shop.respond("s1", f"add #{jacket} to my cart")
        assert [(line.product_id, line.unit_price) for line in shop.state("s1").cart] == [
            (MUG, 12.5),
            (JACKET, 89.0),
        ]
        assert MUG in ids(shop.respond("s2", "show me mugs"))
        assert "olive" in shop.respond("s3", "show me olive bags").text.lower()  # not carried
        served = shop.live_catalog.version

        reingest(data, tmp_path / "v2.jsonl")

        # The next turn: the card on screen quotes the new price, in the same position, and
        # the cart was re-priced and flagged, with a notice for each change.
        details = shop.respond("s1", f"tell me about #{jacket}")
        assert shop.live_catalog.version == served + 1 == shop.stack.store.version()
        assert details.dialogue.product.id == JACKET
        assert "$79.00" in details.text and "$89.00" not in details.text
        assert shop.state("s1").shown[jacket - 1].price == 79
        assert "The price of Trail Shell Jacket changed from $89.00 to $79.00." in details.notices
        assert any("Enamel Camp Mug is no longer in our catalog" in n for n in details.notices)
        cart = {line.product_id: line for line in shop.state("s1").cart}
        assert cart[JACKET].unit_price == 79 and not cart[JACKET].removed
        assert cart[MUG].removed and cart[MUG].unit_price == 12.5
        assert not shop.respond("s1", "view my cart").notices  # told once
        # The vectors came across processes too (embedded Chroma reopened), not just BM25.
        engine = shop.stack.engine
        assert engine.stamp == shop.stack.store.stamp()
        assert engine.text_space.vector_of(TOTE) is not None
        assert engine.text_space.vector_of(MUG) is None

        # The new product (and its new colour and category) is found and understood.
        bags = shop.respond("s1", "show me olive bags")
        assert TOTE in ids(bags)
        assert shop.state("s1").constraints.colors == ("olive",)
        dense = engine.search(SearchQuery(text="canvas tote", k=3, rankers=("dense",)))
        assert dense.hits[0].product.id == TOTE

        # The removed product is found nowhere and cannot be added, by API or by chat.
        assert MUG not in ids(shop.respond("s1", "show me mugs"))
        assert MUG not in [h.product.id for h in engine.search(SearchQuery(text="mug")).hits]
        with pytest.raises(KeyError, match="no longer in the catalog"):
            shop.add_to_cart("s1", MUG)
        added = shop.respond("s2", "add #1 to my cart")
        assert "Enamel Camp Mug is no longer in our catalog" in added.text
        assert shop.state("s2").cart == []

        # Checkout refuses while the flagged line is there, and goes through once it is gone.
        view = shop.respond("s1", "view my cart")
        assert "Enamel Camp Mug" in view.text and "no longer in our catalog" in view.text
        refused = shop.respond("s1", "checkout please")
        assert refused.dialogue.action == "checkout_blocked"
        assert "Enamel Camp Mug is no longer in our catalog" in refused.text
        assert shop.remove_from_cart("s1", MUG)
        done = shop.respond("s1", "checkout please")
        assert done.dialogue.action == "checkout" and "$79.00" in done.text

    def test_no_turn_fails_while_the_catalog_reloads(self, shop, tmp_path):
        messages = [
            "show me jackets", "tell me about #1", "show me mugs", "view my cart",
            "show me bags", "add #1 to my cart", "cheaper ones", "checkout please",
        ]  # fmt: skip
        failures: list[str] = []
        turns: list[tuple[float, str]] = []
        stop = threading.Event()

        def shopper(session: str) -> None:
            n = 0
            while not stop.is_set():
                text = messages[n % len(messages)]
                n += 1
                try:
                    reply = shop.respond(session, text)
                except Exception as exc:  # any escape is a failed turn
                    failures.append(f"{text!r}: {exc!r}")
                    continue
                if reply.dialogue.action == "error":
                    failures.append(f"{text!r}: the turn failed")
                turns.append((time.monotonic(), reply.dialogue.action))

        def searcher() -> None:
            engine = shop.stack.engine
            queries = ["jacket", "mug", "tote bag", "warm vest", "merino"]
            n = 0
            while not stop.is_set():
                n += 1
                query = SearchQuery(text=f"{queries[n % 5]} {n}", k=3)  # never a cache hit
                try:
                    engine.search(query)
                    engine.similar(JACKET, k=2)
                except Exception as exc:
                    failures.append(f"search {query.text!r}: {exc!r}")

        threads = [threading.Thread(target=shopper, args=(f"t{i}",)) for i in range(2)]
        threads.append(threading.Thread(target=searcher))
        for thread in threads:
            thread.start()
        try:
            reingest(shop.settings.data_dir, tmp_path / "v2.jsonl")
            started = time.monotonic()
            assert shop.live_catalog.check() or shop.live_catalog.version == 2
            for _ in range(5):  # more swaps under load (same content)
                shop.stack.engine.refresh()
            time.sleep(1.0)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
        assert not failures, failures[:5]
        assert sum(1 for at, _ in turns if at >= started) >= 2, "no turn ran during the reload"
        assert shop.live_catalog.version == 2
        assert JACKET in ids(shop.respond("t0", "show me jackets"))

    def test_a_search_finishes_on_the_snapshot_it_started_with(self, shop, cleaning, tmp_path):
        engine = shop.stack.engine
        store = shop.stack.store
        with engine.pinned():
            view = engine.view
            ingest(tmp_path / "v2.jsonl", store, catalog="shop", cleaning=cleaning, progress=False)
            refresher = threading.Thread(target=engine.refresh)
            refresher.start()
            refresher.join()
            assert engine.view is view and MUG in engine.view.products  # still the old one
            assert engine.stamp == CatalogStamp(1, 1)
        assert engine.view is not view and MUG not in engine.view.products
        assert engine.stamp == CatalogStamp(2, 1)


class TestDoctorServer:
    @pytest.fixture(autouse=True)
    def _one_model(self, monkeypatch, text_encoder):
        monkeypatch.setenv("SHOPASSIST_IMAGE_MODEL", "none")
        monkeypatch.setattr("assistant._retrieval.SentenceTextEncoder", lambda _: text_encoder)
        monkeypatch.setattr("assistant.cli._doctor.SentenceTextEncoder", lambda _: text_encoder)

    def test_doctor_names_a_server_on_an_old_catalog_version(self, shop, tmp_path, capsys):
        data = ["--data-dir", str(shop.settings.data_dir)]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(API_TOKEN_ENV, "secret-token")
            app, url = start(shop)
        try:
            http = httpx.Client(base_url=url, timeout=60)
            health = http.get("/api/v1/health")  # open, while the rest needs the token
            assert health.status_code == 200, health.text
            assert health.json() == {"status": "ok", "catalog_version": 1, "store_version": 1}
            assert http.get("/api/v1/search", params={"q": "jacket"}).status_code == 401
            assert main([*data, "doctor", "--server", url]) == 0
            assert "runs catalog version 1" in capsys.readouterr().out

            # An ingest the server has not looked at yet (no watcher, no turn): doctor says so.
            main([*data, "ingest", str(tmp_path / "v2.jsonl"), "--catalog", "shop",
                  "--no-progress"])  # fmt: skip
            capsys.readouterr()
            assert http.get("/api/v1/health").json() == {
                "status": "catalog_behind",
                "catalog_version": 1,
                "store_version": 2,
            }
            assert main([*data, "doctor", "--server", url]) == 1
            out = capsys.readouterr().out
            assert f"The server at {url} runs catalog version 1; the store is at 2." in out
            assert "restart it with `shopassist serve`" in out
            assert main([*data, "doctor", "--json", "--server", url]) == 1
            problems = json.loads(capsys.readouterr().out)["problems"]
            assert [p["kind"] for p in problems] == ["server_behind"]

            # One turn later the server runs the store's version, and doctor is content.
            shop.respond("any", "hello")
            assert http.get("/api/v1/health").json()["catalog_version"] == 2
            assert main([*data, "doctor", "--server", url]) == 0
            capsys.readouterr()

            # With the watcher on, an idle server catches up by itself.
            assert shop.live_catalog.watch() is False  # catalog_check_seconds 0: turns only
            shop.live_catalog.check_seconds = 0.2
            assert shop.live_catalog.watch()
            main([*data, "ingest", str(tmp_path / "v1.jsonl"), "--catalog", "shop",
                  "--no-progress"])  # fmt: skip
            deadline = time.monotonic() + 60
            while http.get("/api/v1/health").json()["catalog_version"] != 3:
                assert time.monotonic() < deadline, "the watcher never reloaded"
                time.sleep(0.2)
            assert MUG in shop.stack.engine.view.products
        finally:
            shop.live_catalog.stop()
            app.close()
        assert main([*data, "doctor", "--server", url]) == 1
        assert "did not answer" in capsys.readouterr().out

    def test_the_api_shows_the_flag_and_the_notices(self, shop, tmp_path):
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv(API_TOKEN_ENV, raising=False)
            app, url = start(shop)
        try:
            http = httpx.Client(base_url=url, timeout=60)
            opened = http.post("/api/v1/sessions")
            assert opened.status_code == 201, opened.text
            sid, token = opened.json()["session_id"], opened.json()["session_token"]
            headers = {SESSION_HEADER: token}
            cart = f"/api/v1/sessions/{sid}/cart"
            assert http.post(cart, json={"product_id": MUG}, headers=headers).is_success
            reingest(shop.settings.data_dir, tmp_path / "v2.jsonl")
            added = http.post(cart, json={"product_id": MUG}, headers=headers)
            assert added.status_code == 404
            assert "Enamel Camp Mug" in added.json()["detail"]
            assert "no longer in the catalog" in added.json()["detail"]
            reply = http.post("/api/v1/chat", json={"message": "checkout"}, headers=headers)
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert body["action"] == "checkout_blocked" and body["cart"][0]["removed"] is True
            assert any("Enamel Camp Mug is no longer in our catalog" in n for n in body["notices"])
            lines = http.get(cart, headers=headers).json()["lines"]
            assert [(line["product_id"], line["removed"]) for line in lines] == [(MUG, True)]
        finally:
            app.close()
