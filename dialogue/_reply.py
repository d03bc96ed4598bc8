"""What one turn returns: the text, the suggested products with their reasons, an optional
comparison table, the cart and the state snapshot. Plain data for the UI, API and CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dialogue._protocol import MatchEvidence, ProductCard
from dialogue._state import CartLine

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}


@dataclass(slots=True)
class Suggestion:
    card: ProductCard
    reason: str
    evidence: MatchEvidence = field(default_factory=MatchEvidence)

    def to_dict(self) -> dict[str, Any]:
        return {"product": asdict(self.card), "reason": self.reason}


@dataclass(slots=True)
class Comparison:
    product_ids: list[str]
    titles: list[str]
    rows: list[tuple[str, list[str]]]

    def to_markdown(self) -> str:
        header = "| | " + " | ".join(self.titles) + " |"
        rule = "|---|" + "---|" * len(self.titles)
        body = [f"| {label} | " + " | ".join(values) + " |" for label, values in self.rows]
        return "\n".join([header, rule, *body])


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """The shopper asked for a person on the store's team. `share`: they agreed to share this
    conversation (and cart) with them. The dialogue only decides; the assistant records it."""

    share: bool


@dataclass(slots=True)
class DialogueReply:
    text: str
    intent: str
    action: str
    confidence: float = 1.0
    suggestions: list[Suggestion] = field(default_factory=list)
    alternatives: list[Suggestion] = field(default_factory=list)
    comparison: Comparison | None = None
    product: ProductCard | None = None  # the product a details/reviews/availability answer is about
    cart: list[CartLine] = field(default_factory=list)
    # Every fact the reply may state, for the LLM grounding check.
    facts: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    rewritten: bool = False
    handoff: HandoffRequest | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.intent,
            "action": self.action,
            "confidence": self.confidence,
            "suggestions": [s.to_dict() for s in self.suggestions],
            "alternatives": [s.to_dict() for s in self.alternatives],
            "comparison": asdict(self.comparison) if self.comparison else None,
            "product": asdict(self.product) if self.product else None,
            "cart": [asdict(line) for line in self.cart],
            "state": self.state,
            "handoff": asdict(self.handoff) if self.handoff else None,
        }


def money(amount: float | None, currency: str = "USD") -> str:
    if amount is None:
        return "price on request"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency}"


def price_text(card: ProductCard) -> str:
    price = money(card.price, card.currency)
    if card.price_is_from:
        price = f"from {price}"
    if card.regular_price is not None and card.price is not None:
        price += f" (on sale, was {money(card.regular_price, card.currency)})"
    return price
