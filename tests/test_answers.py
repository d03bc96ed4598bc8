"""Product questions (issue 15): the extractive answerer on hand-made product texts, the
policy through the real assistant, the check that every answer sentence quotes its source,
and `shopassist eval qa` on a small question file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dialogue import (
    AnswerSettings,
    DialogueSettings,
    ProductAnswerer,
    ProductText,
    ReviewFact,
    Templates,
    sentences,
)
from dialogue._answers import stem

REPO = Path(__file__).resolve().parent.parent
SETTINGS = DialogueSettings.load(REPO / "prompts" / "dialogue.yml").answers

JACKET = ProductText(
    id="t:J1",
    title="Storm Runner Jacket",
    attributes={"material": ("Nylon", "Polyester"), "climate": ("Rainy", "Windy")},
    sizes=("S", "M", "L"),
    colors=("Blue",),
    description=sentences(
        "<p>A light shell for wet runs.</p><ul><li>Zippered hand pockets.</li>"
        "<li>Machine wash cold, line dry.</li></ul>"
    ),
    reviews=(
        ReviewFact(4, "Great jacket. The zipper jammed after a month though.", "Zipper"),
        ReviewFact(3, "It runs small, I had to exchange it.", "Small"),
        ReviewFact(5, "Lovely colour and it runs a little small so size up.", "Colour"),
        ReviewFact(5, "Kept me dry on a long run.", "Dry"),
    ),
)


@pytest.fixture(scope="module")
def answerer(text_encoder) -> ProductAnswerer:
    return ProductAnswerer(text_encoder.encode_texts, SETTINGS)


def quoted_text(text: ProductText) -> str:
    parts = [*text.description, *(r.text for r in text.reviews), *text.sizes, *text.colors]
    parts += [v for values in text.attributes.values() for v in values]
    return "\n".join(parts)


class TestProductAnswerer:
    def test_an_attribute_answers_what_it_is_made_of(self, answerer):
        answer = answerer.answer("what's it made of?", JACKET)
        assert answer.stated
        assert answer.quotes[0].kind == "attribute"
        assert answer.quotes[0].text == "Nylon, Polyester"

    def test_a_description_sentence_answers_care(self, answerer):
        answer = answerer.answer("can I machine wash it?", JACKET)
        assert "Machine wash cold, line dry." in [q.text for q in answer.quotes]

    def test_a_review_sentence_answers_what_people_say_about_the_zipper(self, answerer):
        answer = answerer.answer("what do people say about the zipper?", JACKET)
        texts = [q.text for q in answer.quotes]
        assert "The zipper jammed after a month though." in texts

    def test_fit_advice_needs_two_agreeing_reviews(self, answerer):
        advice = answerer.answer("is it true to size?", JACKET).fit
        assert advice is not None and advice.verdict == "small"
        assert advice.agreeing == 2 and advice.mentioning == 2
        one = ProductText(id="t:J2", title="Solo", reviews=JACKET.reviews[1:2])
        single = answerer.answer("does it run small?", one)
        assert single.fit is not None and single.fit.verdict is None
        assert [q.text for q in single.quotes] == ["It runs small, I had to exchange it."]

    def test_what_the_text_does_not_say_is_not_stated(self, answerer):
        answer = answerer.answer("does it have a heart rate monitor?", JACKET)
        assert not answer.stated and answer.quotes == ()

    def test_a_general_request_is_not_a_fact_question(self, answerer):
        assert not answerer.asks_fact("tell me more about it", JACKET.title)
        assert not answerer.asks_fact("price?", JACKET.title)
        assert answerer.asks_fact("does it have pockets?", JACKET.title)
        assert not answerer.asks_fact("who makes this?", JACKET.title)
        assert answerer.asks_fact("what is this made from?", JACKET.title)

    def test_across_the_list_names_only_the_products_that_say_so(self, answerer):
        plain = ProductText(id="t:T1", title="Cotton Tee", description=("A soft cotton tee.",))
        result = answerer.across("which of these are waterproof?", [JACKET, plain])
        assert [a.product_id for a in result.supported] == ["t:J1"]
        best = answerer.across("which has the best reviews?", [JACKET, plain])
        assert best.best_reviewed is JACKET

    def test_stems_meet_through_lemmas_and_only_real_words(self):
        assert stem("shrank") == stem("shrink") == stem("shrunk")
        assert stem("zippered") == stem("zipper") == stem("zip")
        assert stem("washable") == stem("washing") == stem("wash")
        assert stem("carry") != stem("care")
        assert stem("shoulder") != stem("should")

    def test_running_words_do_not_make_a_fit_question(self, answerer):
        # JACKET's reviewers say it runs small; a question about running is not about sizing.
        answer = answerer.answer("any good on my sunny morning runs?", JACKET)
        assert answer.fit is None
        assert answerer.answer("does this one run big?", JACKET).fit is not None

    def test_the_words_naming_the_product_are_not_what_is_asked(self, answerer):
        bag = ProductText(
            id="t:B1",
            title="Harbour Courier Satchel",
            attributes={"material": ("Leather", "Canvas")},
            description=("A roomy satchel in supple leather.", "Leather trim."),
        )
        answer = answerer.answer("would the leather satchel survive a downpour?", bag)
        assert not answer.stated, answer.quotes

    def test_a_question_for_buyers_is_answered_by_reviews_only(self, answerer):
        coat = ProductText(
            id="t:C1",
            title="Fjord Parka",
            description=("Two-way zipper front.", "Insulated hood."),
            reviews=(ReviewFact(4, "Very warm on the coldest mornings.", "Warm"),),
        )
        assert not answerer.answer("have buyers had trouble with the zipper?", coat).stated
        moaned = ProductText(
            id="t:C2",
            title=coat.title,
            description=coat.description,
            reviews=(*coat.reviews, ReviewFact(2, "The zipper split open in week two.", "Zip")),
        )
        answer = answerer.answer("have buyers had trouble with the zipper?", moaned)
        assert [q.kind for q in answer.quotes] == ["review"]
        assert answer.quotes[0].text == "The zipper split open in week two."

    def test_washing_is_not_drying(self, answerer):
        towel = ProductText(
            id="t:W1", title="Camp Towel", description=("Washable.", "Packs small.")
        )
        assert not answerer.answer("can it go in the tumble dryer?", towel).stated

    def test_an_attribute_comes_with_the_sentence_saying_more_of_its_values(self, answerer):
        hoodie = ProductText(
            id="t:H1",
            title="Ridge Pullover",
            attributes={"material": ("Cotton", "Polyester")},
            description=("Kangaroo pocket.", "Brushed 70% cotton / 30% polyester fleece."),
        )
        answer = answerer.answer("what fabric is this?", hoodie)
        assert [q.text for q in answer.quotes] == [
            "Cotton, Polyester",
            "Brushed 70% cotton / 30% polyester fleece.",
        ]

    def test_a_second_reviewer_on_the_same_point_is_quoted(self, answerer):
        band = ProductText(
            id="t:R1",
            title="Loop Band",
            description=("A loop band for home workouts.",),
            reviews=(
                ReviewFact(3, "Handy, but I wanted a heavier resistance level.", "Light"),
                ReviewFact(4, "Nice colours. Resistance is too light for squats.", "Ok"),
            ),
        )
        answer = answerer.answer("is the resistance strong enough for a lifter?", band)
        assert [q.kind for q in answer.quotes] == ["review", "review"]

    def test_a_very_short_review_sentence_is_quoted_with_its_review(self, answerer):
        top = ProductText(
            id="t:S1",
            title="Pulse Sports Top",
            description=("A cropped sports top.",),
            reviews=(ReviewFact(5, "Loved it. Solid support!", "Yes"),),
        )
        answer = answerer.answer("what do buyers think of the support?", top)
        assert answer.quotes[0].text == "Loved it. Solid support!"

    def test_a_synonym_phrase_counts_only_as_a_whole(self, answerer):
        # "water resistant" is a rain word as a phrase; its "resistant" alone is not, and
        # "made of" asks the material where "make" alone does not.
        shell = ProductText(
            id="t:W1",
            title="Gale Shell",
            description=("Wind-resistant ripstop keeps gusts out.",),
            reviews=(ReviewFact(5, "I make the walk to the office in it every day.", "Daily"),),
        )
        assert not answerer.answer("will it keep me dry in a shower?", shell).stated
        assert not answerer.answer("what's it made out of?", shell).stated
        leggings = ProductText(
            id="t:W2", title="Flex Legging", description=("Opaque, squat-proof knit.",)
        )
        answer = answerer.answer("are they see-through?", leggings)
        assert [q.text for q in answer.quotes] == ["Opaque, squat-proof knit."]

    def test_a_shoppers_spelling_and_unit_meet_the_catalogs(self, answerer):
        pack = ProductText(
            id="t:V1",
            title="Ridge Daypack",
            description=("Volume: 18 L.", "Sheer mesh side panels."),
        )
        assert answerer.answer("how many liters does it hold?", pack).quotes[0].text == (
            "Volume: 18 L."
        )
        assert answerer.answer("is it see thru?", pack).quotes[0].text == (
            "Sheer mesh side panels."
        )

    def test_wearing_it_is_not_what_is_asked(self, answerer):
        # "could I wear it for X?" asks about X; a reviewer who wears it daily says nothing
        # of X.
        tee = ProductText(
            id="t:L1",
            title="Kestrel Tee",
            reviews=(ReviewFact(5, "Honestly I could wear this every single day.", "Love"),),
        )
        assert not answerer.answer("could I wear the kestrel for hiking?", tee).stated
        assert not answerer.answer("can i wear it swimming?", tee).stated

    def test_a_question_for_a_number_is_answered_only_with_one(self, answerer):
        # The material list says what it is made of, not how much of each.
        tights = ProductText(
            id="t:N1",
            title="Arc Tight",
            attributes={"material": ("Cotton", "Elastane")},
            description=("Stretchy cotton blend.",),
        )
        assert not answerer.answer("what percentage of it is cotton?", tights).stated
        assert not answerer.answer("inseam length on these?", tights).stated
        roomy = ProductText(
            id="t:N3",
            title="Arc Pant",
            reviews=(ReviewFact(4, "Way too long in the leg for me.", "Long"),),
        )
        assert answerer.answer("how's the leg length?", roomy).stated
        bag = ProductText(
            id="t:N2", title="Tote 9", description=("Three zippered compartments.", "Roomy.")
        )
        answer = answerer.answer("how many compartments has it got?", bag)
        assert [q.text for q in answer.quotes] == ["Three zippered compartments."]

    def test_a_part_asked_about_must_be_named_by_the_answer(self, answerer):
        # "are the pockets zipped?" is about pockets and zips together; "Full zip" and "I like
        # the pockets" each name one, so the page does not say.
        top = ProductText(
            id="t:P1",
            title="Ridge Anorak",
            attributes={"style": ("Full zip",)},
            description=("The Ridge Anorak promises comfort and a laid-back look.",),
            reviews=(ReviewFact(4, "Great colour. I like the pockets a lot.", "Nice"),),
        )
        assert not answerer.answer("are the pockets zipped?", top).stated
        assert not answerer.answer("does the ridge anorak have a hood?", top).stated
        answer = answerer.answer("do the pockets zip?", JACKET)
        assert answer.quotes[0].text == "Zippered hand pockets."

    def test_the_garment_or_its_name_is_not_a_part_asked_about(self, answerer):
        # "hoodie" names the garment, and "Hooded" is the product's own name: neither asks
        # whether a source mentions a hood.
        hooded = ProductText(
            id="t:H1", title="Helena Hooded Fleece", description=("Machine wash cold.",)
        )
        assert answerer.answer("can I machine wash the hoodie?", hooded).stated
        crew = ProductText(
            id="t:H2",
            title="Mach Street Sweatshirt",
            description=("Warm brushed fleece for cold mornings.",),
        )
        assert answerer.answer("is this hoodie warm?", crew).stated

    def test_a_part_written_as_two_words_is_that_part(self, answerer):
        tank = ProductText(
            id="t:P2",
            title="Sprint Tank",
            reviews=(ReviewFact(3, "Nice fabric. The arm holes are cut far too low.", "Low"),),
        )
        answer = answerer.answer("how are the armholes?", tank)
        assert [q.text for q in answer.quotes] == ["The arm holes are cut far too low."]

    def test_words_before_the_products_name_in_its_own_text_count(self, answerer):
        # "the shelf Bra" in a review of the "Luna Bra": "shelf" is what the reviewer says,
        # not a word naming the product as in a question.
        top = ProductText(
            id="t:B1",
            title="Luna Bra",
            reviews=(ReviewFact(5, "Turns out that the shelf bra holds up in burpees.", "Good"),),
        )
        answer = answerer.answer("is there a shelf in it?", top)
        assert [q.text for q in answer.quotes] == [
            "Turns out that the shelf bra holds up in burpees."
        ]

    def test_a_fit_question_is_answered_only_by_what_names_its_words(self, answerer):
        # No reviewer on sizing, and a sentence close in meaning only because it names the
        # hoodie: the page does not say how it fits.
        hoodie = ProductText(
            id="t:F1",
            title="Frost Hoodie",
            sizes=("S", "M", "L"),
            description=(
                "Whether you train or just lounge, the Frost Hoodie is the one you reach for.",
            ),
        )
        assert not answerer.answer("does the Frost hoodie run small or large?", hoodie).stated
        relaxed = ProductText(id="t:F2", title="Dune Tee", description=("Relaxed fit.",))
        answer = answerer.answer("is the fit slim or relaxed?", relaxed)
        assert [q.text for q in answer.quotes] == ["Relaxed fit."]

    def test_settings_are_validated(self):
        with pytest.raises(ValueError):
            AnswerSettings(threshold=0)
        with pytest.raises(TypeError):
            ProductAnswerer("not an embedder")  # type: ignore[arg-type]


class TestMisspeltQuestions:
    """A question word that is no English word is read as the product's own word (or an answer
    word) one letter-edit away, when exactly one is."""

    PANT = ProductText(
        id="t:P9",
        title="Marlow Track Pant",
        description=('Tapered leg with a 31" inseam.', "Elastic waistband with drawcord."),
        reviews=(ReviewFact(4, "Comfy for lounging at home.", "Comfy"),),
    )

    def test_a_misspelt_sizing_word_still_asks_about_fit(self, answerer):
        answer = answerer.answer("do they run smal?", JACKET)
        assert answer.fit is not None and answer.fit.verdict == "small"

    def test_a_misspelt_word_meets_the_products_own_word(self, answerer):
        answer = answerer.answer("hows the inseem?", self.PANT)
        assert [q.text for q in answer.quotes][:1] == ['Tapered leg with a 31" inseam.']

    def test_names_function_words_and_english_words_stay_as_typed(self, answerer):
        indexed = answerer._indexed(self.PANT)
        # "marlo" is the shopper's spelling of the name; "hey" and "bloke" say nothing of the
        # pant; "elastik" is one letter from the text's "elastic".
        said = "hey is the marlo ok for a big bloke, is it elastik"
        assert answerer._spelled(said, indexed) == said.replace("elastik", "elastic")


class TestAskedClauses:
    """In a question of several clauses, the clauses that ask weigh more than those telling
    the shopper's situation."""

    TOP = ProductText(
        id="t:C1",
        title="Pacer Tee",
        attributes={"material": ("Wool", "Polyester")},
        description=(
            "Built for long distance training days.",
            "Quick-drying fabric.",
        ),
    )

    def test_the_asking_clauses_are_found(self):
        from dialogue._answers import asked_clauses

        said = "my old pair fell apart in a month, will these last?"
        assert asked_clauses(said) == "will these last?"
        assert asked_clauses("Going camping - any good in the cold?") == "any good in the cold?"
        # every clause asks, or none does: the whole question
        assert asked_clauses("pockets? a hood?") == "pockets? a hood?"
        assert asked_clauses("need it for camping") == "need it for camping"

    def test_the_situation_does_not_outweigh_what_is_asked(self, answerer):
        said = "I'm training for a marathon and my legs get tired, does it dry fast?"
        answer = answerer.answer(said, self.TOP)
        assert [q.text for q in answer.quotes][:1] == ["Quick-drying fabric."]

    def test_a_word_of_the_situation_alone_is_no_answer(self, answerer):
        # "long distance" is the shopper's, the text's "long distance training" no answer
        answer = answerer.answer("my sessions are long distance ones, is it reflective?", self.TOP)
        assert not answer.stated


