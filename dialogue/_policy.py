"""The policy: intent + state -> an action, and the reply built from templates and catalog
facts only. Every product sentence is assembled here from `ProductCard` fields and retrieval
evidence; nothing about a product is ever written that the catalog did not say."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lemminflect import getAllLemmas

from dialogue._answers import Answer, ProductAnswerer, Source
from dialogue._cart import (
    QuantityLimit,
    catalog_spelling,
    only_choices,
    put_in_cart,
    variant_gaps,
)
from dialogue._config import PolicySettings, StorePolicy, Templates
from dialogue._entities import attribute_label, blanked, title_has_name
from dialogue._nlu import Parse
from dialogue._protocol import (
    CatalogPort,
    Match,
    MatchEvidence,
    OrderLookupUnavailable,
    OrderPort,
    PhotoSeen,
    ProductCard,
    SearchOutcome,
    SearchRequest,
)
from dialogue._reply import (
    Comparison,
    DialogueReply,
    HandoffRequest,
    Suggestion,
    money,
    price_text,
)
from dialogue._state import MAX_LINE_QUANTITY, CartLine, DialogueState, PendingAdd
from dialogue._tracker import FRESH_SEARCH, TrackResult, gender_of
from dialogue._wishes import Constraints, Exclusions

SEARCH_INTENTS = FRESH_SEARCH | {
    "refine_search",
    "remove_filter",
    "sort_results",
    "show_more",
    "find_similar",
    "search_by_image",
}
ITEM_ACTIONS = {
    "product_details",
    "compare_products",
    "check_availability",
    "product_reviews",
    "complete_the_look",
    "add_to_cart",
    "find_similar",
}
# Intents answered by one response template: intent -> template (`SIMPLE_REPLIES` outside the
# package; the Rasa export routes them to the same responses).
SIMPLE = {
    "greet": "greet",
    "goodbye": "goodbye",
    "ask_capabilities": "capabilities",
    "out_of_scope": "out_of_scope",
    "affirm": "affirm",
    "deny": "deny",
}
# An order number as shoppers give it: "#104233", "order 000123", "LU-88231" (4 to 12 digits,
# an optional short prefix; never a price or a size).
ORDER_NUMBER = re.compile(r"(?<![\w$£€.,])#?\s?([A-Za-z]{0,4}-?\d{4,12})(?![\w.,]\d)(?!\w)")
# Answers to "may I share this conversation with our team?": yes, no, or asking again (a person,
# without sharing).
HANDOFF_ANSWERS = {"affirm", "deny", "human_handoff"}
# The shopper's cart by any of its names.
CART_WORDS = r"(?:cart|basket|trolley|bag)"
# "the one in my cart", "what's in the basket": a cart line, not a shown item.
IN_THE_CART = re.compile(rf"\bin\s+(?:my|the)\s+{CART_WORDS}\b", re.IGNORECASE)
# "swap it to M", "make that a large", "sorry, I meant the 34", "make it 2": right after an add
# (or of the line said to be in the cart), a size, colour or quantity changes that line rather
# than adding another.
VARIANT_CHANGE = re.compile(
    r"\b(?:swap|switch|change|make)\b|\bi\s+meant\b|\binstead\b|\bactually\b|\brather\b|"
    r"\bsecond\s+thoughts?\b",
    re.IGNORECASE,
)
CHANGE_VERB = re.compile(r"\b(?:swap|switch|change)\b", re.IGNORECASE)
# "swap it for the first one", "switch that for the other one", "replace it with the Strike":
# right after an add, the line just added goes and the item pointed at comes in.
SWAP = re.compile(
    r"\b(?:swap|switch|exchange|change|replace|trade)\s+(?:it|that|this)(?:\s+one)?\s+"
    r"(?:for|with|to)\b",
    re.IGNORECASE,
)
# Questions about a product that its own text may answer ("does it have pockets?").
QUESTION_INTENTS = {"product_details", "product_reviews", "check_availability"}
# "which of these are waterproof?": a question across the shown list.
LIST_QUESTION = re.compile(
    r"\b(?:do|does|are|is|have|has)\s+any\s+of\s+(?:these|those|them)\b"
    r"|\bwhich\s+(?:of\s+)?(?:these|those|them|em|ones)\b|\bany\s+of\s+(?:these|those)\b"
    # "which are eco?", "which have pockets?", "which ones come in blue?"
    r"|\bwhich\s+(?:ones?\s+)?(?:are|is|have|has|got|come|do|does)\b"
    # "does either track heart rate?", "is either of them waterproof?"
    r"|\b(?:does|do|is|are|has|have|can|will)\s+either\b|\beither\s+of\s+(?:these|those|them)\b"
    # "any in green?", "do any come in 28?", "any under 40?": "any" is the list, not an item
    r"|^\W*(?:(?:do|does|are|is|got|have)\s+)?any\b(?!\s*(?:thing|one|body)\b)",
    re.I,
)
# "which is warmer?", "which one's more comfortable?", "which of them is lighter?": one quality
# weighed across the items, which a side-by-side comparison answers.
WHICH_IS = re.compile(
    r"\bwhich(?:\s+(?:one|ones|of\s+(?:them|these|those|the\s+(?:two|three))))?"
    r"(?:'s|\u2019s|\s+(?:is|are|was|would\s+be|will\s+be|feels?|looks?|seems?|runs?|fits?))"
    r"\s+(?:the\s+)?(?:(?P<degree>more|less)\s+)?(?P<word>[a-z]+)\b",
    re.IGNORECASE,
)


def weighs_a_quality(text: str) -> bool:
    """A "which is <comparative>?" question: the items weighed against each other on a
    quality, not a fact looked up in each ("which of these are waterproof?")."""
    for match in WHICH_IS.finditer(text):
        word = match["word"].lower()
        if match["degree"] or word in ("better", "worse"):
            return True
        lemma = next(iter(getAllLemmas(word).get("ADJ", ())), word)
        if word.endswith("er") and lemma != word:
            return True  # "warmer", "lighter", "cheaper"
    return False


# "what do people think of it?", "any complaints?", "is it worth it?": the reviews as a whole,
# not one fact looked up in them.
OPINION = re.compile(
    r"\bwhat\s+(?:do|did|does)\s+(?:people|customers|reviewers|folks|buyers|others|users)\s+"
    r"(?:think|say|reckon|make)\b|\bcomplain\w*|\bcomplaints?\b|\bverdict\b|\bopinions?\b"
    r"|\bfeedback\b|\bworth\s+(?:it|the\s+money|buying)\b|\bhow\s+(?:is|are)\s+(?:it|they)\s+rated\b"
    r"|\bwhat\s+are\s+(?:the\s+)?reviews\s+like\b",
    re.IGNORECASE,
)
COMPLAINT = re.compile(r"\bcomplain\w*|\bcomplaints?\b|\bproblems?\b|\bissues?\b", re.IGNORECASE)
# "is it discounted rn?", "is that the normal price?": the price line of the card answers.
SALE_QUESTION = re.compile(
    r"\b(?:discount\w*|on sale|sale price|reduced|marked down|(?:normal|full|regular) price)\b",
    re.I,
)
# "what sizes does it come in?", "which colours?": the product's own options, listed.
WHICH_OPTIONS = re.compile(
    r"\b(?:what|which)\s+(?:other\s+)?(?:sizes?|colou?rs?)\b"
    r"|\b(?:sizes?|colou?rs?)\s+(?:does|do|is|are)\s+(?:it|they|this|these|that|those|the\s+\w+)"
    r"(?:\s+\w+)?\s+come\s+in\b|\bcomes?\s+in\s+what\b"
    # "the available sizes of the second", "sizes you have in stock for the jacket"
    r"|\bavailable\s+(?:sizes|colou?rs)\b|\b(?:sizes|colou?rs)\s+(?:available|in\s+stock|"
    r"(?:do\s+)?you\s+(?:have|got|carry))\b",
    re.IGNORECASE,
)

FIT_TEMPLATES = {
    "small": "answer_fit_small",
    "large": "answer_fit_large",
    "true": "answer_fit_true",
}
COMPARING = re.compile(r"compar|\bvs\.?\b|versus|differen|better|\bor\b|which", re.IGNORECASE)
SNIPPET_CHARS = 110
QUOTE_CHARS = 90
TYPE_LABELS = {"brand": "the brand {}", "size": "size {}", "gender": "anything for {}"}


@dataclass(slots=True)
class _Draft:
    """A reply under construction: text lines plus the structured parts."""

    lines: list[str] = field(default_factory=list)
    action: str = ""
    suggestions: list[Suggestion] = field(default_factory=list)
    alternatives: list[Suggestion] = field(default_factory=list)
    comparison: Comparison | None = None
    product: ProductCard | None = None
    facts: list[str] = field(default_factory=list)
    handoff: HandoffRequest | None = None


class Policy:
    def __init__(
        self,
        catalog: CatalogPort,
        templates: Templates,
        store_policy: StorePolicy,
        settings: PolicySettings | None = None,
        orders: OrderPort | None = None,
        answerer: ProductAnswerer | None = None,
    ) -> None:
        self.catalog = catalog
        self.templates = templates
        self.store_policy = store_policy
        self.settings = settings or PolicySettings()
        self.orders = orders
        self.answerer = answerer

    def act(self, state: DialogueState, parse: Parse, track: TrackResult) -> DialogueReply:
        draft = _Draft()
        intent = parse.intent
        handler: Callable[[DialogueState, Parse, TrackResult, _Draft], None]
        answers_handoff = state.pending_handoff and intent in HANDOFF_ANSWERS
        state.pending_handoff = state.pending_handoff and answers_handoff  # or moved on
        state.pending_order = state.pending_order and intent == "order_status"  # or moved on
        if intent == "human_handoff" or answers_handoff:
            handler = self._handoff
        elif intent == "order_status":
            handler = self._order_status
        elif parse.ambiguous:
            handler = self._clarify_intent
        elif intent in SIMPLE:
            handler = self._simple
        elif intent == "add_to_cart":
            handler = self._add_to_cart
        elif intent in SEARCH_INTENTS and not (intent == "find_similar" and not track.targets):
            handler = self._search
        elif intent in ITEM_ACTIONS:
            handler = self._item
        else:
            handler = {
                "remove_from_cart": self._remove_from_cart,
                "view_cart": self._view_cart,
                "checkout": self._checkout,
                "store_policy": self._store_policy,
            }.get(intent, self._simple)
        handler(state, parse, track, draft)
        text = "\n".join(line for line in draft.lines if line)
        return DialogueReply(
            text=text,
            intent=intent,
            action=draft.action,
            confidence=parse.confidence,
            suggestions=draft.suggestions,
            alternatives=draft.alternatives,
            comparison=draft.comparison,
            product=draft.product,
            cart=list(state.cart),
            facts=draft.facts,
            state=state.to_dict(),
            handoff=draft.handoff,
        )

    # Helpers --------------------------------------------------------------------------------
    def _say(self, draft: _Draft, state: DialogueState, name: str, **values: Any) -> None:
        draft.action = draft.action or name
        draft.lines.append(self.templates.render(name, len(state.history), **values))

    def _handoff(
        self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft
    ) -> None:
        """Asking for a person: first whether this conversation may be shared with them, then
        the request itself (shared only on a yes), with what will happen from the store's
        policy. The assistant records it; the reply promises nothing the store did not write."""
        when = self.store_policy.handoff
        if not state.pending_handoff:
            state.pending_handoff = True
            self._say(draft, state, "handoff_consent", when=when)
            return
        state.pending_handoff = False
        draft.handoff = HandoffRequest(share=parse.intent == "affirm")
        self._say(draft, state, "handoff" if draft.handoff.share else "handoff_unshared", when=when)

    def _order_status(
        self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft
    ) -> None:
        """Where an order is, from the store's order system when it has a lookup hook (asking
        for the number first); without one, where to find it. The status is quoted as the
        store's system gives it, never guessed."""
        if self.orders is None:
            self._say(draft, state, "order_status")
            return
        number = order_number(parse.text)
        if number is None:
            state.pending_order = True
            self._say(draft, state, "order_ask")
            return
        state.pending_order = False
        try:
            order = self.orders.lookup(number)
        except OrderLookupUnavailable:
            self._say(draft, state, "order_lookup_failed", order=number)
            return
        if order is None:
            self._say(draft, state, "order_unknown", order=number)
            return
        self._say(draft, state, "order_found", order=order.order_id, status=order.status)
        if order.estimated_delivery:
            self._say(draft, state, "order_eta", date=order.estimated_delivery)
        if order.tracking_url:
            self._say(draft, state, "order_tracking", url=order.tracking_url)
        draft.facts += [order.order_id, order.status, *(order.estimated_delivery or "").split()]

    def _simple(
        self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft
    ) -> None:
        name = SIMPLE.get(parse.intent, "out_of_scope")
        if parse.intent == "greet" and state.shown:
            name = "affirm"
        self._say(draft, state, name)

    def _clarify_intent(
        self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft
    ) -> None:
        assert parse.ambiguous is not None
        labels = self.templates.intent_labels
        first, second = (labels.get(i, i.replace("_", " ")) for i in parse.ambiguous)
        state.offered_intents = list(parse.ambiguous)
        self._say(draft, state, "clarify_intent", first=first, second=second)

    # Search ---------------------------------------------------------------------------------
    def _search(
        self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft
    ) -> None:
        # Who it is for is said once the products show whether they have a gender ("taking
        # the kids camping" wants a tent, and tents have none); the rest is said now.
        self._say_not_carried(state, track, draft, gender=False)
        if parse.intent in FRESH_SEARCH and _vague(state) and not track.titled:
            self._say_not_carried(state, track, draft, gender=True)
            self._say(draft, state, "clarify_vague")
            return
        if parse.intent == "sort_results" and state.sort is None and not track.changed:
            # "show me the classiest first": an order was asked for in words we cannot place;
            # the same list again would claim an order it does not have
            self._say(draft, state, "which_order")
            return
        if parse.intent == "search_by_image" and state.image is None and not state.shown:
            self._say(draft, state, "need_results")
            return
        personal = state.personalise
        request = SearchRequest(
            text=_query_text(state, parse),
            constraints=state.constraints,
            exclude=state.exclude,
            prefer=state.prefer,
            sort=state.sort,
            image=state.image,
            similar_to=state.similar_to,
            k=self.settings.page_size,
            seen=tuple(state.seen) if state.page else (),
            liked=tuple(state.liked) if personal else (),
            disliked=tuple(state.disliked) if personal else (),
        )
        outcome = self.catalog.search(request)
        named = self._titled(track.titled) if track.titled and not state.page else []
        if named:
            state.named = list(track.titled)
        elif _sorts_the_named(state, parse):
            # "price low to high" after "carbon fiber trekking poles": those products, sorted.
            named = sorted(
                self._titled(state.named),
                key=lambda card: card.price if card.price is not None else float("inf"),
                reverse=state.sort == "price_desc",
            )
        else:
            state.named = []
        if named:
            # "Do you have the Augusta jacket?": that product, alone, so "it" means it next.
            outcome = SearchOutcome(matches=[Match(card, MatchEvidence()) for card in named])
            # One product is "it" next; a name several carry ("trailtracker") needs saying which.
            state.focus = named[0].id if len(named) == 1 else None
            if len(named) == 1:
                draft.product = named[0]  # the answer is about that product
        missing = {type_ for type_, _ in track.unavailable}
        kind_missing = "category" in missing and not state.constraints.categories
        # "hoodies for kids", "running shoes in a women's 8": who it is for or the size it must
        # come in is one the store does not carry, so nothing it has is a match
        # (a gender only where the products have one: "taking the kids camping" wants a tent)
        gendered = any(gender_of(m.card) for m in outcome.matches)
        # ("XXL if you do it, otherwise XL" names a size the store has: those are matches)
        size_missing = "size" in missing and not state.constraints.sizes
        fit_missing = size_missing or ("gender" in missing and gendered)
        if gendered:
            self._say_not_carried(state, track, draft, gender=True)
        if (kind_missing or fit_missing) and outcome.matches and not named:
            # "a warm beanie" where the store has none: what it has is offered as the
            # nearest thing, never as beanies.
            self._say(draft, state, "instead")
            draft.alternatives = self._suggest(outcome.matches, state, draft)
            self._replace_list(state, [s.card for s in draft.alternatives])
            draft.action = "search"
            return
        # Only what filtered is said: "bags for women" where bags have no gender would lie.
        said = state.constraints.cleared(*outcome.unfiltered)
        for name, facet in (("colors", "colour"), ("sizes", "size")):
            values = getattr(state.constraints, name)
            if name in outcome.unfiltered and outcome.matches and not named:
                noun_said = describe(said, state.exclude)[0] or "products"
                self._say(
                    draft, state, "unfiltered", facet=facet, noun=noun_said,
                    values=" or ".join(values),
                )  # fmt: skip
        noun, constraints = describe(said, state.exclude) if not named else ("", "")
        if outcome.photo and outcome.matches and parse.intent == "search_by_image":
            self._say_photo(outcome.photo, outcome.matches, state, draft)
        if outcome.matches:
            self._show_results(state, outcome, noun, constraints, draft)
        elif state.page > 0:
            state.page -= 1
            self._say(draft, state, "no_more", noun=noun or "products", constraints=constraints)
        else:
            # The list on screen stays referable ("the second one") but no longer matches.
            state.matches_shown = 0
            self._say(draft, state, "no_results", noun=noun or "products", constraints=constraints)
            if outcome.relaxed_matches and outcome.relaxed_constraint:
                # Shown as alternatives: they do not meet every constraint.
                self._say(draft, state, "relaxation", relaxation=outcome.relaxed_constraint)
                draft.alternatives = self._suggest(outcome.relaxed_matches, state, draft)
                self._replace_list(state, [s.card for s in draft.alternatives])
            elif outcome.empty_reason:
                draft.lines.append(outcome.empty_reason)
                draft.facts.append(outcome.empty_reason)
        draft.action = "search"

    def _say_photo(
        self, photo: PhotoSeen, matches: list[Match], state: DialogueState, draft: _Draft
    ) -> None:
        """What the photo seems to show, so a wrong guess is visible and can be corrected."""
        lookalike = next((m.card for m in matches if m.card.id == photo.lookalike), None)
        if lookalike is not None:
            self._say(draft, state, "photo_lookalike", title=lookalike.title)
        elif photo.kind:
            owner = f"{photo.department.lower()}'s " if photo.department else ""
            self._say(draft, state, "photo_kind", kind=f"{owner}{photo.kind.lower()}")

    def _say_not_carried(
        self, state: DialogueState, track: TrackResult, draft: _Draft, *, gender: bool
    ) -> None:
        """ "We don't carry size 35.": the values asked for that the store lacks, the gender
        ones or the others."""
        for type_, value in track.unavailable:
            if (type_ == "gender") == gender:
                if type_ == "size" and value.isalpha():
                    value = value.upper()  # "size XXL", as a label prints it
                what = TYPE_LABELS.get(type_, "{}").format(value)
                self._say(draft, state, "unavailable", what=what)

    def _show_results(
        self,
        state: DialogueState,
        outcome: SearchOutcome,
        noun: str,
        constraints: str,
        draft: _Draft,
    ) -> None:
        count = len(outcome.matches)
        name = "results_more" if state.page > 0 else "results"
        self._say(
            draft,
            state,
            name,
            count=count,
            are="is" if count == 1 else "are",
            these="this" if count == 1 else "these",
            noun=_result_noun(noun, count),
            constraints=constraints,
        )
        draft.suggestions = self._suggest(outcome.matches, state, draft)
        if outcome.alternatives and state.page == 0:
            self._say(draft, state, "alternatives")
            draft.alternatives = self._suggest(outcome.alternatives, state, draft, start=count + 1)
        # Numbered on screen in this order, so "#6" can name an alternative.
        state.show([s.card for s in draft.suggestions + draft.alternatives])
        state.matches_shown = len(draft.suggestions)
        shown_ids = [card.id for card in state.shown]
        state.seen = [*state.seen, *shown_ids] if state.page else shown_ids
        if state.focus not in shown_ids[: state.matches_shown] and state.focus != state.similar_to:
            # A new list: "it" is its one full match or needs saying which, never the item
            # a turn before the list ("also a jump rope", then "add it"); "more like the
            # second one" keeps the second one as the item talked about.
            state.focus = None

    @staticmethod
    def _replace_list(state: DialogueState, cards: list[ProductCard]) -> None:
        """A list of near things, none a match: on screen and referable, and "it" no longer
        the item from before it."""
        state.named = []
        state.show(cards)
        state.matches_shown = 0
        state.seen = [card.id for card in cards]
        state.focus = None

    def _suggest(
        self, matches: list[Match], state: DialogueState, draft: _Draft, start: int = 1
    ) -> list[Suggestion]:
        out = []
        for position, match in enumerate(matches, start):
            reason = self.reason(match, state)
            out.append(Suggestion(match.card, reason, match.evidence))
            draft.lines.append(
                f"{position}. {match.card.title} ({price_text(match.card)}): {reason}"
            )
            draft.facts += [*card_facts(match.card), reason]
        return out

    def reason(self, match: Match, state: DialogueState) -> str:
        """One line of why this product, from the evidence and the card only."""
        card, evidence = match.card, match.evidence
        # Category and audience are the same for every result; the reason says what differs.
        categories = {c.lower() for c in card.categories}
        parts = [
            m
            for m in evidence.met
            if " > " not in m and not m.startswith("gender:") and m.lower() not in categories
        ]
        if not any("$" in p for p in parts) and card.regular_price is not None:
            parts.append(
                self.templates.reason("sale", regular=money(card.regular_price, card.currency))
            )
        parts += [f"but {u}" for u in evidence.unmet]
        if evidence.text_span:
            parts.append(
                self.templates.reason("text", snippet=_shorten(evidence.text_span, SNIPPET_CHARS))
            )
        elif state.similar_to and state.similar_to != card.id:
            seed = next((c for c in state.shown if c.id == state.similar_to), None)
            if seed is not None:
                parts.append(self.templates.reason("similar", title=seed.title))
        elif evidence.lookalike:
            parts.append(self.templates.reason("lookalike"))
        elif state.image is not None:
            parts.append(self.templates.reason("photo"))
        if evidence.review_snippet and evidence.review_rating is not None:
            quote = _shorten(evidence.review_snippet, QUOTE_CHARS)
            parts.append(
                self.templates.reason("review", quote=quote, rating=f"{evidence.review_rating:g}")
            )
        elif card.rating is not None:
            parts.append(
                self.templates.reason(
                    "rating",
                    rating=f"{card.rating:.1f}",
                    count=card.review_count,
                    reviews=_plural(card.review_count, "review"),
                )
            )
        if not parts and card.summary:
            parts.append(_shorten(card.summary, SNIPPET_CHARS))
        text = "; ".join(p for p in parts if p)
        return text[:1].upper() + text[1:]

    # Product questions ----------------------------------------------------------------------
    def _item(self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft) -> None:
        # "rocco or helios, which is better?": two named products are compared, not the list.
        weighing = parse.intent == "compare_products" and weighs_a_quality(parse.text)
        if len(track.titled) < 2 and not weighing and self._answer_list(state, parse, draft):
            return
        focus = next((c for c in state.shown if c.id == state.focus), None) or (
            state.shown[0] if len(state.shown) == 1 else None
        )
        # "are the straps comfy?": a part of the product in focus, not another product.
        unresolved_part = track.unresolved and parse.intent in QUESTION_INTENTS
        if (
            unresolved_part
            and focus is not None
            and self._answer(state, parse, track, focus, draft)
        ):
            return
        intent = parse.intent
        cards = self._targets(state, track, draft, several=intent == "compare_products")
        if not cards:
            return
        if intent in ("product_reviews", "product_details") and self._opinion(parse, cards[0]):
            # "what do people think of it?", "any complaints?": the reviews as a whole
            self._reviews(state, cards[0], draft, worst_first=bool(COMPLAINT.search(parse.text)))
            return
        asks_options = not (track.size or track.color) and WHICH_OPTIONS.search(parse.text)
        if intent in QUESTION_INTENTS and asks_options:
            self._availability(state, cards[0], track, draft)  # "what sizes does it come in?"
            return
        if intent in QUESTION_INTENTS and self._answer(state, parse, track, cards[0], draft):
            return
        if intent == "compare_products" and len(cards) == 1 and not COMPARING.search(parse.text):
            intent = "product_details"  # "tell me about the cheaper one"
        if intent == "check_availability" and SALE_QUESTION.search(parse.text):
            intent = "product_details"  # "is it on sale or is that the normal price?": the price
        if intent == "compare_products":
            self._compare(state, cards, draft)
        elif intent == "check_availability":
            self._availability(state, cards[0], track, draft)
        elif intent == "product_reviews":
            self._reviews(state, cards[0], draft)
        elif intent == "complete_the_look":
            kinds = {k.lower() for k in parse.extraction.values("category", known=True)}
            self._complete_the_look(state, cards[0], draft, kinds)
        else:
            self._details(state, cards[0], draft)

    def _opinion(self, parse: Parse, card: ProductCard) -> bool:
        """An opinion asked of the product as a whole ("any complaints?"), not of one of its
        parts ("any complaints about the zip?", which the answerer finds in the reviews)."""
        if not OPINION.search(parse.text):
            return False
        rest = OPINION.sub(" ", parse.text)
        return self.answerer is None or not self.answerer.asks_fact(rest, card.title)

    def _answer(
        self,
        state: DialogueState,
        parse: Parse,
        track: TrackResult,
        card: ProductCard,
        draft: _Draft,
    ) -> bool:
        """A specific question about one product ("can I machine wash it?"), answered from its
        own text and leading the reply. False (the caller shows the card) for a general
        request ("tell me more"), a size or colour to check, or a product with no text."""
        answerer = self.answerer
        if answerer is None or (track.size or track.color) or SALE_QUESTION.search(parse.text):
            return False  # "is it discounted rn?": the card's price line says
        # The title, brand and colours name the item ("how much for the purple one?", "tell me
        # more about the Quester one"), they ask nothing.
        naming = " ".join((card.title, card.brand or "", *card.colors))
        # and so do a title as the shopper spelt it ("do u have the juno jaket?") and a brand
        # ("the zephyr one, how much is it?" asks the price)
        said = (e for e in parse.extraction.entities if e.type in ("title", "brand"))
        if not answerer.asks_fact(blanked(parse.text, said), naming):
            return False
        text = self.catalog.product_text(card.id)
        if text is None:
            return False
        answer = answerer.answer(parse.text, text)
        draft.product = card
        draft.facts += card_facts(card)
        self._say_answer(state, answer, draft)
        draft.action = "answer" if answer.stated else "answer_not_stated"
        return True

    def _say_answer(self, state: DialogueState, answer: Answer, draft: _Draft) -> None:
        fit = answer.fit
        if fit is not None and fit.verdict is not None:
            name = FIT_TEMPLATES[fit.verdict]
            self._say(draft, state, name, agreeing=fit.agreeing, mentioning=fit.mentioning)
        quotes = answer.quotes or (fit.quotes[:1] if fit and fit.verdict else ())
        if not quotes and not (fit and fit.verdict):
            self._say(draft, state, "answer_not_stated", title=answer.title)
        for source in quotes:
            draft.lines.append(self._quote(state, source))
            draft.facts.append(source.text)

    def _quote(self, state: DialogueState, source: Source) -> str:
        """One source, verbatim, in the words of its kind's template."""
        turn = len(state.history)
        if source.kind == "attribute":
            label = source.label[:1].upper() + source.label[1:]
            return self.templates.render("answer_attribute", turn, label=label, values=source.text)
        if source.kind == "description":
            return self.templates.render("answer_description", turn, quote=source.text)
        rating = f"{source.rating:g}" if source.rating is not None else "?"
        return self.templates.render("answer_review", turn, quote=source.text, rating=rating)

    def _answer_list(self, state: DialogueState, parse: Parse, draft: _Draft) -> bool:
        """A question across the shown products ("which of these are waterproof?"): the ones
        whose data says so, each with its quote, put on screen as the refined list; "which has
        the best reviews?" names the best rated. False when it is not such a question."""
        answerer = self.answerer
        shown = state.shown
        if answerer is None or len(shown) < 2 or not LIST_QUESTION.search(parse.text):
            return False
        if not answerer.asks_fact(parse.text):
            return False
        texts = [t for t in (self.catalog.product_text(c.id) for c in shown) if t is not None]
        result = answerer.across(parse.text, texts)
        draft.action = "answer_list"
        best = result.best_reviewed
        if best is not None:
            ratings = [r.rating for r in best.reviews]
            self._say(
                draft,
                state,
                "answer_best_reviewed",
                title=best.title,
                rating=f"{sum(ratings) / len(ratings):.1f}",
                count=len(ratings),
                reviews=_plural(len(ratings), "review"),
            )
            draft.facts.append(best.title)
            return True
        if not result.supported:
            self._say(draft, state, "answer_list_none", count=result.asked_count)
            return True
        self._say(
            draft, state, "answer_list", supported=len(result.supported), count=result.asked_count
        )
        cards = {c.id: c for c in shown}
        for answer in result.supported:
            said = " ".join(self._quote(state, q) for q in answer.quotes[:1]) or self._fit_line(
                state, answer
            )
            draft.lines.append(
                self.templates.render(
                    "answer_list_item", len(state.history), title=answer.title, said=said
                )
            )
            draft.facts += [answer.title, *(q.text for q in answer.quotes)]
        self._put_on_screen(state, [cards[a.product_id] for a in result.supported], draft)
        state.focus = None
        return True

    def _fit_line(self, state: DialogueState, answer: Answer) -> str:
        fit = answer.fit
        assert fit is not None and fit.verdict is not None
        return self.templates.render(
            FIT_TEMPLATES[fit.verdict],
            len(state.history),
            agreeing=fit.agreeing,
            mentioning=fit.mentioning,
        )

    def _targets(
        self, state: DialogueState, track: TrackResult, draft: _Draft, *, several: bool = False
    ) -> list[ProductCard]:
        """The products a question or cart request is about. `several`: a comparison, for
        which two products named by title ("compare the Juno and the Ingrid") are both meant."""
        if track.unresolved:
            if not state.shown:
                self._say(draft, state, "need_results")
            else:
                self._say(
                    draft,
                    state,
                    "unresolved_reference",
                    reference=track.unresolved,
                    count=len(state.shown),
                )
            return []
        if not track.targets and track.titled:
            named = self._titled(track.titled)
            by_brand = [c for c in named if (c.brand or "").lower() in track.brands]
            if len(named) > 1 and len(by_brand) == 1:
                named = by_brand  # "the Apex Climbing Harness, the Legend one"
            if len(named) > 1 and not (several and len(named) == len(track.titled)):
                # "is the trailtracker any good?" names a shoe and a watch: show both, ask.
                self._put_on_screen(state, named, draft)
                state.focus = None
                self._say(draft, state, "which_item")
                return []
            if named:
                state.focus = named[0].id
                if [card.id for card in state.shown] != [named[0].id]:
                    self._put_on_screen(state, named, draft)
                return named
        if not track.targets:
            self._say(draft, state, "which_item" if state.shown else "need_results")
            return []
        cards = [c for c in (self._card(state, pid) for pid in track.targets) if c is not None]
        if several and len(cards) == 1 and track.titled:
            # the one in focus against one named that is not on screen
            cards += [c for c in self._titled(track.titled) if c.id != cards[0].id][:1]
        found = {c.id for c in cards}
        gone = self._say_gone(draft, state, [p for p in track.targets if p not in found])
        if not cards and not gone:
            self._say(draft, state, "need_results")
        named_on_screen = track.titled and not track.referenced and len(cards) == 1
        if named_on_screen and [card.id for card in state.shown] != [cards[0].id]:
            self._put_on_screen(state, cards, draft)  # named by title from the list
        return cards

    def _put_on_screen(self, state: DialogueState, cards: list[ProductCard], draft: _Draft) -> None:
        """Products asked about by name are shown alone with the answer (even when they were
        in the list), so the shopper sees them and "add it" or "the first one" mean them."""
        matches = [Match(card, MatchEvidence()) for card in cards]
        draft.suggestions = [Suggestion(m.card, self.reason(m, state), m.evidence) for m in matches]
        state.show(cards)
        state.matches_shown = len(cards)
        state.seen = [card.id for card in cards]

    def _say_gone(self, draft: _Draft, state: DialogueState, product_ids: list[str]) -> bool:
        """Products the shopper saw (or carted) that a catalog update removed: say so by name
        rather than "let me find some products first". True when something was said."""
        titles = {c.id: c.title for c in state.shown}
        titles |= {line.product_id: line.title for line in state.cart}
        gone = [titles[p] for p in dict.fromkeys(product_ids) if p in titles]
        for title in gone:
            self._say(draft, state, "product_gone", title=title)
        return bool(gone)

    def _card(self, state: DialogueState, product_id: str) -> ProductCard | None:
        return self.catalog.product(product_id)

    def _titled(self, titles: list[str]) -> list[ProductCard]:
        """The products whose titles the shopper named, whole or by the name they open with
        (a title search; only titles that are or open with what was said)."""
        found: list[ProductCard] = []
        for title in titles:
            outcome = self.catalog.search(SearchRequest(text=title, k=10))
            for card in (m.card for m in outcome.matches):
                if title_has_name(card.title, title):
                    found += [c for c in (card, *self.catalog.namesakes(card.id)) if c not in found]
        return found

    def _details(self, state: DialogueState, card: ProductCard, draft: _Draft) -> None:
        self._say(draft, state, "details", title=card.title, price=price_text(card))
        draft.action = "details"
        draft.product = card
        draft.lines += _detail_lines(card)
        draft.facts += card_facts(card)

    def _compare(self, state: DialogueState, cards: list[ProductCard], draft: _Draft) -> None:
        cards = cards[: self.settings.max_compare]
        if len(cards) < 2:
            others = [c for c in state.shown if c.id != cards[0].id][:1]
            cards = cards + [c for c in (self._card(state, o.id) for o in others) if c]
        if len(cards) < 2:
            self._say(draft, state, "which_item")
            return
        state.compared = [c.id for c in cards]
        if not {c.id for c in cards} <= {c.id for c in state.shown}:
            # "show me both side by side" of two products looked at one by one: the pair is
            # what is on screen now, so "the second one" is the second of the comparison
            self._put_on_screen(state, cards, draft)
        table = Comparison(
            product_ids=[c.id for c in cards],
            titles=[c.title for c in cards],
            rows=[
                ("Price", [price_text(c) for c in cards]),
                ("Sizes", [", ".join(c.sizes) or "one size" for c in cards]),
                ("Colours", [", ".join(c.colors) or "-" for c in cards]),
                *(
                    (
                        attribute_label(name).capitalize(),
                        [", ".join(c.attributes.get(name, ())) or "-" for c in cards],
                    )
                    for name in dict.fromkeys(n for c in cards for n in c.attributes)
                ),
                ("Rating", [_rating_text(c) for c in cards]),
                ("Category", [c.category or "-" for c in cards]),
            ],
        )
        if any(c.brand for c in cards):
            table.rows.append(("Brand", [c.brand or "-" for c in cards]))
        self._say(draft, state, "compare")
        draft.action = "compare"
        draft.comparison = table
        draft.lines.append(table.to_markdown())
        for card in cards:
            draft.facts += card_facts(card)

    def _availability(
        self, state: DialogueState, card: ProductCard, track: TrackResult, draft: _Draft
    ) -> None:
        draft.product = card
        draft.facts += card_facts(card)
        options = _options(card)
        asked = " ".join(v for v in (track.color, track.size and f"size {track.size}") if v)
        if asked:
            name = (
                "availability_yes"
                if card.has_variant(track.size, track.color)
                else "availability_no"
            )
            self._say(draft, state, name, title=card.title, asked=asked, options=options)
        else:
            stock = "in stock" if card.in_stock else "out of stock"
            self._say(draft, state, "availability", title=card.title, stock=stock, options=options)
        draft.action = "availability"

    def _reviews(
        self, state: DialogueState, card: ProductCard, draft: _Draft, *, worst_first: bool = False
    ) -> None:
        """The rating and quotes: the best reviews and the worst one, or for a shopper asking
        for complaints the worst first."""
        draft.product = card
        draft.action = "reviews"
        draft.facts += card_facts(card)
        if not card.reviews or card.rating is None:
            self._say(draft, state, "no_reviews", title=card.title)
            return
        self._say(
            draft,
            state,
            "reviews",
            title=card.title,
            rating=f"{card.rating:.1f}",
            count=card.review_count,
            reviews=_plural(card.review_count, "review"),
        )
        ordered = sorted(card.reviews, key=lambda r: r.rating if worst_first else -r.rating)
        if worst_first:
            picks = ordered[: self.settings.max_reviews]
        else:
            picks = (
                ordered[: self.settings.max_reviews - 1] + ordered[-1:]
                if len(ordered) > 2
                else ordered
            )
        for review in dict.fromkeys(picks):
            quote = _shorten(review.text, 160)
            line = (
                f"- {review.rating:g}/5"
                + (f' "{review.title}"' if review.title else "")
                + f": {quote}"
            )
            draft.lines.append(line)
            draft.facts.append(line)

    def _complete_the_look(
        self, state: DialogueState, card: ProductCard, draft: _Draft, kinds: set[str]
    ) -> None:
        """What goes with the product; of the kind named when one is ("what jacket goes with
        it?" asks for jackets, not straps)."""
        matches = self.catalog.complete_the_look(
            card.id, self.settings.complete_the_look, sorted(kinds)
        )
        if not matches:
            self._say(draft, state, "no_complete_look", title=card.title)
            return
        self._say(draft, state, "complete_look", title=card.title)
        draft.action = "complete_look"
        draft.suggestions = self._suggest(matches, state, draft)
        state.show([s.card for s in draft.suggestions])
        # Items that go with the product, not answers to the search: the search's
        # constraints (a colour, a price limit) do not apply to them.
        state.matches_shown = 0

    # Cart -----------------------------------------------------------------------------------
    def _add_to_cart(
        self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft
    ) -> None:
        changed = changed_line(state, parse)
        if changed is not None:
            self._change_variant(state, changed, track, draft, parse.extraction.quantity)
            return
        pending = state.pending_add
        if pending is not None and not track.referenced:
            product_id = pending.product_id
            size, color = track.size or pending.size, track.color or pending.color
            quantity = pending.quantity if parse.extraction.quantity is None else track.quantity
        else:
            cards = self._targets(state, track, draft)
            if not cards:
                return
            if SWAP.search(parse.text):  # "swap it for the first one": "it" is what goes
                cards = [c for c in cards if c.id != state.focus] or cards
            product_id, size, color, quantity = cards[0].id, track.size, track.color, track.quantity
        swapped = swapped_line(state, parse, product_id)
        if swapped is not None:
            state.cart.remove(swapped)
            draft.lines.append(
                self.templates.render("swapped_out", len(state.history), title=swapped.title)
            )
        card = self._card(state, product_id)
        if card is None:
            state.pending_add = None
            if not self._say_gone(draft, state, [product_id]):
                self._say(draft, state, "need_results")
            return
        draft.product = card
        draft.facts += card_facts(card)
        size, color = only_choices(card, size, color)
        # The search's own size and colour ("men's tees in L, blue") are the variant wanted
        # when the product offers exactly one of them: asking again would be asking twice.
        if size is None and card.needs_size:
            wanted = [s for s in state.constraints.sizes if card.has_variant(s, color)]
            size = catalog_spelling(card.sizes, wanted[0]) if len(wanted) == 1 else None
        if color is None and card.needs_color:
            wanted = [c for c in state.constraints.colors if card.has_variant(size, c)]
            color = catalog_spelling(card.colors, wanted[0]) if len(wanted) == 1 else None
        gaps = variant_gaps(card, size, color)
        if any(not gap.missing for gap in gaps):
            state.pending_add = PendingAdd(card.id, quantity, None, None)
            self._say_unavailable(state, card, size, color, draft)
            return
        if gaps:  # the size first, then the colour
            missing = gaps[0].facet
            state.pending_add = PendingAdd(card.id, quantity, size, color, missing)
            self._say(
                draft,
                state,
                f"ask_{missing}",
                title=card.title,
                options=_options(card, missing),
            )
            draft.action = f"ask_{missing}"
            return
        state.pending_add = None
        try:
            line = put_in_cart(state.cart, card, quantity, size, color)
        except QuantityLimit as full:
            self._say(
                draft,
                state,
                "quantity_limit",
                title=card.title,
                limit=MAX_LINE_QUANTITY,
                held=full.held,
            )
            draft.action = "quantity_limit"
            return
        size, color = line.size, line.color
        state.focus = card.id
        self._say(
            draft,
            state,
            "added",
            title=card.title,
            quantity=quantity,
            variant=_variant_note(color, size),
            line_total=money(line.total, card.currency),
            cart_total=money(state.cart_total(), card.currency),
        )
        draft.action = "add_to_cart"

    def _say_unavailable(
        self,
        state: DialogueState,
        card: ProductCard,
        size: str | None,
        color: str | None,
        draft: _Draft,
    ) -> None:
        """The variant asked for is not sold: say so with what is, and ask again."""
        asked = " ".join(v for v in (color, size and f"size {size}") if v)
        self._say(
            draft,
            state,
            "variant_unavailable",
            title=card.title,
            asked=asked,
            options=_options(card),
        )
        draft.action = "ask_variant"

    def _change_variant(
        self,
        state: DialogueState,
        line: CartLine,
        track: TrackResult,
        draft: _Draft,
        quantity: int | None = None,
    ) -> None:
        """The line, in the size or colour now asked for ("swap it to M"), and as many as
        said ("make it 2 of those": that many, not two more)."""
        card = self._card(state, line.product_id)
        if card is None:
            if not self._say_gone(draft, state, [line.product_id]):
                self._say(draft, state, "need_results")
            return
        draft.product = card
        draft.facts += card_facts(card)
        size = catalog_spelling(card.sizes, track.size or line.size)
        color = catalog_spelling(card.colors, track.color or line.color)
        if not card.has_variant(size, color):
            self._say_unavailable(state, card, size, color, draft)
            return
        same = next(
            (
                other
                for other in state.cart
                if other is not line
                and (other.product_id, other.size, other.color) == (line.product_id, size, color)
            ),
            None,
        )
        if same is not None:  # that variant was already in the cart: one line for it
            same.quantity = min(MAX_LINE_QUANTITY, same.quantity + line.quantity)
            state.cart.remove(line)
            line = same
        line.size, line.color = size, color
        if quantity is not None:
            line.quantity = min(MAX_LINE_QUANTITY, quantity)
        state.focus = card.id
        self._say(
            draft,
            state,
            "variant_changed",
            title=card.title,
            quantity=line.quantity,
            variant=_variant_note(color, size),
            cart_total=money(state.cart_total(), card.currency),
        )
        draft.action = "add_to_cart"

    def _remove_from_cart(
        self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft
    ) -> None:
        line = _cart_line_for(state, parse, track) or self._cart_line_by_kind(state, parse)
        if line is None:
            self._say(draft, state, "not_in_cart" if state.cart else "cart_empty")
            return
        state.cart.remove(line)
        self._say(draft, state, "removed", title=line.title, cart_total=money(state.cart_total()))
        draft.action = "remove_from_cart"

    def _cart_line_by_kind(self, state: DialogueState, parse: Parse) -> CartLine | None:
        """'remove the hoodie': the cart line whose product is in that category (or colour)."""
        wanted = {(r.kind, r.value) for r in parse.extraction.references if r.value}
        wanted |= {(e.type, e.value) for e in parse.extraction.entities if e.known}
        for line in state.cart:
            card = self.catalog.product(line.product_id)
            if card is None:
                continue
            have = {("category", c.lower()) for c in card.categories}
            have |= {("color", (line.color or "").lower()), ("brand", (card.brand or "").lower())}
            if wanted & have:
                return line
        return None

    def _view_cart(
        self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft
    ) -> None:
        self._cart_summary(state, draft, "view_cart", "cart", "cart_empty")

    def _checkout(
        self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft
    ) -> None:
        removed = [line.title for line in state.cart if line.removed]
        if removed:  # no order with an article the store no longer sells
            one = len(removed) == 1
            titles = ", ".join(removed)
            them, is_are = ("it", "is") if one else ("them", "are")
            self._say(draft, state, "checkout_blocked", titles=titles, them=them, is_are=is_are)
            draft.action = "checkout_blocked"
            self._cart_lines(state, draft)
            return
        self._cart_summary(state, draft, "checkout", "checkout", "checkout_empty")

    def _cart_summary(
        self, state: DialogueState, draft: _Draft, action: str, template: str, empty: str
    ) -> None:
        if not state.cart:
            self._say(draft, state, empty)
            return
        count = sum(line.quantity for line in state.cart)
        total = money(state.cart_total())
        self._say(draft, state, template, count=count, items=_plural(count, "item"), total=total)
        draft.action = action
        self._cart_lines(state, draft)

    def _cart_lines(self, state: DialogueState, draft: _Draft) -> None:
        for line in state.cart:
            variant = ", ".join(v for v in (line.color, line.size and f"size {line.size}") if v)
            text = f"- {line.quantity} x {line.title}" + (f" ({variant})" if variant else "")
            text += f": {money(line.total)}"
            if line.removed:
                text += " (no longer in our catalog)"
            draft.lines.append(text)
            draft.facts.append(text)

    def _store_policy(
        self, state: DialogueState, parse: Parse, track: TrackResult, draft: _Draft
    ) -> None:
        topics = " ".join(parse.extraction.values("policy_topic"))
        topic, answer = self.store_policy.answer(f"{parse.text} {topics}")
        draft.action = f"policy:{topic}" if topic else "policy"
        draft.lines.append(answer)
        draft.facts.append(answer)


