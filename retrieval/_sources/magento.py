"""Magento 2 catalogs: the product import/export CSV, and the sample-data fixtures folder.

The export CSV lists configurable parents and their simple children as separate rows; shoppers
think in products, so children are folded into the parent as variants (size, colour, stock) and
their photos join the parent's. The sample-data folder adds gear products in a simpler per-
category CSV (multi-values one per line), bundles, grouped kits, reviews, links and MSRPs.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

from retrieval._model import (
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
    LinkRecord,
    ReviewRecord,
    SourceRecords,
    csv_rows,
    image_role,
    price_or_report,
    resolve_image,
    split_values,
)

ROOT_CATEGORY = "Default Category"
# Top-level categories that group products by campaign rather than by what they are.
MERCHANDISING_ROOTS = ("Collections", "Promotions")
GENDER_ROOTS = {"Men": "Men", "Women": "Women"}
# Store-specific attribute codes mapped to the names the assistant filters on.
ATTRIBUTE_ALIASES = {
    "category_gear": "gear_type",
    "features_bags": "features",
    "strap_bags": "strap",
    "style_bags": "style",
    "style_general": "style",
    "style_bottom": "style",
}
_NOT_ATTRIBUTES = {
    "category",
    "name",
    "sku",
    "price",
    "qty",
    "description",
    "special_price",
    "attribute_set",
    "visibility",
    "url_key",
    "bundle_options",
    "associated_sku",
    "image",
}
_LINK_FILES = {
    "related": LinkKind.RELATED,
    "upsell": LinkKind.UPSELL,
    "crosssell": LinkKind.CROSSSELL,
}


def is_fixtures_dir(path: Path) -> bool:
    return path.is_dir() and (path / "ConfigurableSampleData" / "products.csv").is_file()


def is_export_csv(path: Path) -> bool:
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    with path.open("rb") as handle:
        header = handle.readline().decode("utf-8", errors="replace")
    return "sku" in header and "product_type" in header


def images_root_for(source: Path) -> Path | None:
    """Where Magento image paths resolve: `images/` or `pub/media/catalog/product` nearby."""
    base = source if source.is_dir() else source.parent
    for candidate in (base / "images", base.parent / "images", base / "pub/media/catalog/product"):
        if candidate.is_dir():
            return candidate
    return None


class MagentoReader:
    """Reads one Magento source into `SourceRecords` for a named catalog."""

    def __init__(self, catalog: str, images_root: Path | None, report: IngestReport) -> None:
        self.catalog = catalog
        self.images_root = images_root
        self.report = report
        self.records = SourceRecords()
        self._by_sku: dict[str, Product] = {}
        self._bundle_choices: dict[str, list[list[str]]] = {}  # bundle sku -> choices per option
        self._shared_photos: set[str] = set()  # photos that variants of two colours list

    # -- entry points -------------------------------------------------------------------------
    def read_export(self, path: Path) -> SourceRecords:
        """A product export CSV (configurable, simple, bundle and grouped rows)."""
        rows = list(
            csv_rows(
                path,
                self.report,
                required=("sku",),
                expected=("name", "product_type", "price", "categories", "description"),
            )
        )
        children: dict[str, tuple[int, dict[str, str]]] = {}
        for line, row in rows:
            if not row["sku"]:
                self.report.add(IssueReason.MISSING_ID, path.name, line, "empty sku")
            elif row.get("product_type") == "simple" and _not_visible(row):
                children[row["sku"]] = (line, row)
            else:
                self._add(self._export_product(row, path.name, line, children), path.name, line)
        folded = set(self.records.sku_aliases)
        for sku, (line, row) in children.items():
            if sku not in folded:
                self.report.add(IssueReason.ORPHAN_VARIANT, path.name, line, f"{sku}: kept alone")
                self._add(self._export_product(row, path.name, line, {}), path.name, line)
        return self.records

    def read_fixtures(self, root: Path) -> SourceRecords:
        """The magento2-sample-data `fixtures/` folder: every product, review and link."""
        self.read_export(root / "ConfigurableSampleData" / "products.csv")
        simple_dir = root / "CatalogSampleData" / "SimpleProduct"
        for path in sorted(simple_dir.glob("products_*.csv")):
            self._read_simple_fixture(path, ProductType.SIMPLE)
        for path in sorted(simple_dir.glob("images_*.csv")):
            self._read_image_list(path)
        for folder, kind in (
            ("BundleSampleData", ProductType.BUNDLE),
            ("GroupedProductSampleData", ProductType.GROUPED),
        ):
            for path in sorted((root / folder).glob("yoga_*.csv")):
                self._read_simple_fixture(path, kind)
            for path in sorted((root / folder).glob("images_*.csv")):
                self._read_image_list(path)
        self._price_kits()
        self._read_msrp(root / "MsrpSampleData" / "products_msrp.csv")
        self._read_reviews(root / "ReviewSampleData" / "products_reviews.csv")
        for path in sorted(root.glob("*/Link*/*.csv")) + sorted(root.glob("ProductLinks*/*.csv")):
            if path.stem in _LINK_FILES:
                self._read_links(path, _LINK_FILES[path.stem])
        return self.records

    # -- export rows --------------------------------------------------------------------------
    def _export_product(
        self, row: dict[str, str], source: str, line: int, children: dict[str, tuple[int, dict]]
    ) -> Product:
        attributes = _parse_additional_attributes(row.get("additional_attributes", ""))
        categories = _category_paths(row.get("categories", ""), separator=",")
        product = Product(
            id=product_id(self.catalog, row["sku"]),
            sku=row["sku"],
            catalog=self.catalog,
            title=row.get("name") or row["sku"],
            description=row.get("description") or row.get("short_description", ""),
            product_type=_product_type(row.get("product_type", "")),
            categories=categories,
            category_path=_primary_path(categories),
            price=price_or_report(row.get("price"), self.report, source, line),
            sale_price=self._special_price(row, source, line),
            attributes=attributes,
        )
        _add_gender_from_categories(product)
        self._add_images(product, _row_images(row), source, line, color=None)
        for variation in split_values(row.get("configurable_variations", ""), "|"):
            self._fold_variant(product, _key_values(variation), children, source, line)
        if product.product_type is ProductType.CONFIGURABLE and not product.variants:
            self.report.add(IssueReason.MALFORMED_ROW, source, line, f"{row['sku']}: no variants")
        return product

    def _fold_variant(
        self,
        parent: Product,
        spec: dict[str, str],
        children: dict[str, tuple[int, dict[str, str]]],
        source: str,
        line: int,
    ) -> None:
        sku = spec.get("sku", "")
        if not sku:
            self.report.add(IssueReason.MALFORMED_ROW, source, line, "variation without sku")
            return
        child_line, child = children.get(sku, (line, {}))
        if not child:
            self.report.add(IssueReason.ORPHAN_VARIANT, source, line, f"{sku}: no row for variant")
        variant = Variant(
            sku=sku,
            size=spec.get("size") or None,
            color=spec.get("color") or None,
            in_stock=child.get("is_in_stock", "1") != "0" and child.get("qty", "1") != "0",
            qty=_float_or_none(child.get("qty")),
            price=price_or_report(child.get("price"), self.report, source, child_line),
        )
        parent.variants.append(variant)
        self.records.sku_aliases[sku] = parent.sku
        if child:
            self._add_images(parent, _row_images(child), source, child_line, color=variant.color)

    def _special_price(self, row: dict[str, str], source: str, line: int) -> float | None:
        """A special price counts only inside its date window (an expired sale is no sale)."""
        price = price_or_report(row.get("special_price"), self.report, source, line)
        today = date.today().isoformat()
        starts, ends = row.get("special_price_from_date", ""), row.get("special_price_to_date", "")
        if price is None or (starts and starts[:10] > today) or (ends and ends[:10] < today):
            return None
        return price

    # -- sample-data fixture files --------------------------------------------------------------
    def _read_simple_fixture(self, path: Path, kind: ProductType) -> None:
        for line, row in csv_rows(path, self.report, required=("sku",), expected=("name", "price")):
            if not row["sku"]:
                self.report.add(IssueReason.MISSING_ID, path.name, line, "empty sku")
                continue
            attributes: dict[str, list[str]] = {}
            for column, value in row.items():
                if column not in _NOT_ATTRIBUTES and value:
                    name = ATTRIBUTE_ALIASES.get(column, column)
                    values = [html.unescape(v) for v in split_values(value)]
                    attributes.setdefault(name, [])
                    attributes[name] += [v for v in values if v not in attributes[name]]
            paths = _gear_category_paths(split_values(row.get("category", ""), "\n/"))
            product = Product(
                id=product_id(self.catalog, row["sku"]),
                sku=row["sku"],
                catalog=self.catalog,
                title=(row.get("name") or row["sku"]).strip(),
                description=row.get("description", ""),
                product_type=kind,
                categories=paths,
                category_path=_primary_path(paths),
                price=price_or_report(row.get("price"), self.report, path.name, line),
                sale_price=price_or_report(row.get("special_price"), self.report, path.name, line),
                attributes=attributes,
            )
            for option in split_values(row.get("bundle_options", ""), "\n"):
                name, _, choices = option.partition("|")
                skus = split_values(choices.partition(":")[2], ",")
                product.attributes.setdefault("bundle_options", []).append(name.strip())
                product.links += [ProductLink(LinkKind.BUNDLE_ITEM, sku) for sku in skus]
                self._bundle_choices.setdefault(product.sku, []).append(skus)
            for sku in split_values(row.get("associated_sku", ""), ","):
                product.links.append(ProductLink(LinkKind.GROUPED_ITEM, sku))
            self._add(product, path.name, line)

    def _read_image_list(self, path: Path) -> None:
        for line, row in csv_rows(path, self.report, required=("sku", "image")):
            product = self._by_sku.get(row["sku"])
            if product is None:
                self.report.add(
                    IssueReason.MALFORMED_ROW, path.name, line, f"{row['sku']}: unknown"
                )
            elif row["image"]:
                self._add_images(product, [row["image"]], path.name, line, color=None)

    def _price_kits(self) -> None:
        """Bundles cost the cheapest choice of each option; grouped kits start at their cheapest
        item. Both are 'from' prices computed from the catalog's own component prices."""
        for product in self._by_sku.values():
            if product.price is not None:
                continue
            options = self._bundle_choices.get(product.sku, [])
            if product.product_type is ProductType.BUNDLE and options:
                total = 0.0
                for skus in options:
                    prices = [self._price_of(sku) for sku in skus]
                    known = [p for p in prices if p is not None]
                    if not known:
                        break
                    total += min(known)
                else:
                    product.price, product.price_is_from = round(total, 2), True
            elif product.product_type is ProductType.GROUPED:
                prices = [self._price_of(link.target_sku) for link in product.links]
                known = [p for p in prices if p is not None]
                if known:
                    product.price, product.price_is_from = min(known), True

    def _price_of(self, sku: str) -> float | None:
        product = self._by_sku.get(self.records.sku_aliases.get(sku, sku))
        return product.effective_price if product else None

    def _read_msrp(self, path: Path) -> None:
        if not path.is_file():
            return
        for line, row in csv_rows(path, self.report, required=("sku", "msrp")):
            product = self._by_sku.get(row["sku"])
            if product is not None:
                product.msrp = price_or_report(row["msrp"], self.report, path.name, line)

    def _read_reviews(self, path: Path) -> None:
        if not path.is_file():
            return
        columns = ("sku", "rating_value", "review")
        for line, row in csv_rows(path, self.report, required=columns, expected=("title",)):
            try:
                rating = float(row["rating_value"])
                if not 1 <= rating <= 5:
                    raise ValueError
            except ValueError:
                self.report.add(IssueReason.BAD_RATING, path.name, line, row["rating_value"])
                continue
            review = Review(
                rating=rating,
                title=row.get("title", ""),
                text=row["review"],
                author=row.get("reviewer", ""),
            )
            self.records.reviews.append(ReviewRecord(row["sku"], review, path.name, line))

    def _read_links(self, path: Path, kind: LinkKind) -> None:
        for line, row in csv_rows(path, self.report, required=("sku", "linked_sku")):
            for target in split_values(row["linked_sku"], "\n,|"):
                link = ProductLink(kind, target)
                self.records.links.append(LinkRecord(row["sku"], link, path.name, line))

    # -- shared ---------------------------------------------------------------------------------
    def _add(self, product: Product, source: str, line: int) -> None:
        self.records.products.append((product, source, line))
        self._by_sku.setdefault(product.sku, product)

    def _add_images(
        self, product: Product, references: list[str], source: str, line: int, color: str | None
    ) -> None:
        known = {image.path: image for image in product.images}
        for reference in references:
            path = resolve_image(self.images_root, reference, self.report, source, line)
            if path is None:
                continue
            if str(path) in known:
                self._claim(known[str(path)], color)
                continue
            role = image_role(reference, first=not product.images)
            image = ProductImage(str(path), role, color)
            product.images.append(image)
            known[image.path] = image

    def _claim(self, image: ProductImage, color: str | None) -> None:
        """A parent's own photo that a variant row lists shows that variant's colour, unless
        variants of another colour list it too (then it shows no one colour)."""
        if color is None or image.path in self._shared_photos:
            return
        if image.color is None:
            image.color = color
        elif image.color.lower() != color.lower():
            image.color = None
            self._shared_photos.add(image.path)