class TestAnswerSynonyms:
    """Words a shopper uses for what the catalog says otherwise (`answers.synonyms`)."""

    def test_swimming_asks_whether_it_is_water_resistant(self, answerer):
        watch = ProductText(
            id="t:W1",
            title="Tide Sport Watch",
            description=("Digital display with a backlight.", "Water resistant (50 meters)."),
        )
        answer = answerer.answer("is it ok for a swim in the sea?", watch)
        assert [q.text for q in answer.quotes][:1] == ["Water resistant (50 meters)."]


class TestSizingWords:
    """In a sizing question "size" is what is asked (the NLU's stop word elsewhere), and the
    sizes in stock, which say nothing of how they fit, never answer it."""

    TOP = ProductText(
        id="t:S1",
        title="Kestrel Crop Top",
        sizes=("XS", "S", "M", "L"),
        description=("Made for studio sessions.",),
        reviews=(ReviewFact(2, "Lovely colour. The sizes do not match the chart at all.", "Meh"),),
    )

    def test_a_reviewer_on_the_sizes_answers(self, answerer):
        answer = answerer.answer("can I trust the sizes?", self.TOP)
        assert [q.text for q in answer.quotes][:1] == ["The sizes do not match the chart at all."]

    def test_the_sizes_in_stock_do_not_say_how_it_fits(self, answerer):
        plain = ProductText(id="t:S2", title="Plain Tee", sizes=("S", "M", "L"))
        assert not answerer.answer("is it true to size?", plain).stated