# Module helpers -----------------------------------------------------------------------------
def describe(c: Constraints, x: Exclusions) -> tuple[str, str]:
    """('jackets', ' for women, in blue, size M, under $50.00, not black')."""
    noun = " or ".join(c.categories)
    parts: list[str] = []
    if c.genders:
        parts.append("for " + " or ".join(c.genders))
    if c.colors:
        parts.append("in " + " or ".join(c.colors))
    if c.sizes:
        # "size M", "size 55 cm": letter sizes as the store writes them, units stay lower-case
        parts.append("size " + " or ".join(s if " " in s else s.upper() for s in c.sizes))
    for name, values in c.attributes.items():
        parts.append(f"with {' or '.join(values)} {attribute_label(name)}")
    if c.brands:
        parts.append("by " + " or ".join(b.title() for b in c.brands))
    if c.price_min is not None and c.price_max is not None:
        parts.append(f"between {money(c.price_min)} and {money(c.price_max)}")
    elif c.price_max is not None:
        parts.append(f"{'under' if c.price_below else 'up to'} {money(c.price_max)}")
    elif c.price_min is not None:
        parts.append(f"over {money(c.price_min)}")
    if c.min_rating is not None:
        parts.append(f"rated {c.min_rating:g}+")
    if c.on_sale:
        parts.append("on sale")
    if c.labels:
        parts.append("labelled " + " and ".join(c.labels))
    if c.in_stock:
        parts.append("in stock")
    for values, prefix in ((x.colors, "not "), (x.categories, "no "), (x.brands, "not by "),
                           (x.kinds, "no ")):  # fmt: skip
        if values:
            parts.append(prefix + " or ".join(values))
    for name, values in x.attributes.items():
        parts.append(f"without {' or '.join(values)} {attribute_label(name)}")
    if x.on_sale:
        parts.append("not on sale")
    return noun, (" " + ", ".join(parts)) if parts else ""


