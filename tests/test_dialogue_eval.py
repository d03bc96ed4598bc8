"""The evaluations behind the README: scripted dialogues (held out from training), NLU
cross-validation, CLINC150/Bitext scoring on small project-written files."""

from __future__ import annotations

import json
import re

import numpy as np
import yaml

from dialogue import (
    ClassifierSettings,
    Constraints,
    EmbeddingMemo,
    Exclusions,
    ProductCard,
    load_nlu,
)
from evals._dialogue_eval import (
    bitext_evaluation,
    clinc_evaluation,
    cross_validate,
    evaluate_dialogues,
    latency,
    unmet,
)
from tests.conftest import REPO

DIALOGUES = REPO / "tests" / "dialogues" / "luma.yml"


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9#$ ]+", "", text.lower()).strip()


class TestScriptedDialogues:
    def test_the_dialogues_are_held_out_from_training(self):
        trained = {_norm(e.text) for e in load_nlu(REPO / "prompts" / "nlu.yml").examples}
        spec = yaml.safe_load(DIALOGUES.read_text())
        turns = [t["user"] for d in spec["dialogues"] for t in d["turns"]]
        assert len(spec["dialogues"]) >= 40
        assert [t for t in turns if _norm(t) in trained] == []

    def test_joint_goal_accuracy_and_constraint_satisfaction(self, assistant):
        report = evaluate_dialogues(assistant.model, DIALOGUES)
        assert report.turns >= 200
        assert report.joint_goal_accuracy >= 0.9, [f.differences for f in report.failures][:5]
        assert report.suggestions_checked > 300 and report.constraint_violations == 0

    def test_a_wrong_expectation_is_reported(self, assistant, tmp_path):
        path = tmp_path / "one.yml"
        spec = {
            "dialogues": [
                {
                    "name": "wrong on purpose",
                    "turns": [
                        {
                            "user": "show me women's jackets",
                            "intent": "browse_category",
                            "state": {"filters": {"categories": ["bags"]}},
                        },
                    ],
                }
            ]
        }
        path.write_text(yaml.safe_dump(spec))
        report = evaluate_dialogues(assistant.model, path)
        assert report.joint_goal_accuracy == 0.0 and report.intent_accuracy == 1.0
        assert "filters" in report.failures[0].differences[0]


class TestConstraintCheck:
    def test_unmet(self):
        card = ProductCard(id="x", title="X", price=40.0, categories=("jackets",),
                           colors=("Blue",), genders=("Women",))  # fmt: skip
        assert unmet(card, Constraints(categories=("jackets",), price_max=50), Exclusions()) == []
        problems = unmet(card, Constraints(colors=("red",), price_max=30), Exclusions(("blue",)))
        assert len(problems) == 3


class TestNluEvaluation:
    def test_cross_validation_and_variants(self, assistant, tmp_path):
        nlu = assistant.model.nlu
        encoder = assistant.stack.text_encoder
        memo = EmbeddingMemo(
            assistant.model_cache / "nlu-embeddings.npz", encoder.encode_texts, encoder.name
        )
        variants = {
            "default": nlu.classifier.settings,
            "embeddings only": ClassifierSettings(char_ngrams=False, word_ngrams=False),
        }
        results = cross_validate(nlu, memo, variants, folds=3)
        assert [r.variant for r in results] == ["default", "embeddings only"]
        for result in results:
            matrix = np.asarray(result.confusion)
            assert matrix.sum() == len(nlu.data.examples) and len(result.labels) == 27
            assert 0.5 < result.macro_f1 <= 1.0
            assert 0 <= result.calibration_error < 0.2
            assert len(result.errors) == matrix.sum() - np.trace(matrix)

    def test_clinc_and_bitext_scoring(self, assistant, tmp_path):
        nlu = assistant.model.nlu
        clinc = tmp_path / "clinc.json"
        test = [
            ["what's the weather in lisbon", "weather"],
            ["set a timer for ten minutes", "timer"],
            ["hiya, good to see you shop assistant", "greeting"],
            ["hi", "greeting"],  # also a training example: not scored
            ["add milk to my list", "shopping_list"],
        ]
        oos = [["how do i become an astronaut", "oos"]]
        clinc.write_text(json.dumps({"test": test, "oos_test": oos}))
        result = clinc_evaluation(nlu, clinc)
        assert result["out_of_scope_utterances"] == 3 and result["in_scope_utterances"] == 1
        assert result["skipped_as_in_training"] == 1
        assert result["out_of_scope_rate"] == 1.0 and result["in_scope_accuracy"] == 1.0
        bitext = tmp_path / "bitext.csv"
        bitext.write_text(
            "instruction,intent\n"
            "where is my order {{Order Number}},track_order\n"
            "i want to speak to a real person,contact_human_agent\n"
            "how do i change my password,recover_password\n"
        )
        scored = bitext_evaluation(nlu, bitext)
        assert scored["utterances"] == 2 and scored["accuracy"] == 1.0

    def test_latency_is_measured_per_utterance(self, assistant):
        result = latency(assistant.model.nlu, ["red jacket", "where is my order"] * 5)
        assert result["utterances"] == 10 and 0 < result["p50"] <= result["p95"] <= result["max"]
