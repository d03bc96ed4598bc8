"""Exact hard filtering from the catalog store's facts, held in memory as row masks.

Pushing filters into Chroma's `where` is slow (a filtered HNSW query at 100k vectors measured
~256 ms p95 here) and approximate. Here every product is a row; each facet value keeps the rows
that have it, prices and flags are numpy columns, and a filter is a few vectorised boolean
operations: exact, and milliseconds at a million products.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import reduce

import numpy as np

from retrieval._model import FILTER_ATTRIBUTES, NO_VALUES, SALE_CATEGORY, YES_VALUES, Product
from retrieval._query import Exclusions, Filters

# Filters field -> facet name; "unisex" products match every gender filter.
FACET_FIELDS = {
    "colors": "color",
    "sizes": "size",
    "categories": "category",
    "genders": "gender",
    "brands": "brand",
}
UNISEX = "unisex"
LABELS = {
    "price_min": "minimum price",
    "price_max": "price limit",
    "colors": "colour",
    "sizes": "size",
    "categories": "category",
    "genders": "gender",
    "brands": "brand",
    **{name: name.replace("_", " ") for name in FILTER_ATTRIBUTES},
    "min_rating": "minimum rating",
    "on_sale": "on sale",
    "in_stock": "in stock",
    "catalog": "catalog",
    "kinds": "kind",
    "labels": "label",
}
# Attributes that are facets of their own, never yes/no labels.
FACET_ATTRIBUTES = {"color", "size", "gender", "brand", *FILTER_ATTRIBUTES}
# Category names that only group other campaigns ("Collections > Eco Friendly").
CAMPAIGN_PARENTS = {"collections", "promotions"}
Mask = np.ndarray
# "Bras & Tanks", "Hoodies and Sweatshirts", "Tops/Tees": a category name made of several.
COMBINED_NAME = re.compile(r"\s*(?:&|/|\band\b)\s*")
TITLE_WORD = re.compile(r"[a-z0-9]+(?:[.\-'][a-z0-9]+)*")
# Trailing title words that give a measure, not the noun: "Sprite Yoga Strap 6 foot".
MEASURE_WORDS = {"cm", "mm", "m", "in", "inch", "ft", "foot", "feet", "lb", "lbs", "oz", "kg",
                 "g", "l", "ml", "pack", "pcs", "set"}  # fmt: skip
# A title word that more products carry is a line or a family, not one product's name.
NAME_PRODUCTS = 4
# Facets whose values are no product noun: "Black Boots" is boots, in black.
DESCRIBING_FACETS = ("color", "gender", "brand", "size", *FILTER_ATTRIBUTES)


class CatalogView:
    """Products as rows with facet postings and fact columns; rebuilt after each ingest."""

    def __init__(self, products: Iterable[Product]) -> None:
        self.products: dict[str, Product] = {p.id: p for p in products}
        self.ids: list[str] = list(self.products)
        self.row: dict[str, int] = {pid: i for i, pid in enumerate(self.ids)}
        # (catalog, variant SKU) -> product id, so links naming a variant find its product.
        self.variant_owner: dict[tuple[str, str], str] = {
            (p.catalog, v.sku): p.id for p in self.products.values() for v in p.variants
        }
        postings: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, product in enumerate(self.products.values()):
            for facet in ("color", "size", "gender", *FILTER_ATTRIBUTES):
                for value in product.attribute_values(facet):
                    postings[facet][value.lower()].append(i)
            for name in product.category_names:
                postings["category"][name.lower()].append(i)
            if product.brand:
                postings["brand"][product.brand.lower()].append(i)
            for variant in product.variants:
                if variant.in_stock:
                    colour, size = (variant.color or "").lower(), (variant.size or "").lower()
                    postings["variant_color"][colour].append(i)
                    postings["variant_size"][size].append(i)
                    postings["variant"][f"{colour}|{size}"].append(i)
            postings["catalog"][product.catalog].append(i)
            for word in title_words(product.title):
                postings["title_word"][word].append(i)
            for style in product.attribute_values("style"):
                postings["style"][style.lower()].append(i)
        for name, rows in _flag_labels(self.products.values()).items():
            postings["label"][name].extend(rows)
        for name, rows in _campaign_labels(self.products.values(), postings["label"]).items():
            postings["label"][name].extend(rows)
        self.postings = {
            facet: {
                value: np.unique(np.asarray(rows, dtype=np.int64)) for value, rows in values.items()
            }
            for facet, values in postings.items()
        }
        products_list = list(self.products.values())
        self.price = np.array(
            [np.nan if p.effective_price is None else p.effective_price for p in products_list]
        )
        self.rating = np.array([np.nan if p.rating is None else p.rating for p in products_list])
        self.on_sale = np.array([p.in_sale for p in products_list], dtype=bool)
        self.in_stock = np.array([p.in_stock for p in products_list], dtype=bool)
        self.has_variants = np.array([bool(p.variants) for p in products_list], dtype=bool)
        self._recorded: dict[str, Mask] = {}

    def resolve_sku(self, catalog: str, sku: str) -> Product | None:
        """The product a SKU names in a catalog: its own, or the parent of that variant."""
        pid = f"{catalog}:{sku}"
        if pid not in self.products:
            pid = self.variant_owner.get((catalog, sku), "")
        return self.products.get(pid)

    def __len__(self) -> int:
        return len(self.ids)

    def vocabulary(self, facet: str) -> list[str]:
        return sorted(self.postings.get(facet, {}))

    def mask_of(self, ids: Iterable[str]) -> Mask:
        mask = np.zeros(len(self.ids), dtype=bool)
        mask[[self.row[i] for i in ids if i in self.row]] = True
        return mask

    def ids_of(self, mask: Mask) -> list[str]:
        return [self.ids[i] for i in np.flatnonzero(mask)]

    def facet_mask(self, facet: str, values: Iterable[str]) -> Mask:
        wanted = {v.lower() for v in values}
        if facet == "gender" and wanted:
            wanted.add(UNISEX)
        mask = np.zeros(len(self.ids), dtype=bool)
        for value in wanted:
            rows = self.postings.get(facet, {}).get(value)
            if rows is not None:
                mask[rows] = True
        return mask

    def _kinds_of(self, facet: str, values: Iterable[str]) -> set[str]:
        """The values and the store's values that name them as a kind: "no cotton" refuses
        "Organic Cotton" too, "not wool" "Merino Wool"."""
        wanted = {v.lower() for v in values}
        kinds = {
            stored
            for stored in self.postings.get(facet, {})
            if any(re.search(rf"\b{re.escape(v)}\b", stored) for v in wanted)
        }
        return wanted | kinds

    def category_family(self, name: str) -> tuple[str, ...]:
        """The category and those whose combined name holds it as a part: "tanks" is also
        "Bras & Tanks" (where Luma keeps women's tanks), "hoodies" is "Hoodies & Sweatshirts"."""
        wanted = name.lower().strip()
        family = [wanted]
        for other in self.postings.get("category", {}):
            parts = {p.strip() for p in COMBINED_NAME.split(other)}
            if other != wanted and len(parts) > 1 and wanted in parts:
                family.append(other)
        return tuple(family)

    def part_styles(self) -> list[str]:
        """Styles that split a combined category into kinds of their own: in "Bras & Tanks"
        every product is filed as a Bra or a Tank, never both, so "sports bra" means the
        bras; in "Hoodies & Sweatshirts" products are filed as both, so the words are one
        kind to a shopper and split nothing."""
        found: set[str] = set()
        styles = self.postings.get("style", {})
        for name, rows in self.postings.get("category", {}).items():
            parts = [p.strip() for p in COMBINED_NAME.split(name) if p.strip()]
            if len(parts) < 2:
                continue
            by_part = {
                style: set(np.intersect1d(styles[style], rows).tolist())
                for part in parts
                for style in styles
                if _singular_phrase(style) == _singular_phrase(part)
            }
            if len(by_part) != len(parts) or not all(by_part.values()):
                continue
            members = list(by_part.values())
            if all(a.isdisjoint(b) for i, a in enumerate(members) for b in members[i + 1 :]):
                found.update(by_part)
        return sorted(found)

    def kind_nouns(self) -> dict[str, str]:
        """What the titles call products ("headlamp", "chalk bag", "jump rope") -> the
        category the catalog files most of the products so named under.

        Why: categories are coarse and named by the store ("Trekking" holds headlamps and
        tents), while shoppers ask by the noun on the product. A title ends in its noun, so
        its last word and last two words (measures dropped) are read as kinds; a phrase that
        starts with a colour, gender, brand, size or attribute value is left to those facets.
        """
        describing = {v for f in DESCRIBING_FACETS for v in self.postings.get(f, {})}
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for product in self.products.values():
            words = TITLE_WORD.findall(product.title.lower().replace("\u2122", ""))
            while words and (words[-1] in MEASURE_WORDS or any(c.isdigit() for c in words[-1])):
                words.pop()
            if not words or len(words[-1]) < 3 or words[-1] in describing:
                continue
            phrases = [words[-1]]
            # "Chalk Bag" is a kind of its own (Climbing); "Workout Top" is filed under Tops,
            # which "top" alone already names, so the longer phrase would only narrow it.
            head = singular(words[-1])
            under_head = any(
                singular(name.lower()) == head for path in product.categories for name in path
            )
            if (
                len(words) >= 3
                and words[-2] not in describing
                and words[-2].isalpha()
                and not under_head
            ):
                phrases.append(" ".join(words[-2:]))
            if product.category_path:  # the department path, not a campaign's
                for phrase in phrases:
                    counts[phrase][product.category_path[-1]] += 1
        # The category most products so named are filed under; at a tie, the first seen.
        return {
            phrase: max(leaves.items(), key=lambda item: item[1])[0]
            for phrase, leaves in counts.items()
        }

    def product_names(self) -> dict[str, tuple[str, ...]]:
        """The distinctive words and word pairs that open product titles ("trailtracker",
        "pulse recon", "frankie") -> the titles that carry them.

        Why: shoppers name a product by the part of its title that is a name, not by the whole
        title ("the Teton pullover", "trailtracker"). A name is the first word of a title (or
        its first two) that at most `NAME_PRODUCTS` titles open with, that no product
        describes itself with unless its title has it too (everyday words turn up in other
        products' descriptions), and that is no colour, material, size, kind or category word.
        """
        kinds = self.kind_nouns()
        common = {v for f in (*DESCRIBING_FACETS, "category") for v in self.postings.get(f, {})}
        common |= {w for k in kinds for w in k.split()} | MEASURE_WORDS
        categories = self.postings.get("category", {})
        common |= {w for name in categories for w in TITLE_WORD.findall(name)}
        titled: dict[str, set[int]] = defaultdict(set)
        for row, product in enumerate(self.products.values()):
            words = TITLE_WORD.findall(product.title.lower().replace("\u2122", ""))
            # A title opens with its name ("Teton Pullover Hoodie", "Pulse Recon GPS Watch");
            # words further in describe ("Hooded", "Insulated") and the last is the noun.
            if len(words) >= 2 and len(words[0]) >= 4 and words[0].isalpha():
                if words[0] not in common:
                    titled[words[0]].add(row)
                if len(words) >= 3 and words[1] not in common:
                    titled[f"{words[0]} {words[1]}"].add(row)
        candidates = {n: rows for n, rows in titled.items() if len(rows) <= NAME_PRODUCTS}
        described: dict[str, set[int]] = defaultdict(set)
        wanted = {w for name in candidates for w in name.split()}
        for row, product in enumerate(self.products.values()):
            for word in set(TITLE_WORD.findall(product.description.lower())) & wanted:
                described[word].add(row)
        names: dict[str, tuple[str, ...]] = {}
        for name, rows in candidates.items():
            words = name.split()
            elsewhere = set.intersection(*(described[w] for w in words)) - rows
            if len(words) > 1:
                # A pair is a name when its words stand together nowhere else.
                pattern = re.compile(rf"\b{re.escape(words[0])}\W+{re.escape(words[1])}\b")
                descriptions = {r: self.products[self.ids[r]].description for r in elsewhere}
                elsewhere = {r for r, text in descriptions.items() if pattern.search(text.lower())}
            if not elsewhere:
                names[name] = tuple(sorted({self.products[self.ids[r]].title for r in rows}))
        return names

    def carries(self, facet: str, categories: Iterable[str] = ()) -> bool:
        """Whether the catalog states `facet` for this kind of product (any of `categories`,
        else the whole catalog): for at least one product of the kind, or, with no kind named,
        for most products. A facet the catalog leaves blank for a kind (Luma sets no activity
        on apparel) cannot be a hard filter there: it would empty every page."""
        kind = self.facet_mask("category", categories) if categories else None
        stated = np.zeros(len(self.ids), dtype=bool)
        for rows in self.postings.get(facet, {}).values():
            stated[rows] = True
        if kind is not None:
            return bool((stated & kind).any())
        return bool(len(self.ids)) and stated.mean() >= 0.5

    def allowed(self, filters: Filters, exclude: Exclusions) -> Mask:
        """Rows satisfying every hard filter and no exclusion."""
        mask = np.ones(len(self.ids), dtype=bool)
        for name in filters.active():
            if name not in ("colors", "sizes"):
                mask &= self._satisfying(name, filters)
                if not mask.any():
                    return mask
        if filters.colors or filters.sizes:
            mask &= self._colour_and_size(filters)
        return mask & ~self._excluded(exclude)

    def _colour_and_size(self, filters: Filters) -> Mask:
        """A wanted size and colour must exist together, in stock, on one variant; products
        without variants are judged on their attributes."""
        colours, sizes = filters.colors, filters.sizes
        plain = ~self.has_variants
        if colours:
            plain &= self.facet_mask("color", colours)
        if sizes:
            plain &= self.facet_mask("size", sizes)
        if colours and sizes:
            pairs = [f"{c.lower()}|{s.lower()}" for c in colours for s in sizes]
            on_variant = self.facet_mask("variant", pairs)
        elif colours:
            on_variant = self.facet_mask("variant_color", colours)
        else:
            on_variant = self.facet_mask("variant_size", sizes)
        return plain | (self.has_variants & on_variant)

    def _satisfying(self, name: str, filters: Filters) -> Mask:
        value = filters.attributes.get(name) or getattr(filters, name)
        if name == "labels":  # every label asked for, not any
            mask = np.ones(len(self.ids), dtype=bool)
            for label in value:
                mask &= self.facet_mask("label", [label])
            return mask
        if name in FACET_FIELDS:
            return self.facet_mask(FACET_FIELDS[name], value)
        if name in filters.attributes:
            values = filters.attributes[name]
            # A product whose catalog records no value of the attribute is judged by its title:
            # eShop keeps no "features", and its "Waterproof Duffel Bag" is a waterproof duffel.
            return self.facet_mask(name, values) | (~self.recorded(name) & self.titled(values))
        with np.errstate(invalid="ignore"):
            if name == "catalog":
                return self.facet_mask("catalog", [value])
            if name == "price_min":
                return self.price >= value
            if name == "price_max":
                return self.price <= value
            if name == "min_rating":
                return self.rating >= value
        if name == "on_sale":
            return self.on_sale.copy()
        if name == "in_stock":
            return self.in_stock.copy()
        if name == "kinds":
            return self.named_as(value)
        raise ValueError(f"unknown filter {name!r}")

    def labels_of(self, product_id: str) -> set[str]:
        """The labels a product carries, its yes/no flags and its campaigns alike."""
        row = self.row.get(product_id)
        labels = self.postings.get("label", {}).items()
        return {name for name, rows in labels if row is not None and row in rows}

    def named_as(self, nouns: Iterable[str]) -> Mask:
        """Rows that a title or a stated style names as any of the nouns: the title's words
        (`title_names`, from the title-word postings rather than a scan of every title), or
        the style the store files the product under ("Capri" pants titled "Sahara Leggings"
        are capris too)."""
        nouns = [n for n in nouns if n.strip()]
        heads = noun_heads(nouns)
        phrases = {form for n in nouns for form in (_singular_phrase(n), n.lower())}
        # "soft shell" names the "Horizon 80s Softshell Jacket": the phrase written as one word
        joined = {_singular_phrase(n).replace(" ", "") for n in nouns if " " in n.strip()}
        mask = np.zeros(len(self.ids), dtype=bool)
        for word, rows in self.postings.get("title_word", {}).items():
            if word in joined or any(same_noun(word, head) for head in heads):
                mask[rows] = True
        for style, rows in self.postings.get("style", {}).items():
            if {_singular_phrase(style), f"{_singular_phrase(style)}s"} & phrases:
                mask[rows] = True
        return mask

    def recorded(self, facet: str) -> Mask:
        """Rows with any value of the facet (computed once per view: searches filter on it)."""
        if facet not in self._recorded:
            self._recorded[facet] = self.facet_mask(facet, self.postings.get(facet, {}))
        return self._recorded[facet]

    def titled(self, values: Iterable[str]) -> Mask:
        """Rows whose title carries every word of a value, or the value as one word
        ("waterproof", "soft shell" in "Softshell")."""
        postings = self.postings.get("title_word", {})
        mask = np.zeros(len(self.ids), dtype=bool)
        for value in values:
            words = [singular(w) for w in TITLE_WORD.findall(value.lower())]
            for form in (words, ["".join(words)]) if len(words) > 1 else (words,):
                rows = [postings.get(w) for w in form]
                if form and all(r is not None for r in rows):
                    mask[reduce(np.intersect1d, rows)] = True
        return mask

    def styles_of(self, product_id: str) -> set[str]:
        """The styles a product is filed under, lower-cased ("full zip", "duffel")."""
        return {s.lower() for s in self.products[product_id].attribute_values("style")}

    def _excluded(self, exclude: Exclusions) -> Mask:
        out = self.mask_of(exclude.product_ids)
        for name, facet in (("brands", "brand"), ("categories", "category")):
            values = getattr(exclude, name)
            if values:
                out |= self.facet_mask(facet, values)
        if exclude.categories:
            # "handheld gps, not a watch": a refused kind also goes where another department
            # titles a product by its noun (an eShop "GPS Watch" filed under Navigation)
            out |= self.named_as(
                part for c in exclude.categories for part in COMBINED_NAME.split(c)
            )
        for name, values in exclude.attributes.items():
            out |= self.facet_mask(name, self._kinds_of(name, values))
        if exclude.kinds:
            out |= self.named_as(exclude.kinds)
        if exclude.on_sale:
            out |= self.on_sale
        if exclude.colors:
            # "not black" keeps a hoodie that also comes in grey: drop only rows whose every
            # colour is excluded.
            banned = {c.lower() for c in exclude.colors}
            for row in np.flatnonzero(self.facet_mask("color", banned)):
                colours = {
                    c.lower() for c in self.products[self.ids[row]].attribute_values("color")
                }
                if not colours - banned:
                    out[row] = True
        return out

    def describe(self, filters: Filters, name: str) -> str:
        value = filters.attributes.get(name) or getattr(filters, name)
        label = LABELS.get(name, name)
        if isinstance(value, tuple):
            joiner = " and " if name == "labels" else " or "  # every label, any other value
            return f"{label} {joiner.join(value)}"
        if isinstance(value, bool):
            return label
        if name in ("price_min", "price_max"):
            return f"{label} ${value:.2f}"
        return f"{label} {value}"


def _flag_labels(products: Iterable[Product]) -> dict[str, list[int]]:
    """The store's own yes/no labels ("eco collection", "new", "performance fabric", "erin
    recommends") -> the rows that say yes: attributes every product of the catalog writes as
    a yes or a no (one product's `pockets: 1` beside another's `pockets: 2` is a count, not a
    label). The sale flag is `in_sale`; facet attributes are facets."""
    said: dict[str, set[str]] = defaultdict(set)
    products = list(products)
    for product in products:
        for name, values in product.attributes.items():
            said[name] |= {v.strip().lower() for v in values}
    flags = {
        name
        for name, values in said.items()
        if name != "sale"
        and name not in FACET_ATTRIBUTES
        and values & YES_VALUES
        and values <= YES_VALUES | NO_VALUES
    }
    labels: dict[str, list[int]] = defaultdict(list)
    for row, product in enumerate(products):
        for name in flags:
            if {v.strip().lower() for v in product.attributes.get(name, [])} & YES_VALUES:
                labels[name.replace("_", " ").strip().lower()].append(row)
    return labels


def _campaign_labels(
    products: Iterable[Product], flags: dict[str, list[int]]
) -> dict[str, list[int]]:
    """Categories no product is filed under as its department ("Eco Friendly", "Performance
    Fabrics", "New Luma Yoga Collection") are labels too: a shopper's "eco friendly shorts"
    wants shorts that carry it, not shorts or anything eco. A campaign named like a yes/no
    label ("Performance Fabrics", "performance fabric") adds to that label; sale categories
    are `in_sale`."""
    products = list(products)
    departments = {name.lower() for p in products for name in p.category_path}
    campaigns: dict[str, list[int]] = defaultdict(list)
    for row, product in enumerate(products):
        for name in {n.lower() for path in product.categories for n in path}:
            if name in departments or name in CAMPAIGN_PARENTS or SALE_CATEGORY.search(name):
                continue
            words = name.split()
            flag = " ".join([*words[:-1], singular(words[-1])]) if words else name
            campaigns[flag if flag in flags else name].append(row)
    return campaigns


def singular(word: str) -> str:
    """ "backpacks" -> "backpack", "watches" -> "watch"; short words and "-ss" stay."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-2] if word.endswith(("ches", "shes", "xes")) else word[:-1]
    return word


def noun_pattern(noun: str) -> str:
    """A noun in singular or plural: "backpacks" and "backpack" both match either."""
    words = noun.lower().split()
    stem = r"\s+".join(re.escape(w) for w in [*words[:-1], singular(words[-1])])
    return stem + r"(?:e?s)?"


def title_words(title: str) -> set[str]:
    """A title's words in the singular, as nouns are compared."""
    return {singular(w) for w in TITLE_WORD.findall(title.lower())}


def _singular_phrase(phrase: str) -> str:
    """ "Track Pants" -> "track pant", "capris" -> "capri": a phrase compared as a noun."""
    words = phrase.lower().replace("-", " ").split()
    return " ".join([*words[:-1], singular(words[-1])]) if words else ""


def noun_heads(nouns: Iterable[str]) -> set[str]:
    """The last word of each noun phrase, singular: "chalk bags" is named by a "bag"."""
    return {singular(n.lower().split()[-1]) for n in nouns if n.strip()}


def title_names(title: str, nouns: Iterable[str]) -> bool:
    """Whether the title names any of the nouns: the last word of each, in singular or plural
    and with two letters swapped (a "duffel" search finds the "Joust Duffle")."""
    heads = noun_heads(nouns)
    return any(same_noun(word, head) for word in title_words(title) for head in heads)


def same_noun(word: str, noun: str) -> bool:
    """Equal, or the same letters from the same start ("duffel" / "duffle", "sweatshrit")."""
    if word == noun or noun == f"{word}s":  # "capris" names the "Carina Basic Capri"
        return True
    return len(noun) >= 5 and word[:3] == noun[:3] and sorted(word) == sorted(noun)