def _not_visible(row: dict[str, str]) -> bool:
    return row.get("visibility", "").lower().startswith("not visible")


def _product_type(value: str) -> ProductType:
    try:
        return ProductType(value.lower())
    except ValueError:
        return ProductType.SIMPLE


def _row_images(row: dict[str, str]) -> list[str]:
    references = [row.get(c, "") for c in ("base_image", "small_image", "thumbnail_image")]
    references += split_values(row.get("additional_images", ""), ",")
    return [r for r in dict.fromkeys(references) if r]


def _key_values(text: str) -> dict[str, str]:
    pairs = (part.partition("=") for part in text.split(","))
    return {k.strip(): v.strip() for k, _, v in pairs if k.strip()}


def _parse_additional_attributes(text: str) -> dict[str, list[str]]:
    """'material=Wool|Fleece,pattern=Solid' -> {'material': ['Wool', 'Fleece'], ...}.

    A comma inside a value (no '=' in the next piece) belongs to the previous value.
    """
    attributes: dict[str, list[str]] = {}
    last = None
    for piece in text.split(","):
        key, sep, value = piece.partition("=")
        if sep:
            last = ATTRIBUTE_ALIASES.get(key.strip(), key.strip())
            values = [html.unescape(v) for v in split_values(value, "|")]
            attributes.setdefault(last, []).extend(v for v in values if v)
        elif last and attributes.get(last):
            attributes[last][-1] += "," + piece
    for skip in ("has_options", "required_options"):
        attributes.pop(skip, None)
    return attributes


