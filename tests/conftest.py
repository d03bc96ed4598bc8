"""Shared fixtures: the real shared datasets, the project's cleaning rules, and stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import CatalogStore, CleaningConfig, ingest

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"
LUMA = DATASETS / "luma" / "fixtures"
LUMA_IMAGES = DATASETS / "luma" / "images"
ESHOP = DATASETS / "eshop" / "catalog.json"
SAMPLE_GENERIC = REPO / "sample_data" / "generic"


@pytest.fixture(scope="session")
def cleaning() -> CleaningConfig:
    return CleaningConfig.from_yaml(REPO / "prompts" / "cleaning.yml")


@pytest.fixture
def store(tmp_path: Path) -> CatalogStore:
    return CatalogStore(tmp_path / "catalog.db")


@pytest.fixture(scope="session")
def luma_store(tmp_path_factory: pytest.TempPathFactory, cleaning: CleaningConfig) -> CatalogStore:
    """The whole Luma sample store plus eShop, ingested once for read-only tests."""
    assert LUMA.is_dir(), f"shared dataset missing: {LUMA}"
    shared = CatalogStore(tmp_path_factory.mktemp("luma") / "catalog.db")
    ingest(LUMA, shared, catalog="luma", cleaning=cleaning, progress=False)
    ingest(ESHOP, shared, catalog="eshop", cleaning=cleaning, progress=False)
    return shared
