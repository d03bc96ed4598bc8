"""`shopassist eval understanding`: the grader, NDCG, the conversation checks, the keyword
baseline and one small end-to-end run through the CLI.

Every product, sentence and dialogue here is made up for the test; nothing comes from the
understanding sets (sample_data/heldout, sample_data/dev) or the SIMMC corpus.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from evals._conversations import CheckContext, check
from evals._grading import Grader, ProductFacts, failures, ndcg
from evals._keyword_baseline import keyword_intent
from evals._simmc import SimmcTurn, labelled
from evals._testsets import (
    SPLITS,
    HeldoutFormatError,
    IntentLabel,
    load_conversations,
    load_labels,
    load_requests,
)
from evals._turns import Card, CartItem, TurnOutcome
from retrieval import Product, Variant


def make(
    sku: str,
    *,
    catalog: str = "luma",
    title: str = "Item",
    description: str = "",
    categories: list[list[str]] | None = None,
    price: float | None = 50.0,
    sale_price: float | None = None,
    attributes: dict[str, list[str]] | None = None,
    variants: list[tuple[str, str]] = (),
    brand: str | None = None,
) -> Product:
    paths = categories if categories is not None else [["Men", "Tops", "Jackets"]]
    return Product(
        id=f"{catalog}:{sku}",
        sku=sku,
        catalog=catalog,
        title=title,
        description=description,
        category_path=paths[0] if paths else [],
        categories=paths,
        price=price,
        sale_price=sale_price,
        attributes=attributes or {},
        variants=[Variant(sku=f"{sku}-{s}-{c}", size=s, color=c) for s, c in variants],
        brand=brand,
    )


def facts(product: Product) -> ProductFacts:
    return ProductFacts.of(product)


def holds(product: Product, predicate: dict, shown_color: str | None = None) -> bool:
    return not failures(facts(product), predicate, shown_color)


class TestPredicates:
    jacket = make(
        "J1",
        title="Storm Shell",
        description="A light shell that keeps the rain out; reduces wind chill.",
        variants=[("S", "Black"), ("M", "Black"), ("M", "Blue")],
        attributes={"material": ["Nylon", "Polyester"], "style": ["Rain Coat"], "sale": ["No"]},
    )

    def test_categories_at_any_level_and_gender_from_the_path(self):
        assert holds(self.jacket, {"categories_any": ["Tops"]})
        assert holds(self.jacket, {"categories_any": ["Bags", "Jackets"]})
        assert not holds(self.jacket, {"categories_any": ["Bags"]})
        assert holds(self.jacket, {"gender": "Men"})
        assert not holds(self.jacket, {"gender": "Women"})

    def test_gear_gender_from_its_attribute_where_unisex_meets_either(self):
        watch = make("W1", categories=[["Gear", "Watches"]], attributes={"gender": ["Unisex"]})
        ladies = make("W2", categories=[["Gear", "Watches"]], attributes={"gender": ["Women"]})
        assert holds(watch, {"gender": "Men"}) and holds(watch, {"gender": "Women"})
        assert holds(ladies, {"gender": "Women"}) and not holds(ladies, {"gender": "Men"})

    def test_colours_sizes_and_materials(self):
        assert holds(self.jacket, {"colors_any": ["Blue", "Red"]})
        assert not holds(self.jacket, {"colors_any": ["Red"]})
        assert holds(self.jacket, {"sizes_any": ["M"]})
        assert not holds(self.jacket, {"sizes_any": ["XL"]})
        assert holds(self.jacket, {"materials_any": ["Nylon"]})
        assert not holds(self.jacket, {"materials_none": ["Polyester"]})
        assert holds(self.jacket, {"materials_none": ["Cotton", "Wool"]})

    def test_colors_none_is_broken_only_by_products_in_excluded_colours_alone(self):
        assert holds(self.jacket, {"colors_none": ["Black"]})  # it also comes in blue
        assert not holds(self.jacket, {"colors_none": ["Black", "Blue"]})
        # ... but a card that shows the excluded colour breaks it
        assert not holds(self.jacket, {"colors_none": ["Black"]}, shown_color="Black")
        assert holds(self.jacket, {"colors_none": ["Black"]}, shown_color="Blue")
        uncoloured = make("B1", categories=[["Gear", "Bags"]])
        assert holds(uncoloured, {"colors_none": ["Black"]})

    def test_text_any_is_whole_word_and_case_insensitive(self):
        assert holds(self.jacket, {"text_any": ["RAIN"]})
        assert holds(self.jacket, {"text_any": ["wind chill"]})
        assert not holds(self.jacket, {"text_any": ["red"]})  # "reduces" is not "red"
        assert holds(self.jacket, {"text_any": ["rain coat"]})  # attribute values count
        pack = make("P1", description="A 45L pack.", categories=[["Bags"]])
        assert holds(pack, {"text_any": ["45l"]})
        assert not holds(pack, {"text_any": ["45"]})  # "45" is not a word of "45L"
        assert not holds(pack, {"text_any": ["5l"]})

    def test_raw_magento_attribute_codes_and_yes_or_one_flags(self):
        capri = make(
            "C1",
            categories=[["Women", "Bottoms", "Pants"]],
            attributes={"style": ["Capri"], "eco_collection": ["Yes"]},
        )
        ball = make("G1", categories=[["Gear"]], attributes={"eco_collection": ["1"]})
        assert holds(capri, {"attribute": {"style_bottom": ["Capri"]}})
        assert not holds(capri, {"attribute": {"style_bottom": ["Leggings"]}})
        flag = {"attribute": {"eco_collection": ["Yes", "1"]}}
        assert holds(capri, flag) and holds(ball, flag)
        assert not holds(self.jacket, flag)
        both = {"attribute": {"style_bottom": ["Capri"], "eco_collection": ["Yes", "1"]}}
        assert holds(capri, both) and not holds(ball, both)

    def test_on_sale_by_price_flag_or_sale_category(self):
        discounted = make("S1", price=40.0, sale_price=30.0)
        same_price = make("S2", price=40.0, sale_price=40.0)
        flagged = make("S3", attributes={"sale": ["Yes"]})
        in_category = make("S4", categories=[["Women", "Tops"], ["Promotions", "Women Sale"]])
        for product in (discounted, flagged, in_category):
            assert holds(product, {"on_sale": True})
        assert not holds(same_price, {"on_sale": True})
        assert holds(same_price, {"on_sale": False})
        assert not holds(flagged, {"on_sale": False})

    def test_prices_are_inclusive_on_the_price_paid_now(self):
        discounted = make("S1", price=70.0, sale_price=55.0)
        assert holds(discounted, {"price_max": 55})
        assert not holds(discounted, {"price_max": 54.99})
        assert holds(discounted, {"price_min": 50, "price_max": 60})
        assert not holds(make("N", price=None), {"price_max": 100})

    def test_brand_sku_and_none(self):
        boot = make("37", catalog="eshop", categories=[["Footwear"]], brand="Daybird")
        assert holds(boot, {"brand": "Daybird"}) and not holds(boot, {"brand": "Gravitator"})
        # A list is any of its brands (how "any brand except X" is written).
        assert holds(boot, {"brand": ["Gravitator", "daybird"]})
        assert not holds(boot, {"brand": ["Gravitator", "B&R"]})
        assert holds(boot, {"sku_any": ["37", "38"]}) and not holds(boot, {"sku_any": ["3"]})
        assert holds(boot, {"categories_any": ["Footwear"]})
        assert not holds(boot, {"none": True})

    def test_every_key_of_a_predicate_must_hold_and_unknown_keys_fail_loudly(self):
        assert failures(facts(self.jacket), {"colors_any": ["Blue"], "sizes_any": ["XL"]}) == [
            "sizes_any"
        ]
        with pytest.raises(ValueError, match="unknown predicate key"):
            failures(facts(self.jacket), {"colour": ["Blue"]})

    def test_a_misspelt_key_in_a_test_set_stops_the_run(self, tmp_path: Path):
        path = tmp_path / "requests.yml"
        entry = {"id": "x-1", "store": "luma", "text": "t", "style": "terse",
                 "kind": {"categorys_any": ["Jackets"]}}  # fmt: skip
        path.write_text(yaml.safe_dump({"version": 1, "requests": [entry]}))
        with pytest.raises(HeldoutFormatError, match="x-1 kind"):
            load_requests(path)


class TestNdcgAndGains:
    def test_ndcg_against_a_hand_computation(self):
        page, store = [2, 0, 1], [0, 1, 2, 2, 0]
        got = (3 / math.log2(2) + 0 + 1 / math.log2(4)) / (
            3 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4)
        )
        assert ndcg(page, store, k=5) == pytest.approx(got)
        assert ndcg([2, 2, 1], store, k=5) == pytest.approx(1.0)
        assert ndcg([1, 1], [0, 0, 0], k=5) is None  # nothing to rank against

    def test_gain_is_2_1_or_0_and_zero_for_another_store(self):
        grader = Grader(
            [
                make("A", variants=[("M", "Blue")]),
                make("B", variants=[("M", "Red")]),
                make("C", categories=[["Gear", "Bags"]]),
                make("D", catalog="eshop", categories=[["Jackets"]]),
            ]
        )
        kind, stated = {"categories_any": ["Jackets"]}, {"colors_any": ["Blue"]}
        assert [grader.gain(f"luma:{s}", "luma", kind, stated) for s in "ABC"] == [2, 1, 0]
        assert grader.gain("eshop:D", "luma", kind, stated) == 0
        assert sorted(grader.ideal_gains("luma", kind, stated)) == [0, 1, 2]
        assert grader.gain("luma:A", "luma", {"none": True}) == 0
        assert grader.broken("luma:B", stated) == ["colors_any"]


def outcome(user: str, results: list[str] = (), **fields: object) -> TurnOutcome:
    cards = [Card(pid, pid, None) for pid in results]
    on_screen = fields.pop("on_screen", [c.id for c in cards])
    return TurnOutcome(user=user, results=cards, on_screen=on_screen, **fields)


class TestConversationChecks:
    grader = Grader(
        [
            make("J1", price=80.0, variants=[("M", "Blue")]),
            make("J2", price=60.0, variants=[("M", "Blue")]),
            make("J3", price=40.0, variants=[("M", "Black")]),
            make("H1", price=30.0, categories=[["Men", "Tops", "Hoodies & Sweatshirts"]]),
        ]
    )
    jackets: ClassVar[dict] = {"kind": {"categories_any": ["Jackets"]}}

    def ctx(self, *turns: TurnOutcome, expect: dict | None = None, before=()) -> CheckContext:
        return CheckContext("luma", self.grader, list(turns), list(before), expect or {})

    def test_references_resolve_against_what_was_on_screen(self):
        first = outcome("jackets", ["luma:J2", "luma:J1"])
        ctx = self.ctx(first, outcome("the second one"))
        assert ctx.resolve("turn 1 shown 2") == "luma:J1"
        assert ctx.resolve({"sku": "J3"}) == "luma:J3"
        assert "unresolved" in check("about", "turn 1 shown 3", ctx)
        assert "unresolved" in check("about", "turn 2 shown 1", ctx)  # not an earlier turn

    def test_show_needs_a_result_and_every_result_meeting_kind_and_stated(self):
        expect = {**self.jackets, "stated": {"colors_any": ["Blue"]}}
        assert check("show", expect, self.ctx(outcome("x", ["luma:J1", "luma:J2"]))) is None
        assert "luma:J3" in check("show", expect, self.ctx(outcome("x", ["luma:J1", "luma:J3"])))
        assert check("show", expect, self.ctx(outcome("x"))) == "no result cards"

    def test_exclude_looks_at_alternatives_too(self):
        turn = outcome("no hoodies", ["luma:J1"], alternatives=[Card("luma:H1", "H1", None)])
        why = check("exclude", {"categories_any": ["Hoodies & Sweatshirts"]}, self.ctx(turn))
        assert "luma:H1" in why
        assert check("exclude", {"categories_any": ["Bags"]}, self.ctx(turn)) is None

    def test_sorted_needs_the_order_and_the_store_extreme_first(self):
        expect = {"show": self.jackets, "sorted": "price_desc"}
        good = outcome("dearest first", ["luma:J1", "luma:J2", "luma:J3"])
        assert check("sorted", "price_desc", self.ctx(good, expect=expect)) is None
        assert "order" in check("sorted", "price_asc", self.ctx(good, expect=expect))
        page_only = outcome("dearest first", ["luma:J2", "luma:J3"])  # J1 is dearer
        assert "extreme" in check("sorted", "price_desc", self.ctx(page_only, expect=expect))

    def test_cheaper_than_is_strict_and_keeps_the_kind(self):
        first = outcome("jackets", ["luma:J2", "luma:J1"])
        ref = "turn 1 shown 1"  # J2, $60
        assert check("cheaper_than", ref, self.ctx(first, outcome("cheaper", ["luma:J3"]))) is None
        for shown in (["luma:J3", "luma:J2"], ["luma:H1"], []):
            assert check("cheaper_than", ref, self.ctx(first, outcome("cheaper", shown)))

    def test_cart_checks(self):
        first = outcome("jackets", ["luma:J1", "luma:J2"])
        cart = [CartItem("luma:J2", "M", "Blue", 2)]
        ctx = self.ctx(first, outcome("add two", cart=cart))
        assert (
            check("cart_has", {"item": "turn 1 shown 2", "size": "m", "color": "Blue"}, ctx) is None
        )
        assert check("cart_has", {"item": "turn 1 shown 2", "quantity": 2}, ctx) is None
        assert check("cart_has", {"item": "turn 1 shown 2", "quantity": 1}, ctx)
        assert check("cart_has", {"item": "turn 1 shown 2", "size": "L"}, ctx)
        assert check("cart_has", {"item": "turn 1 shown 1"}, ctx)
        assert check("cart_lacks", "turn 1 shown 1", ctx) is None
        assert check("cart_lacks", "turn 1 shown 2", ctx)

    def test_asks_needs_a_pending_question_and_an_unchanged_cart(self):
        kept = [CartItem("luma:J3", "M", "Black", 1)]
        asking = outcome("add it", pending="size", cart=kept)
        assert check("asks", "size", self.ctx(asking, before=kept)) is None
        assert check("asks", "color", self.ctx(asking, before=kept))
        assert check("asks", "size", self.ctx(asking, before=[]))  # the cart changed

    def test_about_and_compare(self):
        first = outcome("jackets", ["luma:J1", "luma:J2", "luma:J3"])
        details = outcome("tell me more", about="luma:J2")
        assert check("about", "turn 1 shown 2", self.ctx(first, details)) is None
        assert check("about", {"sku": "J2"}, self.ctx(first, details)) is None
        assert check("about", "turn 1 shown 1", self.ctx(first, details))
        table = outcome("compare", compared=["luma:J2", "luma:J1"])
        refs = ["turn 1 shown 1", "turn 1 shown 2"]
        assert check("compare", refs, self.ctx(first, table)) is None
        assert check("compare", [*refs, "turn 1 shown 3"], self.ctx(first, table))


class TestKeywordBaseline:
    @pytest.mark.parametrize(
        ("text", "intent"),
        [
            ("hello there", "greet"),
            ("could you put the striped one in my basket", "add_to_cart"),
            ("how do these two compare?", "compare_products"),
            ("show me some coats", "browse_category"),
            ("a green coat under $80", "search_products"),
            ("what are people saying in the reviews?", "product_reviews"),
            ("what is the weather on mars", "out_of_scope"),
        ],
    )
    def test_made_up_sentences(self, text: str, intent: str):
        assert keyword_intent(text) == intent


class TestLabelScoring:
    def test_accuracy_macro_f1_and_also(self):
        turns = {
            (0, 0): SimmcTurn(0, 0, "show me coats", "browse_category", "search", None),
            (0, 1): SimmcTurn(0, 1, "add it please", "product_details", "details", None),
            (1, 0): SimmcTurn(1, 0, "hi, any coats?", "greet", "greet", None),
        }
        labels = [
            IntentLabel(0, 0, "browse_category"),
            IntentLabel(0, 1, "add_to_cart"),
            IntentLabel(1, 0, "browse_category", also="greet"),
            IntentLabel(5, 0, "search_products"),  # its dialogue did not run: left out
        ]
        report = labelled(labels, turns)
        mine = report["systems"]["assistant"]
        assert report["labels"] == 3
        assert mine["accuracy"] == pytest.approx(1 / 3)
        assert mine["accuracy_also_ok"] == pytest.approx(2 / 3)
        # browse: P 1/1, R 1/2 -> F1 2/3; add_to_cart: F1 0 -> macro 1/3
        assert mine["macro_f1"] == pytest.approx(1 / 3)


def _tiny_simmc(folder: Path) -> Path:
    """A made-up two-dialogue corpus and a three-product lexicon catalog."""
    folder.mkdir()
    products = [
        {"id": f"T{i}", "title": f"Plain {kind}", "price": 20 + i, "category": f"Clothing/{kind}",
         "attributes": {"color": [color]}}
        for i, (kind, color) in enumerate([("Coat", "red"), ("Scarf", "blue"), ("Coat", "grey")])
    ]  # fmt: skip
    (folder / "lexicon_catalog.jsonl").write_text("\n".join(json.dumps(p) for p in products))
    dialogues = [
        {"dialogue_idx": 1, "turns": [{"user": "any red coats?", "assistant": "."},
                                      {"user": "how much is it", "assistant": "."}]},
        {"dialogue_idx": 2, "turns": [{"user": "scarves please", "assistant": "."}]},
    ]  # fmt: skip
    (folder / "fashion_dialogues.jsonl").write_text("\n".join(json.dumps(d) for d in dialogues))
    return folder


class TestCli:
    def test_one_served_catalog_is_judged_on_its_own_entries(
        self, assistant, tmp_path: Path, monkeypatch
    ):
        import evals._cli
        from assistant.cli import main

        monkeypatch.setattr(evals._cli, "build_assistant", lambda settings: assistant)
        monkeypatch.setenv("SHOPASSIST_CATALOG", "eshop")
        out = tmp_path / "reports"
        args = ["--data-dir", str(tmp_path), "eval", "understanding", "--only", "requests",
                "--split", "dev", "--out", str(out), "--no-progress"]  # fmt: skip
        assert main(args) == 0
        report = json.loads((out / "understanding.json").read_text())
        assert report["context"]["served_catalog"] == "eshop"
        ids = [r["id"] for r in report["requests"]["results"]]
        assert ids and all("eshop" in i and "luma" not in i for i in ids)

    def test_eval_understanding_end_to_end(self, assistant, tmp_path: Path, monkeypatch):
        import evals._cli
        from assistant.cli import main

        monkeypatch.setattr(evals._cli, "build_assistant", lambda settings: assistant)
        simmc = _tiny_simmc(tmp_path / "simmc")
        labels = tmp_path / "labels.yml"
        labels.write_text(
            yaml.safe_dump({"labels": [{"line": 0, "turn": 1, "intent": "product_details"}]})
        )
        out = tmp_path / "reports"
        args = ["--data-dir", str(tmp_path), "eval", "understanding", "--limit", "3",
                "--split", "dev", "--simmc", str(simmc), "--labels", str(labels),
                "--out", str(out), "--no-progress"]  # fmt: skip
        assert main(args) == 0
        report = json.loads((out / "understanding.json").read_text())
        assert (out / "understanding.png").stat().st_size > 0
        assert {"requests", "conversations", "simmc", "labels", "label_audit", "crashes",
                "context"} <= set(report)  # fmt: skip
        assert report["context"]["split"] == "dev"
        assert report["context"]["files"]["requests"] == str(SPLITS["dev"] / "requests.yml")
        assert len(report["requests"]["results"]) == 3
        assert set(report["requests"]["summary"]) == {"assistant", "bm25"}
        assert len(report["conversations"]["results"]) == 3
        assert report["simmc"]["turns"] == 3 and report["labels"]["labels"] == 1
        shares = [
            *(v for system in report["requests"]["summary"].values()
              for style in system.values()
              for k, v in style.items() if k in ("ndcg@5", "violation_share", "nothing_relevant")),
            report["conversations"]["summary"]["turn_success"],
            report["conversations"]["summary"]["conversation_success"],
            report["conversations"]["summary"]["show_first_result_ok"],
            *(c["success"] for c in report["conversations"]["summary"]["by_check"].values()),
            report["simmc"]["out_of_scope"],
            report["simmc"]["greet_over_3_words"],
            *(v for s in report["labels"]["systems"].values()
              for k, v in s.items() if k in ("accuracy", "macro_f1", "accuracy_also_ok")),
        ]  # fmt: skip
        assert shares and all(v is None or 0.0 <= v <= 1.0 for v in shares)
        for failure in report["conversations"]["first_failures"]:
            assert {"said", "expected", "failed", "assistant"} <= set(failure)

    def test_unknown_section_is_a_clear_error(self, tmp_path: Path, capsys):
        from assistant.cli import main

        code = main(["--data-dir", str(tmp_path), "eval", "understanding", "--only", "nope"])
        assert code == 1
        assert "unknown section" in capsys.readouterr().err


class TestSplits:
    """The committed sets: every split loads, and the test split shares nothing with dev."""

    @pytest.mark.parametrize("split", sorted(SPLITS))
    def test_every_split_loads(self, split: str):
        folder = SPLITS[split]
        assert load_requests(folder / "requests.yml")
        assert load_conversations(folder / "conversations.yml")
        assert load_labels(folder / "simmc_intents.yml")

    @pytest.mark.parametrize("dev", sorted(set(SPLITS) - {"test"}))
    def test_the_test_split_shares_no_entry_with_dev(self, dev: str):
        def texts(folder: Path) -> set[str]:
            """Messages of four words or more ("34" or "yes please" may well recur)."""
            said = [r.text for r in load_requests(folder / "requests.yml")]
            for conversation in load_conversations(folder / "conversations.yml"):
                said += [t.user for t in conversation.turns]
            return {t.lower() for t in said if len(t.split()) >= 4}

        fresh = texts(SPLITS["test"])
        # Stock phrases ("compare the first two") recur by chance; a copied set would not.
        assert len(fresh & texts(SPLITS[dev])) < 0.05 * len(fresh)
        labelled = {(x.line, x.turn) for x in load_labels(SPLITS[dev] / "simmc_intents.yml")}
        drawn = [(x.line, x.turn) for x in load_labels(SPLITS["test"] / "simmc_intents.yml")]
        assert len(set(drawn) - labelled) > len(drawn) * 0.8  # a new draw, not the old one
