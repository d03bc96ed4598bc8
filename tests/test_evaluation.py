"""The retrieval evaluation: metrics, generated queries and a small run on the real catalog."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from evals._retrieval_eval import (
    AttributeQuery,
    RetrievalEvaluation,
    altered_copy,
    attribute_queries,
    ndcg_at,
    photo_half,
    reciprocal_rank,
    save_report,
)
from retrieval import Product


class TestPhotoHalves:
    def test_a_fixed_even_split_by_product(self):
        ids = [f"luma:{n}" for n in range(101)]
        halves = photo_half(ids)
        assert set(halves) == set(ids)
        assert sum(h == "dev" for h in halves.values()) == 50  # the odd one out is test
        assert photo_half(reversed(ids)) == halves  # the order products come in does not matter
        assert photo_half(ids, seed=1) != halves


class TestAlteredCopies:
    @staticmethod
    def photo() -> Image.Image:
        image = Image.new("RGB", (64, 48), (200, 30, 30))
        image.paste((20, 20, 220), (10, 10, 40, 30))
        return image

    def test_a_products_copy_depends_on_its_id_and_the_seed_only(self):
        first = altered_copy(self.photo(), "luma:MJ01", seed=7)
        again = altered_copy(self.photo(), "luma:MJ01", seed=7)
        assert first.tobytes() == again.tobytes()  # whatever was altered before it

    def test_copies_differ_across_products_and_seeds(self):
        copies = {altered_copy(self.photo(), f"luma:{n}", seed=7).tobytes() for n in range(12)}
        assert len(copies) > 3  # several kinds of alteration, drawn per product
        reseeded = [altered_copy(self.photo(), f"luma:{n}", seed=8).tobytes() for n in range(12)]
        assert set(reseeded) != copies


class TestMetrics:
    def test_ndcg(self):
        assert ndcg_at([2, 2, 1], [2, 2, 1, 0]) == pytest.approx(1.0)
        assert ndcg_at([0, 1, 2], [2, 1, 0]) < ndcg_at([2, 1, 0], [2, 1, 0])
        assert ndcg_at([0, 0], [0, 0]) == 0.0

    def test_reciprocal_rank(self):
        assert reciprocal_rank([False, True]) == 0.5
        assert reciprocal_rank([False, False]) == 0.0


class TestAttributeQueries:
    def test_grades(self):
        jacket = Product(
            id="c:1", sku="1", catalog="c", title="Shell", price=50.0,
            categories=[["Women", "Tops", "Jackets"]], category_path=["Women", "Tops", "Jackets"],
            attributes={"gender": ["Women"], "color": ["Blue"]},
        )  # fmt: skip
        assert AttributeQuery("blue jacket", "Jackets", "Women", color="Blue").grade(jacket) == 2
        assert AttributeQuery("red jacket", "Jackets", "Women", color="Red").grade(jacket) == 1
        assert AttributeQuery("cheap jacket", "Jackets", price_max=40).grade(jacket) == 1
        assert AttributeQuery("pants", "Pants").grade(jacket) == 0

    def test_generated_from_the_catalog_each_with_an_answer(self, luma_store):
        products = luma_store.products("luma")
        queries = attribute_queries(products)
        assert len(queries) >= 60
        assert len({q.text for q in queries}) == len(queries)
        assert any(q.price_max for q in queries) and any(q.color for q in queries)
        for query in queries:
            assert any(query.grade(p) == 2 for p in products), query.text


@pytest.mark.slow
class TestRetrievalEvaluation:
    def test_small_run_reports_every_system_and_saves(self, engine, tmp_path):
        evaluation = RetrievalEvaluation(engine, "luma", None, progress=False)
        tasks = evaluation.run(limit=12)
        attributes, *photos, items = tasks
        assert set(attributes.metrics) == {
            "random", "bm25", "dense", "image", "hybrid", "hybrid + constraints",
        }  # fmt: skip
        assert len(photos) == 3
        for task in photos:
            assert task.metrics == {} and "No image loader" in task.notes[-1]
        assert items.queries == 12 and "hybrid" in items.metrics
        full = attributes.metrics["hybrid + constraints"]
        assert full["NDCG@10"] > attributes.metrics["random"]["NDCG@10"]
        assert all(0 <= v <= 1 for m in attributes.metrics.values() for v in m.values())
        paths = save_report(tasks, tmp_path, {"catalog": "luma"})
        saved = json.loads(paths["json"].read_text())
        assert saved["tasks"][0]["metrics"]["random"] == attributes.metrics["random"]
        assert "| hybrid + constraints |" in paths["markdown"].read_text()
        assert paths["chart"].read_bytes()[:4] == b"\x89PNG"

    def test_photo_queries_graded_per_half(self, engine):
        evaluation = RetrievalEvaluation(
            engine, "luma", None, progress=False, photo_halves=("all", "dev", "test")
        )
        tasks = evaluation.photos(limit=None)
        assert [t.name for t in tasks[:3]] == [
            "photo queries: alternate views",
            "photo queries: alternate views (dev half)",
            "photo queries: alternate views (test half)",
        ]
        for whole, dev, test in zip(tasks[::3], tasks[1::3], tasks[2::3], strict=True):
            assert dev.queries + test.queries == whole.queries > 0
            assert dev.queries and test.queries
        with pytest.raises(ValueError, match="photo halves"):
            RetrievalEvaluation(engine, "luma", None, photo_halves=("train",))

    def test_unknown_catalog(self, engine):
        with pytest.raises(ValueError, match="no products"):
            RetrievalEvaluation(engine, "nope", None)
