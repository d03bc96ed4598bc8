"""The intent classifier's out-of-scope rules: the neighbour margin, the order of the rules,
persistence, and which out-of-scope answers may still become an "A or B?" question."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pytest

from dialogue import (
    OUT_OF_SCOPE,
    ClassifierSettings,
    EntityExtractor,
    Extraction,
    IntentClassifier,
    IntentPrediction,
    NluModel,
    load_nlu,
)
from dialogue._classifier import _neighbour_similarity
from tests.conftest import REPO


def toy_embedder(texts: Sequence[str]) -> np.ndarray:
    """Unit-length hashed bags of words: deterministic and fast, enough to separate topics."""
    vectors = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            vectors[row, zlib.crc32(word.encode()) % 64] += 1.0
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


TRAINING = {
    "view_cart": ["show my cart", "what is in my cart", "open my cart please", "my cart now"],
    "greet": ["hello there", "hi there", "hello friend", "hi friend"],
    OUT_OF_SCOPE: ["weather in paris", "will it rain", "weather tomorrow", "rain in rome"],
}


def trained(settings: ClassifierSettings | None = None) -> IntentClassifier:
    texts = [t for examples in TRAINING.values() for t in examples]
    labels = [intent for intent, examples in TRAINING.items() for _ in examples]
    return IntentClassifier(toy_embedder, settings).fit(texts, labels)


class TestNeighbourMargin:
    def test_mean_of_the_nearest_three_and_zero_without_examples(self):
        examples = np.eye(4, dtype=np.float32)
        query = np.asarray([[0.8, 0.6, 0.0, 0.0]], dtype=np.float32)
        assert _neighbour_similarity(query, examples)[0] == pytest.approx((0.8 + 0.6 + 0.0) / 3)
        assert _neighbour_similarity(query, examples[:2])[0] == pytest.approx(0.7)  # k <= n
        assert _neighbour_similarity(query, np.zeros((0, 4), dtype=np.float32))[0] == 0.0

    def test_in_scope_text_has_a_positive_margin_and_out_of_scope_text_a_negative_one(self):
        classifier = trained()
        cart, weather = classifier.predict_many(["what is in my cart", "rain in paris tomorrow"])
        assert cart.margin > 0 > weather.margin
        assert weather.intent == OUT_OF_SCOPE

    def test_rules_apply_in_order_model_then_confidence_then_margin(self):
        classifier = trained(ClassifierSettings(min_confidence=0.5, min_margin=0.1))
        probs = np.zeros(len(classifier.classes))
        probs[classifier.classes.index("view_cart")] = 0.9
        assert classifier._decide(probs, 0.05).out_of_scope_reason == "near_out_of_scope"
        assert classifier._decide(probs, 0.2).intent == "view_cart"
        probs[:] = 1 / len(probs)
        assert classifier._decide(probs, 0.05).out_of_scope_reason == "low_confidence"
        probs[classifier.classes.index(OUT_OF_SCOPE)] = 0.9
        assert classifier._decide(probs, 0.5).out_of_scope_reason == "model"

    def test_settings_reject_an_impossible_margin(self):
        with pytest.raises(ValueError, match="min_margin"):
            ClassifierSettings(min_margin=3.0)


def test_saved_model_predicts_the_same():
    classifier = trained()
    loaded = IntentClassifier(toy_embedder).load_bytes(classifier.to_bytes())
    texts = ["show my cart", "hello friend", "weather in rome", "something else entirely"]
    assert loaded.predict_many(texts) == classifier.predict_many(texts)


@pytest.fixture(scope="module")
def nlu() -> NluModel:
    data = load_nlu(REPO / "prompts" / "nlu.yml")
    return NluModel(data, trained(), EntityExtractor({}, data), clarify_share=0.6)


class TestClarifyingQuestion:
    def prediction(self, reason: str) -> IntentPrediction:
        ranking = (("view_cart", 0.4), ("checkout", 0.35), ("greet", 0.1))
        return IntentPrediction(OUT_OF_SCOPE, 0.4, ranking, 0.0, reason)

    def test_a_hesitation_between_two_intents_asks_which(self, nlu: NluModel):
        parse = nlu.decide("cart thing", self.prediction("low_confidence"), Extraction())
        assert parse.ambiguous == ("view_cart", "checkout")

    def test_a_message_like_the_out_of_scope_examples_does_not(self, nlu: NluModel):
        parse = nlu.decide("cart thing", self.prediction("near_out_of_scope"), Extraction())
        assert parse.intent == OUT_OF_SCOPE and parse.ambiguous is None
