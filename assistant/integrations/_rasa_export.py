"""`export_rasa`: a Rasa 3.x project skeleton written from our prompt files.

Teams that already run Rasa get our NLU data (the same file our assistant trains on), a domain
whose slots are the ones the action server reads and sets, rules sending each intent to its
action or fixed response, and an endpoints file pointing at `shopassist actions`. Re-export after
editing `prompts/`; the written files are meant to be regenerated, not edited.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path
from typing import Any

import yaml

from assistant.integrations._rasa import (
    ACTION_SEARCH_PRODUCTS,
    ACTIONS,
    DEFAULT_HOST,
    DEFAULT_PORT,
    ENTITY_SLOTS,
    SEARCH_ALIASES,
    SLOT_TYPES,
)
from dialogue import NLU_FILE, RESPONSES_FILE, SIMPLE_REPLIES, Templates, load_nlu

RASA_FORMAT = "3.1"
DEFAULT_ACTION_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/webhook"
HEADER = "# Written by `shopassist export-rasa` from prompts/: edit those and export again.\n"
# Rasa predicts `nlu_fallback` when the FallbackClassifier below is unsure.
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_TEMPLATE = "out_of_scope"
CONFIG: dict[str, Any] = {
    "recipe": "default.v1",
    "language": "en",
    "assistant_id": "shopassist",
    "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer", "case_sensitive": False},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
        # Our lookups are the catalog's vocabulary: exact matches beat a learned tagger there.
        {"name": "RegexEntityExtractor", "case_sensitive": False, "use_lookup_tables": True},
        {"name": "EntitySynonymMapper"},
        {"name": "FallbackClassifier", "threshold": 0.4, "ambiguity_threshold": 0.1},
    ],
    "policies": [
        {"name": "MemoizationPolicy"},
        {"name": "RulePolicy", "core_fallback_threshold": 0.3},
        {"name": "TEDPolicy", "max_history": 5, "epochs": 100, "constrain_similarities": True},
    ],
}


def export_rasa(
    prompts_dir: Path, out_dir: Path, action_url: str = DEFAULT_ACTION_URL
) -> list[Path]:
    """Write `data/nlu.yml`, `data/rules.yml`, `domain.yml`, `config.yml` and `endpoints.yml`
    under `out_dir`; returns the paths written. Raises the prompt files' own errors."""
    nlu_file = prompts_dir / NLU_FILE
    nlu = load_nlu(nlu_file)  # validates the file before anything is written
    templates = Templates(prompts_dir / RESPONSES_FILE)
    responses = {
        f"utter_{name}": [{"text": text} for text in templates.responses[name]]
        for name in sorted(set(SIMPLE_REPLIES.values()))
        if name in templates.responses and not _has_fields(templates.responses[name])
    }
    entities = sorted(
        {span.entity for example in nlu.examples for span in example.entities}
        | set(nlu.lookups)
        | set(ENTITY_SLOTS)
    )
    domain = {
        "version": RASA_FORMAT,
        "intents": nlu.intents,
        "entities": entities,
        "slots": {name: _slot(name, type_) for name, type_ in SLOT_TYPES.items()},
        "responses": responses,
        "actions": list(ACTIONS),
        "session_config": {
            "session_expiration_time": 60,
            "carry_over_slots_to_new_session": True,
        },
    }
    rules = [
        {"rule": f"{intent} -> {target}", "steps": [{"intent": intent}, {"action": target}]}
        for intent, target in _targets(nlu.intents, responses).items()
    ]
    data = out_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(nlu_file, data / "nlu.yml")  # already Rasa 3.x NLU, comments and all
    files = {
        data / "rules.yml": {"version": RASA_FORMAT, "rules": rules},
        out_dir / "domain.yml": domain,
        out_dir / "config.yml": CONFIG,
        out_dir / "endpoints.yml": {"action_endpoint": {"url": action_url}},
    }
    for path, content in files.items():
        text = yaml.safe_dump(content, sort_keys=False, allow_unicode=True, width=100)
        path.write_text(HEADER + text, encoding="utf-8")
    return [data / "nlu.yml", *files]


def _slot(name: str, type_: str) -> dict[str, Any]:
    """Entity slots fill from their entity; the others only by our actions' `SlotSet`s. No
    slot steers Rasa's policies: the rules route on intents and the actions read the slots."""
    mapping = (
        {"type": "from_entity", "entity": name} if name in ENTITY_SLOTS else {"type": "custom"}
    )
    return {"type": type_, "influence_conversation": False, "mappings": [mapping]}


def _targets(intents: list[str], responses: dict[str, Any]) -> dict[str, str]:
    """Intent -> the action or response a rule sends it to. Intents without one (a photo
    search needs an image, which Rasa's text channels do not carry) are left to Rasa's
    policies."""
    by_intent = {intent: action for action, intent in ACTIONS.items()}
    by_intent |= dict.fromkeys(SEARCH_ALIASES, ACTION_SEARCH_PRODUCTS)
    by_intent |= {i: f"utter_{t}" for i, t in SIMPLE_REPLIES.items() if f"utter_{t}" in responses}
    targets = {intent: by_intent[intent] for intent in intents if intent in by_intent}
    if f"utter_{FALLBACK_TEMPLATE}" in responses:
        targets[FALLBACK_INTENT] = f"utter_{FALLBACK_TEMPLATE}"
    return targets


def _has_fields(variants: list[str]) -> bool:
    """Our `{fields}` are catalog facts only the actions can fill; Rasa would read slots."""
    return any(field for text in variants for _, field, _, _ in string.Formatter().parse(text))