def card_facts(card: ProductCard) -> list[str]:
    facts = [card.title, price_text(card)]
    facts += [f"sizes: {', '.join(card.sizes)}", f"colours: {', '.join(card.colors)}"]
    facts += [f"{attribute_label(n)}: {', '.join(v)}" for n, v in card.attributes.items()]
    facts.append(card.summary)
    if card.rating is not None:
        facts.append(f"rated {card.rating:.1f}/5 from {card.review_count} reviews")
    if card.brand:
        facts.append(f"brand: {card.brand}")
    return [f for f in facts if f]


def _detail_lines(card: ProductCard) -> list[str]:
    lines = []
    if card.summary:
        lines.append(_shorten(card.summary, 400))
    if card.sizes:
        lines.append(f"Sizes: {', '.join(card.sizes)}")
    if card.colors:
        lines.append(f"Colours: {', '.join(card.colors)}")
    for name, values in card.attributes.items():
        lines.append(f"{attribute_label(name).capitalize()}: {', '.join(values)}")
    if card.brand:
        lines.append(f"Brand: {card.brand}")
    lines.append(f"Rating: {_rating_text(card)}")
    lines.append("In stock" if card.in_stock else "Out of stock")
    return lines


def _rating_text(card: ProductCard) -> str:
    if card.rating is None:
        return "no reviews yet"
    return f"{card.rating:.1f}/5 ({card.review_count} {_plural(card.review_count, 'review')})"


