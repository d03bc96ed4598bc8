"""The retrieval benchmark's machinery: its figures are printed, never asserted; what is
asserted is that it measures the right things and that the exact plans are exact."""

from __future__ import annotations

import pytest

from assistant.cli import main
from evals._retrieval_bench import bench_scale, percentiles, synthetic_catalog
from retrieval import Exclusions, Filters
from retrieval._facets import CatalogView

pytestmark = pytest.mark.slow


class TestSyntheticCatalog:
    def test_products_and_unit_vectors(self):
        products, vectors = synthetic_catalog(500)
        assert len(products) == 500 and vectors.shape == (500, 384)
        assert abs(float((vectors**2).sum(axis=1).mean()) - 1.0) < 1e-4
        assert all(p.variants and p.price and p.colors for p in products)

    def test_filters_on_the_synthetic_view_are_exact(self):
        products, _ = synthetic_catalog(2000)
        view = CatalogView(products)
        mask = view.allowed(Filters(colors=("Blue",), sizes=("M",), price_max=60), Exclusions())
        expected = {
            p.id
            for p in products
            if p.effective_price <= 60
            and any(v.color == "Blue" and v.size == "M" and v.in_stock for v in p.variants)
        }
        assert set(view.ids_of(mask)) == expected and expected


class TestBenchScale:
    def test_measures_every_plan_and_the_exact_ones_are_exact(self, tmp_path):
        result = bench_scale(3000, repeat=4, work_dir=tmp_path, progress=False)
        plans = {(row["filter"], row["plan"]): row for row in result.filter_plans}
        assert {plan for _, plan in plans} == {
            "masked exact",
            "subset exact",
            "hnsw over-fetch",
            "chroma where",
        }
        for (_, plan), row in plans.items():
            assert row["n"] == 4 and row["p50"] <= row["p95"]
            assert 0 <= row["recall_vs_exact"] <= 1
            if plan.endswith("exact"):
                assert row["recall_vs_exact"] == 1.0
        for sweep in (result.hnsw, result.hnsw_after_build):
            assert [row["ef_search"] for row in sweep] == [16, 32, 64, 128, 256]
            assert all(0 <= row["recall@10"] <= 1 for row in sweep)
        cases = {"no filter", "colour + price (selective)", "gender (broad)", "category + size"}
        assert set(result.engine_after_build) == cases
        assert set(result.engine) == cases | {"rss_mb"}  # measured in a fresh process
        assert all(result.engine[case]["n"] == 4 for case in cases)
        assert result.vectors_per_second > 0 and result.rss_mb > 0

        again = bench_scale(3000, repeat=2, work_dir=tmp_path, progress=False)
        assert again.vectors_per_second is None and "chroma" not in again.build_seconds
        assert again.filter_plans and set(again.engine) == cases | {"rss_mb"}

    def test_percentiles(self):
        assert percentiles([5.0, 1.0, 3.0, 2.0, 4.0]) == {"p50": 3.0, "p95": 5.0, "n": 5}


class TestBenchCli:
    def test_rejects_tiny_sizes(self, tmp_path, capsys):
        assert main(["--data-dir", str(tmp_path), "bench", "retrieval", "--sizes", "10"]) == 1
        assert ">= 1000" in capsys.readouterr().err
