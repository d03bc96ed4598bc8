"""Build `sample_data/demo/`: a small Luma store that ships inside the repository.

A plain clone of shopassist has no `../shared/datasets`, yet `make run` must still start a
working store. This script cuts the Magento sample data down to a few products of every kind
(both genders' tops and bottoms, bags, fitness equipment, watches), keeps the files in the
same `fixtures/` layout the Magento adapter already reads (so the demo exercises the real
ingest path, variants, reviews, links and MSRPs included), and downsizes their photos.

Selection is deterministic (the most-reviewed products of each kind, ties by SKU), so
re-running it on the same source reproduces the committed output byte for byte.

    .venv/bin/python scripts/build_demo_store.py ../shared/datasets/luma sample_data/demo
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
from collections import Counter
from pathlib import Path

from PIL import Image

# Configurable (apparel) products per primary category, and simple gear products per file.
APPAREL_PER_CATEGORY = 2
GEAR_PER_FILE = {
    "products_gear_bags.csv": 3,
    "products_gear_fitness_equipment.csv": 2,
    "products_gear_fitness_equipment_ball.csv": 1,
    "products_gear_fitness_equipment_strap.csv": 1,
    "products_gear_watches.csv": 2,
}
# Cards show small thumbnails and the photo encoder reads 224 px: 320 px keeps both sharp.
MAX_IMAGE_SIDE = 320
JPEG_QUALITY = 80
IMAGE_COLUMNS = ("base_image", "small_image", "thumbnail_image")
NOTICE = """\
# Demo store

A small cut of the Magento 2 "Luma" sample store, so that `make run` works from a plain clone
of shopassist: {products} products ({apparel} configurable apparel products with their size and
colour variants, {gear} gear products), their {reviews} customer reviews, the related / up-sell /
cross-sell links between them, MSRPs, and {images} product photos downsized to at most
{side} px.

Source: magento/magento2-sample-data @ 53807565ba9f23c9409268c02bb995cf39ef553d
(`app/code/Magento/*SampleData/fixtures`, `pub/media/catalog/product`). The files keep
Magento's own fixture layout and columns; only rows were selected and photos resized.

Licence: the Magento sample data is licensed under the Academic Free License 3.0 (AFL-3.0);
the full text is in `LICENSE_AFL.txt` beside this file. Built by `scripts/build_demo_store.py`.
"""


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """Writes with '\\n' line ends so the committed files diff cleanly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def most_reviewed(skus: list[str], reviews: Counter[str], count: int) -> list[str]:
    return sorted(skus, key=lambda sku: (-reviews[sku], sku))[:count]


def child_skus(row: dict[str, str]) -> list[str]:
    """The variant SKUs a configurable row lists (`sku=X,size=S,color=Red|sku=Y,...`)."""
    skus = []
    for variation in filter(None, row.get("configurable_variations", "").split("|")):
        pairs = dict(part.partition("=")[::2] for part in variation.split(","))
        if pairs.get("sku"):
            skus.append(pairs["sku"].strip())
    return skus


def row_images(row: dict[str, str]) -> list[str]:
    references = [row.get(column, "") for column in IMAGE_COLUMNS]
    references += row.get("additional_images", "").split(",")
    return [r.strip() for r in references if r.strip()]


def build(source: Path, out: Path) -> None:
    fixtures = source / "fixtures"
    demo = out / "fixtures"
    if out.exists():
        shutil.rmtree(out)
    _, review_rows = read_csv(fixtures / "ReviewSampleData" / "products_reviews.csv")
    reviews = Counter(row["sku"] for row in review_rows)

    # Apparel: configurable parents by primary category, with their variant rows.
    header, rows = read_csv(fixtures / "ConfigurableSampleData" / "products.csv")
    parents = [row for row in rows if row["product_type"] == "configurable"]
    by_category: dict[str, list[str]] = {}
    for row in parents:
        by_category.setdefault(row["categories"].split(",")[0], []).append(row["sku"])
    apparel = {
        sku
        for skus in by_category.values()
        for sku in most_reviewed(skus, reviews, APPAREL_PER_CATEGORY)
    }
    children = {sku for row in parents if row["sku"] in apparel for sku in child_skus(row)}
    kept = [row for row in rows if row["sku"] in apparel | children]
    write_csv(demo / "ConfigurableSampleData" / "products.csv", header, kept)
    images = {image for row in kept for image in row_images(row)}

    # Gear: simple products per category file, with their image lists.
    gear: set[str] = set()
    simple = fixtures / "CatalogSampleData" / "SimpleProduct"
    for name, count in GEAR_PER_FILE.items():
        header, rows = read_csv(simple / name)
        chosen = set(most_reviewed([row["sku"] for row in rows], reviews, count))
        gear |= chosen
        write_csv(
            demo / simple.relative_to(fixtures) / name,
            header,
            [row for row in rows if row["sku"] in chosen],
        )
    for path in sorted(simple.glob("images_*.csv")):
        header, rows = read_csv(path)
        rows = [row for row in rows if row["sku"] in gear]
        write_csv(demo / path.relative_to(fixtures), header, rows)
        images |= {row["image"] for row in rows}

    products = apparel | gear
    kept_reviews = [row for row in review_rows if row["sku"] in products]
    review_path = Path("ReviewSampleData") / "products_reviews.csv"
    write_csv(demo / review_path, list(review_rows[0]), kept_reviews)
    header, rows = read_csv(fixtures / "MsrpSampleData" / "products_msrp.csv")
    msrp_path = Path("MsrpSampleData") / "products_msrp.csv"
    write_csv(demo / msrp_path, header, [row for row in rows if row["sku"] in products])
    for path in sorted(fixtures.glob("*/Link*/*.csv")) + sorted(
        fixtures.glob("ProductLinks*/*.csv")
    ):
        header, rows = read_csv(path)
        linked = []
        for row in rows:
            targets = [sku for sku in row["linked_sku"].split("\n") if sku.strip() in products]
            if row["sku"] in products and targets:
                linked.append({**row, "linked_sku": "\n".join(targets)})
        if linked:
            write_csv(demo / path.relative_to(fixtures), header, linked)

    photos = 0
    for reference in sorted(images):
        original = source / "images" / reference.lstrip("/")
        if not original.is_file():
            continue  # the source lists a few photos it does not ship; ingest reports them
        target = out / "images" / reference.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(original) as photo:
            photo = photo.convert("RGB")
            photo.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
            photo.save(target, "JPEG", quality=JPEG_QUALITY, optimize=True)
        photos += 1

    shutil.copyfile(source / "LICENSE_AFL.txt", out / "LICENSE_AFL.txt")
    (out / "NOTICE.md").write_text(
        NOTICE.format(
            products=len(products),
            apparel=len(apparel),
            gear=len(gear),
            reviews=len(kept_reviews),
            images=photos,
            side=MAX_IMAGE_SIDE,
        ),
        encoding="utf-8",
    )
    print(f"{len(products)} products, {len(kept_reviews)} reviews, {photos} photos -> {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="the shared Luma dataset (fixtures/, images/)")
    parser.add_argument("out", type=Path, help="where to write the demo store")
    args = parser.parse_args()
    build(args.source, args.out)


if __name__ == "__main__":
    main()
