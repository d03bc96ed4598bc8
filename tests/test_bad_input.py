"""Each bad-input case with a fixture written here: the ingest goes on and reports it, or the
source is refused whole and the previous catalog stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from retrieval import CatalogStore, CleaningConfig, SourceError, ingest, parse_price

HEADER = "id,title,description,price,category,image\n"


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _ingest(path: Path, store: CatalogStore, cleaning: CleaningConfig, **kwargs):
    return ingest(path, store, catalog="shop", cleaning=cleaning, progress=False, **kwargs)


class TestRowLevelProblems:
    def test_missing_optional_column_is_reported_once(self, tmp_path, store, cleaning):
        src = _write(tmp_path / "shop.csv", "id,title\nA1,Mug\nA2,Cup\n")
        report = _ingest(src, store, cleaning)
        assert report.products == 2
        missing = [i for i in report.issues if i.reason == "missing_column"]
        assert {i.detail for i in missing} == {
            "column 'price' is missing",
            "column 'category' is missing",
            "column 'description' is missing",
        }
        assert store.get("shop:A1").price is None

    def test_unparseable_price_keeps_product_without_price(self, tmp_path, store, cleaning):
        src = _write(
            tmp_path / "shop.csv", HEADER + "A1,Mug,,twelve,Kitchen,\nA2,Cup,,3,Kitchen,\n"
        )
        report = _ingest(src, store, cleaning)
        assert report.products == 2
        [issue] = [i for i in report.issues if i.reason == "bad_price"]
        assert issue.where == "shop.csv:2" and "twelve" in issue.detail
        assert store.get("shop:A1").price is None and store.get("shop:A2").price == 3.0

    def test_negative_price_rejected(self, tmp_path, store, cleaning):
        src = _write(tmp_path / "shop.csv", HEADER + "A1,Mug,,-5,Kitchen,\n")
        report = _ingest(src, store, cleaning)
        assert report.counts() == {"bad_price": 1}

    def test_missing_image_file(self, tmp_path, store, cleaning):
        Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")
        src = _write(tmp_path / "shop.csv", HEADER + "A1,Mug,,3,K,ok.png|gone.png\n")
        report = _ingest(src, store, cleaning)
        [issue] = [i for i in report.issues if i.reason == "missing_image"]
        assert issue.where == "shop.csv:2" and issue.detail == "gone.png"
        assert [Path(i.path).name for i in store.get("shop:A1").images] == ["ok.png"]

    def test_image_path_traversal_is_refused(self, tmp_path, store, cleaning):
        src = _write(tmp_path / "cat" / "shop.csv", HEADER + "A1,Mug,,3,K,../../../../etc/passwd\n")
        report = _ingest(src, store, cleaning)
        assert report.counts() == {"unsafe_image_path": 1}
        assert store.get("shop:A1").images == []

    def test_duplicate_id_merged_into_first(self, tmp_path, store, cleaning):
        rows = "A1,Mug,,3,Kitchen,\nA1,Mug,Enamel mug,5,Kitchen,\nA2,Cup,,4,Kitchen,\n"
        report = _ingest(_write(tmp_path / "shop.csv", HEADER + rows), store, cleaning)
        assert report.products == 2
        [issue] = [i for i in report.issues if i.reason == "duplicate_id"]
        assert issue.where == "shop.csv:3"
        mug = store.get("shop:A1")
        assert mug.price == 3.0 and mug.description == "Enamel mug"  # gap filled, first wins

    def test_non_utf8_byte_decoded_and_reported(self, tmp_path, store, cleaning):
        data = (HEADER + "A1,Caf\xe9 mug,,3,K,\nA2,Cup,,4,K,\n").encode("cp1252")
        report = _ingest(_write(tmp_path / "shop.csv", data), store, cleaning)
        assert report.products == 2
        [issue] = [i for i in report.issues if i.reason == "non_utf8"]
        assert issue.where == "shop.csv:2"
        assert store.get("shop:A1").title == "Caf\u00e9 mug"

    def test_row_with_extra_cells_skipped_others_kept(self, tmp_path, store, cleaning):
        rows = "A1,Mug,,3,K,,surplus\nA2,Cup,,4,K,\n"
        report = _ingest(_write(tmp_path / "shop.csv", HEADER + rows), store, cleaning)
        assert report.counts() == {"malformed_row": 1} and report.products == 1

    def test_row_without_id(self, tmp_path, store, cleaning):
        report = _ingest(
            _write(tmp_path / "shop.csv", HEADER + ",Mug,,3,K,\nA2,Cup,,4,K,\n"), store, cleaning
        )
        assert report.counts() == {"missing_id": 1} and report.products == 1

    def test_broken_jsonl_line_does_not_sink_the_file(self, tmp_path, store, cleaning):
        lines = [
            json.dumps({"id": "A1", "title": "Mug", "price": 3}),
            "{not json",
            "[1, 2]",
            json.dumps({"id": "A2", "title": "Cup", "price": 4}),
        ]
        report = _ingest(_write(tmp_path / "shop.jsonl", "\n".join(lines)), store, cleaning)
        assert report.products == 2 and report.counts() == {"malformed_row": 2}

    def test_reingest_is_idempotent(self, tmp_path, store, cleaning):
        src = _write(tmp_path / "shop.csv", HEADER + "A1,Mug,,3,K,\nA2,Cup,,4,K,\n")
        first = _ingest(src, store, cleaning)
        before = [p.to_dict() for p in store.products()]
        second = _ingest(src, store, cleaning)
        assert [p.to_dict() for p in store.products()] == before
        assert first.to_dict() == second.to_dict()
        assert store.count() == 2


class TestWholeSourceProblems:
    @pytest.fixture
    def previous(self, tmp_path, store, cleaning) -> CatalogStore:
        src = _write(tmp_path / "good" / "shop.csv", HEADER + "A1,Mug,,3,K,\n")
        _ingest(src, store, cleaning)
        return store

    def test_empty_file_refused_and_store_kept(self, tmp_path, previous, cleaning):
        with pytest.raises(SourceError, match=r"no product could be read.*empty_file"):
            _ingest(_write(tmp_path / "shop.csv", ""), previous, cleaning)
        assert previous.get("shop:A1") is not None

    def test_empty_file_accepted_when_allowed(self, tmp_path, previous, cleaning):
        report = _ingest(_write(tmp_path / "shop.csv", ""), previous, cleaning, allow_empty=True)
        assert report.counts() == {"empty_file": 1} and previous.count() == 0

    def test_missing_id_column_refused(self, tmp_path, previous, cleaning):
        with pytest.raises(SourceError, match=r"missing required column.*id"):
            _ingest(_write(tmp_path / "shop.csv", "title,price\nMug,3\n"), previous, cleaning)
        assert previous.count() == 1

    def test_nonexistent_source(self, tmp_path, previous, cleaning):
        with pytest.raises(SourceError, match="no such file"):
            _ingest(tmp_path / "nope.csv", previous, cleaning)
        assert previous.count() == 1

    def test_invalid_json_catalog(self, tmp_path, previous, cleaning):
        src = _write(tmp_path / "catalog.json", '[{"Id": 1, "Name": "x",')
        with pytest.raises(SourceError, match="invalid JSON"):
            ingest(
                src,
                previous,
                catalog="shop",
                cleaning=cleaning,
                source_format="eshop",
                progress=False,
            )
        assert previous.count() == 1

    def test_unknown_format(self, tmp_path, previous, cleaning):
        with pytest.raises(SourceError, match="cannot tell its format"):
            _ingest(_write(tmp_path / "notes.txt", "hello"), previous, cleaning)

    def test_bad_catalog_name(self, tmp_path, store, cleaning):
        with pytest.raises(ValueError, match="catalog name"):
            ingest(tmp_path, store, catalog="../evil", cleaning=cleaning)


class TestParsePrice:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("52", 52.0),
            ("$1,234.50", 1234.5),
            ("45 USD", 45.0),
            (7, 7.0),
            ("", None),
            (None, None),
            (" 19.999 ", 20.0),
        ],
    )
    def test_valid(self, raw, expected):
        assert parse_price(raw) == expected

    @pytest.mark.parametrize("raw", ["twelve", "-5", "1.2.3", "nan", True, float("inf")])
    def test_invalid(self, raw):
        with pytest.raises(ValueError):
            parse_price(raw)
