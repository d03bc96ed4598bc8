"""Reads NLU training data in Rasa 3.x YAML (`prompts/nlu.yml`).

Product teams edit this file by hand, so every mistake is reported with the file and line, and
the parser follows Rasa's own rules (a `version` key, an `nlu:` list of `intent`, `synonym`,
`lookup` and `regex` blocks, inline entity annotations) so the same file trains a Rasa model.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dialogue._config import PromptFileError, read_text, yaml_error

BLOCK_KINDS = ("intent", "synonym", "lookup", "regex")
# [surface](entity), [surface](entity:value) or [surface]{"entity": ..., "value": ...}
ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<short>[^)]+)\)|(?P<json>\{[^}]*\}))")


class NluDataError(PromptFileError):
    """A problem in a training file, located by file and line."""


@dataclass(frozen=True, slots=True)
class EntitySpan:
    entity: str
    value: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()
    line: int = 0


@dataclass(slots=True)
class NluData:
    examples: list[Example] = field(default_factory=list)
    # surface form (lower case) -> canonical value
    synonyms: dict[str, str] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    content_hash: str = ""

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def by_intent(self) -> dict[str, list[Example]]:
        grouped: dict[str, list[Example]] = {}
        for example in self.examples:
            grouped.setdefault(example.intent, []).append(example)
        return grouped


def load_nlu(path: Path) -> NluData:
    """Parse and validate one Rasa NLU YAML file."""
    raw = read_text(path)
    try:
        root = yaml.compose(raw)
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from exc
    if not isinstance(root, yaml.MappingNode):
        raise NluDataError(path, 1, "expected a mapping with `version` and `nlu` keys")
    top = {key.value: value for key, value in root.value}
    if "version" not in top:
        raise NluDataError(path, 1, 'missing the `version` key (Rasa 3.x uses version: "3.1")')
    if "nlu" not in top or not isinstance(top["nlu"], yaml.SequenceNode):
        raise NluDataError(path, 1, "missing the `nlu:` list")
    data = NluData(content_hash=hashlib.sha256(raw.encode()).hexdigest()[:16])
    for block in top["nlu"].value:
        _read_block(path, block, data)
    if not data.examples:
        raise NluDataError(path, 1, "no intent examples")
    return data


def _read_block(path: Path, node: yaml.Node, data: NluData) -> None:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise NluDataError(path, line, "each item of `nlu:` must be a mapping")
    block = {key.value: value for key, value in node.value}
    kinds = [k for k in BLOCK_KINDS if k in block]
    if len(kinds) != 1:
        raise NluDataError(path, line, f"an item needs exactly one of {', '.join(BLOCK_KINDS)}")
    kind = kinds[0]
    name_node = block[kind]
    name = str(name_node.value).strip() if isinstance(name_node, yaml.ScalarNode) else ""
    if not name:
        raise NluDataError(path, line, f"`{kind}` needs a name")
    examples_node = block.get("examples")
    if not isinstance(examples_node, yaml.ScalarNode):
        raise NluDataError(path, line, f"{kind} {name!r}: `examples` must be a `|` block of lines")
    lines = _example_lines(path, examples_node)
    if not lines:
        raise NluDataError(path, line, f"{kind} {name!r} has no examples")
    if kind == "intent":
        for number, text in lines:
            plain, spans = parse_annotations(path, number, text)
            data.examples.append(Example(plain, name, spans, number))
            for span in spans:
                if span.value.lower() != span.text.lower():
                    data.synonyms.setdefault(span.text.lower(), span.value)
    elif kind == "synonym":
        for _, text in lines:
            data.synonyms[text.lower()] = name
    elif kind == "lookup":
        data.lookups.setdefault(name, []).extend(text for _, text in lines)
    else:
        for number, pattern in lines:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise NluDataError(path, number, f"regex {name!r}: {exc}") from exc
            data.regexes.setdefault(name, []).append(pattern)


def _example_lines(path: Path, node: yaml.ScalarNode) -> list[tuple[int, str]]:
    """The `- text` lines of an examples block, with their line numbers in the file."""
    # A `|` block's content starts on the line after the indicator.
    first = node.start_mark.line + (2 if node.style == "|" else 1)
    out: list[tuple[int, str]] = []
    for offset, raw in enumerate(str(node.value).splitlines()):
        stripped = raw.strip()
        if not stripped:
            continue
        if not stripped.startswith("- "):
            raise NluDataError(path, first + offset, f"an example must start with '- ': {raw!r}")
        text = stripped[2:].strip()
        if text:
            out.append((first + offset, text))
    return out


def parse_annotations(path: Path, line: int, text: str) -> tuple[str, tuple[EntitySpan, ...]]:
    """Strip inline entity annotations, returning the plain text and the entity spans."""
    plain: list[str] = []
    spans: list[EntitySpan] = []
    cursor = 0
    length = 0
    for match in ANNOTATION.finditer(text):
        before = text[cursor : match.start()]
        plain.append(before)
        length += len(before)
        surface = match["text"]
        entity, value = _annotation(path, line, match)
        spans.append(EntitySpan(entity, value or surface, length, length + len(surface), surface))
        plain.append(surface)
        length += len(surface)
        cursor = match.end()
    plain.append(text[cursor:])
    result = "".join(plain)
    if "](" in result or "]{" in result:
        raise NluDataError(path, line, f"a broken entity annotation in {text!r}")
    return result, tuple(spans)


def _annotation(path: Path, line: int, match: re.Match[str]) -> tuple[str, str | None]:
    if match["short"] is not None:
        entity, _, value = match["short"].partition(":")
        return entity.strip(), value.strip() or None
    try:
        spec = json.loads(match["json"])
    except json.JSONDecodeError as exc:
        raise NluDataError(path, line, f"entity annotation is not JSON: {match['json']}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
        raise NluDataError(path, line, f'annotation needs an "entity" name: {match["json"]}')
    value = spec.get("value")
    return spec["entity"], str(value) if value is not None else None
