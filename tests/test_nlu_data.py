"""The training file product teams edit: Rasa's format rules, the 27 intents, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dialogue import NluDataError, PromptFileError, load_nlu
from tests.conftest import REPO

NLU = REPO / "prompts" / "nlu.yml"
INTENTS = {
    "greet", "goodbye", "affirm", "deny", "ask_capabilities", "out_of_scope", "human_handoff",
    "browse_category", "search_products", "refine_search", "remove_filter", "sort_results",
    "show_more", "get_recommendation", "find_similar", "search_by_image", "product_details",
    "compare_products", "check_availability", "product_reviews", "complete_the_look",
    "add_to_cart", "remove_from_cart", "view_cart", "checkout", "order_status", "store_policy",
}  # fmt: skip


class TestShippedTrainingData:
    def test_exactly_the_27_intents_with_25_examples_or_more(self):
        data = load_nlu(NLU)
        grouped = data.by_intent()
        assert set(grouped) == INTENTS
        assert min(len(v) for v in grouped.values()) >= 25

    def test_rasa_layout_version_nlu_list_synonyms_and_lookups(self):
        raw = yaml.safe_load(NLU.read_text())
        assert raw["version"] == "3.1"
        kinds = {
            next(k for k in ("intent", "synonym", "lookup", "regex") if k in b) for b in raw["nlu"]
        }
        assert {"intent", "synonym", "lookup"} <= kinds
        data = load_nlu(NLU)
        assert data.synonyms["grey"] == "gray"
        assert "black" in data.lookups["color"]

    def test_inline_annotations_become_spans(self):
        data = load_nlu(NLU)
        annotated = [e for e in data.examples if e.entities]
        assert len(annotated) > 300
        for example in annotated:
            for span in example.entities:
                assert example.text[span.start : span.end] == span.text

    def test_no_example_is_in_two_intents(self):
        seen: dict[str, str] = {}
        for example in load_nlu(NLU).examples:
            text = example.text.lower()
            assert seen.setdefault(text, example.intent) == example.intent, text


class TestErrorsNameTheLine:
    def write(self, tmp_path: Path, body: str) -> Path:
        path = tmp_path / "nlu.yml"
        path.write_text(body)
        return path

    def test_missing_version(self, tmp_path):
        path = self.write(tmp_path, "nlu:\n- intent: greet\n  examples: |\n    - hi\n")
        with pytest.raises(NluDataError, match="version"):
            load_nlu(path)

    def test_bad_json_annotation_reports_its_line(self, tmp_path):
        body = (
            'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n'
            "    - a [b]{entity: x}\n"
        )
        with pytest.raises(NluDataError) as error:
            load_nlu(self.write(tmp_path, body))
        assert error.value.line == 6

    def test_example_without_dash(self, tmp_path):
        body = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    hello\n'
        with pytest.raises(NluDataError, match="must start with '- '") as error:
            load_nlu(self.write(tmp_path, body))
        assert error.value.line == 6

    def test_invalid_yaml(self, tmp_path):
        with pytest.raises(PromptFileError, match="not valid YAML"):
            load_nlu(self.write(tmp_path, 'version: "3.1"\nnlu: [\n'))

    def test_annotation_value_and_synonym(self, tmp_path):
        body = (
            'version: "3.1"\nnlu:\n- intent: refine_search\n  examples: |\n'
            '    - in [medium]{"entity": "size", "value": "M"} please\n'
        )
        data = load_nlu(self.write(tmp_path, body))
        (span,) = data.examples[0].entities
        assert (span.entity, span.value, span.text) == ("size", "M", "medium")
        assert data.examples[0].text == "in medium please"
        assert data.synonyms["medium"] == "M"