class TestFitQuestion:
    """Whether a question asks about fit, read without the words of the product's name."""

    def test_a_fit_word_in_the_products_name_asks_no_fit(self, answerer):
        tight = ProductText(
            id="t:T1",
            title="Marsh Snug Tight",
            description=("Four-way stretch fabric.",),
            reviews=(
                ReviewFact(3, "It runs small, order up.", "Small"),
                ReviewFact(4, "Runs small but comfy.", "Ok"),
            ),
        )
        answer = answerer.answer("is the Marsh Snug Tight stretchy?", tight)
        assert answer.fit is None
        assert [q.text for q in answer.quotes][:1] == ["Four-way stretch fabric."]


class TestLexicalWeights:
    """A property the synonyms know counts more in the lexical share, an activity less: in "ok
    in drizzle on my commute?" the drizzle is asked about, the commute is when."""

    HOODIE = ProductText(
        id="t:H1",
        title="Ridge Hoodie",
        attributes={"material": ("Polyester",)},
        description=("Brushed fleece lining.", "Water-resistant finish.", "Kangaroo pocket."),
    )

    def test_the_property_outweighs_the_activity(self, answerer):
        answer = answerer.answer("ok in drizzle on my commute?", self.HOODIE)
        assert [q.text for q in answer.quotes][:1] == ["Water-resistant finish."]

    def test_weights(self, answerer):
        assert answerer._weight(frozenset({"waterproof", "commute", "dog"})) == 1.5 + 0.5 + 1.0


