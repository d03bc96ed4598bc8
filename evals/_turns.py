"""One shopper turn through `Assistant.respond`, kept as plain data for grading and reports.

Why not keep the `Reply`: the report must say what the shopper saw (cards in screen order, the
colour each card showed, the cart) after later turns have moved the session on, and a crash
must become a recorded outcome, not the end of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant import Assistant, Reply

REPLY_CHARS = 300  # enough of a reply to read a failure class in the JSON report


@dataclass(frozen=True, slots=True)
class Card:
    id: str
    title: str
    price: float | None
    color: str | None = None  # the colour the card's photo shows, when one was chosen


@dataclass(frozen=True, slots=True)
class CartItem:
    product_id: str
    size: str | None
    color: str | None
    quantity: int


@dataclass(slots=True)
class TurnOutcome:
    """What the assistant did with one message."""

    user: str
    intent: str = ""
    action: str = ""
    reply: str = ""
    results: list[Card] = field(default_factory=list)  # the suggestions: presented as matches
    alternatives: list[Card] = field(default_factory=list)  # labelled close alternatives
    on_screen: list[str] = field(default_factory=list)  # the session's shown list after it
    cart: list[CartItem] = field(default_factory=list)
    about: str | None = None  # the product a details / reviews answer is about
    compared: list[str] = field(default_factory=list)
    pending: str | None = None  # the option a pending add-to-cart asks for (size, color)
    error: str | None = None

    @property
    def displayed(self) -> list[Card]:
        return self.results + self.alternatives

    def to_dict(self) -> dict[str, Any]:
        def cards(items: list[Card]) -> list[dict[str, Any]]:
            return [
                {"id": c.id, "title": c.title, "price": c.price, "color": c.color} for c in items
            ]

        return {
            "user": self.user,
            "intent": self.intent,
            "action": self.action,
            "reply": self.reply[:REPLY_CHARS],
            "results": cards(self.results),
            "alternatives": cards(self.alternatives),
            "cart": [_cart_item(item) for item in self.cart],
            "about": self.about,
            "compared": self.compared,
            "pending": self.pending,
            "error": self.error,
        }


def _cart_item(item: CartItem) -> dict[str, Any]:
    return {
        "product_id": item.product_id,
        "size": item.size,
        "color": item.color,
        "quantity": item.quantity,
    }


def take_turn(assistant: Assistant, session_id: str, text: str) -> TurnOutcome:
    """Send one message; an exception (the facade promises none) is recorded, not raised."""
    try:
        reply = assistant.respond(session_id, text=text)
    except Exception as exc:  # the report must name the input that crashed
        return TurnOutcome(user=text, error=f"{type(exc).__name__}: {exc}")
    return _outcome(assistant, session_id, text, reply)


def _outcome(assistant: Assistant, session_id: str, text: str, reply: Reply) -> TurnOutcome:
    dialogue = reply.dialogue
    state = assistant.state(session_id)
    pending = state.pending_add.missing if state.pending_add is not None else None
    return TurnOutcome(
        user=text,
        intent=dialogue.intent,
        action=dialogue.action,
        reply=reply.text,
        results=[_card(s.card) for s in dialogue.suggestions],
        alternatives=[_card(s.card) for s in dialogue.alternatives],
        on_screen=[card.id for card in state.shown],
        cart=[
            CartItem(line.product_id, line.size, line.color, line.quantity)
            for line in dialogue.cart
        ],
        about=dialogue.product.id if dialogue.product is not None else None,
        compared=list(dialogue.comparison.product_ids) if dialogue.comparison else [],
        pending=pending,
        # The dialogue model turns an internal failure into an apology with action "error".
        error="the dialogue model failed on this turn (action 'error')"
        if dialogue.action == "error"
        else None,
    )


def _card(card: Any) -> Card:
    return Card(card.id, card.title, card.price, card.image_color)
