"""How a product reads to the text encoders and the lexical index, and to Chroma metadata."""

from __future__ import annotations

import re

from retrieval._index import Metadata
from retrieval._model import FILTER_ATTRIBUTES, Product

_TOKEN = re.compile(r"[a-z0-9]+")
# Attributes whose values the text encoder reads, every filter attribute among them.
DOCUMENT_ATTRIBUTES = tuple(
    dict.fromkeys(
        ("gender", "color", "material", "activity", "style", "pattern", "gear_type",
         *FILTER_ATTRIBUTES)
    )
)  # fmt: skip
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "were",
        "with",
        "you",
        "your",
    ]
)


def product_document(product: Product, max_description_chars: int = 600) -> str:
    """Title, category, brand and key attributes first (they carry the shopper's words), then
    the start of the description. Truncated so the encoder sees the informative part."""
    parts = [product.title]
    if product.category_path:
        parts.append(" > ".join(product.category_path))
    if product.brand:
        parts.append(f"by {product.brand}")
    for name in DOCUMENT_ATTRIBUTES:
        values = product.attribute_values(name)
        if values:
            parts.append(f"{name.replace('_', ' ')}: {', '.join(values)}")
    parts.append(product.description[:max_description_chars])
    return ". ".join(p for p in parts if p)


# "45 litre", "45 liters", "45-l" and "45L" are one capacity, written one way.
_CAPACITY = re.compile(r"\b(\d+(?:\.\d+)?)[\s-]*(?:lit(?:re|er)s?|ltrs?|l)\b")


def tokenize(text: str) -> list[str]:
    """Lower-case alphanumeric tokens, stop words removed, plural 's' folded, capacities in
    litres as one token ("45 liters" -> "45l")."""
    tokens = []
    for token in _TOKEN.findall(_CAPACITY.sub(r"\1l", text.lower())):
        if token in _STOPWORDS:
            continue
        if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        tokens.append(token)
    return tokens


def product_metadata(product: Product) -> Metadata:
    """Chroma metadata for filtering by users of the raw collections (LangChain, scripts)."""
    metadata: Metadata = {
        "catalog": product.catalog,
        "title": product.title,
        "in_stock": product.in_stock,
        "on_sale": product.on_sale,
    }
    if product.effective_price is not None:
        metadata["price"] = product.effective_price
    if product.price is not None:
        metadata["regular_price"] = product.price
    if product.rating is not None:
        metadata["rating"] = product.rating
    if product.brand:
        metadata["brand"] = product.brand
    for level, name in enumerate(product.category_path[:3], start=1):
        metadata[f"category_l{level}"] = name
    for name in ("color", "size", "gender", *FILTER_ATTRIBUTES):
        values = product.attribute_values(name)
        if values:
            metadata[name] = values
    return metadata