def _options(card: ProductCard, only: str | None = None) -> str:
    sizes = ", ".join(card.offered_sizes)
    colors = ", ".join(card.offered_colors)
    parts = []
    if sizes and only in (None, "size"):
        parts.append(f"sizes {sizes}")
    if colors and only in (None, "color"):
        parts.append(f"colours {colors}")
    return "; ".join(parts) or "one size"


def _variant_note(color: str | None, size: str | None) -> str:
    """ " (Blue, size M)" after a product's title in a cart reply; empty without a variant."""
    variant = ", ".join(v for v in (color, size and f"size {size}") if v)
    return f" ({variant})" if variant else ""


def changed_line(state: DialogueState, parse: Parse) -> CartLine | None:
    """The cart line a message changes: with a change word, a size, colour or quantity ("swap
    it to M", "sorry, I meant a 34", "actually make it 2 of those") and no other product
    named, for the line just added, or for the line the message places in the cart ("change
    the one in my cart to a 33")."""
    ext = parse.extraction
    if not (state.cart and VARIANT_CHANGE.search(parse.text)):
        return None
    just_added = _just_added(state)
    in_cart = IN_THE_CART.search(parse.text) is not None
    # "make it two" or "swap it to orange" after a question about the item in the cart: its
    # line, in that number or variant
    told = ext.quantity is not None or CHANGE_VERB.search(parse.text) is not None
    recount = told and _line_in_focus(state) is not None
    if not (just_added or in_cart or recount):
        return None
    changes = ext.values("size") or ext.values("color") or ext.quantity is not None
    if not changes or ext.values("category", known=True) or ext.values("title"):
        return None
    if any(r.kind != "focus" for r in ext.references) and not in_cart:
        return None  # "the second one in M" points at another item
    if in_cart and not just_added:
        return state.cart[-1] if len(state.cart) == 1 else None
    return _line_in_focus(state)


