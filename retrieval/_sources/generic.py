"""The generic catalog schema any store can export to (documented in the README).

JSONL: one product object per line, nested `variants`, `images`, `reviews`, `links`.
CSV: one product per row; multi-valued cells separated by `|`; any unknown column is an
attribute. Image paths are relative to the file's folder (or `--images`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from retrieval._model import (
    ImageRole,
    LinkKind,
    Product,
    ProductImage,
    ProductLink,
    ProductType,
    Review,
    Variant,
    product_id,
)
from retrieval._report import IngestReport, IssueReason, SourceError
from retrieval._sources._io import (
    ReviewRecord,
    SourceRecords,
    csv_rows,
    image_role,
    price_or_report,
    read_text,
    resolve_image,
    split_values,
    with_escapes_mended,
)

CORE_FIELDS = {
    "id",
    "sku",
    "title",
    "name",
    "description",
    "category",
    "price",
    "sale_price",
    "currency",
    "brand",
    "image",
    "images",
    "variants",
    "reviews",
    "links",
    "tags",
    "attributes",
    "related",
    "upsell",
    "crosssell",
}
CSV_EXPECTED = ("title", "price", "category", "description")


def read_generic(
    source: Path, catalog: str, images_root: Path | None, report: IngestReport
) -> SourceRecords:
    root = images_root or source.parent
    if source.suffix.lower() == ".csv":
        rows: Iterator[tuple[int, dict[str, Any]]] = csv_rows(
            source, report, required=("id",), expected=CSV_EXPECTED
        )
    elif source.suffix.lower() in (".jsonl", ".ndjson"):
        rows = _jsonl_rows(source, report)
    else:
        raise SourceError(f"{source}: generic catalogs are .csv or .jsonl files")
    records = SourceRecords()
    for line, row in rows:
        sku = str(row.get("id") or row.get("sku") or "").strip()
        if not sku:
            report.add(IssueReason.MISSING_ID, source.name, line, "row without id")
            continue
        try:
            product = _product(row, sku, catalog, root, report, source.name, line)
            reviews = [_review(r, report, source.name, line) for r in _items(row.get("reviews"))]
        except (TypeError, AttributeError, ValueError) as exc:
            # A field of the wrong type (a list for a price, a number for an image path):
            # that row is skipped and reported, the rest of the file is read.
            report.add(IssueReason.MALFORMED_ROW, source.name, line, f"{sku}: {_wrong_type(exc)}")
            continue
        records.products.append((product, source.name, line))
        records.reviews += [ReviewRecord(sku, r, source.name, line) for r in reviews if r]
    return records


def _wrong_type(exc: Exception) -> str:
    return f"a field has the wrong type ({type(exc).__name__}: {str(exc)[:80]})"


def _jsonl_rows(source: Path, report: IngestReport) -> Iterator[tuple[int, dict[str, Any]]]:
    text = read_text(source, report)
    if not text.strip():
        report.add(IssueReason.EMPTY_FILE, source.name)
        return
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            report.add(IssueReason.MALFORMED_ROW, source.name, line, f"invalid JSON: {exc.msg}")
            continue
        if not isinstance(row, dict):
            report.add(IssueReason.MALFORMED_ROW, source.name, line, "not a JSON object")
            continue
        yield line, with_escapes_mended(row, report, source.name, line)


def _product(
    row: dict[str, Any],
    sku: str,
    catalog: str,
    root: Path,
    report: IngestReport,
    source: str,
    line: int,
) -> Product:
    category = row.get("category") or []
    path = category if isinstance(category, list) else split_values(str(category), "/>")
    attributes = {
        str(k): _values(v) for k, v in (row.get("attributes") or {}).items() if _values(v)
    }
    for key, value in row.items():
        if key not in CORE_FIELDS and _values(value):
            attributes[key] = _values(value)
    product = Product(
        id=product_id(catalog, sku),
        sku=sku,
        catalog=catalog,
        title=str(row.get("title") or row.get("name") or sku),
        description=str(row.get("description") or ""),
        category_path=[str(p) for p in path],
        categories=[[str(p) for p in path]] if path else [],
        price=price_or_report(row.get("price"), report, source, line),
        sale_price=price_or_report(row.get("sale_price"), report, source, line),
        currency=str(row.get("currency") or "USD").upper(),
        brand=str(row["brand"]) if row.get("brand") else None,
        attributes=attributes,
        tags=_values(row.get("tags")),
    )
    if product.price is None and "price" in row and row.get("price") in (None, ""):
        report.add(IssueReason.MISSING_PRICE, source, line, sku)
    for variant in row.get("variants") or []:
        if isinstance(variant, dict) and variant.get("sku"):
            product.variants.append(
                Variant(
                    sku=str(variant["sku"]),
                    size=_str_or_none(variant.get("size")),
                    color=_str_or_none(variant.get("color")),
                    in_stock=bool(variant.get("in_stock", True)),
                    qty=variant.get("qty"),
                    price=price_or_report(variant.get("price"), report, source, line),
                )
            )
        else:
            report.add(IssueReason.MALFORMED_ROW, source, line, "variant without sku")
    images = _items(row.get("images")) or _values(row.get("image"))
    for image in images:
        reference = image.get("path", "") if isinstance(image, dict) else str(image)
        resolved = resolve_image(root, reference, report, source, line) if reference else None
        if resolved is not None:
            role = image.get("role") if isinstance(image, dict) else None
            product.images.append(
                ProductImage(
                    str(resolved),
                    ImageRole(role)
                    if role in set(ImageRole)
                    else image_role(reference, first=not product.images),
                )
            )
    if product.variants:
        product.product_type = ProductType.CONFIGURABLE
    for kind in LinkKind:
        for target in _values(row.get(kind.value)):
            product.links.append(ProductLink(kind, target))
    for link in row.get("links") or []:
        if isinstance(link, dict) and link.get("kind") in set(LinkKind) and link.get("sku"):
            product.links.append(ProductLink(LinkKind(link["kind"]), str(link["sku"])))
    return product


def _review(raw: Any, report: IngestReport, source: str, line: int) -> Review | None:
    try:
        rating = float(raw["rating"])
        if not 1 <= rating <= 5:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        report.add(IssueReason.BAD_RATING, source, line, repr(raw)[:80])
        return None
    return Review(
        rating=rating,
        text=str(raw.get("text") or ""),
        title=str(raw.get("title") or ""),
        author=str(raw.get("author") or ""),
    )


def _values(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return split_values(str(value), "|")


def _items(value: Any) -> list[Any]:
    """A list field as a list: one value given alone (a path, an object) is a list of one."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return _values(value) if isinstance(value, str) else [value]


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
