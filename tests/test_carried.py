"""UncarriedThings: the noun a request asks for, judged against what the catalog mentions."""

from __future__ import annotations

import pytest

from dialogue import Entity, Extraction, find_price
from dialogue._carried import AskedThing, UncarriedThings, asked_thing

# A small store's words: what its products' texts use, and its catalog terms.
CATALOG_TEXT = {"jacket", "hoodie", "track", "pant", "backpack", "fiber", "carbon", "pole"}
TERMS = {"jacket", "hoodie", "track", "pant", "backpack", "pole"}


def checker(**options: object) -> UncarriedThings:
    return UncarriedThings(
        lambda words: all(w in CATALOG_TEXT for w in words.lower().split()),
        TERMS,
        everyday_words={"something", "gift", "need", "want"},
        dictionary=frozenset({"sunglasses"}),
        **options,  # type: ignore[arg-type]
    )


class TestAskedThing:
    @pytest.mark.parametrize(
        ("text", "phrase"),
        [
            ("Need a swimsuit for aqua aerobics", "swimsuit"),
            ("do you sell exercise mats? the thick kind", "exercise mats"),
            ("a hammock to string between two trees at camp?", "hammock"),
            ("Looking for a fishing rod for our lake trip", "fishing rod"),
            ("pyjamas for my 6 year old please", "pyjamas"),
            ("is there a little gas stove? for backpacking", "gas stove"),
        ],
    )
    def test_the_noun_phrase_after_the_asking_words(self, text: str, phrase: str):
        asked = asked_thing(text, Extraction())
        assert asked is not None and asked.phrase == phrase
        assert text[asked.start : asked.end].lower() == phrase

    def test_describing_words_and_sizes_are_not_the_thing(self):
        text = "wetsuit mens large"
        men = Entity("gender", "men", "mens", 8, 12)
        large = Entity("size", "l", "large", 13, 18)
        asked = asked_thing(text, Extraction(entities=[men, large]))
        assert asked is not None and asked.head == "wetsuit"

    def test_a_price_word_before_a_number_ends_the_phrase(self):
        asked = asked_thing("sports bra sub 30", Extraction())
        assert asked is not None and asked.head == "bra"

    def test_the_price_is_no_part_of_the_thing(self):
        text = "tents between forty and sixty dollars"
        asked = asked_thing(text, Extraction(price=find_price(text)))
        assert asked is not None and asked.head == "tents"

    def test_a_unit_after_a_number_is_no_part_of_the_thing(self):
        asked = asked_thing("looking for 10 lb kettlebells", Extraction(), framed=True)
        assert asked is not None and asked.phrase == "kettlebells"

    def test_framed_needs_an_asking_phrase(self):
        assert asked_thing("tell me a joke", Extraction(), framed=True) is None
        assert asked_thing("looking for a kayak", Extraction(), framed=True) is not None

    @pytest.mark.parametrize(
        ("text", "phrase"),
        [
            ("I'd like a hammock", "hammock"),
            ("we'd really like a canoe", "canoe"),
            ("I'm after a wetsuit", "wetsuit"),
            ("got any kites?", "kites"),
            ("you got a snorkel?", "snorkel"),
        ],
    )
    def test_like_after_and_got_ask_in_their_asking_forms(self, text: str, phrase: str):
        asked = asked_thing(text, Extraction(), framed=True)
        assert asked is not None and asked.phrase == phrase

    @pytest.mark.parametrize(
        "text",
        [
            "my old bucket leaks like a sieve",
            "sore legs after spin class",
            "I've got a wedding in May",
        ],
    )
    def test_a_simile_a_time_and_a_possession_ask_for_nothing(self, text: str):
        assert asked_thing(text, Extraction(), framed=True) is None

    def test_plural_as_a_shop_says_it(self):
        assert AskedThing("fishing rod", "rod", 0, 11).plural() == "fishing rods"
        assert AskedThing("running socks", "socks", 0, 13).plural() == "running socks"


class TestUncarriedThings:
    def test_needs_a_callable_word_check(self):
        with pytest.raises(TypeError):
            UncarriedThings("not callable", TERMS)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "text",
        ["Need a swimsuit for aqua aerobics", "do you sell umbrellas?", "sunglasses for cycling?"],
    )
    def test_a_noun_no_product_mentions_is_not_carried(self, text: str):
        assert checker().run(text, Extraction()) is not None

    @pytest.mark.parametrize(
        ("text", "why"),
        [
            ("need a jacket for the rain", "the catalog mentions it"),
            ("trackies mens 36", "slang the lexicon lacks"),
            ("jackt please", "a typo of a catalog term"),
            ("carbon fibre poles", "a spelling of a catalog word (fibre, fiber)"),
            ("a gift for my dad", "an everyday word of the training examples"),
            ("need something cheap", "not a noun"),
            ("some little hiking accessories", "a word for what it is for, not what it is"),
            ("any decent camping gear?", "a word for what it is for, not what it is"),
        ],
    )
    def test_words_the_assistant_can_read_are_left_alone(self, text: str, why: str):
        assert checker().run(text, Extraction()) is None, why

    def test_a_known_entity_over_the_head_noun_means_it_is_carried(self):
        text = "need a rucksack"
        rucksack = Entity("category", "bags", "rucksack", 7, 15)
        assert checker().run(text, Extraction(entities=[rucksack])) is None

    def test_mark_records_a_kind_the_store_lacks_and_drops_context_categories(self):
        text = "sunglasses for cycling?"
        cycling = Entity("category", "cycling", "cycling", 15, 22)
        extraction = Extraction(entities=[cycling])
        asked = checker().mark(text, extraction)
        assert asked is not None
        assert [(e.type, e.value, e.known) for e in extraction.entities] == [
            ("category", "sunglasses", False)
        ]