class TestSourceSpans:
    """Every answer sentence is a template around text found verbatim in the product's data."""

    QUESTIONS = (
        ("luma:WJ07", "thumbholes?"),
        ("luma:24-WB05", "does it have a pocket for a water bottle?"),
        ("luma:WS07", "is it soft against the skin?"),
        ("luma:MSH08", "how do I wash these?"),
        ("luma:WJ07", "what is it made of?"),
    )

    @pytest.mark.parametrize(("pid", "question"), QUESTIONS)
    def test_every_quote_is_in_the_products_text(self, assistant, pid, question):
        session = f"span-{self.QUESTIONS.index((pid, question))}"
        card = assistant.catalog.product(pid)
        text = assistant.catalog.product_text(pid)
        assistant.open_session(session)
        state = assistant.state(session)
        state.shown, state.focus, state.matches_shown = [card], pid, 1
        reply = assistant.respond(session, question)
        assert reply.dialogue.action == "answer", reply.text
        source = quoted_text(text)
        templates = Templates(REPO / "prompts" / "responses.yml")
        prefixes = [
            v.split("{")[0]
            for name, variants in templates.responses.items()
            if name.startswith("answer_")
            for v in variants
        ]
        for line in reply.text.splitlines():
            assert any(line.startswith(p) for p in prefixes if p), line
            if '"' in line:
                quote = line.split('"', 1)[1].rsplit('"', 1)[0]
                assert quote in source, quote
            else:  # an attribute: "The product details list Material: Nylon, Polyester."
                values = line.split(": ", 1)[1].rstrip(".").split(", ")
                assert all(v in source for v in values), line


