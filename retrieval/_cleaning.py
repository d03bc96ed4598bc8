"""Catalog cleaning and enrichment rules, configured in YAML (`prompts/cleaning.yml`).

Store exports carry HTML, entities, stray whitespace, shop jargon and junk reviews; the assistant
quotes catalog text to shoppers, so it is normalised once at ingest rather than at every turn.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, fields
from html.parser import HTMLParser
from pathlib import Path
from statistics import quantiles
from typing import Any

import yaml

from retrieval._model import Product, Review

_BLOCK_TAGS = {"p", "div", "br", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table"}
_DROP_TAGS = {"script", "style", "iframe", "object", "noscript", "template"}
_BULLETS = "\u2022\u25cf\u25aa\u2023\u2043*-"
_SENTENCE_END = ".!?:;"


class _TextExtractor(HTMLParser):
    """Collects text as lines: block tags and list items break lines, script/style vanish."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[str, bool]] = []  # (text, is_list_item)
        self._current: list[str] = []
        self._current_is_item = False
        self._dropping = 0

    def _flush(self) -> None:
        text = "".join(self._current).strip()
        if text:
            self.lines.append((text, self._current_is_item))
        self._current, self._current_is_item = [], False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_TAGS:
            self._dropping += 1
        elif tag == "li":
            self._flush()
            self._current_is_item = True
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_TAGS:
            self._dropping = max(0, self._dropping - 1)
        elif tag in _BLOCK_TAGS or tag == "li":
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._dropping:
            return
        for i, part in enumerate(data.split("\n")):
            if i:
                self._flush()
            self._current.append(part)

    def close(self) -> None:
        super().close()
        self._flush()


def html_to_text(raw: str, *, list_items_as_sentences: bool = True) -> str:
    """Plain text from store HTML: tags stripped, entities decoded, list items as sentences.

    A line that is a list item (`<li>` or a leading bullet such as `&bull;`) ends with a full
    stop, so "• Machine wash" reads as a sentence when quoted or embedded.
    """
    parser = _TextExtractor()
    parser.feed(raw)
    parser.close()
    sentences: list[str] = []
    for text, is_item in parser.lines:
        line = normalise_whitespace(html.unescape(text))
        if line[:1] in _BULLETS and line[1:2] in (" ", ""):
            line, is_item = line[1:].strip(), True
        if not line:
            continue
        if is_item and list_items_as_sentences and line[-1] not in _SENTENCE_END:
            line += "."
        sentences.append(line)
    return " ".join(sentences)


def normalise_whitespace(text: str) -> str:
    """Collapse every run of whitespace (including NBSP, zero-width and control characters such
    as NUL) to one space."""
    return re.sub(
        r"[\s\x00-\x1f\x7f\u200b\u200c\u200d\ufeff]+", " ", text.replace("\xa0", " ")
    ).strip()


@dataclass(frozen=True, slots=True)
class TagRule:
    """A product gets the tag when any condition holds (attribute value, category, text)."""

    attributes: dict[str, list[str]] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    text: str | None = None

    def matches(self, product: Product) -> bool:
        for name, wanted in self.attributes.items():
            have = {v.lower() for v in product.attributes.get(name, [])}
            if have & {w.lower() for w in wanted}:
                return True
        paths = ["/".join(path).lower() for path in product.categories]
        if any(c.lower() in path for c in self.categories for path in paths):
            return True
        if self.text:
            return re.search(self.text, f"{product.title} {product.description}", re.I) is not None
        return False


