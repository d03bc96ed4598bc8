"""Photo search on real Luma photos, CLIP wiring through the indexer and engine (tiny random
CLIP), and the same engine on a real Chroma server started here."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ChromaServer

from evals._retrieval_eval import ALTERATIONS, RetrievalEvaluation, alter
from retrieval import (
    CatalogIndexer,
    CatalogStore,
    ColourHistogramEncoder,
    EmbeddingCache,
    Exclusions,
    Filters,
    ImageRole,
    IngestReport,
    PhotoKindProbe,
    SearchEngine,
    SearchQuery,
    VectorIndex,
    kind_of,
    load_image,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photo_store(luma_store, tmp_path_factory) -> CatalogStore:
    """30 Luma products that have an alternate or back view, with all their photos."""
    products = [
        p
        for p in luma_store.products("luma")
        if any(i.role in (ImageRole.ALT, ImageRole.BACK) for i in p.images)
    ][:30]
    store = CatalogStore(tmp_path_factory.mktemp("photos") / "catalog.db")
    report = IngestReport(catalog="luma", source="subset", format="magento")
    store.replace_catalog("luma", products, [], [], report)
    return store


def _index_and_engine(store, root: Path, text_encoder, **encoders) -> SearchEngine:
    index = VectorIndex(path=root / "chroma")
    cache = EmbeddingCache(root / "cache.db")
    CatalogIndexer(store, index, cache, text_encoder, load_image=load_image, **encoders).sync(
        progress=False
    )
    return SearchEngine(store, index, text_encoder, **encoders)


@pytest.fixture(scope="module")
def photo_engine(photo_store, text_encoder, effnet, tmp_path_factory) -> SearchEngine:
    root = tmp_path_factory.mktemp("photo-index")
    return _index_and_engine(
        photo_store, root, text_encoder,
        image_encoder=effnet, colour_encoder=ColourHistogramEncoder(),
    )  # fmt: skip


class TestPhotoSearch:
    def test_back_or_alternate_view_finds_its_product(self, photo_engine):
        ranks = []
        for product in photo_engine.view.products.values():
            view = next(i for i in product.images if i.role in (ImageRole.ALT, ImageRole.BACK))
            result = photo_engine.search(
                SearchQuery(image=load_image(view.path), ignore_image_paths=(view.path,), k=10)
            )
            ids = [h.product.id for h in result.hits]
            ranks.append(ids.index(product.id) + 1 if product.id in ids else None)
        found = [r for r in ranks if r is not None]
        mrr = sum(1 / r for r in found) / len(ranks)
        # 30 candidates: a random ranking has MRR ~0.13 and finds 1 in 3 in the top 10.
        assert len(found) / len(ranks) >= 0.6
        assert mrr >= 0.3

    def test_photo_plus_text_filter(self, photo_engine):
        seed = next(p for p in photo_engine.view.products.values() if p.colors)
        colour = seed.colors[0]
        result = photo_engine.search(
            SearchQuery(image=load_image(seed.images[0].path), filters=Filters(colors=(colour,)))
        )
        assert result.hits and all(colour in h.product.colors for h in result.hits)
        assert "image" in result.hits[0].evidence.channels

    def test_a_photo_ranks_by_its_colours_too(self, photo_engine):
        product = next(iter(photo_engine.view.products.values()))
        result = photo_engine.search(SearchQuery(image=load_image(product.images[0].path)))
        assert all("colour" in h.evidence.channels for h in result.hits[:3])

    def test_more_like_this_uses_photos(self, photo_engine):
        seed = next(iter(photo_engine.view.products.values()))
        hits = photo_engine.similar(seed.id, k=5).hits
        assert hits and seed.id not in {h.product.id for h in hits}
        assert any("image" in h.evidence.channels for h in hits)


class TestPhotoReading:
    """What the engine makes of a photo: the product it shows first, and its kind."""

    def test_a_store_photo_shows_its_product_first_and_names_it(self, photo_engine):
        for product in list(photo_engine.view.products.values())[:10]:
            photo = load_image(product.images[0].path)
            result = photo_engine.search(SearchQuery(image=photo, k=5))
            assert result.hits[0].product.id == product.id
            assert result.photo is not None and result.photo.lookalike == product.id
            assert result.photo.guess is not None
            assert result.photo.guess.kind == kind_of(product)

    def test_the_product_stays_first_when_altered(self, photo_engine):
        rng = random.Random(3)
        first = 0
        products = list(photo_engine.view.products.values())
        for n, product in enumerate(products):
            how = ALTERATIONS[n % len(ALTERATIONS)]
            photo = alter(load_image(product.images[0].path), how, rng)
            hits = photo_engine.search(SearchQuery(image=photo, k=5)).hits
            first += hits[0].product.id == product.id
        assert first / len(products) >= 0.9

    def test_a_sure_guess_keeps_the_results_to_its_kind(self, photo_engine):
        kinds = {pid: kind_of(p) for pid, p in photo_engine.view.products.items()}
        narrowed = 0
        for product in photo_engine.view.products.values():
            view = next(i for i in product.images if i.role in (ImageRole.ALT, ImageRole.BACK))
            query = SearchQuery(image=load_image(view.path), ignore_image_paths=(view.path,))
            result = photo_engine.search(query)
            reading = result.photo
            assert reading is not None
            if reading.narrowed and reading.used is not None:
                narrowed += 1
                for hit in result.hits[1:]:  # the first: the nearest photo's, always kept
                    kind = kinds[hit.product.id]
                    assert kind is not None and kind.category == reading.used.category
        assert narrowed >= 10

    def test_the_next_page_keeps_what_the_photo_showed(self, photo_engine):
        product = next(iter(photo_engine.view.products.values()))
        photo = load_image(product.images[0].path)
        first = photo_engine.search(SearchQuery(image=photo, k=3))
        seen = tuple(h.product.id for h in first.hits)
        second = photo_engine.search(
            SearchQuery(image=photo, k=3, exclude=Exclusions(product_ids=seen))
        )
        assert first.photo is not None and second.photo is not None
        assert second.photo.used == first.photo.used and second.photo.narrowed
        assert not {h.product.id for h in second.hits} & set(seen)

    def test_an_empty_page_still_says_what_the_photo_shows(self, photo_engine):
        product = next(iter(photo_engine.view.products.values()))
        query = SearchQuery(
            image=load_image(product.images[0].path), filters=Filters(colors=("Chartreuse",))
        )
        result = photo_engine.search(query)
        assert not result.hits
        assert result.photo is not None and result.photo.lookalike == product.id

    def test_what_the_shopper_typed_wins(self, photo_engine):
        jacket = next(
            p for p in photo_engine.view.products.values() if p.category_path[-1] == "Jackets"
        )
        wanted = next(
            c
            for p in photo_engine.view.products.values()
            if (c := p.category_path[-1]) != "Jackets"
        )
        query = SearchQuery(
            image=load_image(jacket.images[0].path), filters=Filters(categories=(wanted,))
        )
        result = photo_engine.search(query)
        assert result.hits and all(wanted in h.product.category_path for h in result.hits)
        assert result.photo is not None and result.photo.used is None

    def test_a_store_without_categories_searches_photos_as_before(
        self, photo_engine, photo_store, text_encoder, effnet, tmp_path
    ):
        bare = [replace(p, category_path=[], categories=[]) for p in photo_store.products()]
        store = CatalogStore(tmp_path / "catalog.db")
        report = IngestReport(catalog="luma", source="subset", format="magento")
        store.replace_catalog("luma", bare, [], [], report)
        engine = SearchEngine(store, photo_engine.index, text_encoder, image_encoder=effnet)
        assert engine.photo_kinds is None
        product = bare[0]
        result = engine.search(SearchQuery(image=load_image(product.images[0].path), k=5))
        assert result.hits[0].product.id == product.id  # the nearest photo still comes first
        reading = result.photo
        assert reading is not None and reading.lookalike == product.id
        assert reading.guess is None and reading.used is None  # no kinds to tell

    def test_the_engine_before_photo_reading_can_still_be_asked(self, photo_engine):
        product = next(iter(photo_engine.view.products.values()))
        query = SearchQuery(image=load_image(product.images[0].path), read_photo=False)
        result = photo_engine.search(query)
        assert result.photo is not None
        assert result.photo.guess is None and result.photo.lookalike is None

    def test_the_photo_evaluation_grades_every_system(self, photo_engine):
        evaluation = RetrievalEvaluation(photo_engine, "luma", load_image, progress=False)
        views, altered, unseen = evaluation.photos(limit=None)
        systems = {"colour histogram", "image", "engine before photo reading", "engine"}
        for task in (views, altered, unseen):
            assert task.queries == 30 and set(task.metrics) == systems
            assert {"kind right", "lookalike said"} <= set(task.metrics["engine"])
        engine, before = altered.metrics["engine"], altered.metrics["engine before photo reading"]
        assert engine["shown@5"] >= before["shown@5"]
        assert engine["same kind"] > before["same kind"]
        # A product the store does not have: no card can be it, only of its kind.
        assert set(unseen.metrics["image"]) == {"same kind"}
        assert unseen.metrics["engine"]["lookalike said"] == 0
        # The held-out photos were given back to the probe afterwards.
        space = photo_engine.image_space
        fresh = PhotoKindProbe.fit(space.matrix, space.owner, photo_engine.view.products)
        probe = photo_engine.photo_kinds
        assert fresh is not None and probe is not None
        assert probe.kinds == fresh.kinds and np.allclose(probe.weights, fresh.weights)


@pytest.fixture(scope="module")
def photo_assistant(photo_engine, effnet, tmp_path_factory):
    """The real assistant over the 30-product photo engine."""
    from assistant import Assistant, RetrievalStack, Settings

    data = tmp_path_factory.mktemp("photo-assistant")
    settings = Settings(data_dir=data, turns_per_minute=0, client_sessions_per_minute=0)
    stack = RetrievalStack(
        settings=settings, store=photo_engine.store, index=photo_engine.index,
        cache=EmbeddingCache(data / "cache.db"), text_encoder=photo_engine.text_encoder,
        image_encoder=effnet, clip_encoder=None, colour_encoder=photo_engine.colour_encoder,
    )  # fmt: skip
    return Assistant(settings, stack)


class TestPhotoTurns:
    def test_the_reply_names_the_product_photographed(self, photo_assistant, photo_engine):
        product = next(iter(photo_engine.view.products.values()))
        reply = photo_assistant.respond("photo-1", "like this", image=product.images[0].path)
        first = reply.dialogue.suggestions[0]
        assert first.card.id == product.id
        assert f"That looks like our {product.title}." in reply.text
        assert first.reason.lower().startswith("looks like the one you photographed")

    def test_the_reply_says_the_kind_and_a_correction_keeps_the_photo(
        self, photo_assistant, photo_engine, luma_store
    ):
        engine = photo_engine
        # Photos of Luma products this store does not sell: a kind, and no lookalike.
        strangers = [
            p for p in luma_store.products("luma") if p.id not in engine.view.products and p.images
        ]
        for n, product in enumerate(strangers):
            path = product.images[0].path
            reading = engine.search(SearchQuery(image=load_image(path), k=5)).photo
            if reading is None or reading.lookalike or reading.used is None:
                continue
            session = f"photo-kind-{n}"
            reply = photo_assistant.respond(session, "", image=path)
            kind = reading.used.category.lower()
            assert "That looks like" in reply.text and kind in reply.text
            other = next(
                p.category_path[-1]
                for p in engine.view.products.values()
                if p.category_path[-1] != reading.used.category
            )
            noun = {"Hoodies & Sweatshirts": "hoodie", "Tees": "tee", "Jackets": "jacket",
                    "Pants": "pants", "Shorts": "shorts", "Tanks": "tank",
                    "Bras & Tanks": "bra"}.get(other, other.lower())  # fmt: skip
            corrected = photo_assistant.respond(session, f"no, it's a {noun}")
            cards = corrected.dialogue.suggestions
            assert cards and all(other.lower() in c.card.categories for c in cards), corrected.text
            assert photo_assistant.state(session).image is not None  # kept
            return
        pytest.fail("no photo of another product gave a kind without a lookalike")

    def test_a_new_request_after_a_photo_drops_the_photo(self, photo_assistant, photo_engine):
        product = next(iter(photo_engine.view.products.values()))
        photo_assistant.respond("photo-then-text", "like this", image=product.images[0].path)
        photo_assistant.respond("photo-then-text", "that's nice, now show me some bags")
        assert photo_assistant.state("photo-then-text").image is None


class TestPhotoBench:
    def test_bench_e2e_times_photo_turns(self, photo_assistant, tmp_path):
        from evals._bench_e2e import run

        report = run(photo_assistant, rounds=1, voice_repeat=0, out_dir=tmp_path, photo_repeat=3)
        photo = report["photo_turn_ms"]
        assert photo["n"] == 3 and 0 < photo["p50"] <= photo["p95"]
        assert report["targets"]["photo_turn_p95_ms"] == 300


class TestClipWiring:
    def test_clip_collection_indexed_and_used_for_text_and_photos(
        self, photo_store, text_encoder, tiny_clip, tmp_path
    ):
        engine = _index_and_engine(photo_store, tmp_path, text_encoder, clip_encoder=tiny_clip)
        assert engine.clip_space is not None
        photos = sum(len(p.images) for p in photo_store.products())
        assert len(engine.clip_space.ids) == photos
        assert engine.clip_space.matrix.shape == (photos, tiny_clip.dim)
        by_text = engine.search(
            SearchQuery(text="hoodie", rankers=("clip",), diversify=False, k=5)
        ).hits
        assert len(by_text) == 5 and all(h.evidence.channels == {"clip": i + 1}
                                         for i, h in enumerate(by_text))  # fmt: skip
        product = by_text[0].product
        by_photo = engine.search(
            SearchQuery(image=load_image(product.images[0].path), rankers=("clip_image",), k=1)
        ).hits
        assert by_photo[0].product.id == product.id  # its own photo is its nearest neighbour

    def test_clip_reads_the_kind_of_a_photo_with_the_probe(
        self, photo_store, text_encoder, effnet, tiny_clip, tmp_path, monkeypatch
    ):
        engine = _index_and_engine(
            photo_store, tmp_path, text_encoder, image_encoder=effnet, clip_encoder=tiny_clip
        )
        probe = engine.photo_kinds
        assert probe is not None
        asked: list[list[str]] = []
        encode = tiny_clip.encode_texts
        monkeypatch.setattr(
            tiny_clip, "encode_texts", lambda texts: asked.append(list(texts)) or encode(texts)
        )
        stranger = next(p for p in photo_store.products() if len(p.images) > 1)
        view = stranger.images[1]
        reading = engine.search(
            SearchQuery(image=load_image(view.path), ignore_image_paths=(view.path,))
        ).photo
        assert reading is not None and reading.guess is not None
        # Every kind the probe learnt was put to CLIP as a sentence ("a photo of men's jackets").
        assert sorted(t for batch in asked for t in batch) == sorted(probe.prompts())


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory) -> Iterator[str]:
    """A real `chroma run` on 127.0.0.1, stopped after the module."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