class TestPolicy:
    def _focus(self, assistant, session: str, pid: str) -> None:
        assistant.open_session(session)
        state = assistant.state(session)
        state.shown, state.focus, state.matches_shown = [assistant.catalog.product(pid)], pid, 1

    def test_a_specific_question_leads_with_the_quoted_answer(self, assistant):
        self._focus(assistant, "qa-policy-1", "luma:WJ07")
        reply = assistant.respond("qa-policy-1", "does it have thumbholes?")
        assert reply.text.splitlines()[0] == (
            'The description says: "Thumbholes for comfortable fit."'
        )
        assert reply.dialogue.product is not None and reply.dialogue.product.id == "luma:WJ07"

    def test_tell_me_more_keeps_the_details_card(self, assistant):
        self._focus(assistant, "qa-policy-2", "luma:WJ07")
        reply = assistant.respond("qa-policy-2", "tell me more about it")
        assert reply.dialogue.action == "details"

    def test_what_the_data_does_not_say_is_said_plainly(self, assistant):
        self._focus(assistant, "qa-policy-3", "luma:24-WB05")
        reply = assistant.respond("qa-policy-3", "does it have a heart rate monitor?")
        assert reply.dialogue.action == "answer_not_stated"
        assert "doesn't say" in reply.text

    def test_a_fit_question_with_the_shoppers_own_size_is_a_product_question(self, assistant):
        self._focus(assistant, "qa-policy-5", "luma:MJ02")
        reply = assistant.respond("qa-policy-5", "does it come up small? I'm usually an XL")
        assert reply.dialogue.action.startswith("answer"), reply.text
        asked = assistant.respond("qa-policy-5", "is it available in XL?")
        assert asked.dialogue.action == "availability", asked.text

    def test_a_part_its_own_text_mentions_is_asked_about_not_searched(self, assistant):
        self._focus(assistant, "qa-policy-6", "luma:24-WB03")
        reply = assistant.respond("qa-policy-6", "are the straps padded?")
        assert reply.dialogue.action.startswith("answer"), reply.text

    def test_what_it_is_good_for_is_asked_about_not_searched(self, assistant):
        self._focus(assistant, "qa-policy-7", "luma:24-WB03")
        reply = assistant.respond("qa-policy-7", "is it ok for cycling?")
        assert reply.dialogue.action.startswith("answer"), reply.text

    def test_one_product_on_screen_and_an_empty_cart_leave_only_a_question(self, assistant):
        self._focus(assistant, "qa-policy-8", "luma:24-WB03")
        for question in ("removable straps?", "real leather or synthetic?"):
            reply = assistant.respond("qa-policy-8", question)
            assert reply.dialogue.action.startswith("answer"), (question, reply.text)

    def test_an_opinion_of_the_whole_product_gets_its_reviews(self, assistant):
        self._focus(assistant, "qa-policy-9", "luma:MJ02")
        card = assistant.catalog.product("luma:MJ02")
        assert card is not None and card.reviews
        reply = assistant.respond("qa-policy-9", "what do folks make of it overall?")
        assert reply.dialogue.action == "reviews", reply.text
        worst = min(r.rating for r in card.reviews)
        complaints = assistant.respond("qa-policy-9", "any complaints?")
        assert complaints.dialogue.action == "reviews", complaints.text
        assert complaints.text.splitlines()[1].startswith(f"- {worst:g}/5"), complaints.text

    def test_a_complaint_about_a_part_is_looked_up_in_the_reviews(self, assistant):
        self._focus(assistant, "qa-policy-10", "luma:MJ02")
        reply = assistant.respond("qa-policy-10", "any complaints about the zipper?")
        assert reply.dialogue.action.startswith("answer"), reply.text

    def test_which_sizes_it_comes_in_lists_its_options(self, assistant):
        self._focus(assistant, "qa-policy-11", "luma:MJ02")
        reply = assistant.respond("qa-policy-11", "which colours does it come in?")
        assert reply.dialogue.action == "availability", reply.text
        card = assistant.catalog.product("luma:MJ02")
        assert card is not None and all(c in reply.text for c in card.colors)

    def test_a_question_after_its_topic_and_a_dash_is_a_question(self, assistant):
        self._focus(assistant, "qa-policy-12", "luma:MJ02")
        reply = assistant.respond("qa-policy-12", "this jacket - does it have pockets")
        assert reply.dialogue.action.startswith("answer"), reply.text

    def test_no_product_text_falls_back_to_the_details_card(self, assistant, monkeypatch):
        self._focus(assistant, "qa-policy-4", "luma:WJ07")
        monkeypatch.setattr(assistant.catalog, "product_text", lambda pid: None)
        reply = assistant.respond("qa-policy-4", "does it have thumbholes?")
        assert reply.dialogue.action == "details"


