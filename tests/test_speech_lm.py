"""The phrase model that re-ranks Whisper's guesses, alone and inside the real tiny.en."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from assistant.speech import (
    FasterWhisperTranscriber,
    PhraseModel,
    SpeechError,
    build_transcriber,
    load_example_requests,
    normalise_words,
    phrase_model_for,
    store_prompt,
)
from assistant.speech._phrase_model import UNSEEN_TYPES, Hypothesis, shopper_phrases
from assistant.speech._transcribe import choose
from dialogue import EntitySpan, Example
from evals._asr_eval import synthesise

REPO = Path(__file__).resolve().parent.parent
NLU = REPO / "prompts" / "nlu.yml"
VOCABULARY = {
    "category": ["jackets", "hoodies & sweatshirts", "bags"],
    "color": ["blue", "gray"],
}


@pytest.fixture(scope="module")
def store_model() -> PhraseModel:
    return phrase_model_for(NLU, VOCABULARY)


class TestPhraseModel:
    def test_shop_talk_is_likelier_than_its_sound_alikes(self, store_model: PhraseModel):
        for said, misheard in [
            ("show me jackets in size medium", "show me jackets inside medium"),
            ("a cheap black gym bag", "a cheap black jim bag"),
            ("show me blue jackets under fifty dollars", "show me blue jacket under fifty dolors"),
        ]:
            assert store_model.logprob(said) > store_model.logprob(misheard), said

    def test_written_and_spoken_forms_are_one_phrase(self, store_model: PhraseModel):
        assert store_model.logprob("under $50") == store_model.logprob("under fifty dollars")

    def test_probabilities_are_a_distribution_over_the_next_word(self):
        model = PhraseModel(["blue jackets", "blue hoodies", "gray jackets"])
        history = ("<s>", "blue")
        seen = sum(model.probability(history, w) for (w,) in model._grams[0])
        never = model.probability(history, "zeppelin")  # each of the imagined unseen words
        assert 0 < never < 1e-4
        assert seen + UNSEEN_TYPES * never == pytest.approx(1.0)
        assert model.probability(history, "jackets") > model.probability(history, "gray")

    def test_pick_weighs_hearing_against_phrasing(self, store_model: PhraseModel):
        heard = Hypothesis("show me jackets inside medium", -4.0)
        meant = Hypothesis("show me jackets in size medium", -5.0)
        assert store_model.pick([heard, meant]) == meant
        # Whisper far surer of another phrase: the model does not overrule the ears.
        assert store_model.pick([heard, Hypothesis(meant.text, -60.0)]) == heard
        off = PhraseModel(["x"], weight=0.0, word_bonus=0.0)
        assert off.pick([heard, meant]) == heard  # weight 0: Whisper's own order

    def test_the_word_bonus_offsets_a_preference_for_short_guesses(self):
        short, full = Hypothesis("blue", -3.0), Hypothesis("blue jackets please", -3.2)
        plain = PhraseModel(["blue jackets please"], word_bonus=0.0)
        bonus = PhraseModel(["blue jackets please"], word_bonus=2.0)
        gap = plain.score(full) - plain.score(short)
        assert bonus.score(full) - bonus.score(short) == pytest.approx(gap + 2 * 2.0)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="weight"):
            PhraseModel(["blue"], weight=-1)
        with pytest.raises(ValueError, match="at least one phrase"):
            PhraseModel(["", "!!"])
        with pytest.raises(ValueError, match="no hypotheses"):
            PhraseModel(["blue"]).pick([])

    def test_learns_from_nlu_examples_and_catalog_words_but_not_out_of_scope(self):
        hoodies = EntitySpan("category", "hoodies", 8, 15, "hoodies")
        phrases = shopper_phrases(
            [
                Example("show me hoodies", "search_products", (hoodies,)),
                Example("what's the weather", "out_of_scope"),
                Example("hi there", "greet"),
            ],
            {"color": ["lavender"], "category": ["bags", "tees"]},
        )
        assert phrases[:3] == ["lavender", "bags", "tees"]  # each facet value on its own
        assert "show me hoodies" in phrases and "hi there" in phrases
        assert "what's the weather" not in phrases
        # The annotated category again with the store's other categories, 3 times.
        swapped = [p for p in phrases if p.startswith("show me ") and p != "show me hoodies"]
        assert len(swapped) == 3 and set(swapped) <= {"show me bags", "show me tees"}

    def test_every_category_is_likely_where_shoppers_name_one(self, store_model: PhraseModel):
        # "some money" is in the checkout examples; "some bags" only by the category swap.
        assert store_model.logprob("show me some bags") > store_model.logprob("show me some money")

    def test_an_evaluation_leaves_its_own_sentences_out(self, store_model: PhraseModel):
        example = "a waterproof jacket for hiking under $100"  # an example in nlu.yml
        without = phrase_model_for(NLU, VOCABULARY, leave_out=[example.upper()])
        assert without.logprob(example) < store_model.logprob(example)
        assert math.isfinite(without.logprob(example))


class TestStorePrompt:
    def test_catalog_words_then_the_product_teams_example_requests(self):
        examples = load_example_requests(REPO / "prompts" / "speech.yml")
        assert examples.startswith("Shopping requests:") and "\n" not in examples
        prompt = store_prompt(VOCABULARY, examples)
        assert prompt.startswith("jackets, hoodies & sweatshirts, bags, blue, gray.")
        assert prompt.endswith(examples)  # last: Whisper's prompt limit keeps the end
        assert store_prompt({}, "") == ""
        assert store_prompt(VOCABULARY, "") == "jackets, hoodies & sweatshirts, bags, blue, gray."

    def test_a_missing_file_means_no_examples(self, tmp_path: Path):
        assert load_example_requests(tmp_path / "speech.yml") == ""

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("example_requests: [a, b]\n", "must be a line of text"),
            ("example_requests: " + "word " * 81 + "\n", "keep it under 80"),
            ("example_requests: 'unclosed\n", "cannot read"),
        ],
    )
    def test_a_broken_edit_names_the_file(self, tmp_path: Path, text: str, message: str):
        path = tmp_path / "speech.yml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=message) as caught:
            load_example_requests(path)
        assert str(path) in str(caught.value)


def test_decoding_loops_are_never_chosen():
    loop = Hypothesis("a gym bag " + "bag " * 40, -20.0)
    speech = Hypothesis("a gym bag", -9.0)
    wordy = PhraseModel(["a gym bag"], weight=0.0, word_bonus=2.0)
    assert wordy.pick([loop, speech]) == loop  # a length bonus alone would take the loop
    assert choose(wordy, [loop, speech]) == "a gym bag"
    assert choose(wordy, [loop]) == loop.text  # nothing else heard: keep it


class Recording(PhraseModel):
    """A small phrase model that keeps each n-best list it was asked to choose from."""

    def __init__(self) -> None:
        super().__init__([*shopper_phrases([], VOCABULARY), "show me blue jackets"])
        self.asked: list[list[Hypothesis]] = []

    def pick(self, hypotheses: Sequence[Hypothesis]) -> Hypothesis:
        self.asked.append(list(hypotheses))
        return super().pick(hypotheses)


@pytest.mark.slow
class TestNBestRecognition:
    @pytest.fixture(scope="class")
    def recording(self) -> Recording:
        return Recording()

    @pytest.fixture(scope="class")
    def transcriber(self, recording: Recording) -> FasterWhisperTranscriber:
        transcriber = FasterWhisperTranscriber(beam_size=4, phrase_model=recording)
        transcriber.load()
        return transcriber

    def test_the_phrase_model_chooses_among_whisper_guesses(
        self, transcriber: FasterWhisperTranscriber, recording: Recording, tmp_path: Path
    ):
        wav = synthesise("show me blue jackets", tmp_path / "q.wav", voice="en-us", speed=150)
        text = transcriber(wav)
        guesses = recording.asked[-1]
        assert 1 < len(guesses) <= 4
        assert text == recording.pick(guesses).text  # one of Whisper's own guesses
        assert all(g.logprob < 0 for g in guesses)
        assert {"blue", "me"} <= set(normalise_words(text)), text

    def test_noise_still_yields_no_words(
        self, transcriber: FasterWhisperTranscriber, recording: Recording, tmp_path: Path
    ):
        noise = tmp_path / "noise.ogg"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
             "anoisesrc=d=3:c=pink:a=0.3:seed=1", str(noise)],
            check=True,
        )  # fmt: skip
        asked = len(recording.asked)
        with pytest.raises(SpeechError, match="couldn't make out any words"):
            transcriber.transcribe(noise)
        assert len(recording.asked) == asked  # the VAD found no speech to decode

    def test_only_faster_whisper_takes_a_phrase_model(self, recording: Recording):
        with pytest.raises(ValueError, match="cannot re-rank"):
            build_transcriber("openai-whisper", "tiny.en", 30, phrase_model=recording)
