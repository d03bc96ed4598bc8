"""The YAML files product teams edit (`prompts/`): dialogue settings, reply templates, store
policies and LLM prompts. Each loader validates and names the file and line of a mistake."""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from dialogue._classifier import ClassifierSettings

NLU_FILE = "nlu.yml"
DIALOGUE_FILE = "dialogue.yml"
RESPONSES_FILE = "responses.yml"
POLICY_FILE = "store_policy.yml"
LLM_PROMPTS_FILE = "llm.yml"
PROMPT_FILES = (NLU_FILE, DIALOGUE_FILE, RESPONSES_FILE, POLICY_FILE, LLM_PROMPTS_FILE)


class PromptFileError(ValueError):
    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptFileError(path, 0, f"cannot read the file: {exc}") from exc


def yaml_error(path: Path, exc: yaml.YAMLError) -> PromptFileError:
    mark = getattr(exc, "problem_mark", None)
    return PromptFileError(path, mark.line + 1 if mark else 0, f"not valid YAML: {exc}")


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from exc
    if not isinstance(data, dict):
        raise PromptFileError(path, 1, "expected a mapping at the top level")
    return data


def prompts_hash(prompts_dir: Path) -> str:
    """Content hash of every prompt file: the model cache key and the reload trigger."""
    digest = hashlib.sha256()
    for name in PROMPT_FILES:
        path = prompts_dir / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class PolicySettings:
    page_size: int = 5
    max_compare: int = 4
    max_reviews: int = 3
    complete_the_look: int = 4

    def __post_init__(self) -> None:
        for f in fields(self):
            if not 1 <= getattr(self, f.name) <= 20:
                raise ValueError(f"{f.name} must be between 1 and 20")


@dataclass(frozen=True, slots=True)
class LlmSettings:
    enabled: bool = False
    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "llama3.1"
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.2
    timeout_seconds: float = 20.0