def swapped_line(state: DialogueState, parse: Parse, product_id: str) -> CartLine | None:
    """The cart line a swap takes out: "swap it for the first one" right after an add gives
    back the line just added (or the only line) for another product."""
    if not (state.cart and SWAP.search(parse.text)):
        return None
    line = _line_in_focus(state) if _just_added(state) else None
    if line is None:
        line = state.cart[-1] if len(state.cart) == 1 else None
    return line if line is not None and line.product_id != product_id else None


def _just_added(state: DialogueState) -> bool:
    """Whether the last turn put something in the cart."""
    return bool(state.history) and state.history[-1].action == "add_to_cart"


def _line_in_focus(state: DialogueState) -> CartLine | None:
    """The cart line of the product in focus (the one just added, after an add)."""
    return next((line for line in reversed(state.cart) if line.product_id == state.focus), None)


def _cart_line_for(state: DialogueState, parse: Parse, track: TrackResult) -> CartLine | None:
    for product_id in track.targets:
        line = state.cart_line(product_id)
        if line is not None:
            return line
    ordinal = [r for r in parse.extraction.references if r.kind == "ordinal"]
    if ordinal and not track.targets:
        index = ordinal[0].positions[0]
        index = len(state.cart) - 1 if index == -1 else index - 1
        if 0 <= index < len(state.cart):
            return state.cart[index]
    words = set(parse.extraction.content_words) | {
        w for e in parse.extraction.entities for w in e.text.lower().split()
    }
    scored = [
        (len(words & set(re.findall(r"[a-z]+", line.title.lower()))), line) for line in state.cart
    ]
    scored = [s for s in scored if s[0] > 0]
    if scored:
        return max(scored, key=lambda s: s[0])[1]
    if len(state.cart) == 1 and not parse.extraction.entities:
        return state.cart[0]
    return None


