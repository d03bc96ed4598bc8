"""A Rasa action server over the shopping engine, for teams that already run Rasa.

Rasa keeps its NLU and stories; our catalog search, product answers and cart run as custom
actions. Each action rebuilds a `DialogueState` from the tracker's slots, lets the dialogue's own
tracker and policy handle the turn (so "the second one", size questions, reasons and every
product fact behave exactly as in the app, straight from the catalog), and hands the new state
back as `SlotSet` events. The server is rasa-sdk's own Sanic app, so `/health`, `/actions`,
`/webhook` and their error answers are rasa-sdk's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, TypedDict

from rasa_sdk import Action, Tracker
from rasa_sdk.constants import DEFAULT_SERVER_PORT
from rasa_sdk.endpoint import create_app
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher
from rasa_sdk.types import DomainDict
from sanic import Sanic

from assistant._assistant import Assistant
from assistant.integrations.wire import (
    RASA_CART_FIELDS,
    RASA_PRODUCT_FIELDS,
    cart_line,
    product_card,
)
from dialogue import (
    MAX_MESSAGE_CHARS,
    CartLine,
    CatalogPort,
    Constraints,
    DialogueReply,
    DialogueState,
    Entity,
    Exclusions,
    Extraction,
    Preferences,
    ProductCard,
    Suggestion,
)
from retrieval import FILTER_ATTRIBUTES

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = DEFAULT_SERVER_PORT  # 5055, where Rasa's endpoints.yml expects it

# Action name -> the dialogue intent it runs.
ACTION_SEARCH_PRODUCTS = "action_search_products"
ACTION_HUMAN_HANDOFF = "action_human_handoff"
ACTIONS: dict[str, str] = {
    ACTION_SEARCH_PRODUCTS: "search_products",
    "action_refine_search": "refine_search",
    "action_remove_filter": "remove_filter",
    "action_sort_results": "sort_results",
    "action_show_more": "show_more",
    "action_find_similar": "find_similar",
    "action_product_details": "product_details",
    "action_compare_products": "compare_products",
    "action_check_availability": "check_availability",
    "action_product_reviews": "product_reviews",
    "action_complete_the_look": "complete_the_look",
    "action_add_to_cart": "add_to_cart",
    "action_remove_from_cart": "remove_from_cart",
    "action_view_cart": "view_cart",
    "action_checkout": "checkout",
    "action_store_policy": "store_policy",
    "action_order_status": "order_status",
    ACTION_HUMAN_HANDOFF: "human_handoff",
}
# Rasa intents that start a search without being the action's own intent.
SEARCH_ALIASES = ("browse_category", "get_recommendation")

# Entity slots (Rasa fills them from entities of the same name) -> `Constraints` field; each
# filter attribute is a slot of its own name.
ENTITY_SLOTS: dict[str, str] = {
    "category": "categories",
    "color": "colors",
    "size": "sizes",
    "gender": "genders",
    "brand": "brands",
    **{name: name for name in FILTER_ATTRIBUTES},
}
SLOT_PRICE_MIN = "price_min"
SLOT_PRICE_MAX = "price_max"
SLOT_SHOWN = "shown_products"
SLOT_FOCUS = "focus_product"
SLOT_CART = "cart"
SLOT_CONTEXT = "search_context"
# Rasa slot type of every slot the actions read and set.
SLOT_TYPES: dict[str, str] = {
    **dict.fromkeys(ENTITY_SLOTS, "list"),
    SLOT_PRICE_MIN: "float",
    SLOT_PRICE_MAX: "float",
    SLOT_SHOWN: "list",
    SLOT_FOCUS: "text",
    SLOT_CART: "list",
    SLOT_CONTEXT: "any",
}
MAX_SHOWN = 50
MAX_CART_LINES = 100


# A product card and a cart line in the payload: the wire shapes'
# (`assistant.integrations.wire`) fields that Rasa sees, a card with the reason it was suggested
# (search results only, else None).
ProductPayload = dict[str, Any]
CartLinePayload = dict[str, Any]


class ComparisonPayload(TypedDict):
    product_ids: list[str]
    titles: list[str]
    rows: list[tuple[str, list[str]]]


class ReplyPayload(TypedDict):
    """`json_message` of every response: what the policy did and the cards to render."""

    action: str
    products: list[ProductPayload]
    alternatives: list[ProductPayload]
    product: ProductPayload | None
    comparison: ComparisonPayload | None
    cart: list[CartLinePayload]
    cart_total: float


class SearchContext(TypedDict):
    """The `search_context` slot: the parts of the search Rasa has no entity slot for."""

    topic: str
    sort: str | None
    page: int
    similar_to: str | None
    compared: list[str]
    matches_shown: int
    min_rating: float | None
    on_sale: bool
    in_stock: bool
    price_below: bool
    labels: list[str]
    exclude: dict[str, list[str] | bool]
    prefer_cheaper: bool
    prefer_brands: list[str]
    prefer_terms: list[str]


@dataclass(slots=True)
class ActionReply:
    text: str
    payload: ReplyPayload | None = None  # None after a failed turn: nothing to render
    events: list[EventType] = field(default_factory=list)


class ShopAction(Action):
    """One dialogue intent as a Rasa custom action. All actions share one `Assistant`;
    subclass to change what an action says or sets."""

    def __init__(self, assistant: Assistant, action_name: str, intent: str) -> None:
        self.assistant = assistant
        self.action_name = action_name
        self.intent = intent

    def name(self) -> str:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # Searches take milliseconds to tens of ms; off the event loop, /health stays instant.
        reply = await asyncio.to_thread(self.respond, tracker)
        dispatcher.utter_message(text=reply.text, json_message=dict(reply.payload or {}))
        return reply.events

    def respond(self, tracker: Tracker) -> ActionReply:
        """Never raises on a tracker's content: a failing turn answers with the `error`
        template and changes no slot, as the app does."""
        try:
            self.assistant.reload()
            self.assistant.live_catalog.check()  # a re-ingest: carts are rebuilt at new prices
            return self._respond(tracker)
        except Exception:
            log.exception("%s failed; slots left unchanged", self.action_name)
            return ActionReply(self.assistant.model.templates.render("error"))

    def _respond(self, tracker: Tracker) -> ActionReply:
        model = self.assistant.model
        catalog = self.assistant.catalog
        message = tracker.latest_message or {}
        text = str(message.get("text") or "").strip()[:MAX_MESSAGE_CHARS]
        canonical = _Canonical(model.read_entities, catalog.vocabulary())
        extraction = model.read_entities(text)
        _merge_entities(extraction, message.get("entities"), canonical)
        slots = tracker.slots or {}
        # A search naming a category starts over, as in the app ("now men's hoodies"). Rasa has
        # already written this message's entities into the slots, so this is decided here.
        fresh = self.intent == "search_products" and bool(extraction.values("category", known=True))
        state, notes, unknown = _state_from_slots(slots, canonical, catalog, fresh=fresh)
        turn = model.track_decided(state, text, self.intent, extraction)
        missing = [pid for pid in turn.result.targets if pid in unknown]
        if missing:
            notes.append(f"Product {missing[0]} is not in the catalog (any more).")
            text = " ".join(notes)
            events = [SlotSet(SLOT_FOCUS, None)] if slots.get(SLOT_FOCUS) in unknown else []
            payload = _payload(DialogueReply(text, self.intent, "unknown_product"), state)
            return ActionReply(text, payload, events)
        reply = model.act(state, turn)
        events = [
            SlotSet(name, value)
            for name, value in _slots_from_state(state).items()
            if _differs(slots.get(name), value)
        ]
        return ActionReply("\n".join([*notes, reply.text]), _payload(reply, state), events)


class HandoffAction(ShopAction):
    """A request for a person, recorded like the app's (`shopassist report`, GET
    /api/v1/handoffs, the helpdesk webhook) and answered with the store's own words and the
    request's reference. Rasa keeps the conversation, so none of it is shared."""

    def _respond(self, tracker: Tracker) -> ActionReply:
        model = self.assistant.model
        said = model.templates.render("handoff_unshared", when=model.policy.store_policy.handoff)
        return ActionReply(self.assistant.hand_off(tracker.sender_id, said, None))


