"""Dialogue state tracking: how one parsed turn changes the session's state.

Refine adds a constraint, a new value for a field replaces the old one ("actually red") unless
the shopper says "or/also", negation moves a value to the exclusions, remove-filter clears a
field, a fresh request for another category starts a new topic, and references ("the second
one", "that jacket", "the cheaper one") resolve against the list the shopper saw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace

from dialogue._entities import (
    Extraction,
    Reference,
    _singular,
    attribute_label,
    category_parts,
    is_attribute,
    sort_asked,
    title_has_name,
    title_nouns,
)
from dialogue._prices import wants_cheap
from dialogue._protocol import ProductCard
from dialogue._state import DialogueState
from dialogue._wishes import Constraints, Exclusions, Preferences

# Entity type -> Constraints field; a filter attribute is filed under its own name.
FIELD_OF = {
    "category": "categories",
    "gender": "genders",
    "color": "colors",
    "size": "sizes",
    "brand": "brands",
    "label": "labels",
}
# Fields a negation excludes, with every filter attribute.
EXCLUDABLE = ("colors", "categories", "brands")
STATE_FIELDS = {f.name for kind in (Constraints, Exclusions) for f in fields(kind)}
# Unknown values of these types mean the store does not carry what was asked; unknown
# attribute values and features are just words to search for.
MUST_EXIST = ("category", "color", "size", "brand", "gender")
FRESH_SEARCH = {"search_products", "browse_category", "get_recommendation"}
DISCOVERY = FRESH_SEARCH | {"refine_search", "find_similar", "search_by_image", "remove_filter"}
ITEM_INTENTS = {
    "product_details",
    "check_availability",
    "product_reviews",
    "complete_the_look",
    "find_similar",
    "add_to_cart",
    "compare_products",
}
# Questions about one item, answered naming it.
QUESTIONS = ("product_details", "product_reviews", "check_availability")
# A word of a product's name as written: "B&R", "Omni-Snow", "Men's".
_NAME_WORD = r"[\w&'\u2019-]"
NAME_WORD = re.compile(f"{_NAME_WORD}+")
# "the Daybird one", "that hooded one", "the top one": a shown item named by a word it carries.
NAMED_ONE = re.compile(
    rf"\b(?:the|that|this)\s+((?:[a-z0-9]{_NAME_WORD}*\s+){{0,2}}?[a-z0-9]{_NAME_WORD}*)\s+one\b",
    re.IGNORECASE,
)
# Words of "the X one" that say which by position or price (other references read them).
NOT_A_NAME = frozenset(
    {"first", "second", "third", "fourth", "fifth", "last", "other", "same", "next", "previous",
     "cheaper", "cheapest", "pricier", "priciest", "expensive", "more", "most", "less", "least",
     "better", "best", "rated", "right", "left", "only", "new", "one", "a", "an", "very"}
)  # fmt: skip
PRICE_FIELDS = ("price_min", "price_max", "price_below")
# A message that removes filters in its own words ("remove the black filter").
REMOVAL = re.compile(r"\b(?:remove|delete|clear|drop|take\s+off|no\s+more)\b", re.I)
RESET = re.compile(
    r"\b(?:start(?:ing)? over|new search|from scratch|reset|clear (?:all|every))", re.I
)
WHICH_IS_CHEAPER = re.compile(
    r"\bwhich\b(?:\s+(?:one|ones|of\s+(?:them|these|those)))?(?:\s+is|'s|\s+are)?\s+"
    r"(?:the\s+)?(?:cheaper|less expensive|more affordable)\b",
    re.I,
)
# "cheaper than the first one", "anything less expensive?": a limit below a reference price.
CHEAPER_THAN = re.compile(
    r"\b(?:cheaper|less expensive|lower[- ]priced|more affordable|less pricey)\b", re.I
)
# Kinds add up only as alternatives ("or hoodies", "either"): "also a jump rope" or "and a
# chalk bag" is the next thing to find, where "in blue too" adds a colour to the list.
EITHER = re.compile(r"\b(?:or|either)\b", re.IGNORECASE)
# "aren't on clearance", "not discounted", "full price": the sale is unwanted.
NOT_ON_SALE = re.compile(
    r"(?:\bnot|n't|\bno|\bnothing|\bskip|\bavoid|\bexclud(?:e|ing)|\bwithout)\s+"
    r"(?:\w+\s+){0,2}?(?:on sale|on clearance|discounted|reduced|marked down|in the sale|"
    r"sale (?:ones|items?|stuff|section|rack)|clearance)\b|\bfull[- ]price\b|\bnon[- ]sale\b",
    re.I,
)
ON_SALE = re.compile(
    # "what's the deal with those grips?" asks about them: no sale
    r"\b(?:on sale|discount(?:ed)?|deals?(?!\s+(?:with|w)\b)|reduced|clearance|marked down|"
    r"on offer|"
    r"(?:in|from) (?:the|your) sales?|sale (?:ones|items|stuff|section|rack|price)|"
    # "women sale shorts", "what's in the men's sale?": the store's sale, said as its name
    r"(?:men'?s|women'?s|mens|womens|men|women|kids'?)\s+sales?)\b",
    re.I,
)
SAME_VARIANT = re.compile(
    r"\bsame\s+(?:size|colou?r)(?:\s+(?:and|&|n)\s+(?:size|colou?r))?\b", re.I
)
SALE_BEFORE = re.compile(r"\bsale\s+$", re.I)
IN_STOCK = re.compile(r"\b(?:in stock|available (?:now|today)|ships? (?:now|today))\b", re.I)
MIN_RATING = re.compile(
    r"(?:rated|rating|at least|min(?:imum)?|over|above)?\s*(?P<n>[1-5](?:\.\d)?)\s*(?:\+\s*)?stars?"
    r"(?:\s+(?:or|and)\s+(?:more|up|above|better))?",
    re.IGNORECASE,
)
REMOVABLE = [
    ("price", re.compile(r"\b(?:price|budget|limit|cost|cap|dollars?|cheap\w*|expensive)|\$",
                         re.I)),
    ("colors", re.compile(r"\b(?:colou?rs?)\b", re.I)),
    ("sizes", re.compile(r"\bsizes?\b", re.I)),
    ("brands", re.compile(r"\bbrands?\b", re.I)),
    ("categories", re.compile(r"\b(?:categor(?:y|ies)|types?|kinds?)\b", re.I)),
    ("genders", re.compile(r"\b(?:genders?|men or women|either gender)\b", re.I)),
    ("on_sale", re.compile(r"\bsale\b", re.I)),
    ("in_stock", re.compile(r"\bstock\b", re.I)),
    ("min_rating", re.compile(r"\b(?:rating|stars?)\b", re.I)),
    ("all", re.compile(r"\b(?:all|every|everything|any)\s+(?:the\s+)?(?:filters?|constraints?)\b|"
                       r"\bno filters\b|\bclear (?:the )?filters\b", re.I)),
]  # fmt: skip

# Wishes let go of in passing, with a search ("ok forget the price limit, what have you got in
# grey", "now messenger bags, sale or not", "Legend jackets instead - any colour, any price",
# "are there carbon ones? don't care about price"): the words in these spans clear what they
# name; the rest of the message refines as usual.
_CLAUSE_END = r"(?=[,.;:!?\u2013\u2014]|\s-\s|\s+(?:and|but|then|just|instead|now|what|show)\b|$)"
# Words that name a field rather than a value ("price", "colour", "the sale bit").
_FIELD_WORD = (
    r"(?:price|budget|cost|colou?rs?|sizes?|brands?|sale|discount|materials?|fabrics?|patterns?|"
    r"styles?|genders?|ratings?|stars?)"
)
RELEASE = re.compile(
    r"\b(?:forget(?:\s+about)?|ignore|never\s*mind|"
    r"(?:drop|ditch|scrap|lose)(?=\s+(?:the|that|my|this|those|these|any)\b)|"
    r"(?:do\s*n[o'\u2019]?t|dont)\s+(?:care|mind)\s+(?:about|for|what|which|if)|regardless\s+of|"
    rf"no\s+need\s+for)\b[^,.;:!?\u2013\u2014]{{0,40}}?{_CLAUSE_END}"
    r"|\bwithout\s+(?:the|that|my|any)\s+(?:[\w'-]+\s+){0,2}?"
    r"(?:filter|limit|constraint|requirement|restriction|bit|part)s?\b"
    # "any colour" lets it go; "any sale hoodies?" asks for the sale
    r"|\b(?:in\s+)?any\s+(?!(?:sale|discount\w*)\b)[\w'-]+(?!\s+(?:but|except|other\s+than)\b)"
    rf"|\b{_FIELD_WORD}\s+(?:or\s+not|(?:does|do)\s*n[o'\u2019]?t\s+matter|doesnt\s+matter)\b"
    r"|\b[\w'-]+\s+not\s+(?:essential|needed|necessary|important|required|a\s+must)\b"
    # "doesn't need to be on sale", "needn't be black"
    r"|\b(?:(?:does|do)\s*n[o'\u2019]?t|doesnt|dont)\s+(?:need|have)\s+to\s+be\b"
    rf"[^,.;:!?\u2013\u2014]{{0,40}}?{_CLAUSE_END}"
    rf"|\bneed\s*n[o'\u2019]?t\s+be\b[^,.;:!?\u2013\u2014]{{0,40}}?{_CLAUSE_END}",
    re.IGNORECASE,
)
# The release's own words, never a value it lets go of ("matter" is no "matte" colour).
RELEASE_WORDS = {
    "forget", "about", "ignore", "never", "mind", "drop", "ditch", "scrap", "lose", "don't",
    "dont", "care", "what", "which", "regardless", "need", "without", "filter", "filters",
    "limit", "constraint", "requirement", "restriction", "bit", "part", "matter", "doesn't",
    "doesnt", "essential", "needed", "necessary", "important", "required", "must", "not", "any",
    "the", "that", "this", "those", "these", "either", "whatever", "does", "do", "have", "to",
    "be", "needn't", "neednt",
}  # fmt: skip
# A released word names a constraint value when both open with these letters ("stripes" for
# "striped", "colour-blocked" for "color-blocked" does not need it).
SHARED_STEM = 5


@dataclass(slots=True)
class TrackResult:
    """What the tracker understood beyond the state itself, for the policy."""

    targets: list[str] = field(default_factory=list)
    referenced: bool = False  # the shopper pointed at items (not just "it" by default)
    unresolved: str | None = None  # a reference that pointed at nothing, as the shopper said it
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (type, value)
    new_topic: bool = False
    changed: bool = False
    cleared: list[str] = field(default_factory=list)
    size: str | None = None
    color: str | None = None
    quantity: int = 1
    # Products named by their title ("the Augusta jacket"), as the catalog writes them, and
    # the brands said with them ("the Apex harness, the Legend one": which of two namesakes).
    titled: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)


def track(state: DialogueState, intent: str, text: str, ext: Extraction) -> TrackResult:
    result = TrackResult(quantity=ext.quantity or 1)
    result.titled = [e.value for e in ext.entities if e.type == "title" and not e.negated]
    result.brands = ext.values("brand", known=True)
    before = (state.constraints, state.exclude, state.prefer, state.sort, state.topic_text)
    reset = RESET.search(text)
    if reset and intent not in ("remove_from_cart", "view_cart", "checkout"):
        state.new_topic()
        result.new_topic = True
        said = set(reset.group(0).lower().split())
        ext.content_words = [w for w in ext.content_words if w not in said]
    if intent in ITEM_INTENTS or intent == "remove_from_cart":
        _resolve_targets(state, intent, text, ext, result)
    if intent in DISCOVERY:
        _lift_refusals(state, ext)
    released = _released(state, text, ext) if intent in DISCOVERY | {"sort_results"} else None
    before_rest = state.constraints
    if released is not None:
        text, ext = released[2], released[3]
        if intent == "remove_filter" and REMOVAL.search(text):
            _remove(state, text, ext, result)  # "remove the black filter and forget the price"
        elif intent == "remove_filter":  # what else the message says refines, or starts anew
            intent = "search_products" if _starts_new_topic(state, ext) else "refine_search"
    if intent in FRESH_SEARCH:
        if _starts_new_topic(state, ext):
            state.new_topic(keep_who=True)
            result.new_topic = True
        _apply(state, ext, text, result)
    elif intent == "refine_search":
        _apply(state, ext, text, result)
    elif intent == "search_by_image":
        state.new_topic()
        result.new_topic = True
        _apply(state, ext, text, result)
    elif intent == "find_similar" and result.targets:
        state.similar_to = result.targets[0]
        state.focus = result.targets[0]
        _apply(state, ext, text, result, skip_references=True)
    elif intent == "remove_filter":
        _remove(state, text, ext, result)
    elif intent == "sort_results":
        # "high to low, and only in blue": the other changes in the message count too.
        _apply(state, ext, text, result, topic_words=False)
        state.sort = None if ext.sort == "relevance" else ext.sort or state.sort
        if ext.cheap and not ext.sort:
            state.sort = "price_asc"
        # "cheapest of these first then" ... "add it": the list put in the order asked for
        # brings its top to the shopper's eye, whatever was looked at before
        state.focus = None
    elif intent == "show_more":
        state.page += 1
    elif intent in ("add_to_cart", "check_availability"):
        sizes, colors = ext.values("size"), ext.values("color")
        result.size = sizes[0] if sizes else None
        result.color = colors[0] if colors else None
        same = SAME_VARIANT.search(text)
        if same and state.cart:
            # "and the other one as well, same size and colour": the last line's choice
            said = same.group(0).lower()
            last = state.cart[-1]
            if "size" in said and result.size is None:
                result.size = last.size
            if "colo" in said and result.color is None:
                result.color = last.color
    if released is not None:  # after the rest: "nothing on sale? ok forget the sale part"
        set_now = state.constraints
        _remove(state, released[0], released[1], result)
        _drop_words(state, released[0])
        # but what the rest set anew stands ("forget the price limit, show me ones under 60")
        state.constraints = _keep_new(state.constraints, before_rest, set_now)
    if intent in ("product_details", "product_reviews", "check_availability", "complete_the_look",
                  "add_to_cart") and len(result.targets) == 1:  # fmt: skip
        state.focus = result.targets[0]
    if intent == "compare_products" and len(result.targets) >= 2:
        state.compared = list(result.targets)
    after = (state.constraints, state.exclude, state.prefer, state.sort, state.topic_text)
    result.changed = before != after or result.new_topic
    if result.changed and intent != "show_more":
        state.page = 0
    return result


def _starts_new_topic(state: DialogueState, ext: Extraction) -> bool:
    wanted = set(ext.values("category", known=True))
    if not wanted:
        # "also do you sell socks?" where the store has none: the tees asked for before are
        # not what the shopper wants now.
        return bool(ext.values("category", known=False))
    current = set(state.constraints.categories)
    if not current or not wanted & current:
        return True
    # "tents" then "show me headlamps": the store files both under Trekking, but a kind named
    # now that shares no noun with the one named before is another thing to find
    said = {_singular(k) for k in _kinds_said(ext)}
    before = {_singular(k) for k in state.prefer.kinds}
    return bool(said and before) and not said & before


def _kinds_said(ext: Extraction) -> list[str]:
    """The kinds the message names, as said ("headlamps"), not the category they map to."""
    return [
        (e.spelt or e.text).lower()
        for e in ext.entities
        if e.type == "category" and e.known and not e.negated
    ]


def _apply(
    state: DialogueState,
    ext: Extraction,
    text: str,
    result: TrackResult,
    *,
    skip_references: bool = False,
    topic_words: bool = True,
) -> None:
    c, x, p = state.constraints, state.exclude, state.prefer
    updates: dict[str, tuple[str, ...]] = {}
    within = _kinds_within(ext, c.categories)
    if within or ext.refused:
        # "a bag, but NOT a backpack": the bag is wanted, the backpack's noun is what goes;
        # "not the drawstring kind": products named so go.
        refused = [*within.values(), *ext.refused]
        x = replace(x, kinds=tuple(dict.fromkeys([*x.kinds, *refused])))
    # "like the purple hoodie but in blue": purple says which shown hoodie, so it is no
    # wish; with no such hoodie on screen ("show me the red jackets") the colour is one.
    on_screen = {card.id for card in state.shown}
    pointing = any(
        set(_by_attribute(state, r)) & on_screen
        for r in ext.references
        if r.kind in ("category", "color", "brand")
    )
    alternative = EITHER.search(text) is not None
    wearers = set(ext.values("gender", known=True))
    # "and one for me, men's, L" after a women's search: another person, whose size and
    # colours replace the first one's rather than join them.
    new_wearer = bool(wearers and c.genders) and wearers != set(c.genders) and not alternative
    for type_, name in _fields_named(ext):
        wanted = ext.values(type_, known=True, qualifiers=not pointing)
        if wanted:
            # A kind or a wearer joins the earlier one only when said as an alternative ("or
            # men's").
            adds = ext.additive and (name not in ("categories", "genders") or alternative)
            adds = adds and not (new_wearer and name in ("sizes", "colors"))
            updates[name] = (
                tuple(dict.fromkeys([*c.values(name), *wanted]))
                if adds and c.values(name)
                else tuple(wanted)
            )
        for value in ext.values(type_, negated=True):
            if type_ == "category" and value in within:
                continue
            kept = tuple(v for v in updates.get(name, c.values(name)) if v != value)
            updates[name] = kept
            if _excludable(name) and value not in x.values(name):
                x = x.with_values(name, (*x.values(name), value))
        if type_ in MUST_EXIST:
            result.unavailable += [(type_, v) for v in ext.values(type_, known=False)]
    for name, values in updates.items():
        # A value asked for again is no longer excluded ("actually black is fine").
        if _excludable(name):
            x = x.with_values(name, tuple(v for v in x.values(name) if v not in values))
        c = c.with_values(name, values)
    if ext.price is not None:
        low, high = ext.price.minimum, ext.price.maximum
        if low is None and c.price_min is not None and high is not None and c.price_min < high:
            low = c.price_min
        if high is None and c.price_max is not None and low is not None and c.price_max > low:
            high = c.price_max
        if (low is None or low >= 0) and (high is None or high >= 0):
            below = ext.price.below if ext.price.maximum is not None else c.price_below
            c = replace(c, price_min=low, price_max=high, price_below=below and high is not None)
    # "which is cheaper of those?" asks for the list's order, not for what costs less
    cheaper = CHEAPER_THAN.search(text) and not WHICH_IS_CHEAPER.search(text)
    anchor = _price_anchor(state, ext, text) if cheaper else None
    if anchor is not None and anchor.price is not None:
        # Strictly below the reference, and the same kind of product unless one was named.
        c = replace(c, price_max=round(anchor.price - 0.01, 2), price_below=False)
        if c.price_min is not None and c.price_min > anchor.price:
            c = replace(c, price_min=None)
        if not c.categories and anchor.category:
            c = replace(c, categories=(anchor.category.lower(),))
            genders = gender_of(anchor)
            if not c.genders and len(genders) == 1:  # a cheaper women's hoodie, not a man's
                c = replace(c, genders=genders)
    if NOT_ON_SALE.search(text):
        c, x = replace(c, on_sale=False), replace(x, on_sale=True)
    elif ON_SALE.search(text) or _sale_kind(text, ext):
        c, x = replace(c, on_sale=True), replace(x, on_sale=False)
    if IN_STOCK.search(text):
        c = replace(c, in_stock=True)
    rating = MIN_RATING.search(text)
    if rating:
        c = replace(c, min_rating=float(rating["n"]))
    # Feature words, and attribute values the catalog lacks ("merino"), rank as words.
    lacking = dict.fromkeys(e.value for e in ext.unknown() if is_attribute(e.type))
    terms = [*ext.values("feature"), *lacking]
    if ext.cheap and not ext.sort:
        p = replace(p, cheaper=True)
    if terms:
        p = replace(p, terms=tuple(dict.fromkeys([*p.terms, *terms])))
    if not skip_references:
        for ref in ext.references:
            if ref.negated:
                ids = _resolve(state, ref, text)
                pointer = ref.text.lower() in ("that one", "this one", "it", "that", "this")
                if (
                    not ids
                    and ref.kind == "focus"
                    and pointer
                    and _names_no_field(text)
                    and state.shown
                ):
                    # "nah, not that one" with nothing in focus: the top of the list, the one
                    # looked at first (a wrong guess only hides one product; "add that one"
                    # still asks which)
                    ids = [state.shown[0].id]
                x = replace(x, product_ids=tuple(dict.fromkeys([*x.product_ids, *ids])))
    if ext.sort:
        state.sort = None if ext.sort == "relevance" else ext.sort
    kinds = _kinds_said(ext)
    if kinds:
        earlier = p.kinds if ext.additive and EITHER.search(text) else ()
        p = replace(p, kinds=tuple(dict.fromkeys([*earlier, *kinds, *ext.styles])))
    elif ext.styles:  # "the full-zip ones": a kind of the kind on screen
        p = replace(p, kinds=tuple(dict.fromkeys([*p.kinds, *ext.styles])))
    words = [w for w in ext.content_words if not w.isdigit()] if topic_words else []
    if words:
        state.topic_text = " ".join(dict.fromkeys([*state.topic_text.split(), *words]))
    state.constraints, state.exclude, state.prefer = c, x, p


def _fields_named(ext: Extraction) -> list[tuple[str, str]]:
    """(entity type, state field) for every field the message can change: the own fields,
    and each filter attribute it names (filed under the attribute's name)."""
    attributes = dict.fromkeys(e.type for e in ext.entities if is_attribute(e.type))
    return [*FIELD_OF.items(), *((a, a) for a in attributes)]


def _excludable(name: str) -> bool:
    """An own field that negation excludes, or an attribute (no field of the state has its
    name)."""
    return name in EXCLUDABLE or name not in STATE_FIELDS


def _released(
    state: DialogueState, text: str, ext: Extraction
) -> tuple[str, Extraction, str, Extraction] | None:
    """(the released words, their extraction, the rest of the text with them blanked, its
    extraction), or None when the message lets nothing go. "any X" lets go only of a field or
    of an attribute set now ("any colour", not "any jackets")."""
    set_attributes = [*state.constraints.attributes, *state.exclude.attributes]
    spans = [
        m.span()
        for m in RELEASE.finditer(text)
        if not m.group(0).lower().lstrip().startswith(("any", "in any"))
        or _names_a_field(m.group(0), set_attributes)
    ]
    if not spans:
        return None

    def inside(start: int, end: int) -> bool:
        # an entity without a span (a Rasa entity with no offsets) is in no release
        return end > start and any(a <= start and end <= b for a, b in spans)

    rest = text
    for a, b in spans:
        rest = rest[:a] + " " * (b - a) + rest[b:]
    price = ext.price
    price_inside = price is not None and inside(price.start, price.end)
    said = " ".join(text[a:b] for a, b in spans)
    words = {w.lower() for w in re.findall(r"[\w'-]+", said)}
    released = replace(
        ext,
        entities=[e for e in ext.entities if inside(e.start, e.end)],
        price=price if price_inside else None,
        references=[],
        sort=None,
        content_words=[],
    )
    kept = replace(
        ext,
        entities=[e for e in ext.entities if not inside(e.start, e.end)],
        price=None if price_inside else price,
        cheap=wants_cheap(rest),
        sort=sort_asked(rest),
        content_words=[w for w in ext.content_words if w.lower() not in words],
    )
    return said, released, rest, kept


def _names_no_field(text: str) -> bool:
    """ "not that one, what else" points at an item; "not that expensive", "not that colour"
    do not."""
    return not re.search(
        rf"\b(?:that|this)\s+(?:{_FIELD_WORD}|expensive|cheap|pricey|big|small|long|short)\b",
        text,
        re.I,
    )


def _names_a_field(said: str, attributes: list[str]) -> bool:
    return bool(re.search(rf"\b{_FIELD_WORD}\b", said, re.I)) or any(
        _label_pattern(name).search(said) for name in attributes
    )


def _label_pattern(attribute: str) -> re.Pattern[str]:
    """An attribute's name as a shopper says it, singular or plural ("activity", "activities",
    "sleeve length")."""
    label = re.escape(attribute_label(attribute))
    plural = rf"{label[:-1]}(?:y|ies)" if label.endswith("y") else rf"{label}s?"
    return re.compile(rf"\b{plural}\b", re.I)


def _keep_new(released: Constraints, before: Constraints, set_now: Constraints) -> Constraints:
    """`released`, with every field the rest of the message set anew kept as it set it (a
    price as a whole: limits and whether "under" leaves the limit out)."""
    for name, value in set_now.active().items():
        if before.active().get(name) == value:
            continue
        if isinstance(value, tuple):
            released = released.with_values(name, value)
        elif name in PRICE_FIELDS:
            released = replace(
                released, **{field: getattr(set_now, field) for field in PRICE_FIELDS}
            )
        else:
            released = replace(released, **{name: value})
    return released


def _drop_words(state: DialogueState, said: str) -> None:
    """Released words that name no field: a value set now that shares their stem ("forget
    the stripes" for pattern striped), or the shopper's own wish words ("wheels not
    essential")."""
    words = {
        w.lower()
        for w in re.findall(r"[\w'-]+", said)
        if len(w) >= SHARED_STEM and w.lower() not in RELEASE_WORDS
    }

    def named(value: str) -> bool:
        return any(w[:SHARED_STEM] == v[:SHARED_STEM] for w in words for v in value.lower().split())

    c = state.constraints
    for name, values in c.active().items():
        if isinstance(values, tuple) and name != "categories":
            c = c.with_values(name, tuple(v for v in values if not named(v)))
    p = state.prefer
    state.constraints = c
    state.prefer = replace(p, terms=tuple(t for t in p.terms if not named(t)))
    state.topic_text = " ".join(w for w in state.topic_text.split() if not named(w))


def gender_of(card: ProductCard) -> tuple[str, ...]:
    """Whose a product is, as a gender constraint reads it: its department ("men", "women")
    or its own gender attribute; unisex and ungendered products name none."""
    departments = tuple(g for g in ("men", "women") if g in card.categories)
    own = tuple(g.lower() for g in card.genders if g.lower() in ("men", "women"))
    return departments or own


def _lift_refusals(state: DialogueState, ext: Extraction) -> None:
    """ "drawstring ones are fine too", "a backpack after all": a refused noun said again,
    unrefused, lifts its refusal."""
    wished = set(ext.content_words) | {
        (e.spelt or e.text).lower() for e in ext.entities if not e.negated
    }
    kinds = state.exclude.kinds
    if wished & set(kinds):
        state.exclude = replace(state.exclude, kinds=tuple(k for k in kinds if k not in wished))


def _kinds_within(ext: Extraction, current: tuple[str, ...]) -> dict[str, str]:
    """Negated product nouns whose category is the one wanted (named now, else the current
    one): category value -> the noun as said. Excluding their category would empty the page."""
    wanted = set(ext.values("category", known=True)) or set(current)
    if not wanted:
        return {}
    within: dict[str, str] = {}
    for e in ext.entities:
        if e.type != "category" or not e.negated or not e.known:
            continue
        if any(
            e.value == w or w in category_parts(e.value) or e.value in category_parts(w)
            for w in wanted
        ):
            within[e.value] = e.text.lower()
    return within


def _sale_kind(text: str, ext: Extraction) -> bool:
    """ "sale hoodies", "any sale shorts?": the word sale right before a kind the store files."""
    return any(
        e.type == "category" and e.known and not e.negated and SALE_BEFORE.search(text, 0, e.start)
        for e in ext.entities
    )


def _price_anchor(state: DialogueState, ext: Extraction, text: str) -> ProductCard | None:
    """The product a "cheaper" is measured against: the item pointed at ("than the first
    one"), else the one being looked for similar items, else the one in focus, else the top
    of the list on screen."""
    shown = {card.id: card for card in state.shown}
    for ref in ext.references:
        if not ref.negated and ref.kind not in ("cheapest", "priciest"):
            ids = [i for i in _resolve(state, ref, text) if i in shown]
            if ids:
                return shown[ids[0]]
    for candidate in (state.similar_to, state.focus):
        if candidate in shown:
            return shown[candidate]
    return state.shown[0] if state.shown else None


def _remove(state: DialogueState, text: str, ext: Extraction, result: TrackResult) -> None:
    c, x = state.constraints, state.exclude
    named = False
    for type_, name in _fields_named(ext):
        for value in ext.values(type_) + ext.values(type_, negated=True):
            named = True
            c = c.with_values(name, tuple(v for v in c.values(name) if v != value))
            if _excludable(name):
                x = x.with_values(name, tuple(v for v in x.values(name) if v != value))
            result.cleared.append(value)
    # "drop the pattern filter": an attribute set now, named by its label.
    attributes = [
        (name, _label_pattern(name)) for name in dict.fromkeys([*c.attributes, *x.attributes])
    ]
    for name, pattern in [*REMOVABLE, *attributes]:
        if not pattern.search(text):
            continue
        named = True
        if name == "all":
            c, x = Constraints(), Exclusions()
            state.prefer = Preferences()
        elif name == "price":
            c = c.cleared("price_min", "price_max", "price_below")
            state.prefer = replace(state.prefer, cheaper=False)
        else:
            c = c.cleared(name)
            if _excludable(name):
                x = x.with_values(name, ())
            if name == "on_sale":
                x = replace(x, on_sale=False)
        result.cleared.append(name)
    if ext.price is not None and not named:
        c = c.cleared("price_min", "price_max", "price_below")
        result.cleared.append("price")
    if not c.categories:  # the kind's own words go with the kind
        state.prefer = replace(state.prefer, kinds=())
    state.constraints, state.exclude = c, x


# References ---------------------------------------------------------------------------------
def _resolve_targets(
    state: DialogueState, intent: str, text: str, ext: Extraction, result: TrackResult
) -> None:
    refs = [r for r in ext.references if not r.negated]
    if result.titled and not state.shown:
        # "the set of sprite yoga straps, the one with all three lengths": with nothing on
        # screen the words point at nothing; the name says which product.
        refs = []
    elif result.titled:
        # "the Impulse Duffle, is it any good?": "it" is the product named, not a shown one.
        refs = [r for r in refs if r.kind != "focus"]
    resolved = [(ref, _resolve(state, ref, "")) for ref in refs]
    # "the Legend one" with nothing of that brand on screen says which product it wants
    resolved = [(ref, ids) for ref, ids in resolved if ids or ref.kind != "brand"]
    if intent in QUESTIONS and state.shown:
        # "what's the strap made of?": a noun that points at nothing shown but that the item
        # asked about has (its text says "strap") is a part of it, not another item
        item = next((c for c in state.shown if c.id == state.focus), state.shown[0])
        said = f"{item.title} {item.summary}".lower()
        resolved = [
            (ref, ids)
            for ref, ids in resolved
            if ids
            or ref.kind != "category"
            or not re.search(rf"\b{re.escape(_singular(ref.text.lower()))}", said)
        ]
    refs = [ref for ref, _ in resolved]
    result.referenced = bool(refs)
    targets: list[str] = []
    missed: list[Reference] = []
    for ref, ids in resolved:
        if not ids:
            missed.append(ref)
        targets += [i for i in ids if i not in targets]
    # A bare "that" beside a reference that resolves ("that top one") adds nothing.
    blocking = [r for r in missed if r.kind != "focus" or not targets]
    result.unresolved = blocking[-1].text if blocking else None
    pronoun_only = bool(refs) and all(r.kind == "focus" for r in refs)
    if not targets and intent in QUESTIONS and state.shown and pronoun_only:
        # "is that one waterproof?" with nothing in focus: the top of the list (the reply
        # names the product it answers about; "add it" still asks which)
        targets, result.unresolved = [state.shown[0].id], None
    if intent == "compare_products" and not refs:
        # "compare 1 and 3"
        for number in re.findall(r"\b(\d{1,2})\b", text):
            ids = _resolve(state, Reference("ordinal", (int(number),)), "")
            targets += [i for i in ids if i not in targets]
    if not targets and not refs and result.titled:
        # Named by title: that product, from the list when it is there (else the policy
        # looks it up), never whatever happened to be in focus.
        targets = [
            card.id
            for card in state.shown
            if any(title_has_name(card.title, name) for name in result.titled)
        ]
    against_one = result.titled or (len(targets) == 1 and any(r.kind == "ordinal" for r in refs))
    if intent == "compare_products" and against_one and state.focus not in (None, *targets):
        # "how does it stack up against the Strike / the second?": the product in focus
        # against that one
        targets = [state.focus, *targets]
    if not targets and state.shown:
        named = _named_one(state.shown, text)  # "add the daybird one"
        if named is not None:
            targets, result.unresolved, result.referenced = [named], None, True
    if not targets and not refs and not result.titled:
        # (a product named by title and not on screen is looked up by the policy: "and the
        # didi one?" after the Dash watch is the Didi, never the Dash in focus)
        fallback = state.focus or (state.shown[0].id if state.single_match else None)
        if intent == "compare_products" and len(state.shown) >= 2:
            targets = [card.id for card in state.shown[:2]]
        elif fallback:
            targets = [fallback]
    result.targets = targets


def _resolve(state: DialogueState, ref: Reference, text: str) -> list[str]:
    shown = state.shown
    if ref.kind == "both" and len(shown) == 1 and len(state.earlier) == 1:
        # "show me both side by side" after two products each looked at alone
        pair = [state.earlier[0].id, shown[0].id]
        if pair[0] != pair[1]:
            return pair
    if ref.kind in ("ordinal", "first_n", "both"):
        ids = []
        for position in ref.positions:
            if ref.kind == "both" and len(state.compared) == 2:
                return list(state.compared)
            index = len(shown) - 1 if position == -1 else position - 1
            if not 0 <= index < len(shown):
                return []
            ids.append(shown[index].id)
        return ids
    if ref.kind == "all":
        return _matching(state)
    if ref.kind in ("cheapest", "priciest", "best_rated"):
        pool = _pool(state, ref)
        if not pool:
            return []
        key = {
            "cheapest": lambda card: card.price if card.price is not None else float("inf"),
            "priciest": lambda card: -(card.price or 0.0),
            "best_rated": lambda card: -(card.rating or 0.0),
        }[ref.kind]
        return [min(pool, key=key).id]
    if ref.kind == "other":
        pool = [card.id for card in _pool(state, ref) if card.id != state.focus]
        return pool[:1]
    if ref.kind == "focus":
        if ref.text.lower() in ("them", "these", "those"):
            return list(state.compared) or _matching(state)
        if state.focus:
            return [state.focus]
        # one match, or a list just put in the order asked for ("lowest price first?" then
        # "add that one"): the one at the top
        just_sorted = bool(state.history) and state.history[-1].intent == "sort_results"
        return [shown[0].id] if state.single_match or (just_sorted and shown) else []
    if ref.kind in ("category", "color", "brand"):
        return _by_attribute(state, ref)
    return []


def _named_one(shown: list[ProductCard], text: str) -> str | None:
    """The one shown item that "the X one" names by words it carries (title, brand, colours,
    attribute values; "top" is the first): None when no item, or more than one, fits best."""
    for match in NAMED_ONE.finditer(text):
        words = [w for w in match.group(1).lower().split() if w not in NOT_A_NAME]
        if words == ["top"]:
            return shown[0].id
        if not words:
            continue
        scores = []
        for card in shown:
            carried = " ".join(
                [
                    card.title,
                    card.brand or "",
                    *card.colors,
                    *(v for vs in card.attributes.values() for v in vs),
                ]
            ).lower()
            found = set(NAME_WORD.findall(carried))
            scores.append(sum(w in found for w in words))
        best = max(scores)
        if best and scores.count(best) == 1:
            return shown[scores.index(best)].id
    return None


def _titles(card: ProductCard, noun: str) -> bool:
    """Whether the card's title carries every word of the noun ("foam roller")."""
    return set(noun.split()) <= title_nouns(card.title)


def _matching(state: DialogueState) -> list[str]:
    """What "them" or "all of them" points at: the results that match, not the close
    alternatives labelled below them."""
    matched = state.shown[: state.matches_shown] if state.matches_shown else state.shown
    return [card.id for card in matched]


def _pool(state: DialogueState, ref: Reference) -> list[ProductCard]:
    """Candidates for 'the cheaper one': the compared pair, else the first two shown for a
    comparative ('cheaper'), else everything shown ('cheapest')."""
    if len(state.compared) >= 2:
        wanted = set(state.compared)
        return [card for card in state.shown if card.id in wanted] or state.shown[:2]
    comparative = re.search(
        r"\b(?:cheaper|more expensive|pricier|better|higher|other)\b", ref.text, re.I
    )
    return state.shown[:2] if comparative else list(state.shown)


def _by_attribute(state: DialogueState, ref: Reference) -> list[str]:
    value = (ref.value or "").lower()

    def matches(card: ProductCard, by_title: bool) -> bool:
        # A catalog that lists no colours names them in the title ("Wanderer Black Boots").
        colors = {c.lower() for c in card.colors} or set(re.findall(r"[a-z]+", card.title.lower()))
        if ref.kind == "color":
            return value in colors
        if ref.kind == "brand":
            return (card.brand or "").lower() == value
        in_color = ref.color is None or ref.color.lower() in colors or not colors
        # "put the rope in my cart": the word may name the item by its title ("Zing Jump
        # Rope") while the catalog files the word's usual kind elsewhere (climbing ropes)
        titled = _titles(card, said)
        filed = value in {c.lower() for c in card.categories}
        return (titled if by_title else filed or titled) and in_color

    said = _singular(ref.text.lower())
    seen = [*state.shown, *state.earlier]
    # "fine, add the tent" after a look at a headlamp filed with the tents: a noun that titles
    # some item seen names that one, not whatever else its category holds
    by_title = ref.kind == "category" and any(_titles(c, said) for c in seen)

    focus = next((card for card in state.shown if card.id == state.focus), None)
    if focus is not None and matches(focus, by_title):
        return [focus.id]
    found = [card.id for card in state.shown if matches(card, by_title)]
    if found:
        return found[:1]
    in_cart = [line.product_id for line in state.cart if value in line.title.lower()]
    if in_cart:
        return in_cart[:1]
    # "add the hoodie" after a look at jackets: the one such item of the list before, if one
    # ("the tent" after a list of tents, then a headlamp: the first of them).
    earlier = [card.id for card in state.earlier if matches(card, by_title)]
    if by_title:
        return earlier[:1]
    return earlier if len(earlier) == 1 else []