@dataclass(frozen=True, slots=True)
class CleaningConfig:
    """Every cleaning and enrichment rule; `from_yaml` reads the product team's file."""

    list_items_as_sentences: bool = True
    abbreviations: dict[str, str] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)
    review_min_chars: int = 10
    review_spam_patterns: tuple[str, ...] = ()
    budget_quantile: float = 0.25
    premium_quantile: float = 0.75
    min_category_size: int = 4
    tag_rules: dict[str, TagRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.budget_quantile < self.premium_quantile < 1:
            raise ValueError("tags.price_quantiles: need 0 < budget < premium < 1")
        if self.review_min_chars < 0:
            raise ValueError("reviews.min_chars must be >= 0")
        for pattern in (*self.review_spam_patterns, *(r.text for r in self.tag_rules.values())):
            if pattern:
                re.compile(pattern)

    @classmethod
    def from_yaml(cls, path: Path) -> CleaningConfig:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: invalid YAML: {exc}") from exc
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CleaningConfig:
        """The rules from the file's mapping. A key the file may not have (`synonym:` for
        `synonyms:`) is refused by name: ignored, it would silently drop a rule."""
        sections = _mapping("", data, _SECTIONS)
        text = _mapping("text", sections.get("text"), ("list_items_as_sentences",))
        reviews = _mapping("reviews", sections.get("reviews"), ("min_chars", "spam_patterns"))
        tags = _mapping(
            "tags", sections.get("tags"), ("price_quantiles", "min_category_size", "rules")
        )
        bands = _mapping("tags.price_quantiles", tags.get("price_quantiles"), ("budget", "premium"))
        rules = _mapping("tags.rules", tags.get("rules"), None)
        rule_keys = tuple(f.name for f in fields(TagRule))
        return cls(
            list_items_as_sentences=_switch(
                "text.list_items_as_sentences", text.get("list_items_as_sentences", True)
            ),
            abbreviations={
                str(k): str(v)
                for k, v in _mapping("abbreviations", data.get("abbreviations"), None).items()
            },
            synonyms={
                str(k).lower(): str(v)
                for k, v in _mapping("synonyms", data.get("synonyms"), None).items()
            },
            review_min_chars=int(_number("reviews.min_chars", reviews.get("min_chars", 10))),
            review_spam_patterns=tuple(reviews.get("spam_patterns", ())),
            budget_quantile=_number("tags.price_quantiles.budget", bands.get("budget", 0.25)),
            premium_quantile=_number("tags.price_quantiles.premium", bands.get("premium", 0.75)),
            min_category_size=int(
                _number("tags.min_category_size", tags.get("min_category_size", 4))
            ),
            tag_rules={
                name: TagRule(**_mapping(f"tags.rules.{name}", rule, rule_keys))
                for name, rule in rules.items()
            },
        )


_SECTIONS = ("text", "abbreviations", "synonyms", "reviews", "tags")


def _mapping(where: str, value: Any, allowed: tuple[str, ...] | None) -> dict[str, Any]:
    """`value` as a mapping (absent: empty) whose keys are all `allowed` (None: any key)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where or 'the file'}: expected a mapping, got {value!r}")
    unknown = sorted(str(k) for k in value if allowed is not None and k not in allowed)
    if unknown:
        place = f" in {where}" if where else ""
        raise ValueError(
            f"unknown key(s){place}: {', '.join(unknown)} (expected {', '.join(allowed or ())})"
        )
    return value


def _switch(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: expected true or false, got {value!r}")
    return value


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    return float(value)


class Cleaner:
    """Applies a `CleaningConfig` to text, reviews and whole catalogs."""

    def __init__(self, config: CleaningConfig) -> None:
        self.config = config
        self._abbreviations = _word_pattern(config.abbreviations, ignore_case=False)
        self._synonyms = _word_pattern(config.synonyms, ignore_case=True)
        self._spam = [re.compile(p, re.I) for p in config.review_spam_patterns]

    def text(self, raw: str) -> str:
        """HTML to text, then abbreviations and synonyms normalised."""
        return self.normalise_terms(
            html_to_text(raw, list_items_as_sentences=self.config.list_items_as_sentences)
        )

    def title(self, raw: str) -> str:
        """Titles keep the store's wording (they are names), only markup and spacing go."""
        return html_to_text(raw, list_items_as_sentences=False)

    def normalise_terms(self, text: str) -> str:
        if self._abbreviations:
            text = self._abbreviations.sub(lambda m: self.config.abbreviations[m.group(0)], text)
        if self._synonyms:
            text = self._synonyms.sub(lambda m: self.config.synonyms[m.group(0).lower()], text)
        return text

    def review_rejection(self, review: Review) -> str | None:
        """'too_short' or 'spam' when the review should be dropped, else None."""
        if len(review.text.strip()) < self.config.review_min_chars:
            return "too_short"
        if any(p.search(f"{review.title} {review.text}") for p in self._spam):
            return "spam"
        return None

    def derive_tags(self, products: list[Product]) -> None:
        """Tags from rules, price bands within the primary category, and real discounts."""
        by_category: dict[str, list[float]] = {}
        for product in products:
            if product.effective_price is not None:
                key = "/".join(product.category_path)
                by_category.setdefault(key, []).append(product.effective_price)
        cuts: dict[str, tuple[float, float]] = {}
        for key, prices in by_category.items():
            if len(prices) >= self.config.min_category_size:
                q = quantiles(prices, n=100, method="inclusive")
                cuts[key] = (
                    q[round(self.config.budget_quantile * 100) - 1],
                    q[round(self.config.premium_quantile * 100) - 1],
                )
        for product in products:
            tags = [name for name, rule in self.config.tag_rules.items() if rule.matches(product)]
            band = cuts.get("/".join(product.category_path))
            price = product.effective_price
            if band and price is not None:
                if price <= band[0]:
                    tags.append("budget")
                elif price >= band[1]:
                    tags.append("premium")
            if product.on_sale:
                tags.append("on-sale")
            product.tags = sorted(set(product.tags) | set(tags))


def _word_pattern(mapping: dict[str, str], *, ignore_case: bool) -> re.Pattern[str] | None:
    if not mapping:
        return None
    words = sorted(mapping, key=len, reverse=True)
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.I if ignore_case else 0)
