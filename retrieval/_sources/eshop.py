"""The eShop reference catalog: a JSON list of {Id, Type, Brand, Name, Description, Price}
with one photo per product at `images/<Id>.webp` beside the JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from retrieval._model import ImageRole, Product, ProductImage, product_id
from retrieval._report import IngestReport, IssueReason, SourceError
from retrieval._sources._io import (
    SourceRecords,
    price_or_report,
    read_text,
    resolve_image,
    with_escapes_mended,
)

IMAGE_SUFFIXES = (".webp", ".jpg", ".jpeg", ".png")


def is_eshop_json(path: Path) -> bool:
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(4096).decode("utf-8", errors="replace")
    return '"Id"' in head and '"Name"' in head


def read_eshop(
    source: Path, catalog: str, images_root: Path | None, report: IngestReport
) -> SourceRecords:
    text = read_text(source, report)
    if not text.strip():
        report.add(IssueReason.EMPTY_FILE, source.name)
        return SourceRecords()
    try:
        items: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{source}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if not isinstance(items, list):
        raise SourceError(f"{source}: expected a JSON list of products")
    root = images_root or source.parent / "images"
    records = SourceRecords()
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict) or item.get("Id") in (None, ""):
            report.add(IssueReason.MISSING_ID, source.name, index, "item without Id")
            continue
        item = with_escapes_mended(item, report, source.name, index)
        sku = str(item["Id"])
        product = Product(
            id=product_id(catalog, sku),
            sku=sku,
            catalog=catalog,
            title=str(item.get("Name") or sku),
            description=str(item.get("Description") or ""),
            category_path=[str(item["Type"])] if item.get("Type") else [],
            price=price_or_report(item.get("Price"), report, source.name, index),
            brand=str(item["Brand"]) if item.get("Brand") else None,
        )
        product.categories = [product.category_path] if product.category_path else []
        reference = next(
            (f"{sku}{s}" for s in IMAGE_SUFFIXES if (root / f"{sku}{s}").is_file()), f"{sku}.webp"
        )
        path = resolve_image(root, reference, report, source.name, index)
        if path is not None:
            product.images.append(ProductImage(str(path), ImageRole.MAIN))
        records.products.append((product, source.name, index))
    return records
