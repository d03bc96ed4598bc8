"""Each adapter on the real shared data and on the project's own sample files."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from conftest import ESHOP, LUMA, LUMA_IMAGES, SAMPLE_GENERIC

from retrieval import (
    CatalogStore,
    CleaningConfig,
    ImageRole,
    LinkKind,
    ProductType,
    SourceFormat,
    detect_format,
    ingest,
)


def _luma_review_rows() -> int:
    with (LUMA / "ReviewSampleData" / "products_reviews.csv").open(newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


class TestMagentoFixtures:
    def test_every_product_of_the_sample_store(self, luma_store: CatalogStore):
        products = luma_store.products("luma")
        types = Counter(p.product_type for p in products)
        assert len(products) == 193
        assert types == {
            ProductType.CONFIGURABLE: 147,
            ProductType.SIMPLE: 44,
            ProductType.BUNDLE: 1,
            ProductType.GROUPED: 1,
        }
        assert sum(len(p.variants) for p in products) == 1847

    def test_configurable_variants_folded_with_sizes_colours_and_photos(self, luma_store):
        hoodie = luma_store.get("luma:MH01")
        assert hoodie is not None
        assert hoodie.title == "Chaz Kangeroo Hoodie"
        assert hoodie.price == 52.0
        assert hoodie.sizes == ["XS", "S", "M", "L", "XL"]
        assert hoodie.colors == ["Black", "Gray", "Orange"]
        assert hoodie.category_path == ["Men", "Tops", "Hoodies & Sweatshirts"]
        assert ["Collections", "Eco Friendly"] in hoodie.categories
        assert hoodie.attributes["gender"] == ["Men"]
        assert hoodie.attributes["material"] == ["Wool"]
        assert "eco-friendly" in hoodie.tags
        roles = {(i.role, i.color) for i in hoodie.images}
        # The parent's own photos are the gray variant's: its rows list them.
        assert roles == {
            (ImageRole.MAIN, "Gray"),
            (ImageRole.ALT, "Gray"),
            (ImageRole.BACK, "Gray"),
            (ImageRole.MAIN, "Black"),
            (ImageRole.MAIN, "Orange"),
        }
        assert all(Path(i.path).is_file() for i in hoodie.images)
        assert all(Path(i.path).is_relative_to(LUMA_IMAGES.resolve()) for i in hoodie.images)

    def test_html_cleaned_in_descriptions_and_attributes(self, luma_store):
        jacket = luma_store.get("luma:WJ01")
        assert "<" not in jacket.description and "&bull;" not in jacket.description
        assert any("\u00ae" in m for m in jacket.attributes["material"])  # Cocona&reg;
        assert jacket.msrp == 79.99

    def test_gear_simple_products_with_multivalue_attributes(self, luma_store):
        bag = luma_store.get("luma:24-MB01")
        assert bag.title == "Joust Duffle Bag" and bag.price == 34.0
        assert bag.category_path == ["Gear", "Bags"]
        assert bag.attributes["activity"] == ["Gym", "Travel", "Trail", "Overnight"]
        assert "Waterproof" in bag.attributes["features"]
        assert bag.images and bag.images[0].role is ImageRole.MAIN

    def test_gear_category_runs_are_split_into_paths(self, luma_store):
        # The gear CSVs write "Gear, Bags, Collections, New Luma Yoga Collection" as one run.
        bag = luma_store.get("luma:24-MB05")
        assert bag.categories == [["Gear", "Bags"], ["Collections", "New Luma Yoga Collection"]]
        assert bag.category_path == ["Gear", "Bags"]

    def test_bundle_priced_from_cheapest_choice_per_option(self, luma_store):
        kit = luma_store.get("luma:24-WG080")
        assert kit.product_type is ProductType.BUNDLE and kit.price_is_from
        parts = (
            ["24-WG081-blue", "24-WG082-blue", "24-WG083-blue"],
            ["24-WG084"],
            ["24-WG085", "24-WG086", "24-WG087"],
            ["24-WG088"],
        )
        expected = sum(
            min(luma_store.get(f"luma:{sku}").price for sku in option) for option in parts
        )
        assert kit.price == expected
        assert kit.attributes["bundle_options"][0] == "Sprite Stasis Ball"
        items = {k.target_sku for k in kit.links if k.kind is LinkKind.BUNDLE_ITEM}
        assert "24-WG088" in items

    def test_grouped_kit_starts_at_cheapest_item(self, luma_store):
        kit = luma_store.get("luma:24-WG085_Group")
        items = [k.target_sku for k in kit.links if k.kind is LinkKind.GROUPED_ITEM]
        assert sorted(items) == ["24-WG085", "24-WG086", "24-WG087"]
        assert kit.price == min(luma_store.get(f"luma:{s}").price for s in items)

    def test_reviews_all_kept_and_attached_where_the_product_exists(self, luma_store, cleaning):
        reviews = luma_store.reviews("luma")
        report = luma_store.last_report("luma")
        dropped = report.counts().get("review_too_short", 0) + report.counts().get("review_spam", 0)
        assert len(reviews) + dropped == _luma_review_rows() == 500
        attached = [r for r in reviews if r.product_id]
        orphans = [r for r in reviews if not r.product_id]
        assert orphans and report.counts()["review_unknown_product"] == len(orphans)
        assert {r.sku for r in orphans} >= {"MJ05", "MBOOT01"}  # not in the sample store
        assert sum(len(p.reviews) for p in luma_store.products("luma")) == len(attached)
        bag = luma_store.get("luma:24-MB01")
        assert bag.rating is not None and 1 <= bag.rating <= 5

    def test_all_product_links_stored(self, luma_store):
        links = luma_store.links("luma")
        kinds = Counter(k.kind for k in links)
        assert kinds[LinkKind.RELATED] and kinds[LinkKind.UPSELL] and kinds[LinkKind.CROSSSELL]
        hoodie = luma_store.get("luma:WH01")
        related = {k.target_sku for k in hoodie.links if k.kind is LinkKind.RELATED}
        assert {"WP06", "WS02", "WS05", "WP09"} <= related
        unresolved = [k for k in links if not (k.source_id and k.target_id)]
        assert len(unresolved) == luma_store.last_report("luma").counts()["link_unknown_product"]

    def test_detects_format(self):
        assert detect_format(LUMA) is SourceFormat.MAGENTO
        assert (
            detect_format(LUMA / "ConfigurableSampleData" / "products.csv") is SourceFormat.MAGENTO
        )
        assert detect_format(ESHOP) is SourceFormat.ESHOP
        assert detect_format(SAMPLE_GENERIC / "catalog.jsonl") is SourceFormat.GENERIC


class TestMagentoExportCsv:
    def test_single_export_file_folds_variants(self, store, cleaning):
        export = LUMA / "ConfigurableSampleData" / "products.csv"
        report = ingest(
            export,
            store,
            catalog="shop",
            cleaning=cleaning,
            images_root=LUMA_IMAGES,
            progress=False,
        )
        assert report.products == 147 and report.variants == 1847
        assert not report.counts().get("missing_image")

    def test_a_photo_listed_by_two_colours_shows_neither(self, store, cleaning, tmp_path):
        export = LUMA / "ConfigurableSampleData" / "products.csv"
        with export.open(newline="") as source:
            reader = csv.DictReader(source)
            rows = [r for r in reader if r["sku"].split("-")[0] == "MH01"]
            fields = reader.fieldnames
        for row in rows:  # every variant row lists the parent's main photo as well
            row["additional_images"] = ",".join(
                filter(None, ["/m/h/mh01-gray_main.jpg", row["additional_images"]])
            )
        with (tmp_path / "mh01.csv").open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        ingest(
            tmp_path / "mh01.csv",
            store,
            catalog="shop",
            cleaning=cleaning,
            images_root=LUMA_IMAGES,
            progress=False,
        )
        colors = {Path(i.path).name: i.color for i in store.get("shop:MH01").images}
        assert colors["mh01-gray_main.jpg"] is None
        assert colors["mh01-gray_back.jpg"] == "Gray" and colors["mh01-black_main.jpg"] == "Black"


class TestEshop:
    def test_all_products_with_brands_and_photos(self, luma_store):
        products = luma_store.products("eshop")
        assert len(products) == 101
        assert all(p.brand and p.images and p.price for p in products)
        boots = luma_store.get("eshop:1")
        assert boots.title == "Wanderer Black Hiking Boots"
        assert boots.brand == "Daybird" and boots.price == 109.99
        assert boots.category_path == ["Footwear"]
        assert Path(boots.images[0].path).name == "1.webp"
        assert "daybird" in luma_store.vocabulary("brand", "eshop")


class TestGeneric:
    def test_jsonl_with_variants_reviews_and_links(self, store, cleaning):
        report = ingest(
            SAMPLE_GENERIC / "catalog.jsonl", store, catalog="g", cleaning=cleaning, progress=False
        )
        assert report.counts() == {}
        shell = store.get("g:TS-100")
        assert shell.product_type is ProductType.CONFIGURABLE
        assert shell.effective_price == 69.0 and shell.on_sale and "on-sale" in shell.tags
        assert shell.sizes == ["S", "M", "L"] and shell.in_stock
        assert shell.description == (
            "Light waterproof shell for wet hikes. Taped seams. Packs into its own pocket."
        )
        assert [i.role for i in shell.images] == [ImageRole.MAIN, ImageRole.BACK]
        assert shell.reviews[0].author == "Ana"
        assert shell.links[0].kind is LinkKind.CROSSSELL
        mug = store.get("g:CM-300")
        assert mug.price == 12.5 and mug.category_path == ["Gear", "Camp Kitchen"]
        assert "gift idea" in mug.tags

    def test_csv_with_multivalue_cells(self, store, cleaning: CleaningConfig):
        report = ingest(
            SAMPLE_GENERIC / "catalog.csv", store, catalog="g", cleaning=cleaning, progress=False
        )
        assert report.counts() == {} and report.products == 3
        shell = store.get("g:TS-100")
        assert shell.attributes["size"] == ["S", "M", "L"]
        assert shell.attributes["color"] == ["Navy"] and shell.brand == "Northfold"
        assert len(shell.images) == 2
        mug = store.get("g:CM-300")
        assert mug.price == 12.5
        assert [(k.kind, k.target_sku) for k in mug.links] == [(LinkKind.RELATED, "TS-100")]
