"""Section 2: scripted multi-turn conversations, each turn's `expect` checks.

Why each check reads only a `TurnOutcome`: references ("turn 3 shown 2") must resolve against
what this assistant really showed, and the checks must be testable on a fake reply sequence.
Definitions (the README's keys, made operational):

- results: the reply's suggestions; displayed: results + labelled alternatives; on screen: the
  session's shown list after the turn (what "the second one" points into);
- show: at least one result, every result meets `kind` and `stated` (of that store); the
  report adds how often the first result alone meets them (a right answer padded with
  products of another kind fails `show` but passes this);
- exclude: no displayed card meets the predicate;
- sorted: results in that price order, the first the cheapest / dearest product of the store
  meeting the turn's `show` (`kind` + `stated`);
- cheaper_than: at least one result, every one strictly cheaper than the reference and in its
  leaf category;
- cart_has / cart_lacks: the cart after the turn (size, colour, quantity when given);
- asks: after the turn an add-to-cart waits for that option, and the cart did not change;
- about: the reply's product (details, reviews, availability) is the reference or SKU;
- compare: the reply's comparison holds exactly those products;
- a reference that points past what was on screen fails its check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from assistant import Assistant
from evals._grading import Grader
from evals._testsets import Conversation, parse_reference
from evals._turns import CartItem, TurnOutcome, take_turn

Progress = Callable[[Iterable[Any], str], Iterable[Any]]
PRICE_TOLERANCE = 0.005


class Unresolved(Exception):
    """A reference to a card the assistant never showed."""


@dataclass(slots=True)
class CheckContext:
    """What one turn's checks may look at: this turn, the earlier ones, the store."""

    store: str
    grader: Grader
    history: list[TurnOutcome]  # every turn so far, this one last
    cart_before: list[CartItem]
    expect: dict[str, Any] = field(default_factory=dict)  # this turn's checks

    @property
    def turn(self) -> TurnOutcome:
        return self.history[-1]

    def resolve(self, reference: Any) -> str:
        """'turn T shown N' -> the product id the assistant showed there; {sku: X} -> id."""
        if isinstance(reference, dict) and "sku" in reference:
            return f"{self.store}:{reference['sku']}"
        turn, position = parse_reference(str(reference))
        if not 1 <= turn <= len(self.history) - 1:
            raise Unresolved(f"{reference}: no such earlier turn")
        shown = self.history[turn - 1].on_screen
        if position > len(shown):
            raise Unresolved(f"{reference}: only {len(shown)} card(s) were on screen")
        return shown[position - 1]


def check(name: str, expected: Any, ctx: CheckContext) -> str | None:
    """None when the check holds, else why it failed."""
    try:
        return CHECKS[name](expected, ctx)
    except Unresolved as exc:
        return f"unresolved reference: {exc}"


def _show(expected: dict[str, Any], ctx: CheckContext) -> str | None:
    results = ctx.turn.results
    if not results:
        return "no result cards"
    predicates = [expected.get("kind") or {}, expected.get("stated") or {}]
    bad = [c.id for c in results if not ctx.grader.meets(c.id, ctx.store, *predicates)]
    return f"results not meeting kind+stated: {bad}" if bad else None


def _exclude(expected: dict[str, Any], ctx: CheckContext) -> str | None:
    hit = [c.id for c in ctx.turn.displayed if ctx.grader.meets(c.id, ctx.store, expected)]
    return f"excluded products shown: {hit}" if hit else None


def _sorted(direction: str, ctx: CheckContext) -> str | None:
    results = ctx.turn.results
    prices = [ctx.grader.price(c.id) for c in results]
    if len(results) < 2 or any(p is None for p in prices):
        return f"fewer than two priced results ({len(results)})"
    known = [float(p) for p in prices if p is not None]
    descending = direction == "price_desc"
    if known != sorted(known, reverse=descending):
        return f"results not in {direction} order: {known}"
    show = _show_of(ctx)
    if show is None:
        return None
    store_prices = [
        f.price
        for f in ctx.grader.in_store(ctx.store)
        if f.price is not None and ctx.grader.meets(f.id, ctx.store, *show)
    ]
    if store_prices:
        best = max(store_prices) if descending else min(store_prices)
        if abs(known[0] - best) > PRICE_TOLERANCE:
            return f"first result {known[0]} is not the store's {direction} extreme {best}"
    return None


def _show_of(ctx: CheckContext) -> tuple[dict[str, Any], dict[str, Any]] | None:
    show = ctx.expect.get("show")
    if not show:
        return None
    return show.get("kind") or {}, show.get("stated") or {}


def _cheaper_than(reference: Any, ctx: CheckContext) -> str | None:
    target = ctx.resolve(reference)
    limit, leaf = ctx.grader.price(target), ctx.grader.leaf(target)
    results = ctx.turn.results
    if not results or limit is None:
        return "no result cards" if not results else f"reference {target} has no price"
    bad = [
        c.id
        for c in results
        if (ctx.grader.price(c.id) or float("inf")) >= limit or ctx.grader.leaf(c.id) != leaf
    ]
    return f"not cheaper than {target} ({limit}) or not a {leaf}: {bad}" if bad else None


def _cart_has(expected: dict[str, Any], ctx: CheckContext) -> str | None:
    target = ctx.resolve(expected["item"])
    lines = [
        line
        for line in ctx.turn.cart
        if line.product_id == target
        and _same(line.size, expected.get("size"))
        and _same(line.color, expected.get("color"))
    ]
    if not lines:
        return f"cart lacks {target} {_options(expected)}; cart: {ctx.turn.cart}"
    quantity = expected.get("quantity")
    held = sum(line.quantity for line in lines)
    if quantity is not None and held != int(quantity):
        return f"cart holds {held} of {target}, expected {quantity}"
    return None


