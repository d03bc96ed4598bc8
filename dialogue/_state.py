"""The typed dialogue state of one shopping session.

Hard constraints carry polarity (`Constraints` are wanted, `Exclusions` are not), soft
preferences only re-rank, and the shown list keeps the order the shopper saw so "the second
one" means what it meant on screen.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from dialogue._protocol import ProductCard, ReviewFact
from dialogue._wishes import Constraints, Exclusions, Preferences

SORT_KEYS = ("price_asc", "price_desc", "rating")
# Articles of one product variant in a cart, however many adds it took.
MAX_LINE_QUANTITY = 99


@dataclass(slots=True)
class CartLine:
    product_id: str
    title: str
    unit_price: float | None
    quantity: int = 1
    size: str | None = None
    color: str | None = None
    # The product left the catalog (a re-ingest) after it was added: the line stays so the
    # shopper sees what happened, and checkout refuses until it is removed.
    removed: bool = False

    @property
    def total(self) -> float | None:
        return None if self.unit_price is None else round(self.unit_price * self.quantity, 2)


@dataclass(slots=True)
class PendingAdd:
    """An add-to-cart waiting for the shopper to name a size (or colour)."""

    product_id: str
    quantity: int = 1
    size: str | None = None
    color: str | None = None
    missing: str = "size"


@dataclass(slots=True)
class Turn:
    user: str
    intent: str
    action: str
    reply: str
    # The first request of a message that made two ("add it. and show me headlamps"): the
    # next turn in the history is the rest of the same message.
    first_part: bool = False


@dataclass(slots=True)
class DialogueState:
    constraints: Constraints = field(default_factory=Constraints)
    exclude: Exclusions = field(default_factory=Exclusions)
    prefer: Preferences = field(default_factory=Preferences)
    topic_text: str = ""
    sort: str | None = None
    shown: list[ProductCard] = field(default_factory=list)
    # The list on screen before this one, so "add the hoodie" still finds the hoodie after
    # a look at jackets (a kind or colour reference no item on screen answers).
    earlier: list[ProductCard] = field(default_factory=list)
    # How many of `shown` fully match (the rest are labelled close alternatives).
    matches_shown: int = 0
    page: int = 0
    focus: str | None = None
    # The titles the list on screen was looked up by ("do you have the Apex harness?"), so
    # "cheapest first" next sorts those products rather than the whole store.
    named: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)
    similar_to: str | None = None
    image: Any = None
    cart: list[CartLine] = field(default_factory=list)
    pending_add: PendingAdd | None = None
    # The intents a clarifying question offered, so "yes" or "the first" can pick one.
    offered_intents: list[str] = field(default_factory=list)
    # A person was asked for and the assistant asked whether it may share the conversation.
    pending_handoff: bool = False
    # The assistant asked for an order number to look the order up.
    pending_order: bool = False
    history: list[Turn] = field(default_factory=list)
    # Everything shown for the current request, over all its pages: "show more" continues
    # after these even when feedback has re-ranked the list in between.
    seen: list[str] = field(default_factory=list)
    # Thumbs up / down on products (most recent last). They nudge and hide only while
    # `personalise` is on: a shopper who opts out gets the same results as everyone.
    liked: list[str] = field(default_factory=list)
    disliked: list[str] = field(default_factory=list)
    personalise: bool = True
    # The catalog version the shown cards and cart prices were read at (None: not yet known);
    # when the catalog changes, the assistant re-reads them before the session's next turn.
    catalog_version: int | None = None

    def new_topic(self, *, keep_who: bool = False) -> None:
        """Forget the search (constraints, results, focus); the cart stays. `keep_who` keeps
        who the shopper is buying for: "women's jackets", then "hoodies instead" means
        women's hoodies."""
        self.earlier = self.shown[: self.matches_shown or len(self.shown)] or self.earlier
        self.constraints = Constraints(genders=self.constraints.genders if keep_who else ())
        self.exclude = Exclusions()
        self.prefer = Preferences()
        self.topic_text = ""
        self.sort = None
        self.shown = []
        self.matches_shown = 0
        self.page = 0
        self.focus = None
        self.named = []
        self.compared = []
        self.similar_to = None
        self.image = None
        self.pending_add = None
        self.seen = []

    def show(self, cards: list[ProductCard]) -> None:
        """Put a new list on screen, remembering the one it replaces (`earlier`)."""
        if self.shown and [c.id for c in cards] != [c.id for c in self.shown]:
            self.earlier = self.shown[: self.matches_shown or len(self.shown)]
        self.shown = list(cards)

    @property
    def single_match(self) -> bool:
        """One product on screen meets the request, so "add it" can only mean that one."""
        return len(self.shown) == 1 or self.matches_shown == 1

    def rate(self, product_id: str, value: int) -> None:
        """Thumbs up (1), down (-1) or neither (0) on a product; the latest one counts."""
        if value not in (-1, 0, 1):
            raise ValueError("feedback is 1 (like), -1 (dislike) or 0 (clear)")
        self.liked = [pid for pid in self.liked if pid != product_id]
        self.disliked = [pid for pid in self.disliked if pid != product_id]
        if value:
            (self.liked if value > 0 else self.disliked).append(product_id)

    def rating_of(self, product_id: str) -> int:
        return 1 if product_id in self.liked else -1 if product_id in self.disliked else 0

    def cart_line(self, product_id: str) -> CartLine | None:
        return next((line for line in self.cart if line.product_id == product_id), None)

    def cart_total(self) -> float:
        return round(sum(line.total or 0.0 for line in self.cart), 2)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly snapshot for the UI, the API and the evaluation."""
        return {
            "filters": _plain(self.constraints.active()),
            "exclude": _plain(self.exclude.active()),
            "prefer": _plain(asdict(self.prefer)),
            "topic": self.topic_text,
            "sort": self.sort,
            "shown": [card.id for card in self.shown],
            "page": self.page,
            "focus": self.focus,
            "similar_to": self.similar_to,
            "cart": [asdict(line) for line in self.cart],
            "pending_add": asdict(self.pending_add) if self.pending_add else None,
            "pending_handoff": self.pending_handoff,
            "liked": list(self.liked),
            "disliked": list(self.disliked),
            "personalise": self.personalise,
            "turns": len(self.history),
        }

    def to_record(self) -> dict[str, Any]:
        """Everything in the state as JSON-ready values, for a session store shared by several
        workers (`from_record` reads it back equal). `to_dict` is the shopper-facing view and
        leaves out what the next turn needs (the cards on screen, the history, ...)."""
        record = asdict(self)
        record["image"] = _png(self.image)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DialogueState:
        """The state `to_record` wrote (after a JSON round trip: lists where tuples were)."""

        def card(data: Mapping[str, Any]) -> ProductCard:
            reviews = tuple(ReviewFact(**r) for r in data["reviews"])
            return ProductCard(**{**_tuples(data), "reviews": reviews})

        pending = record["pending_add"]
        return cls(
            **{
                **record,
                "constraints": Constraints(**_tuples(record["constraints"])),
                "exclude": Exclusions(**_tuples(record["exclude"])),
                "prefer": Preferences(**_tuples(record["prefer"])),
                "shown": [card(c) for c in record["shown"]],
                "earlier": [card(c) for c in record["earlier"]],
                "image": _unpng(record["image"]),
                "cart": [CartLine(**line) for line in record["cart"]],
                "pending_add": PendingAdd(**pending) if pending is not None else None,
                "history": [Turn(**turn) for turn in record["history"]],
                "named": list(record["named"]),
                "compared": list(record["compared"]),
                "offered_intents": list(record["offered_intents"]),
                "seen": list(record["seen"]),
                "liked": list(record["liked"]),
                "disliked": list(record["disliked"]),
            }
        )


def _tuples(data: Mapping[str, Any]) -> dict[str, Any]:
    """A record's fields with JSON lists back as the tuples the frozen dataclasses hold
    (nested too: a card's colour photos are pairs); mappings keep their keys."""

    def tupled(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(tupled(v) for v in value)
        if isinstance(value, Mapping):
            return {k: tupled(v) for k, v in value.items()}
        return value

    return {name: tupled(value) for name, value in data.items()}


def _png(image: Any) -> str | None:
    """A shopper's photo as base64 PNG: lossless, so a later turn searches the same pixels."""
    if image is None:
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _unpng(data: str | None) -> Any:
    if data is None:
        return None
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data)))
    image.load()
    return image


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