class TestQaCommand:
    def test_eval_qa_on_a_small_question_file(self, assistant, tmp_path: Path, monkeypatch):
        import evals._cli
        from assistant.cli import main

        monkeypatch.setattr(evals._cli, "build_assistant", lambda settings: assistant)
        monkeypatch.setattr(assistant, "warm_answers", lambda: 0)
        questions = tmp_path / "questions.yml"
        entries = [
            {"id": "q1", "sku": "WJ07", "question": "thumbholes?", "topic": "features",
             "style": "terse", "answer": "stated", "source": "description",
             "evidence": "Thumbholes for comfortable fit."},
            {"id": "q2", "sku": "24-WB05", "question": "does it have a heart rate monitor?",
             "topic": "features", "style": "terse", "answer": "not_stated"},
        ]  # fmt: skip
        questions.write_text(yaml.safe_dump({"version": 1, "questions": entries}))
        out = tmp_path / "reports"
        args = ["--data-dir", str(tmp_path), "eval", "qa", "--questions", str(questions),
                "--out", str(out), "--no-progress"]  # fmt: skip
        assert main(args) == 0
        report = json.loads((out / "qa-dev.json").read_text())
        assert report["n"] == 2
        assert report["systems"]["assistant"]["accuracy"] == 1.0
        assert report["systems"]["assistant"]["not_stated_precision"] == 1.0
        assert set(report["systems"]) == {"assistant", "bm25"}
        assert report["latency_ms"]["p95"] is not None
        assert "| answer accuracy | 2 |" in (out / "qa-dev.md").read_text()
        assert (out / "qa-dev.png").stat().st_size > 0

    def test_a_stated_entry_without_evidence_stops_the_run(self, tmp_path: Path):
        from evals._qa import load_questions

        bad = tmp_path / "q.yml"
        entry = {"id": "q1", "sku": "X", "question": "?", "topic": "fit", "answer": "stated"}
        bad.write_text(yaml.safe_dump({"questions": [entry]}))
        with pytest.raises(ValueError, match="q1"):
            load_questions(bad)
