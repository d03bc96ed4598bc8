"""Optional LLM rewriting of template replies through LangChain's OpenAI-compatible client
(OpenAI, vLLM, Ollama, llama.cpp server), behind a grounding check.

The LLM only rephrases. Its answer is rejected, and the template reply kept, when it states a
price or number, a size, a colour, a product name or a feature word that the facts given to it
do not contain.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dialogue._config import LlmPrompts, LlmSettings

log = logging.getLogger(__name__)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
PRICE = re.compile(r"[$€£]\s?(\d[\d,]*(?:\.\d+)?)")
SIZE_WORDS = re.compile(r"\b(?:XXS|XS|S|M|L|XL|XXL|size\s+\w+)\b")
MAX_OUTPUT_CHARS = 4000


@dataclass(frozen=True, slots=True)
class GroundingVerdict:
    ok: bool
    problems: tuple[str, ...] = ()


class GroundingCheck:
    """Rejects text that names anything the facts do not contain.

    `vocabulary` holds the catalog words worth guarding (product titles, colours, materials,
    feature words): any of them in the output must appear in the facts or the draft.
    """

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.guarded = sorted({v.lower() for v in vocabulary if len(v) >= 3}, key=len, reverse=True)

    def check(self, output: str, draft: str, facts: list[str]) -> GroundingVerdict:
        source = " ".join([draft, *facts])
        source_lower = source.lower()
        problems: list[str] = []
        allowed_prices = {_number(p) for p in PRICE.findall(source)}
        for raw in PRICE.findall(output):
            if _number(raw) not in allowed_prices:
                problems.append(f"price {raw!r} is not in the facts")
        allowed_numbers = {_number(n) for n in NUMBER.findall(source)}
        for raw in NUMBER.findall(output):
            if _number(raw) not in allowed_numbers:
                problems.append(f"number {raw!r} is not in the facts")
        allowed_sizes = {s.lower() for s in SIZE_WORDS.findall(source)}
        for size in SIZE_WORDS.findall(output):
            if size.lower() not in allowed_sizes:
                problems.append(f"size {size!r} is not in the facts")
        output_lower = output.lower()
        for term in self.guarded:
            if re.search(rf"\b{re.escape(term)}\b", output_lower) and term not in source_lower:
                problems.append(f"{term!r} is not in the facts")
        return GroundingVerdict(not problems, tuple(problems))


def _number(raw: str) -> float | str:
    try:
        return float(raw.replace(",", ""))
    except ValueError:
        return raw


# A completion function: (system prompt, user prompt) -> text. LangChain in production; tests
# point it at a local OpenAI-compatible server.
Complete = Callable[[str, str], str]


def langchain_completion(settings: LlmSettings) -> Complete:
    """Build a LangChain ChatOpenAI call; the API key comes from the environment only."""
    from langchain_core.messages import HumanMessage, SystemMessage

    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:  # an optional group; a ValueError keeps the last good prompts
        raise ValueError(
            "llm.enabled in dialogue.yml needs langchain-openai (pip install 'shopassist[llm]')"
        ) from exc

    api_key = os.environ.get(settings.api_key_env) or "not-needed"
    chat = ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=api_key,  # type: ignore[arg-type]
        temperature=settings.temperature,
        timeout=settings.timeout_seconds,
        max_retries=0,
    )

    def complete(system: str, user: str) -> str:
        message = chat.invoke([SystemMessage(system), HumanMessage(user)])
        return str(message.content)

    return complete


class Rewriter:
    def __init__(self, complete: Complete, prompts: LlmPrompts, check: GroundingCheck) -> None:
        self.complete = complete
        self.prompts = prompts
        self.check = check

    def rewrite(self, message: str, draft: str, facts: list[str]) -> tuple[str, GroundingVerdict]:
        """The rewritten text if it passes the grounding check, else the draft."""
        user = self.prompts.user.format(message=message, draft=draft, facts="\n".join(facts))
        try:
            output = self.complete(self.prompts.system, user).strip()[:MAX_OUTPUT_CHARS]
        except Exception as exc:  # the endpoint is optional and remote: any failure keeps the draft
            log.warning("LLM rewrite failed: %s", exc)
            return draft, GroundingVerdict(False, (f"LLM call failed: {exc}",))
        if not output:
            return draft, GroundingVerdict(False, ("empty output",))
        verdict = self.check.check(output, draft, facts)
        if not verdict.ok:
            log.info("LLM rewrite rejected: %s", "; ".join(verdict.problems))
            return draft, verdict
        return output, verdict
