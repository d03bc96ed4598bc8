from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import Cleaner, CleaningConfig, Product, Review, TagRule, html_to_text
from retrieval._cleaning import normalise_whitespace


class TestHtmlToText:
    def test_tags_stripped_and_entities_unescaped(self):
        assert html_to_text("<p>Soft &amp; warm&nbsp;<b>fleece</b> &ndash; Cocona&reg;</p>") == (
            "Soft & warm fleece \u2013 Cocona\u00ae"
        )

    def test_list_items_become_sentences(self):
        raw = "<p>Great kit:</p><ul><li>Ball</li><li> Strap! </li><li>Roller</li></ul>"
        assert html_to_text(raw) == "Great kit: Ball. Strap! Roller."

    def test_unclosed_list_items_as_in_magento_data(self):
        raw = "<p>The kit includes:</p>\n<ul>\n<li> Ball\n<li> Brick\n</ul>"
        assert html_to_text(raw) == "The kit includes: Ball. Brick."

    def test_bullet_entities_become_sentences(self):
        raw = "<p>&bull; Two-tone hoodie.<br />&bull; Drawstring hood <br />&bull; Machine wash</p>"
        assert html_to_text(raw) == "Two-tone hoodie. Drawstring hood. Machine wash."

    def test_list_items_kept_raw_when_disabled(self):
        assert html_to_text("<li>Ball</li><li>Strap</li>", list_items_as_sentences=False) == (
            "Ball Strap"
        )

    def test_script_and_style_content_dropped(self):
        raw = "<p>Nice</p><script>alert('x')</script><style>p{color:red}</style><p>bag</p>"
        assert html_to_text(raw) == "Nice bag"

    def test_plain_text_passes_through(self):
        assert html_to_text("Just a mug, 350 ml") == "Just a mug, 350 ml"

    def test_whitespace_normalised(self):
        assert normalise_whitespace(" a\t\tb\n\nc\u00a0d\u200be ") == "a b c d e"


class TestTermNormalisation:
    def test_abbreviations_are_case_sensitive_whole_words(self):
        cleaner = Cleaner(CleaningConfig(abbreviations={"BT": "Bluetooth"}))
        assert cleaner.normalise_terms("BT speaker, not BTU or bt") == (
            "Bluetooth speaker, not BTU or bt"
        )

    def test_synonyms_are_case_insensitive_whole_words(self):
        cleaner = Cleaner(CleaningConfig(synonyms={"tee": "t-shirt", "tees": "t-shirts"}))
        assert cleaner.normalise_terms("A Tee, two tees, no teenage steel") == (
            "A t-shirt, two t-shirts, no teenage steel"
        )

    def test_titles_keep_store_wording(self, cleaning: CleaningConfig):
        cleaner = Cleaner(cleaning)
        assert cleaner.title("Aero Daily Fitness <b>Tee</b>") == "Aero Daily Fitness Tee"
        assert "t-shirt" in cleaner.text("A soft tee")

    def test_project_rules_load(self, cleaning: CleaningConfig):
        assert cleaning.abbreviations["BT"] == "Bluetooth"
        assert cleaning.synonyms["tee"] == "t-shirt"
        assert {"eco-friendly", "new"} <= set(cleaning.tag_rules)


class TestReviewRules:
    cleaner = Cleaner(CleaningConfig(review_min_chars=10, review_spam_patterns=(r"https?://",)))

    def test_short_review_rejected(self):
        assert self.cleaner.review_rejection(Review(4, "Cute.")) == "too_short"

    def test_spam_review_rejected(self):
        review = Review(5, "Great deal at http://spam.example now")
        assert self.cleaner.review_rejection(review) == "spam"

    def test_enthusiastic_review_kept(self):
        assert self.cleaner.review_rejection(Review(5, "Soooooooooooooo light!")) is None