@dataclass(frozen=True, slots=True)
class AnswerSettings:
    """The answerer's knobs (`dialogue.yml`, `answers:`). `threshold` was chosen on the dev
    question set (`shopassist eval qa --split dev`), never on the held-out one."""

    threshold: float = 0.6
    lexical_weight: float = 0.8
    # Added to a source's score by kind: attributes first, then the description, then reviews.
    attribute_prior: float = 0.04
    description_prior: float = 0.02
    # Added to reviews when the shopper asks what people say.
    reviewers_asked: float = 0.1
    # A second quote is given when it scores within this of the first.
    second_quote_margin: float = 0.08
    # Groups of words that mean the same to a shopper here (waterproof ~ rain ~ water resistant).
    synonyms: tuple[tuple[str, ...], ...] = ()
    # Question words that carry no fact ("reckon", "cheers").
    ignore: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 2:
            raise ValueError("answers.threshold must be between 0 and 2")
        for name in ("lexical_weight", "attribute_prior", "description_prior", "reviewers_asked"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"answers.{name} must be between 0 and 1")
        if not 0 <= self.second_quote_margin <= 1:
            raise ValueError("answers.second_quote_margin must be between 0 and 1")

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> AnswerSettings:
        values = dict(data)
        groups = values.pop("synonyms", None) or []
        ignore = values.pop("ignore", None) or []
        if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
            raise ValueError("answers.synonyms must be a list of word lists")
        if not isinstance(ignore, list):
            raise ValueError("answers.ignore must be a list of words")
        return cls(
            synonyms=tuple(tuple(str(w) for w in g) for g in groups),
            ignore=tuple(str(w) for w in ignore),
            **{k: float(v) for k, v in values.items()},  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class DialogueSettings:
    classifier: ClassifierSettings = field(default_factory=ClassifierSettings)
    clarify_share: float = 0.6
    # An off-topic reading stands only for words further than this from every product's text.
    need_closeness: float = 0.32
    policy: PolicySettings = field(default_factory=PolicySettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    answers: AnswerSettings = field(default_factory=AnswerSettings)

    def __post_init__(self) -> None:
        if not 0 < self.need_closeness <= 1:
            raise ValueError("nlu.need_closeness must be above 0 and at most 1")

    @classmethod
    def load(cls, path: Path) -> DialogueSettings:
        data = read_yaml(path)
        nlu = dict(data.get("nlu") or {})
        clarify_share = float(nlu.pop("clarify_share", 0.6))
        need_closeness = float(nlu.pop("need_closeness", 0.32))
        try:
            return cls(
                classifier=ClassifierSettings(**nlu),
                clarify_share=clarify_share,
                need_closeness=need_closeness,
                policy=PolicySettings(**(data.get("policy") or {})),
                llm=LlmSettings(**(data.get("llm") or {})),
                answers=AnswerSettings.from_dict(data.get("answers") or {}),
            )
        except (TypeError, ValueError) as exc:
            raise PromptFileError(path, 0, f"invalid setting: {exc}") from exc


class Templates:
    """Reply templates (`responses.yml`): several variants per response, rotated per turn."""

    def __init__(self, path: Path) -> None:
        data = read_yaml(path)
        self.path = path
        responses = data.get("responses")
        if not isinstance(responses, dict) or not responses:
            raise PromptFileError(path, 0, "needs a `responses:` mapping")
        self.responses: dict[str, list[str]] = {}
        for name, variants in responses.items():
            variants = [variants] if isinstance(variants, str) else variants
            if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
                raise PromptFileError(path, _line_of(path, name), f"{name}: a list of strings")
            for variant in variants:
                _check_format(path, name, variant)
            self.responses[name] = variants
        self.reasons: dict[str, str] = {k: str(v) for k, v in (data.get("reasons") or {}).items()}
        self.intent_labels: dict[str, str] = dict(data.get("intent_labels") or {})
        missing = sorted(REQUIRED_RESPONSES - set(self.responses))
        if missing:
            raise PromptFileError(path, 0, f"missing responses: {', '.join(missing)}")

    def render(self, name: str, turn: int = 0, **values: Any) -> str:
        variants = self.responses[name]
        return variants[turn % len(variants)].format_map(_Strict(values, name))

    def reason(self, name: str, **values: Any) -> str:
        template = self.reasons.get(name, "")
        return template.format_map(_Strict(values, name)) if template else ""


REQUIRED_RESPONSES = {
    "greet", "goodbye", "capabilities", "handoff", "out_of_scope", "clarify_intent",
    "clarify_vague", "results", "no_results", "details", "compare", "ask_size", "added",
    "cart", "cart_empty", "checkout", "error", "need_results", "which_item", "too_long",
    "quantity_limit", "variant_changed", "instead", "unfiltered", "handoff_consent",
    "handoff_unshared", "handoff_reference", "handoff_failed", "order_ask", "order_found",
    "order_eta", "order_tracking", "order_unknown", "order_lookup_failed", "which_order",
}  # fmt: skip


class _Strict(dict[str, Any]):
    def __init__(self, values: dict[str, Any], name: str) -> None:
        super().__init__(values)
        self.name = name

    def __missing__(self, key: str) -> str:
        raise KeyError(f"template {self.name!r} uses {{{key}}}, which this reply does not have")


def _check_format(path: Path, name: str, template: str) -> None:
    try:
        list(string.Formatter().parse(template))
    except ValueError as exc:
        raise PromptFileError(path, _line_of(path, name), f"{name}: {exc}") from exc


def _line_of(path: Path, key: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*:", line):
            return number
    return 0


@dataclass(frozen=True, slots=True)
class PolicyTopic:
    name: str
    keywords: tuple[str, ...]
    answer: str


class StorePolicy:
    """Answers to shipping/returns/payment questions, quoted from `store_policy.yml`."""

    def __init__(self, path: Path) -> None:
        data = read_yaml(path)
        topics = data.get("topics")
        if not isinstance(topics, dict) or not topics:
            raise PromptFileError(path, 0, "needs a `topics:` mapping")
        self.topics: list[PolicyTopic] = []
        for name, spec in topics.items():
            if not isinstance(spec, dict) or not isinstance(spec.get("answer"), str):
                raise PromptFileError(path, _line_of(path, name), f"{name}: needs an `answer`")
            keywords = tuple(str(k).lower() for k in spec.get("keywords") or [name])
            self.topics.append(PolicyTopic(name, keywords, spec["answer"].strip()))
        self.fallback = str(data.get("fallback") or "")
        handoff = data.get("handoff")
        if not isinstance(handoff, dict) or not isinstance(handoff.get("answer"), str):
            raise PromptFileError(
                path, _line_of(path, "handoff") if handoff is not None else 0,
                "needs a `handoff:` section with an `answer` (what happens after a shopper "
                "asks for a person, and when)",
            )  # fmt: skip
        # Said when a shopper asks for a person: the store's own words, never a made-up promise.
        self.handoff = handoff["answer"].strip()

    def answer(self, text: str) -> tuple[str | None, str]:
        lowered = f" {text.lower()} "
        best: tuple[int, PolicyTopic] | None = None
        for topic in self.topics:
            hits = sum(1 for k in topic.keywords if re.search(rf"\b{re.escape(k)}\b", lowered))
            if hits and (best is None or hits > best[0]):
                best = (hits, topic)
        if best is None:
            return None, self.fallback
        return best[1].name, best[1].answer


@dataclass(frozen=True, slots=True)
class LlmPrompts:
    system: str
    user: str

    @classmethod
    def load(cls, path: Path) -> LlmPrompts:
        data = read_yaml(path)
        try:
            prompts = cls(system=str(data["system"]), user=str(data["user"]))
        except KeyError as exc:
            raise PromptFileError(path, 0, f"missing key {exc}") from exc
        _check_format(path, "user", prompts.user)
        return prompts