def _query_text(state: DialogueState, parse: Parse) -> str:
    c = state.constraints
    kind = list(state.prefer.kinds or c.categories)
    words = [*kind, *state.prefer.terms, state.topic_text]
    text = " ".join(w for w in words if w).strip()
    return text or ("" if state.image is not None or state.similar_to else parse.text)


def _sorts_the_named(state: DialogueState, parse: Parse) -> bool:
    """A price sort, nothing else asked, right after products looked up by title."""
    return (
        bool(state.named)
        and parse.intent == "sort_results"
        and state.sort in ("price_asc", "price_desc")
        and not state.constraints.active()
    )


def _vague(state: DialogueState) -> bool:
    c = state.constraints
    return not (
        c.active() or state.prefer.terms or state.topic_text.strip() or state.image is not None
    )


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _result_noun(noun: str, count: int) -> str:
    """What the results are called: "3 jackets", "1 product"; one result of a kind, or results
    of a kind the store names with no plural noun, are matches in it ("1 match in bags", "5
    matches in climbing"; never "1 bags", "5 climbing")."""
    if not noun:
        return "product" if count == 1 else "products"
    if count == 1:
        return f"match in {noun}"
    return noun if noun.split()[-1].endswith("s") else f"matches in {noun}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def order_number(text: str) -> str | None:
    """The order number in a message, as written (without "#")."""
    match = ORDER_NUMBER.search(text)
    return match.group(1) if match else None
