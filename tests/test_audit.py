"""The recommendation audit: exposure, skew, diversity and novelty metrics, facet labels, the
query set and a small run over the real Luma + eShop engine."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from evals._retrieval_audit import (
    ALL,
    ATTRIBUTE,
    FACETS,
    FREE_TEXT,
    NO_BRAND,
    NO_CATEGORY,
    NO_PRICE,
    audit_group,
    audit_queries,
    catalog_shares,
    coverage,
    exposure_shares,
    facet_labels,
    intra_list_similarity,
    mean_self_information,
    popularity,
    position_weight,
    price_band,
    price_band_edges,
    product_kind,
    run_audit,
    save_audit,
    skew_ratios,
    total_variation,
)
from retrieval import Product


def _product(pid: str, price: float | None = None, **fields: Any) -> Product:
    return Product(id=pid, sku=pid, catalog="c", title=pid, price=price, **fields)


class TestExposure:
    def test_plain_shares_count_slots(self):
        shares = exposure_shares([["a", "b"], ["a", "a"]])
        assert shares == {"a": 0.75, "b": 0.25}

    def test_weighted_shares_favour_the_top(self):
        shares = exposure_shares([["a", "b"]], weighted=True)
        top, second = position_weight(1), position_weight(2)
        assert top == 1.0 and second == pytest.approx(1 / math.log2(3))
        assert shares["a"] == pytest.approx(top / (top + second))
        assert shares["a"] > shares["b"]

    def test_no_slots_no_shares(self):
        assert exposure_shares([[], []]) == {}

    def test_catalog_shares(self):
        assert catalog_shares(["x", "y", "y", "y"]) == {"x": 0.25, "y": 0.75}


class TestSkew:
    def test_exposure_matching_the_catalog_has_no_skew(self):
        catalog = {"a": 0.5, "b": 0.25, "c": 0.25}
        assert total_variation(catalog, dict(catalog)) == 0.0
        assert skew_ratios(catalog, catalog) == {"a": 1.0, "b": 1.0, "c": 1.0}

    def test_unshown_values_and_disjoint_shares(self):
        catalog = {"a": 0.5, "b": 0.5}
        assert skew_ratios({"a": 1.0}, catalog) == {"a": 2.0, "b": 0.0}
        assert total_variation({"a": 1.0}, catalog) == pytest.approx(0.5)
        assert total_variation({"a": 1.0}, {"b": 1.0}) == pytest.approx(1.0)


class TestDiversity:
    def test_identical_vectors_have_ils_one(self):
        assert intra_list_similarity(np.tile([3.0, 4.0], (5, 1))) == pytest.approx(1.0)

    def test_orthogonal_and_opposite_vectors(self):
        assert intra_list_similarity(np.eye(3)) == pytest.approx(0.0)
        assert intra_list_similarity(np.array([[1.0, 0.0], [-2.0, 0.0]])) == pytest.approx(-1.0)

    def test_mean_over_pairs_ignores_length(self):
        # Pairs: (e1, e1) = 1, (e1, e2) = 0 twice -> 1/3.
        vectors = np.array([[1.0, 0.0], [5.0, 0.0], [0.0, 1.0]])
        assert intra_list_similarity(vectors) == pytest.approx(1 / 3)

    def test_fewer_than_two_items_have_no_ils(self):
        assert intra_list_similarity(np.ones((1, 4))) is None

    def test_coverage(self):
        assert coverage([["a", "b"], ["b", "z"]], ["a", "b", "c", "d"]) == 0.5


class TestNovelty:
    def test_popularity_is_add_one_smoothed_and_normalised(self):
        popular = popularity({"a": 3, "b": 1, "c": 0})
        assert popular == pytest.approx({"a": 4 / 7, "b": 2 / 7, "c": 1 / 7})
        assert sum(popular.values()) == pytest.approx(1.0)

    def test_self_information_in_bits(self):
        popular = {"a": 0.5, "b": 0.25, "c": 0.25}
        assert mean_self_information(["a"], popular) == pytest.approx(1.0)
        assert mean_self_information(["a", "b"], popular) == pytest.approx(1.5)
        assert mean_self_information(["c"], popular) > mean_self_information(["a"], popular)


class TestFacetLabels:
    def test_kind_stops_before_merchandising_branches(self):
        bag = _product("b", category_path=["Gear", "Bags", "Collections", "Erin Recommends"])
        tee = _product("t", category_path=["Men", "Tops", "Tees"])
        assert product_kind(bag) == "Bags"
        assert product_kind(tee) == "Tees"
        assert product_kind(_product("n")) == NO_CATEGORY

    def test_price_bands_are_quantiles(self):
        edges = price_band_edges([1, 2, 3, 4, 5, 6, 7, 9])
        assert edges == pytest.approx([1.0, 2.75, 4.5, 6.25, 9.0])
        assert price_band(1, edges) == "$1-$3"
        assert price_band(2.75, edges) == "$1-$3"  # an inner edge belongs to the lower band
        assert price_band(9, edges) == "$6-$9"
        assert price_band(None, edges) == NO_PRICE
        assert price_band(4, price_band_edges([4, 4, 4])) == "$4-$4"

    def test_labels_per_facet(self):
        products = [
            _product("a", 10.0, brand="Acme", category_path=["Bags"]),
            _product("b", 20.0, category_path=["Bags"]),
            _product("c", None, brand="Acme", category_path=["Shoes"]),
        ]
        labels = facet_labels(products)
        assert set(labels) == set(FACETS)
        assert labels["brand"] == {"a": "Acme", "b": NO_BRAND, "c": "Acme"}
        assert labels["category"] == {"a": "Bags", "b": "Bags", "c": "Shoes"}
        assert labels["price band"]["c"] == NO_PRICE

    def test_group_audit_on_known_lists(self):
        labels = {"brand": {"a": "X", "b": "Y", "c": "Y", "d": "Y"}}
        vectors = {"a": np.array([1.0, 0.0]), "b": np.array([1.0, 0.0])}
        popular = popularity({"a": 1, "b": 1, "c": 1, "d": 1})
        group = audit_group([["a", "b"], ["a"]], labels, vectors, popular)
        (brand,) = group.facets
        x = next(v for v in brand.values if v.value == "X")
        assert (x.catalog, x.exposure, x.skew) == (0.25, pytest.approx(2 / 3), pytest.approx(8 / 3))
        assert brand.tvd == pytest.approx(2 / 3 - 0.25)
        assert group.ils == pytest.approx(1.0)  # the one-item list has no ILS
        assert group.coverage == 0.5 and group.novelty == pytest.approx(2.0)


class TestQueries:
    def test_every_attribute_query_has_an_unfiltered_twin(self, luma_store):
        queries = audit_queries(luma_store.products(), limit=10)
        assert len(queries) == 20
        attribute, free = queries[0::2], queries[1::2]
        assert {q.kind for q in attribute} == {ATTRIBUTE} and {q.kind for q in free} == {FREE_TEXT}
        for query, twin in zip(attribute, free, strict=True):
            assert query.text in twin.text and twin.text != query.text
            assert query.filters.categories and query.filters.catalog is None
            assert twin.filters.active() == []


@pytest.mark.slow
class TestRunAudit:
    def test_small_run_on_the_store(self, engine, tmp_path: Path):
        products = list(engine.view.products.values())
        queries = audit_queries(products, limit=6)
        report = run_audit(engine, products, queries, k=5, progress=False)
        assert set(report.groups) == {ALL, ATTRIBUTE, FREE_TEXT}
        everything = report.groups[ALL]
        assert everything.queries == 12 and report.groups[ATTRIBUTE].queries == 6
        labels = facet_labels(products)
        for facet in everything.facets:
            assert {v.value for v in facet.values} == set(labels[facet.name].values())
            for shares in ("catalog", "exposure", "weighted"):
                total = sum(getattr(v, shares) for v in facet.values)
                assert total == pytest.approx(1.0), (facet.name, shares)
            assert 0 <= facet.tvd <= 1 and 0 <= facet.weighted_tvd <= 1
        brand = next(f for f in everything.facets if f.name == "brand")
        assert NO_BRAND in {v.value for v in brand.values}  # Luma has no brands
        assert everything.ils is not None and -1 <= everything.ils <= 1
        assert 0 < everything.coverage <= 12 * 5 / len(products)
        assert everything.novelty is not None and everything.novelty > 0

        paths = save_audit(report, tmp_path)
        saved = json.loads(paths["json"].read_text())
        assert saved["groups"]["all"]["coverage"] == everything.coverage
        assert "| (no brand) |" in paths["markdown"].read_text()
        with Image.open(paths["chart"]) as chart:
            chart.verify()
            assert chart.format == "PNG" and chart.size[0] > 0
