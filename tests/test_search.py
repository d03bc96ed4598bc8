"""The search engine on the real Luma + eShop catalog, real MiniLM and a real embedded Chroma."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from retrieval import (
    CatalogIndexer,
    CatalogRetriever,
    CatalogStore,
    EmbeddingCache,
    Exclusions,
    Filters,
    Preferences,
    Product,
    SearchEngine,
    SearchQuery,
    VectorIndex,
    ingest,
)
from retrieval._documents import tokenize

pytestmark = pytest.mark.slow


def _search(engine: SearchEngine, text: str = "", k: int = 10, **filters) -> list:
    return engine.search(SearchQuery(text=text, filters=Filters(**filters), k=k)).hits


class TestTokens:
    def test_a_capacity_in_litres_is_one_token_however_written(self):
        for text in ("45 litre pack", "45L pack", "45 liters pack", "45-l pack"):
            assert tokenize(text) == ["45l", "pack"], text


class TestSort:
    """An asked-for order covers the whole result set, not a page of the best matches."""

    def test_price_orders_start_from_the_cheapest_and_the_dearest_of_all(self, engine):
        filters = Filters(categories=("Tops",), genders=("Women",))
        everything = engine.search(SearchQuery(text="top", filters=filters, k=100)).hits
        prices = [h.product.effective_price for h in everything]
        for sort, first in (("price_asc", min(prices)), ("price_desc", max(prices))):
            query = SearchQuery(text="top", filters=filters, k=5, sort=sort)
            hits = engine.search(query).hits
            shown = [h.product.effective_price for h in hits]
            assert shown[0] == first and len(shown) == 5
            assert shown == sorted(shown, reverse=sort == "price_desc")

    def test_an_unknown_order_is_refused(self):
        with pytest.raises(ValueError, match="sort must be one of"):
            SearchQuery(text="x", sort="colour")


class TestHardFilters:
    def test_price_range(self, engine):
        hits = _search(engine, "jacket", k=20, price_min=40, price_max=60)
        assert hits and all(40 <= h.product.effective_price <= 60 for h in hits)

    def test_colour_and_size_on_one_variant(self, engine):
        hits = _search(engine, "hoodie", k=20, colors=("Blue",), sizes=("XS",))
        assert hits
        for hit in hits:
            assert any(
                v.color == "Blue" and v.size == "XS" and v.in_stock for v in hit.product.variants
            )

    def test_category_and_gender(self, engine):
        hits = _search(engine, "pants", k=20, categories=("Pants",), genders=("Women",))
        assert hits
        assert all(["Women", "Bottoms", "Pants"] in h.product.categories for h in hits)

    def test_unisex_products_match_a_gender(self, engine):
        hits = _search(engine, "water bottle", k=30, genders=("Women",), categories=("Gear",))
        bottle = next(h for h in hits if h.product.id == "luma:24-UG06")
        assert "Unisex" in bottle.product.attributes["gender"]

    def test_brand_material_activity_rating(self, engine):
        assert all(
            h.product.brand == "Daybird" for h in _search(engine, "boots", brands=("Daybird",))
        )
        for hit in _search(engine, "top", k=20, attributes={"material": ("Wool",)}):
            assert "Wool" in hit.product.attributes["material"]
        for hit in _search(engine, "bag", k=20, attributes={"activity": ("Travel",)}):
            recorded = hit.product.attributes.get("activity")
            # a product whose catalog records no activity counts when its title says it
            assert "Travel" in recorded if recorded else "travel" in hit.product.title.lower()

    def test_a_title_stands_in_for_an_attribute_the_catalog_does_not_record(self, engine):
        hits = _search(engine, "duffel", k=20, attributes={"features": ("Waterproof",)})
        unrecorded = [h for h in hits if not h.product.attributes.get("features")]
        assert unrecorded and all("waterproof" in h.product.title.lower() for h in unrecorded)
        recorded = [h for h in hits if h.product.attributes.get("features")]
        assert recorded and all("Waterproof" in h.product.attributes["features"] for h in recorded)
        soft = _search(engine, "jacket", k=20, kinds=("soft shell",))
        assert any("softshell" in h.product.title.lower() for h in soft)
        rated = _search(engine, "bag", k=20, min_rating=4)
        assert rated and all(h.product.rating >= 4 for h in rated)

    def test_on_sale_and_in_stock(self, engine):
        hits = _search(engine, "", k=50, on_sale=True)
        assert hits and all(hit.product.in_sale for hit in hits)
        assert any(not hit.product.on_sale for hit in hits)  # Luma's sale flag and categories
        labelled = next(h for h in hits if not h.product.on_sale)
        assert "in the store's sale" in labelled.evidence.met
        assert all(h.product.in_stock for h in _search(engine, "shirt", k=20, in_stock=True))

    def test_the_stores_sale_label_counts_as_on_sale(self):
        plain = Product(id="s:1", sku="1", catalog="s", title="Tee", price=20.0)
        assert not plain.in_sale
        assert replace(plain, sale_price=15.0).in_sale  # a real price cut
        assert replace(plain, attributes={"sale": ["Yes"]}).in_sale  # Magento apparel
        assert replace(plain, attributes={"sale": ["1"]}).in_sale  # Magento gear CSVs
        assert not replace(plain, attributes={"sale": ["No", "0"]}).in_sale
        assert replace(plain, categories=[["Promotions", "Women Sale"]]).in_sale
        assert not replace(plain, categories=[["Women", "Tops", "Tees"]]).in_sale

    def test_catalog(self, engine):
        assert all(h.product.catalog == "eshop" for h in _search(engine, "jacket", catalog="eshop"))

    def test_invalid_filters_rejected(self):
        with pytest.raises(ValueError, match="negative"):
            Filters(price_max=-5)
        with pytest.raises(ValueError, match="above price_max"):
            Filters(price_min=50, price_max=10)
        with pytest.raises(ValueError, match="k must be"):
            SearchQuery(text="x", k=0)


class TestFilterAttributes:
    """The catalog's other facets (FILTER_ATTRIBUTES): one mechanism for all of them. Luma's
    `pattern` filters here with no code of its own beyond its name in that list."""

    def test_a_pattern_filters_excludes_and_is_met(self, engine, luma_store):
        striped = {
            p.id for p in luma_store.products() if "Striped" in p.attribute_values("pattern")
        }
        hits = _search(engine, "", k=50, attributes={"pattern": ("striped",)})
        assert striped and {h.product.id for h in hits} == striped
        assert all("pattern: Striped" in h.evidence.met for h in hits)
        query = SearchQuery(
            text="shorts",
            filters=Filters(categories=("Shorts",)),
            exclude=Exclusions(attributes={"pattern": ("Solid", "Striped")}),
            k=30,
        )
        kept = engine.search(query).hits
        assert kept and not any(
            {"Solid", "Striped"} & set(h.product.attribute_values("pattern")) for h in kept
        )

    def test_the_nearest_relaxation_drops_one_attribute_and_keeps_the_others(self, engine):
        filters = Filters(
            categories=("Shorts",), attributes={"pattern": ("Checked",), "material": ("Cotton",)}
        )
        assert filters.active() == ["categories", "pattern", "material"]
        assert filters.without("pattern").attributes == {"material": ("Cotton",)}
        result = engine.search(SearchQuery(text="shorts", filters=filters))
        assert result.hits == [] and "pattern Checked" in result.empty_reason
        assert result.relaxation is not None and result.relaxation.dropped == "pattern"
        assert all(
            "Cotton" in h.product.attribute_values("material") for h in result.relaxation.hits
        )

    def test_filters_with_attributes_are_cache_keys_and_unknown_ones_are_refused(self):
        one = Filters(attributes={"pattern": ["Striped"], "material": ()})
        assert one == Filters(attributes={"pattern": ("Striped",)})
        assert hash(one) == hash(Filters(attributes={"pattern": ("Striped",)}))
        assert one.active() == ["pattern"] and not Filters().active()
        with pytest.raises(ValueError, match=r"unknown attribute 'fabric'.*filterable: material"):
            Filters(attributes={"fabric": ("Wool",)})
        with pytest.raises(ValueError, match="unknown attribute"):
            Exclusions(attributes={"fabric": ("Wool",)})


class TestNegativeFilters:
    def test_not_a_colour_keeps_items_that_come_in_others(self, engine):
        query = SearchQuery(text="tee", exclude=Exclusions(colors=("Black",)), k=30)
        hits = engine.search(query).hits
        assert hits
        assert all(set(h.product.colors) - {"Black"} for h in hits)
        only_black = [p for p in engine.view.products.values() if p.colors == ["Black"]]
        assert not {p.id for p in only_black} & {h.product.id for h in hits}

    def test_not_a_brand_or_category_or_that_one(self, engine):
        hits = engine.search(
            SearchQuery(text="backpack", exclude=Exclusions(brands=("Daybird",)), k=20)
        ).hits
        assert hits and all(h.product.brand != "Daybird" for h in hits)
        hoodies = engine.search(
            SearchQuery(text="warm top", exclude=Exclusions(categories=("Hoodies & Sweatshirts",)))
        ).hits
        assert all("Hoodies & Sweatshirts" not in h.product.category_path for h in hoodies)
        first = _search(engine, "yoga pants")[0].product.id
        again = engine.search(
            SearchQuery(text="yoga pants", exclude=Exclusions(product_ids=(first,)))
        ).hits
        assert first not in {h.product.id for h in again}

    def test_not_a_kind_named_in_titles_nor_the_sale(self, engine):
        bags = Filters(categories=("Bags",))
        hits = engine.search(
            SearchQuery(text="bag", filters=bags, exclude=Exclusions(kinds=("backpacks",)), k=30)
        ).hits
        assert hits and not any("backpack" in h.product.title.lower() for h in hits)
        assert any("backpack" in p.title.lower() for p in engine.view.products.values())
        tees = SearchQuery(text="tee", exclude=Exclusions(on_sale=True), k=40)
        hits = engine.search(tees).hits
        assert hits and not any(h.product.in_sale for h in hits)


class TestKindNouns:
    """What the titles call products, read from the real Luma catalog."""

    def test_a_noun_filters_by_title_only_where_titles_use_it(self, engine):
        bags = engine.search(
            SearchQuery(text="duffel", filters=Filters(categories=("Bags",), kinds=("duffel",)))
        ).hits
        titles = [h.product.title for h in bags]
        # Luma writes "Duffle": the same noun with two letters swapped
        assert any("Duffle" in t for t in titles)
        assert all("duffle" in t.lower() or "duffel" in t.lower() for t in titles)
        unnamed = engine.search(
            SearchQuery(
                text="resistance bands",
                filters=Filters(categories=("Fitness Equipment",), kinds=("resistance bands",)),
            )
        )
        assert unnamed.hits  # no title says "resistance bands": the words rank instead
        assert not unnamed.empty_reason

    def test_nouns_find_the_department_not_the_campaign(self, engine):
        kinds = engine.view.kind_nouns()
        assert kinds["duffle"] == "Bags"  # also in "New Luma Yoga Collection"
        assert kinds["watch"] == "Watches"
        assert kinds["strap"] == "Fitness Equipment"  # "Sprite Yoga Strap 6 foot"
        assert kinds["jump rope"] == "Fitness Equipment"
        assert kinds["hoodie"] == "Hoodies & Sweatshirts"

    def test_names_are_the_distinctive_words_titles_open_with(self, engine):
        names = engine.view.product_names()
        assert names["teton"] == ("Teton Pullover Hoodie",)
        assert set(names["trailtracker"]) == {"TrailTracker GPS Watch", "TrailTracker Hiking Shoes"}
        assert "pulse recon" in names
        # words further in describe; colours, genders and kinds name no product
        assert not {"hooded", "insulated", "black", "women", "jacket", "yoga"} & set(names)

    def test_a_price_at_the_limit_is_said_as_it_is(self):
        from retrieval._search import _constraints_met, _constraints_unmet

        at_sixty = Product.from_dict(
            {"id": "x:1", "catalog": "x", "sku": "1", "title": "T", "price": 60.0}
        )
        assert _constraints_met(at_sixty, Filters(price_max=60.0)) == [
            "$60.00, at your $60.00 limit"
        ]  # "60 max"
        assert _constraints_unmet(at_sixty, Filters(price_max=59.999), set()) == [
            "$60.00, not under your $60.00 limit"
        ]  # "under 60"

    def test_one_catalog_of_a_shared_data_dir(self, engine):
        eshop = SearchEngine(engine.store, engine.index, engine.text_encoder, catalog="eshop")
        assert eshop.view.ids and all(pid.startswith("eshop:") for pid in eshop.view.ids)
        hits = eshop.search(SearchQuery(text="duffle bag for the gym")).hits
        assert hits and all(h.product.catalog == "eshop" for h in hits)

    def test_the_stores_labels_filter_together(self, engine):
        view = engine.view
        flagged = {
            p.id
            for p in view.products.values()
            if {"yes", "1"} & {v.lower() for v in p.attributes.get("eco_collection", [])}
        }
        hits = engine.search(
            SearchQuery(text="shorts", filters=Filters(labels=("eco collection",)))
        )
        assert hits.hits and {h.product.id for h in hits.hits} <= flagged
        both = Filters(labels=("eco collection", "new"))
        allowed = set(view.ids_of(view.allowed(both, Exclusions())))
        assert allowed and all({"eco collection", "new"} <= view.labels_of(pid) for pid in allowed)

    def test_a_campaign_category_is_a_label_and_joins_its_namesake_flag(self, engine):
        view = engine.view
        campaign = {
            p.id
            for p in view.products.values()
            if any("Performance Fabrics" in path for path in p.categories)
        }
        flagged = {
            p.id
            for p in view.products.values()
            if {"yes", "1"} & {v.lower() for v in p.attributes.get("performance_fabric", [])}
        }
        labelled = set(
            view.ids_of(view.allowed(Filters(labels=("performance fabric",)), Exclusions()))
        )
        assert campaign and labelled == campaign | flagged
        assert "eco friendly" in view.labels_of(next(iter(
            p.id for p in view.products.values()
            if any("Eco Friendly" in path for path in p.categories)
        )))  # fmt: skip

    def test_a_style_names_products_whose_titles_do_not(self, engine):
        view = engine.view
        capri_styled = {
            p.id for p in view.products.values()
            if "capri" in {s.lower() for s in p.attribute_values("style")}
        }  # fmt: skip
        named = set(view.ids_of(view.named_as(["capris"])))
        untitled = {pid for pid in capri_styled if "capri" not in view.products[pid].title.lower()}
        assert untitled and capri_styled <= named  # "Sahara Leggings" filed under Capri
        hits = engine.search(
            SearchQuery(
                text="pants",
                filters=Filters(categories=("Pants",)),
                exclude=Exclusions(kinds=("capris",)),
                k=30,
            )
        ).hits
        assert hits and not {h.product.id for h in hits} & capri_styled

    def test_a_style_wish_puts_the_products_filed_under_it_first(self, engine):
        def page(terms: tuple[str, ...]) -> list:
            query = SearchQuery(
                text="jacket",
                filters=Filters(categories=("Jackets",), genders=("Women",)),
                prefer=Preferences(terms=terms),
                k=5,
            )
            return engine.search(query).hits

        full_zip = [
            h for h in page(("full zip",)) if "full zip" in engine.view.styles_of(h.product.id)
        ]
        plain = [h for h in page(()) if "full zip" in engine.view.styles_of(h.product.id)]
        assert len(full_zip) >= 4 and len(full_zip) > len(plain)

    def test_describing_words_and_measures_are_no_nouns(self, engine):
        kinds = engine.view.kind_nouns()
        assert not {"black", "cotton", "women", "foot", "cm", "6"} & set(kinds)


class TestEmptyResults:
    def test_says_which_filter_emptied_it_and_offers_the_nearest_relaxation(self, engine):
        result = engine.search(
            SearchQuery(
                text="jacket", filters=Filters(colors=("Purple",), sizes=("XS",), price_max=20)
            )
        )
        assert result.hits == []
        assert "price limit $20.00" in result.empty_reason
        relaxation = result.relaxation
        assert relaxation.dropped == "price_max"
        assert relaxation.count > 0 and relaxation.hits
        assert all("Purple" in h.product.colors for h in relaxation.hits)

    def test_nothing_anywhere(self, engine):
        result = engine.search(SearchQuery(text="x", filters=Filters(brands=("NoSuchBrand",))))
        assert result.hits == [] and result.relaxation is not None
        assert "brand NoSuchBrand" in result.empty_reason


class TestRankingAndFusion:
    def test_relevant_items_first(self, engine):
        top = [h.product.title for h in _search(engine, "waterproof hiking boots", k=3)]
        assert any("Hiking Boots" in t for t in top)
        assert "Hoodie" in _search(engine, "hoodie for men", genders=("Men",))[0].product.title

    def test_fusion_records_each_ranker(self, engine):
        hit = _search(engine, "yoga pants")[0]
        assert {"dense", "bm25"} <= set(hit.evidence.channels)

    def test_rrf_prefers_agreement(self, engine):
        fused = engine._fuse({"dense": [("a", 0.9), ("b", 0.8)], "bm25": [("b", 5.0), ("c", 4.0)]})
        assert [pid for pid, _, _ in fused] == ["b", "a", "c"]
        assert fused[0][1] == 1.0 and fused[0][2] == {"dense": 2, "bm25": 1}

    def test_cheaper_preference_lowers_prices(self, engine):
        plain = _search(engine, "jacket", k=5)
        cheaper = engine.search(
            SearchQuery(text="jacket", prefer=Preferences(cheaper=True), k=5)
        ).hits
        mean = lambda hits: sum(h.product.effective_price for h in hits) / len(hits)  # noqa: E731
        assert mean(cheaper) < mean(plain)

    def test_closeness_tells_a_need_from_an_off_topic_question(self, engine):
        need = engine.closeness("my feet get soaked on muddy trails")
        off_topic = engine.closeness("what's the mortgage rate today?")
        assert 0 < off_topic < need <= 1
        assert engine.closeness("  ") == 0.0

    def test_no_text_browses_the_filtered_set(self, engine):
        hits = _search(engine, "", k=5, categories=("Watches",))
        assert len(hits) == 5 and all("Watches" in h.product.category_path for h in hits)


class TestVariety:
    def test_size_and_colour_siblings_do_not_fill_the_page(self, engine):
        hits = _search(engine, "stasis ball", k=5)
        balls = [h for h in hits if "Stasis Ball" in h.product.title]
        assert len(balls) == 1
        assert len({h.product.title for h in hits}) == 5


class TestEvidence:
    def test_constraints_price_text_and_review(self, engine):
        hits = _search(engine, "yoga pants", k=10, price_max=50, genders=("Women",))
        hit = hits[0]
        price = hit.product.effective_price
        assert f"${price:.2f}, under your $50.00 limit" in hit.evidence.met
        assert hit.evidence.price_vs_limit == round(50 - price, 2)
        assert hit.evidence.text_span and hit.evidence.text_span in hit.product.description
        with_review = [h for h in hits if h.evidence.review_snippet]
        assert with_review
        for h in with_review:
            assert h.evidence.review_rating >= 4
            assert any(
                h.evidence.review_snippet in f"{r.title}. {r.text}" for r in h.product.reviews
            )


class TestItemToItem:
    def test_similar_excludes_the_seed_and_uses_links(self, engine):
        hits = engine.similar("luma:MH01", k=10).hits
        assert "luma:MH01" not in {h.product.id for h in hits}
        assert any("links" in h.evidence.channels for h in hits)

    def test_complete_the_look_avoids_the_same_kind(self, engine):
        hits = engine.complete_the_look("luma:MH01")
        assert hits
        assert all(h.product.category_path[-1:] != ["Hoodies & Sweatshirts"] for h in hits)

    def test_unknown_seed(self, engine):
        with pytest.raises(KeyError):
            engine.similar("luma:NOPE")


class TestCacheAndLangChain:
    def test_repeated_query_served_from_cache(self, engine):
        query = SearchQuery(text="red running shorts", k=3)
        assert engine.search(query) is engine.search(query)

    def test_langchain_retriever(self, engine):
        retriever = CatalogRetriever(engine=engine, k=3, filters=Filters(genders=("Men",)))
        documents = retriever.invoke("hoodie")
        assert len(documents) == 3
        assert all(d.metadata["product_id"].startswith("luma:") for d in documents)
        assert "Men" in documents[0].metadata["gender"]
        assert documents[0].page_content.startswith(engine.view.products[documents[0].id].title)


class TestIndexSync:
    def test_only_changed_products_are_encoded(self, tmp_path: Path, text_encoder, cleaning):
        store = CatalogStore(tmp_path / "c.db")
        src = tmp_path / "shop.csv"
        src.write_text("id,title,price\nA,Red mug,3\nB,Blue cup,4\nC,Green bowl,5\n")
        ingest(src, store, catalog="shop", cleaning=cleaning, progress=False)
        index = VectorIndex(path=tmp_path / "chroma")
        indexer = CatalogIndexer(store, index, EmbeddingCache(tmp_path / "cache.db"), text_encoder)
        name = indexer.text_collection
        assert indexer.sync(progress=False).encoded[name] == 3
        assert indexer.sync(progress=False).encoded[name] == 0
        src.write_text("id,title,price\nA,Red mug,3\nB,Navy cup,4\n")
        ingest(src, store, catalog="shop", cleaning=cleaning, progress=False)
        stats = indexer.sync(progress=False)
        assert stats.encoded[name] == 1 and stats.removed[name] == 1
        assert set(index.stored(name)) == {"shop:A", "shop:B"}


class TestAlternatives:
    def test_short_page_gets_labelled_near_matches(self, engine):
        query = SearchQuery(
            text="hoodie", filters=Filters(categories=("Hoodies & Sweatshirts",),
                                           genders=("Men",), colors=("Blue",), price_max=45), k=6,
        )  # fmt: skip
        result = engine.search(query)
        assert 0 < len(result.hits) < 6
        assert len(result.alternatives) == 6 - len(result.hits)
        strict = {h.product.id for h in result.hits}
        for alt in result.alternatives:
            assert alt.product.id not in strict
            assert "Hoodies & Sweatshirts" in alt.product.category_path
            assert alt.evidence.unmet
            price = alt.product.effective_price
            over = price > 45
            assert over == any("over your $45.00 limit" in u for u in alt.evidence.unmet)
            no_blue = "Blue" not in alt.product.colors
            assert no_blue == ("not available in Blue" in alt.evidence.unmet)

    def test_full_page_needs_none(self, engine):
        result = engine.search(SearchQuery(text="jacket", filters=Filters(genders=("Women",))))
        assert len(result.hits) == 10 and result.alternatives == []


class TestAudience:
    def test_more_like_this_prefers_the_same_shopper(self, engine):
        hits = engine.search(
            SearchQuery(similar_to="luma:WH01", rankers=("audience",), diversify=False)
        ).hits
        assert hits
        assert all({"Women", "Unisex"} & set(h.product.attribute_values("gender")) for h in hits)


class TestBM25Index:
    def test_scores_match_the_formula(self):
        import math

        from retrieval._lexical import BM25Index

        docs = [["red", "mug"], ["blue", "mug", "mug"], ["red", "red", "bowl", "big"]]
        bm25 = BM25Index(docs, k1=1.5, b=0.75)
        average = 3.0

        def weight(tf: int, length: int, df: int) -> float:
            idf = math.log1p((3 - df + 0.5) / (df + 0.5))
            return idf * tf * 2.5 / (tf + 1.5 * (0.25 + 0.75 * length / average))

        scores = bm25.scores(["red", "mug"])
        assert scores[0] == pytest.approx(weight(1, 2, 2) + weight(1, 2, 2), rel=1e-5)
        assert scores[1] == pytest.approx(weight(2, 3, 2), rel=1e-5)
        assert scores[2] == pytest.approx(weight(2, 4, 2), rel=1e-5)
        assert bm25.scores(["unknown"]).tolist() == [0.0, 0.0, 0.0]


class TestVectorIndexPaging:
    def test_reads_whole_collections_in_pages(self, tmp_path, monkeypatch):
        import numpy as np

        from retrieval import _index

        monkeypatch.setattr(_index, "PAGE", 2)
        index = VectorIndex(path=tmp_path / "chroma")
        vectors = np.eye(5, dtype=np.float32)
        index.upsert("paged", [f"p{i}" for i in range(5)], vectors, [{"n": i} for i in range(5)])
        ids, matrix, metadata = index.vectors("paged")
        assert sorted(ids) == [f"p{i}" for i in range(5)]
        for vector_id, row, meta in zip(ids, matrix, metadata, strict=True):
            assert int(vector_id[1:]) == meta["n"] == int(np.argmax(row))
        assert set(index.stored("paged")) == set(ids)


class TestHnswPath:
    def test_unfiltered_queries_past_the_exact_limit_use_hnsw_and_agree(self, engine):
        hnsw = SearchEngine(engine.store, engine.index, engine.text_encoder, exact_limit=50)
        calls = []
        original = hnsw.index.query

        def spy(*args, **kwargs):
            calls.append(args[0])
            return original(*args, **kwargs)

        hnsw.index.query = spy  # type: ignore[method-assign]
        for text in ("waterproof hiking boots", "women's yoga pants", "duffle bag"):
            query = SearchQuery(text=text, rankers=("dense",), diversify=False, k=5)
            assert [h.product.id for h in hnsw.search(query).hits] == [
                h.product.id for h in engine.search(query).hits
            ]
        assert calls  # the unfiltered dense ranker went through Chroma's HNSW
        filtered = SearchQuery(text="boots", filters=Filters(catalog="eshop"), rankers=("dense",))
        calls.clear()
        hnsw.search(filtered)
        assert not calls  # filtered queries are scored exactly


class TestTextEncoderWords:
    def test_the_vocabulary_of_whole_words_the_dialogue_keeps_from_spelling_fixes(
        self, text_encoder
    ):
        words = text_encoder.words()
        assert {"while", "feathers", "jacket"} <= words
        assert len(words) > 10_000
        assert not any(w.startswith("#") or len(w) < 3 or not w.isalpha() for w in words)
