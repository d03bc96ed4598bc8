from __future__ import annotations

import sqlite3

import pytest

from retrieval import (
    CatalogStore,
    IngestReport,
    LinkKind,
    Product,
    Review,
    StoredLink,
    StoredReview,
    Variant,
    content_hash,
)


def _product(sku: str, catalog: str = "shop", **fields) -> Product:
    return Product(id=f"{catalog}:{sku}", sku=sku, catalog=catalog, title=f"Item {sku}", **fields)


def _replace(store: CatalogStore, catalog: str, products, reviews=(), links=()) -> None:
    report = IngestReport(catalog=catalog, source="test", format="generic")
    store.replace_catalog(catalog, list(products), list(reviews), list(links), report)


class TestCatalogStore:
    def test_round_trip_keeps_every_fact(self, store):
        product = _product(
            "A",
            price=50.0,
            sale_price=40.0,
            brand="Acme",
            category_path=["Women", "Tops"],
            categories=[["Women", "Tops"]],
            attributes={"material": ["Wool"]},
            variants=[Variant("A-S-RED", "S", "Red", True, 3, None)],
            tags=["on-sale"],
        )
        review = Review(4.0, "Warm and soft all winter", "Nice", "Kim")
        link = StoredLink(LinkKind.RELATED, "A", "B", "shop:A", None)
        _replace(store, "shop", [product], [StoredReview("A", "shop:A", review, "r.csv")], [link])
        loaded = store.get("shop:A")
        assert loaded.reviews == [review]
        assert [(k.kind, k.target_sku) for k in loaded.links] == [(LinkKind.RELATED, "B")]
        loaded.reviews, loaded.links = [], []
        assert loaded.to_dict() == product.to_dict()

    def test_replacing_one_catalog_leaves_others(self, store):
        _replace(store, "one", [_product("A", "one"), _product("B", "one")])
        _replace(store, "two", [_product("A", "two")])
        _replace(store, "one", [_product("C", "one")])
        assert store.catalogs() == ["one", "two"]
        assert [p.id for p in store.products("one")] == ["one:C"]
        assert store.get("two:A") is not None

    def test_failed_replace_rolls_back(self, store):
        _replace(store, "shop", [_product("A")])
        with pytest.raises(sqlite3.IntegrityError):
            _replace(store, "shop", [_product("B"), _product("B")])  # duplicate primary key
        assert [p.id for p in store.products()] == ["shop:A"]

    def test_get_many_keeps_order_and_skips_unknown(self, store):
        _replace(store, "shop", [_product(s) for s in "ABC"])
        assert [p.sku for p in store.get_many(["shop:C", "nope", "shop:A"])] == ["C", "A"]
        assert store.get("shop:Z") is None

    def test_facets_for_filters_and_vocabulary(self, store):
        _replace(
            store,
            "shop",
            [
                _product("A", brand="Acme", variants=[Variant("A1", "M", "Navy Blue")]),
                _product("B", attributes={"color": ["Red"]}, tags=["budget"]),
            ],
        )
        assert store.vocabulary("color") == ["navy blue", "red"]
        assert store.ids_with_facet("color", ["RED", "green"]) == {"shop:B"}
        assert store.ids_with_facet("size", ["m"]) == {"shop:A"}
        assert store.ids_with_facet("brand", ["acme"]) == {"shop:A"}
        assert store.ids_with_facet("tag", ["budget"]) == {"shop:B"}

    def test_orphan_reviews_kept_unattached(self, store):
        review = Review(5.0, "Great socks, warm feet")
        _replace(store, "shop", [_product("A")], [StoredReview("SOCK1", None, review, "r.csv")])
        assert store.get("shop:A").reviews == []
        [orphan] = store.reviews("shop", orphans_only=True)
        assert orphan.sku == "SOCK1" and orphan.review == review

    def test_content_hash_changes_with_facts(self):
        a, b = _product("A", price=10.0), _product("A", price=11.0)
        assert content_hash(a) != content_hash(b)
        assert content_hash(a) == content_hash(_product("A", price=10.0))

    def test_stats_on_real_catalog(self, luma_store):
        stats = luma_store.stats()
        assert stats.per_catalog == {"luma": 193, "eshop": 101}
        assert stats.products == 294 and stats.variants == 1847
        assert stats.coverage["images"] == 1.0
        assert stats.per_category["Men/Tops"] > 0
        assert stats.price_min <= stats.price_median <= stats.price_max
        assert stats.reviews_attached + stats.reviews_orphan == len(luma_store.reviews())
