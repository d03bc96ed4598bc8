"""`shopassist doctor`: the catalog store and the vector index agree, a catalog change without a
sync is caught and `shopassist index` repairs it, and an ingest killed with SIGKILL half-way
leaves the previous catalog whole and searchable.

Real embedded Chroma, the real bundled MiniLM (and EfficientNet for photos), small catalogs
whose products share a few texts so vectors come from the embedding cache after the first sync.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SAMPLE_GENERIC

from assistant.cli import main
from assistant.cli._doctor import diagnose
from assistant.config import Settings
from retrieval import (
    CatalogIndexer,
    CatalogStore,
    EmbeddingCache,
    ProblemKind,
    SearchEngine,
    SearchQuery,
    VectorIndex,
    check_catalog,
    content_hash,
    ingest,
)

pytestmark = pytest.mark.slow
TITLES = ("Trail Shell Jacket", "Merino Tee", "Enamel Camp Mug", "Down Vest")
INDEX_REPAIR = "run `shopassist index`"


def _row(number: int, reviews: int = 0, **fields: Any) -> dict[str, Any]:
    """Product `shop:P<number>`; products with the same title read the same to the encoder."""
    title = TITLES[number % len(TITLES)]
    review = "Solid and warm, fits well, would buy it again. " * 4
    return {
        "id": f"P{number:05d}",
        "title": title,
        "description": f"A good {title.lower()} for the trail.",
        "price": 20 + number % len(TITLES),
        "brand": "Northfold",
        "category": "Outdoor/Clothing",
        "reviews": [
            {"rating": 4, "text": f"Review {r} of {number}. {review}"} for r in range(reviews)
        ],
        **fields,
    }


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _load(store: CatalogStore, source: Path, cleaning, catalog: str = "shop") -> None:
    ingest(source, store, catalog=catalog, cleaning=cleaning, progress=False)


def _found(report) -> set[tuple[str, ProblemKind, tuple[str, ...]]]:
    """(collection kind, problem kind, examples) of each problem."""
    return {(p.where.split("__")[0], p.kind, p.examples) for p in report.problems}


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    shutil.copytree(SAMPLE_GENERIC / "images", folder / "img")
    return folder


class TestCheck:
    """`check_catalog` against a store and an index synced (or not) in-process."""

    def _stack(self, tmp_path, text_encoder, effnet):
        from retrieval import load_image

        store = CatalogStore(tmp_path / "catalog.db")
        index = VectorIndex(path=tmp_path / "chroma")
        cache = EmbeddingCache(tmp_path / "embeddings.db")
        indexer = CatalogIndexer(
            store, index, cache, text_encoder, image_encoder=effnet, load_image=load_image
        )
        return store, index, indexer

    def _check(self, tmp_path, store, index, text_encoder, effnet):
        return check_catalog(
            store, index, text_encoder.name, effnet.name, cache_path=tmp_path / "embeddings.db"
        )

    def test_healthy_after_ingest_and_sync_and_sync_is_idempotent(
        self, tmp_path, cleaning, text_encoder, effnet
    ):
        store, index, indexer = self._stack(tmp_path, text_encoder, effnet)
        _load(store, SAMPLE_GENERIC / "catalog.jsonl", cleaning, "generic")
        before = self._check(tmp_path, store, index, text_encoder, effnet)
        assert not before.ok and {p.kind for p in before.problems} == {ProblemKind.MISSING}
        indexer.sync(progress=False)
        report = self._check(tmp_path, store, index, text_encoder, effnet)
        assert report.ok, report.to_dict()
        assert report.counts["products"] == 3 and report.counts["photos"] == 4
        assert report.counts["cached_vectors"] == 7
        again = indexer.sync(progress=False)
        assert set(again.encoded.values()) == set(again.cached.values()) == {0}
        assert set(again.removed.values()) == {0}
        assert json.loads(json.dumps(report.to_dict()))["ok"] is True

    def test_missing_stale_and_outdated_vectors_then_repaired(
        self, tmp_path, photos, cleaning, text_encoder, effnet
    ):
        store, index, indexer = self._stack(tmp_path, text_encoder, effnet)
        first = [
            _row(0, images=["img/camp-mug.png"]),
            _row(1, images=["img/merino-tee-red.png"]),
            _row(2),
            _row(3),
        ]
        _load(store, _write(photos / "v1.jsonl", first), cleaning)
        indexer.sync(progress=False)
        second = [
            _row(1, images=["img/trail-shell-navy.png"]),  # another photo: outdated photo vector
            _row(2, title="Trail Shell Jacket, Recycled"),  # new wording: outdated text vector
            _row(3),
            _row(4, images=["img/camp-mug.png"]),  # new: missing text and photo vectors
        ]  # P00000 left the catalog: stale text and photo vectors
        _load(store, _write(photos / "v2.jsonl", second), cleaning)
        report = self._check(tmp_path, store, index, text_encoder, effnet)
        assert not report.ok
        assert _found(report) == {
            ("text", ProblemKind.MISSING, ("shop:P00004",)),
            ("text", ProblemKind.STALE, ("shop:P00000",)),
            ("text", ProblemKind.OUTDATED, ("shop:P00002",)),
            ("image", ProblemKind.MISSING, ("shop:P00004#0",)),
            ("image", ProblemKind.STALE, ("shop:P00000#0",)),
            ("image", ProblemKind.OUTDATED, ("shop:P00001#0",)),
        }
        assert {p.repair for p in report.problems} == {INDEX_REPAIR}
        indexer.sync(progress=False)
        assert self._check(tmp_path, store, index, text_encoder, effnet).ok

    def test_damaged_store_and_cache(self, tmp_path, cleaning, text_encoder):
        store = CatalogStore(tmp_path / "catalog.db")
        _load(store, _write(tmp_path / "shop.jsonl", [_row(0), _row(1)]), cleaning)
        with sqlite3.connect(store.path) as db:  # the price index now claims the wrong column
            db.execute("PRAGMA writable_schema = ON")
            db.execute(
                "UPDATE sqlite_master SET sql = 'CREATE INDEX products_price ON products (sku)'"
                " WHERE name = 'products_price'"
            )
        cache = tmp_path / "embeddings.db"
        cache.write_bytes(b"not a database" * 100)
        index = VectorIndex(path=tmp_path / "chroma")
        report = check_catalog(store, index, text_encoder.name, cache_path=cache)
        assert [p.kind for p in report.problems] == [ProblemKind.STORE_DAMAGED]
        assert "products_price" in " ".join(report.problems[0].examples)
        assert "re-run `shopassist ingest SOURCE`" in report.problems[0].repair

        healthy = CatalogStore(tmp_path / "other.db")
        report = check_catalog(healthy, index, text_encoder.name, cache_path=cache)
        assert [p.kind for p in report.problems] == [ProblemKind.CACHE_DAMAGED]
        assert (
            report.problems[0].repair == f"delete {cache} (it is only a cache) and {INDEX_REPAIR}"
        )
        assert report.notes == ["The catalog store is empty: run `shopassist ingest SOURCE` first."]


class TestDoctorCommand:
    """`shopassist doctor [--json]` in-process, with the session's MiniLM to save reloading it."""

    @pytest.fixture(autouse=True)
    def _one_model(self, monkeypatch, text_encoder):
        monkeypatch.setenv("SHOPASSIST_IMAGE_MODEL", "none")
        monkeypatch.setattr("assistant._retrieval.SentenceTextEncoder", lambda _: text_encoder)
        monkeypatch.setattr("assistant.cli._doctor.SentenceTextEncoder", lambda _: text_encoder)

    def test_exit_codes_and_the_repair_it_names(self, tmp_path, capsys):
        data = ["--data-dir", str(tmp_path / "data")]
        first = _write(tmp_path / "v1.jsonl", [_row(n) for n in range(6)])
        second = _write(tmp_path / "v2.jsonl", [_row(n, price=99) for n in range(2, 8)])
        assert main([*data, "ingest", str(first), "--catalog", "shop", "--no-progress"]) == 0
        capsys.readouterr()
        assert main([*data, "doctor"]) == 0
        assert "Healthy" in capsys.readouterr().out

        assert main([*data, "ingest", str(second), "--catalog", "shop", "--no-index"]) == 0
        capsys.readouterr()
        assert main([*data, "doctor", "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] is False
        assert {p["kind"]: p["count"] for p in report["problems"]} == {
            "missing": 2,
            "stale": 2,
            "outdated": 4,
        }
        assert {p["repair"] for p in report["problems"]} == {INDEX_REPAIR}
        assert main([*data, "doctor"]) == 1
        out = capsys.readouterr().out
        assert "2 products in the catalog store have no vector" in out
        assert out.rstrip().endswith(f"To repair:\n  {INDEX_REPAIR}")

        assert main([*data, "index", "--no-progress"]) == 0
        capsys.readouterr()
        assert main([*data, "doctor", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["counts"]["products"] == 6

    def test_unopenable_store_and_unreachable_server_are_findings(self, tmp_path):
        data = tmp_path / "data"
        data.mkdir()
        (data / "catalog.db").write_bytes(b"garbage" * 1000)
        report = diagnose(Settings(data_dir=data, image_model="none"))
        assert [p.kind for p in report.problems] == [ProblemKind.STORE_DAMAGED]
        assert main(["--data-dir", str(data), "doctor"]) == 1

        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{probe.getsockname()[1]}"
        report = diagnose(Settings(data_dir=tmp_path / "other", image_model="none", chroma_url=url))
        assert [p.kind for p in report.problems] == [ProblemKind.INDEX_UNREADABLE]
        assert report.problems[0].repair == f"start the Chroma server at {url}"


def _size(path: Path) -> int:
    """The file's size, 0 if absent: SQLite may delete its WAL between any two calls."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class TestKilledIngest:
    """SIGKILL in the middle of the store write: the previous catalog stays whole."""

    BIG = 2000

    def _kill_mid_write(self, data: Path, argv: list[str]) -> int | None:
        """Start `shopassist ARGV` and SIGKILL it once the store's write-ahead log holds over
        1 MB of the new catalog's uncommitted pages; None if it finished first."""
        wal = data / "catalog.db-wal"
        command = [sys.executable, "-m", "assistant.cli", *argv]
        process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 180
        while process.poll() is None and time.monotonic() < deadline:
            if _size(wal) > 1_000_000:
                process.send_signal(signal.SIGKILL)
                return process.wait()
            time.sleep(0.002)
        process.kill()
        process.wait()
        return None

    def test_previous_catalog_survives_then_rerun_and_index_heal(
        self, tmp_path, cleaning, text_encoder
    ):
        data = tmp_path / "data"
        store = CatalogStore(data / "catalog.db")
        index = VectorIndex(path=data / "chroma")
        indexer = CatalogIndexer(store, index, EmbeddingCache(data / "embeddings.db"), text_encoder)
        previous = _write(tmp_path / "v1.jsonl", [_row(n) for n in range(24)])
        big = _write(tmp_path / "big.jsonl", [_row(n, reviews=15) for n in range(self.BIG)])
        argv = ["--data-dir", str(data), "ingest", str(big), "--catalog", "shop", "--no-index"]
        argv.append("--no-progress")
        for _attempt in range(3):
            _load(store, previous, cleaning)
            indexer.sync(progress=False)
            before = [content_hash(p) for p in store.products("shop")]
            returncode = self._kill_mid_write(data, argv)
            if returncode is not None:
                break
        assert returncode == -signal.SIGKILL, "the ingest always finished before the kill"

        assert [content_hash(p) for p in store.products("shop")] == before
        assert store.count() == 24 and not store.reviews("shop")
        assert store.last_report("shop").source == str(previous)
        hits = (
            SearchEngine(store, index, text_encoder)
            .search(SearchQuery(text="merino tee", k=3))
            .hits
        )
        assert hits and hits[0].product.title == "Merino Tee"
        report = check_catalog(store, index, text_encoder.name)
        assert [p.kind for p in report.problems] == [ProblemKind.INGEST_UNFINISHED]
        assert report.problems[0].repair.startswith(
            f"re-run `shopassist ingest {big} --catalog shop`"
        )

        assert main(argv) == 0
        assert store.count() == self.BIG
        report = check_catalog(store, index, text_encoder.name)
        assert {p.kind for p in report.problems} == {ProblemKind.MISSING, ProblemKind.OUTDATED}
        assert {p.repair for p in report.problems} == {INDEX_REPAIR}
        indexer.sync(progress=False)
        assert check_catalog(store, index, text_encoder.name).ok