def _category_paths(text: str, separator: str) -> list[list[str]]:
    paths = []
    for raw in split_values(text, separator):
        parts = [p.strip() for p in raw.split("/") if p.strip()]
        if parts and parts[0] == ROOT_CATEGORY:
            parts = parts[1:]
        if parts and parts not in paths:
            paths.append(parts)
    return paths


def _gear_category_paths(names: list[str]) -> list[list[str]]:
    """The gear CSVs list several paths as one run of names ("Gear, Bags, Collections, New
    Luma Yoga Collection"); a new path starts at the first name or a merchandising root."""
    paths: list[list[str]] = []
    for name in names:
        if not paths or name in MERCHANDISING_ROOTS or name == names[0]:
            paths.append([name])
        else:
            paths[-1].append(name)
    return [p for i, p in enumerate(paths) if p not in paths[:i]]


def _primary_path(paths: list[list[str]]) -> list[str]:
    """The deepest path under a real department (Men/Tops/Jackets beats Collections/...)."""
    real = [p for p in paths if p[0] not in MERCHANDISING_ROOTS] or paths
    return max(real, key=len) if real else []


def _add_gender_from_categories(product: Product) -> None:
    if "gender" in product.attributes:
        return
    genders = {GENDER_ROOTS[p[0]] for p in product.categories if p and p[0] in GENDER_ROOTS}
    if genders:
        product.attributes["gender"] = sorted(genders)


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def read_magento(
    source: Path, catalog: str, images_root: Path | None, report: IngestReport
) -> SourceRecords:
    """Read a fixtures folder or an export CSV; raises SourceError for anything else."""
    reader = MagentoReader(catalog, images_root or images_root_for(source), report)
    if is_fixtures_dir(source):
        return reader.read_fixtures(source)
    if source.is_file():
        return reader.read_export(source)
    raise SourceError(f"{source}: not a Magento export CSV or sample-data fixtures folder")