class TestChromaServer:
    def test_server_and_embedded_give_the_same_results(
        self, chroma_server, photo_store, text_encoder, tmp_path
    ):
        cache = EmbeddingCache(tmp_path / "cache.db")
        engines = []
        for index in (
            VectorIndex(url=chroma_server),
            VectorIndex(path=tmp_path / "embedded"),
        ):
            CatalogIndexer(photo_store, index, cache, text_encoder).sync(progress=False)
            engines.append(SearchEngine(photo_store, index, text_encoder))
        server, embedded = engines
        assert server.index.location.startswith("http://127.0.0.1")
        for text in ("warm hoodie", "running shorts", "jacket for rain"):
            query = SearchQuery(text=text, k=5)
            assert [h.product.id for h in server.search(query).hits] == [
                h.product.id for h in embedded.search(query).hits
            ]
        # Unfiltered HNSW through the server agrees with the embedded index too.
        vector = text_encoder.encode_texts(["jacket"])[0]
        name = next(iter(server.index.client.list_collections())).name
        assert [i for i, _ in server.index.query(name, vector, 5)] == [
            i for i, _ in embedded.index.query(name, vector, 5)
        ]

    def test_bad_url_is_refused(self):
        with pytest.raises(ValueError, match="http://host:port"):
            VectorIndex(url="ftp://nowhere")
        with pytest.raises(ValueError, match="exactly one"):
            VectorIndex()