class TestTagDerivation:
    @staticmethod
    def _products(prices: list[float]) -> list[Product]:
        return [
            Product(
                id=f"c:{i}",
                sku=str(i),
                catalog="c",
                title=f"P{i}",
                price=p,
                category_path=["Bags"],
                categories=[["Bags"]],
            )
            for i, p in enumerate(prices)
        ]

    def test_budget_and_premium_by_quantile_within_category(self):
        products = self._products([10, 20, 30, 40, 50, 60, 70, 80])
        Cleaner(CleaningConfig(budget_quantile=0.25, premium_quantile=0.75)).derive_tags(products)
        tags = {p.price: p.tags for p in products}
        assert "budget" in tags[10] and "budget" in tags[20]
        assert "premium" in tags[80] and "premium" in tags[70]
        assert tags[40] == [] and tags[50] == []

    def test_small_categories_get_no_price_band(self):
        products = self._products([10, 500])
        Cleaner(CleaningConfig(min_category_size=4)).derive_tags(products)
        assert all(p.tags == [] for p in products)

    def test_on_sale_only_for_a_real_discount(self):
        products = self._products([50, 50])
        products[0].sale_price = 40
        products[1].sale_price = 60  # not a discount
        Cleaner(CleaningConfig()).derive_tags(products)
        assert "on-sale" in products[0].tags and "on-sale" not in products[1].tags

    def test_rules_match_attribute_category_or_text(self):
        products = self._products([1, 2, 3])
        products[0].attributes["eco_collection"] = ["yes"]
        products[1].categories.append(["Collections", "Eco Friendly"])
        products[2].description = "Made from recycled bottles."
        rule = TagRule(
            attributes={"eco_collection": ["Yes"]},
            categories=["Eco Friendly"],
            text=r"\brecycled\b",
        )
        Cleaner(CleaningConfig(tag_rules={"eco-friendly": rule})).derive_tags(products)
        assert all("eco-friendly" in p.tags for p in products)


class TestCleaningConfig:
    def test_bad_quantiles_rejected(self):
        with pytest.raises(ValueError, match="price_quantiles"):
            CleaningConfig(budget_quantile=0.8, premium_quantile=0.2)

    def test_bad_regex_rejected(self):
        with pytest.raises(Exception, match=r"unterminated|missing"):
            CleaningConfig(review_spam_patterns=("(unclosed",))

    def test_invalid_yaml_names_the_file(self, tmp_path: Path):
        path = tmp_path / "cleaning.yml"
        path.write_text("reviews: [unclosed\n")
        with pytest.raises(ValueError, match=r"cleaning.yml"):
            CleaningConfig.from_yaml(path)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            # A misspelt section, ignored, would silently drop every synonym.
            ("synonym:\n  tee: t-shirt\n", r"unknown key\(s\): synonym \(expected text, "),
            ("reviews:\n  min_char: 5\n", r"unknown key\(s\) in reviews: min_char"),
            (
                "tags:\n  rules:\n    new:\n      categorie: [New]\n",
                r"in tags.rules.new: categorie",
            ),
            ("reviews:\n  min_chars: ten\n", r"reviews.min_chars: expected a number, got 'ten'"),
            ("text:\n  list_items_as_sentences: nope\n", r"text.list_items_as_sentences: "),
            ("tags: [budget]\n", r"tags: expected a mapping"),
        ],
    )
    def test_a_typo_names_the_file_and_the_key(self, tmp_path: Path, text: str, message: str):
        path = tmp_path / "cleaning.yml"
        path.write_text(text)
        with pytest.raises(ValueError, match=rf"cleaning.yml: .*{message}"):
            CleaningConfig.from_yaml(path)

    def test_the_shipped_rules_load(self):
        config = CleaningConfig.from_yaml(Path(__file__).parents[1] / "prompts" / "cleaning.yml")
        assert config.synonyms["tee"] == "t-shirt" and "eco-friendly" in config.tag_rules

    def test_from_dict(self):
        config = CleaningConfig.from_dict(
            {
                "reviews": {"min_chars": 3},
                "synonyms": {"Hoody": "hoodie"},
                "tags": {"price_quantiles": {"budget": 0.1, "premium": 0.9}},
            }
        )
        assert config.review_min_chars == 3
        assert config.synonyms == {"hoody": "hoodie"}
        assert (config.budget_quantile, config.premium_quantile) == (0.1, 0.9)