def _cart_lacks(reference: Any, ctx: CheckContext) -> str | None:
    target = ctx.resolve(reference)
    held = any(line.product_id == target for line in ctx.turn.cart)
    return f"cart still holds {target}" if held else None


def _asks(option: str, ctx: CheckContext) -> str | None:
    if ctx.turn.pending != option:
        return f"no question for the {option} (pending: {ctx.turn.pending})"
    return "the cart changed" if ctx.turn.cart != ctx.cart_before else None


def _about(reference: Any, ctx: CheckContext) -> str | None:
    target = ctx.resolve(reference)
    about = ctx.turn.about
    return None if about == target else f"reply is about {about}, expected {target}"


def _compare(references: list[Any], ctx: CheckContext) -> str | None:
    targets = {ctx.resolve(r) for r in references}
    compared = set(ctx.turn.compared)
    return (
        None if compared == targets else f"compared {sorted(compared)}, expected {sorted(targets)}"
    )


def _same(actual: str | None, wanted: Any) -> bool:
    return wanted is None or (actual or "").casefold() == str(wanted).casefold()


def _options(expected: dict[str, Any]) -> str:
    return " ".join(f"{k}={expected[k]}" for k in ("size", "color") if k in expected)


CHECKS: dict[str, Callable[[Any, CheckContext], str | None]] = {
    "show": _show,
    "exclude": _exclude,
    "sorted": _sorted,
    "cheaper_than": _cheaper_than,
    "cart_has": _cart_has,
    "cart_lacks": _cart_lacks,
    "asks": _asks,
    "about": _about,
    "compare": _compare,
}


@dataclass(slots=True)
class TurnResult:
    number: int
    outcome: TurnOutcome
    expect: dict[str, Any]
    failed: dict[str, str]  # check -> why
    show_first_ok: bool | None = None  # None: no `show` check this turn

    @property
    def ok(self) -> bool:
        return not self.failed and self.outcome.error is None


@dataclass(slots=True)
class ConversationResult:
    conversation: Conversation
    turns: list[TurnResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.turns)

    def first_failure(self) -> dict[str, Any] | None:
        """What was said, what was expected and what the assistant did, at the first
        failing turn: the unit a developer reads to name a failure class."""
        turn = next((t for t in self.turns if not t.ok), None)
        if turn is None:
            return None
        return {
            "conversation": self.conversation.id,
            "note": self.conversation.note,
            "turn": turn.number,
            "said": turn.outcome.user,
            "expected": turn.expect,
            "failed": turn.failed,
            "assistant": turn.outcome.to_dict(),
            "earlier_turns": [t.outcome.user for t in self.turns[: turn.number - 1]],
        }


class ConversationEvaluation:
    """Plays each conversation in a fresh session and checks every turn."""

    def __init__(self, assistant: Assistant, grader: Grader) -> None:
        self.assistant = assistant
        self.grader = grader

    def run(
        self, conversations: list[Conversation], progress: Progress
    ) -> list[ConversationResult]:
        return [self._one(c) for c in progress(conversations, "conversations")]

    def _one(self, conversation: Conversation) -> ConversationResult:
        session = f"eval-conversation-{conversation.id}"
        result = ConversationResult(conversation)
        history: list[TurnOutcome] = []
        for number, scripted in enumerate(conversation.turns, start=1):
            cart_before = history[-1].cart if history else []
            history.append(take_turn(self.assistant, session, scripted.user))
            ctx = CheckContext(
                conversation.store, self.grader, history, cart_before, scripted.expect
            )
            failed = {
                name: why
                for name, expected in scripted.expect.items()
                if (why := check(name, expected, ctx)) is not None
            }
            if history[-1].error:
                failed["error"] = history[-1].error
            turn = TurnResult(number, history[-1], scripted.expect, failed)
            if "show" in scripted.expect:
                turn.show_first_ok = self._first_ok(
                    conversation.store, scripted.expect["show"], ctx
                )
            result.turns.append(turn)
        return result

    def _first_ok(self, store: str, show: dict[str, Any], ctx: CheckContext) -> bool:
        results = ctx.turn.results
        wanted = (show.get("kind") or {}, show.get("stated") or {})
        return bool(results) and self.grader.meets(results[0].id, store, *wanted)


def summarise(results: list[ConversationResult]) -> dict[str, Any]:
    turns = [t for r in results for t in r.turns]
    checks: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for turn in turns:
        for name in turn.expect:
            checks[name] += 1
            passed[name] += name not in turn.failed
    foreign = [
        t
        for r in results
        for t in r.turns
        if any(not c.id.startswith(f"{r.conversation.store}:") for c in t.outcome.results)
    ]
    return {
        "conversations": len(results),
        "turns": len(turns),
        "turns_with_other_store_results": len(foreign),
        "turn_success": sum(t.ok for t in turns) / len(turns) if turns else None,
        "conversation_success": sum(r.ok for r in results) / len(results) if results else None,
        "show_first_result_ok": _mean_of(
            [t.show_first_ok for t in turns if t.show_first_ok is not None]
        ),
        "by_check": {
            name: {"turns": checks[name], "success": passed[name] / checks[name]}
            for name in sorted(checks)
        },
        "by_store": {
            store: {
                "conversations": len(group),
                "conversation_success": sum(r.ok for r in group) / len(group),
            }
            for store in sorted({r.conversation.store for r in results})
            if (group := [r for r in results if r.conversation.store == store])
        },
    }


def _mean_of(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None