def action_executor(assistant: Assistant) -> ActionExecutor:
    """rasa-sdk's executor with one instance of each action over the shared assistant."""
    executor = ActionExecutor()
    for name, intent in ACTIONS.items():
        kind = HandoffAction if name == ACTION_HUMAN_HANDOFF else ShopAction
        executor.register_action(kind(assistant, name, intent))
    return executor


def create_action_app(assistant: Assistant) -> Sanic:
    """rasa-sdk's Sanic app (routes, error bodies) over our actions. CORS stays off, as in
    rasa-sdk's own CLI: Rasa calls the action server from its server, not from browsers."""
    app = create_app(action_executor(assistant), cors_origins=None)
    # Sanic's TouchUp rewrites its protocol classes on the first start in a process and fails
    # on the next one (KeyError: 'send'); a process may start the server more than once
    # (tests, embedding), and TouchUp only trims unused signal dispatch.
    app.config.TOUCHUP = False
    return app


def serve(assistant: Assistant, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted, in this process: the models are loaded once, not per worker."""
    app = create_action_app(assistant)
    app.run(host=host, port=port, single_process=True, access_log=False, motd=False)


# Tracker -> state ---------------------------------------------------------------------------
class _Canonical:
    """The catalog's value for a slot or entity value ("jacket" -> "jackets", "M" -> "m") and
    whether the store carries it; None when the value means nothing of that type."""

    def __init__(self, read: Callable[[str], Extraction], vocabulary: dict[str, list[str]]) -> None:
        self.read = read
        self.known = {slot: {v.lower() for v in vocabulary.get(slot, [])} for slot in ENTITY_SLOTS}

    def __call__(self, type_: str, value: str) -> tuple[str, bool] | None:
        lowered = value.strip().lower()
        if lowered in self.known[type_]:
            return lowered, True
        found = [e for e in self.read(value).entities if e.type == type_]
        return (found[0].value, found[0].known) if found else None


def _merge_entities(extraction: Extraction, entities: Any, canonical: _Canonical) -> None:
    """Add Rasa's entities for our slots to what our extractor found in the same text, in the
    catalog's spelling; values our extractor read as negated ("not black") stay negated."""
    if not isinstance(entities, list):
        return
    have = {(e.type, e.value) for e in extraction.entities}
    for raw in entities:
        if not isinstance(raw, dict) or raw.get("entity") not in ENTITY_SLOTS:
            continue
        type_ = str(raw["entity"])
        value = raw.get("value")
        if not isinstance(value, str) or not value.strip():
            continue
        catalog_value, known = canonical(type_, value) or (value.strip().lower(), False)
        if (type_, catalog_value) in have:
            continue
        have.add((type_, catalog_value))
        start, end = raw.get("start"), raw.get("end")
        extraction.entities.append(
            Entity(
                type_,
                catalog_value,
                value,
                start if isinstance(start, int) else 0,
                end if isinstance(end, int) else 0,
                known=known,
            )
        )


def _state_from_slots(
    slots: dict[str, Any], canonical: _Canonical, catalog: CatalogPort, *, fresh: bool
) -> tuple[DialogueState, list[str], set[str]]:
    """The dialogue state the slots describe, notes for the shopper, and the ids the catalog
    no longer has. `fresh`: a search naming a category starts over (the cart stays)."""
    state = DialogueState()
    notes: list[str] = []
    state.cart = _cart(slots.get(SLOT_CART), catalog, notes)
    shown_ids = _strings(slots.get(SLOT_SHOWN))[:MAX_SHOWN]
    cards = {pid: catalog.product(pid) for pid in shown_ids}
    unknown = {pid for pid, card in cards.items() if card is None}
    focus = slots.get(SLOT_FOCUS)
    if isinstance(focus, str) and focus:
        state.focus = focus
        if catalog.product(focus) is None:
            unknown.add(focus)
    # Unknown ids keep their place, so "the third one" still means what the shopper saw.
    state.shown = [cards[pid] or ProductCard(id=pid, title=pid, price=None) for pid in shown_ids]
    state.matches_shown = len(state.shown)
    if fresh:
        # A new kind keeps who the shopper buys for, as the app's tracker does.
        found = [canonical("gender", v) for v in _strings(slots.get("gender"))]
        genders = tuple(dict.fromkeys(c[0] for c in found if c and c[1]))
        state.constraints = Constraints(genders=genders)
        return state, notes, unknown
    said = Constraints()
    for slot, name in ENTITY_SLOTS.items():
        found = [canonical(slot, v) for v in _strings(slots.get(slot))]
        said = said.with_values(name, tuple(dict.fromkeys(c[0] for c in found if c and c[1])))
    context = slots.get(SLOT_CONTEXT) if isinstance(slots.get(SLOT_CONTEXT), dict) else {}
    low, high = _number(slots.get(SLOT_PRICE_MIN)), _number(slots.get(SLOT_PRICE_MAX))
    if low is not None and high is not None and low > high:
        low = high = None
    state.constraints = replace(
        said,
        price_min=low,
        price_max=high,
        min_rating=_number(context.get("min_rating")),
        on_sale=context.get("on_sale") is True,
        in_stock=context.get("in_stock") is True,
        labels=_strings(context.get("labels")),
        price_below=context.get("price_below") is True and high is not None,
    )
    exclude = context.get("exclude") if isinstance(context.get("exclude"), dict) else {}
    listed = [f.name for f in fields(Exclusions) if f.name not in ("attributes", "on_sale")]
    state.exclude = Exclusions(
        **{name: _strings(exclude.get(name)) for name in listed},
        attributes={name: _strings(exclude.get(name)) for name in FILTER_ATTRIBUTES},
        on_sale=exclude.get("on_sale") is True,
    )
    state.prefer = Preferences(
        cheaper=context.get("prefer_cheaper") is True,
        brands=_strings(context.get("prefer_brands")),
        terms=_strings(context.get("prefer_terms")),
    )
    topic = context.get("topic")
    state.topic_text = topic if isinstance(topic, str) else ""
    sort = context.get("sort")
    state.sort = sort if sort in ("price_asc", "price_desc", "rating") else None
    page = _number(context.get("page"))
    state.page = int(page) if page is not None and 0 <= page < 100 else 0
    similar = context.get("similar_to")
    state.similar_to = similar if isinstance(similar, str) and similar else None
    state.compared = list(_strings(context.get("compared")))
    matches = _number(context.get("matches_shown"))
    if matches is not None and 0 <= matches <= len(state.shown):
        state.matches_shown = int(matches)
    return state, notes, unknown


def _cart(value: Any, catalog: CatalogPort, notes: list[str]) -> list[CartLine]:
    """Cart lines from the slot, with titles and prices read again from the catalog."""
    lines: list[CartLine] = []
    for raw in value[:MAX_CART_LINES] if isinstance(value, list) else []:
        if not isinstance(raw, dict) or not isinstance(raw.get("product_id"), str):
            continue
        card = catalog.product(raw["product_id"])
        if card is None:
            notes.append(
                f"{raw['product_id']} is no longer in the catalog; I took it out of your cart."
            )
            continue
        quantity = _number(raw.get("quantity"))
        size, color = raw.get("size"), raw.get("color")
        lines.append(
            CartLine(
                card.id,
                card.title,
                card.price,
                int(quantity) if quantity is not None and 1 <= quantity <= 99 else 1,
                size if isinstance(size, str) else None,
                color if isinstance(color, str) else None,
            )
        )
    return lines


def _strings(value: Any) -> tuple[str, ...]:
    """A slot's value as strings: Rasa list slots hold lists, text slots one string."""
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(dict.fromkeys(s.strip() for s in items if isinstance(s, str) and s.strip()))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


# State -> slots and payload -----------------------------------------------------------------
def _slots_from_state(state: DialogueState) -> dict[str, Any]:
    c = state.constraints
    return {
        **{slot: list(c.values(name)) or None for slot, name in ENTITY_SLOTS.items()},
        SLOT_PRICE_MIN: c.price_min,
        SLOT_PRICE_MAX: c.price_max,
        SLOT_SHOWN: [card.id for card in state.shown],
        SLOT_FOCUS: state.focus,
        SLOT_CART: [_cart_line(line) for line in state.cart],
        SLOT_CONTEXT: _context(state),
    }


def _context(state: DialogueState) -> SearchContext | None:
    """None while there is no search, so a cart-only chat leaves the slot unset."""
    c, x, p = state.constraints, state.exclude, state.prefer
    context: SearchContext = {
        "topic": state.topic_text,
        "sort": state.sort,
        "page": state.page,
        "similar_to": state.similar_to,
        "compared": list(state.compared),
        "matches_shown": state.matches_shown,
        "min_rating": c.min_rating,
        "on_sale": c.on_sale,
        "in_stock": c.in_stock,
        "labels": list(c.labels),
        "price_below": c.price_below,
        "exclude": {k: list(v) if isinstance(v, tuple) else v for k, v in x.active().items()},
        "prefer_cheaper": p.cheaper,
        "prefer_brands": list(p.brands),
        "prefer_terms": list(p.terms),
    }
    return context if any(context.values()) else None


def _differs(old: Any, new: Any) -> bool:
    """Whether a SlotSet is needed; an empty list and an unset slot are the same."""
    return (old if old != [] else None) != (new if new != [] else None)


def _payload(reply: DialogueReply, state: DialogueState) -> ReplyPayload:
    return {
        "action": reply.action,
        "products": [_product(s.card, s) for s in reply.suggestions],
        "alternatives": [_product(s.card, s) for s in reply.alternatives],
        "product": _product(reply.product) if reply.product else None,
        "comparison": asdict(reply.comparison) if reply.comparison else None,  # type: ignore[typeddict-item]
        "cart": [_cart_line(line) for line in state.cart],
        "cart_total": state.cart_total(),
    }


def _product(card: ProductCard, suggestion: Suggestion | None = None) -> ProductPayload:
    payload = product_card(card).model_dump(include=set(RASA_PRODUCT_FIELDS))
    return {**payload, "reason": suggestion.reason if suggestion else None}


def _cart_line(line: CartLine) -> CartLinePayload:
    return cart_line(line).model_dump(include=set(RASA_CART_FIELDS))
