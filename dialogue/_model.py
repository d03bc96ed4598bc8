"""The Recommendation Dialogue Model: one turn = NLU -> state tracking -> policy -> reply
(optionally rephrased by an LLM under a grounding check). A failing turn never loses the
session: the state is rolled back and the shopper gets a friendly message."""

from __future__ import annotations

import copy
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dialogue._answers import ProductAnswerer
from dialogue._carried import ASKING, CLAUSE_BREAK, UncarriedThings, names_no_kind
from dialogue._classifier import OUT_OF_SCOPE, IntentPrediction
from dialogue._config import (
    DIALOGUE_FILE,
    LLM_PROMPTS_FILE,
    NLU_FILE,
    POLICY_FILE,
    RESPONSES_FILE,
    DialogueSettings,
    LlmPrompts,
    StorePolicy,
    Templates,
)
from dialogue._entities import (
    FEATURE,
    STOP_WORDS,
    TOKEN,
    Entity,
    Extraction,
    Reference,
    _singular,
    blanked,
    category_parts,
    is_attribute,
)
from dialogue._llm import Complete, GroundingCheck, Rewriter, langchain_completion
from dialogue._nlu import NluModel, Parse, TrainingReport, browse_or_search
from dialogue._policy import (
    CART_WORDS,
    LIST_QUESTION,
    OPINION,
    SWAP,
    WHICH_OPTIONS,
    Policy,
    changed_line,
    order_number,
    weighs_a_quality,
)
from dialogue._prices import spoken_sizes
from dialogue._protocol import CatalogPort, Embedder, OrderPort
from dialogue._reply import DialogueReply
from dialogue._state import DialogueState, Turn
from dialogue._tracker import FRESH_SEARCH, RELEASE, REMOVAL, RESET, TrackResult, track

# "I'll go with the TrailSeeker", "let's go with that one": a choice, not what goes with it.
CHOOSING = re.compile(
    r"\b(?:i'?ll|i will|i'?m going to|gonna|let'?s|we'?ll)\s+(?:just\s+)?go\s+with\b"
    # "go with that", "ok go with the watch": the choice said as an order
    r"|^\W*(?:(?:ok|okay|yeah|yes|cool|great|fine|right|alright|then)\W+)*go\s+with\b"
    # "going with the first one. 34, green": the choice said as news
    r"|^\W*(?:(?:ok|okay|yeah|yes|cool|great|fine|right|alright|so)\W+)*"
    r"(?:i'?m\s+|we'?re\s+)?going\s+with\b"
    # "OK that one then. 28, black please": the choice said by pointing
    r"|^\W*(?:(?:ok|okay|yeah|yes|cool|great|fine|right|alright|hmm|perfect)\W+)+"
    r"(?:that|this)\s+one(?:\s+then|\s+please|\s+pls)?\s*(?:[.,!]|$)(?=[^?]*$)",
    re.I,
)
# An order to put something in the cart at the start of a message ("add M purple", "actually
# just add the first one from the cheaper list", "pop it in the basket"): with items on screen,
# whatever the catalog words after it made the classifier think.
PUT_IN = re.compile(
    r"^\W*(?:(?:ok|okay|actually|just|so|then|right|cool|great|perfect|yes|yeah|alright|and|"
    r"hmm|fine|lovely|please|pls)\W+)*(?:add|pop|throw|chuck|stick|bung)\b",
    re.I,
)
# "2 of those in medium", "three of them in L": a number of the item on screen, in a variant
SOME_OF_THOSE = re.compile(r"\b(?:\d|two|three|four|five)\s+of\s+(?:those|them|these|it)\b", re.I)
# "show me the second", "let me see the top one": a look at one item, not at the cart
SHOW_ME = re.compile(
    r"^\W*(?:(?:ok|okay|so|now|and|then|pls|please|can\s+you|could\s+you)\W+)*"
    r"(?:show(?:\s+me)?|let\s+me\s+see|lemme\s+see)\b",
    re.I,
)
# "like the black coat", "similar to those", "the same sizes as the grey one": an item named
# as the one to be like, however the words name it
LIKE_THAT_ONE = re.compile(
    r"\b(?:like|similar\s+to|as)\s+(?:the|that|this|those|these|your|my)\b", re.IGNORECASE
)
# "anything like the blue one", "something with sleeves like the pink one", "similar to it"
SOMETHING_LIKE = re.compile(
    r"\b(?:similar\s+to|(?:anything|something|one|ones|more|others?)\s+(?:\w+\s+){0,3}?like\s+"
    r"(?:the|that|this|those|these|it|them))\b",
    re.IGNORECASE,
)
# "my wardrobe", "my closet", "most of my outfits", "my style": the shopper's own things
THEIR_OWN_THINGS = re.compile(
    r"\b(?:my|our)\s+(?:\w+\s+)?(?:wardrobe|closet|style|outfits|clothes|look)\b", re.IGNORECASE
)
# Intents whose message may carry an order for the list ("the other duffels, from cheapest up?")
SORTABLE = frozenset({"find_similar", "refine_search", "compare_products"})
# "one more of the same in blue, same size", "another of those in M": the item just put in the
# cart again, in the variant said
ANOTHER_OF_IT = re.compile(
    r"\b(?:(?:one|1)\s+more|another(?:\s+one)?)\s+of\s+(?:the\s+same|that|those|these|it|them)\b",
    re.I,
)
# "take the endeavor out", "ok remove it, I'll wait for a sale", "put it back": an item going
# back out of the cart, however the classifier read it (it names an item, not a filter).
TAKE_BACK = re.compile(
    r"\b(?:remove|delete|drop|ditch|get\s+rid\s+of"
    r"|(?:take|put)\b[^.,;!?]{0,30}?\b(?:out|back)(?!\s+(?:of\s+stock|there))"
    r"|(?:do\s*n[o'\u2019]?t|dont)\s+want\s+(?:it|that|them|those)\s+(?:any\s*more|after\s+all))\b",
    re.I,
)
# "remove the price limit", "drop the colour": what goes is a filter, not a cart line
FILTER_TALK = re.compile(
    r"\b(?:filters?|limits?|budget|price|colou?rs?|sizes?|brands?|restrictions?|constraints?"
    r"|requirements?|sort(?:ing)?|order)\b",
    re.I,
)
# Where one request ends and the next begins: a sentence end, or "and" / "also" / "plus".
THEN_ALSO = re.compile(
    r"(?:[.;!]+\s*(?:(?:and|also|plus|then)\s+)*|,?\s+(?:and\s+also|and|also|plus)\s+)", re.I
)
IT = re.compile(r"\b(?:it|it'?s|its)\b", re.IGNORECASE)
# A question about what something costs ("why's it so expensive?", "is it worth the price?")
PRICE_TALK = re.compile(
    r"\b(?:expensive|pricey|pricy|cheap|costs?|costly|price[sd]?|worth|overpriced|"
    r"discount(?:ed)?|on sale|reduced|marked down)\b",
    re.I,
)
# "duffel w/ wheels", "tee w/o logo"
SHORTHAND_WITH = re.compile(r"(?<![\w/])w/o?(?![\w/])|(?<![\w/])w/(?=\w)", re.IGNORECASE)
IF_YOU_HAVE = re.compile(
    r"\bif\s+(?:you|u|ya)(?:['\u2019]ve|\s+have)?\s+(?:have|got|carry|stock|do)\b", re.I
)
log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 1000
HISTORY_TURNS = 50
# While a size/colour question is open, a message naming one is its answer ("M", "in blue"),
# unless it clearly asks for something else.
NOT_ANSWERS = {
    "view_cart", "checkout", "remove_from_cart", "store_policy", "order_status", "human_handoff",
    "goodbye", "deny", "compare_products", "product_reviews", "complete_the_look",
}  # fmt: skip
# Vocabulary facets whose words an LLM rewrite must not invent (with every filter attribute).
GUARDED_FACETS = ("title", "color", "style", "brand")
REFINING = {"refine_search", "sort_results", "show_more", "remove_filter"}
CART_INTENTS = {"add_to_cart", "remove_from_cart", "view_cart", "checkout"}
# A question about how a product fits, whose size words are the shopper's own size (narrower
# than the answerer's FIT_QUESTION, which also reads "is the size chart..." as about fit).
FIT_WITH_OWN_SIZE = re.compile(
    r"\b(?:comes?|coming|runs?|running|fits?|sized?|sizing|go|goes|going)\s+(?:up\s+)?"
    r"(?:big|small|large|true|tight|loose|snug|generous|narrow|wide)\b"
    r"|\btrue\s+to\s+size\b|\bsize\s+(?:up|down)\b|\bnormally\s+(?:a|an)\b",
    re.IGNORECASE,
)
# "ok for cycling?", "good for hot yoga?": what the product is for, not a kind to find.
USE_QUESTION = re.compile(
    r"\b(?:ok|okay|good|suitable|great|fine|decent|right|usable|any\s+use)\s+for\b", re.IGNORECASE
)
# Words that set one product against another ("vs", "stack up against", "compared to").
COMPARE_CUE = re.compile(
    r"\b(?:compar(?:e|ed|es|ing)|comparison|vs|versus|stacks?\s+up|better\s+than"
    r"|differences?\s+between)\b",
    re.IGNORECASE,
)
# A fresh request this long tells a story, where a kind may be named in passing; the products
# nearest the whole message (this many) say which kinds it points at.
STORY_WORDS = 15
KIND_NEIGHBOURS = 10
KIND_VOTES = 3
# "need a proper waterproof rain jacket": at most this many words between the ask and the kind.
ASKED_GAP_WORDS = 4
# "watching my kids", "my old running shorts": the shopper's own people and things. One word may
# stand between owner and thing, never an article ("get her a jacket" gives her one).
OWNED = re.compile(
    r"\b(?:my|our|his|her|their)\s+(?:(?!(?:a|an|the|some|any|new)\b)[\w'\u2019-]+\s+)?$",
    re.IGNORECASE,
)
# A kind the shopper owns is context where the wanted thing goes with it: "to throw over my
# tank", "to go with my shorts", "fits in my bag". "A lid for my bike" is for the bike (its
# kind stays), "he keeps stealing my hoodies" wants hoodies.
BESIDE_OWNED = re.compile(
    r"\b(?:over|under|underneath|beneath|with|on|onto|in|into|inside|to|from|around|behind)\s+$",
    re.IGNORECASE,
)
# A kind the wanted thing is worn over or under, owned or not: "to throw on over a tee", "to
# wear under a shell".
WORN_WITH = re.compile(
    r"\b(?:over|under|underneath|beneath)\s+(?:a|an|the|any|your)\s+(?:[\w'\u2019-]+\s+)?$",
    re.IGNORECASE,
)
# An owned thing worn out or replaced is what the shopper wants again: "my old bottoms get
# soaked", "my current bag is falling apart", "my pack ripped".
WORN_OUT = re.compile(
    r"\b(?:old|current|last|replace\w*|ripped|torn|tore|broke|broken|busted|died|dead|snapped"
    r"|wore\s+out|worn\s+out|worn|falling\s+apart|fell\s+apart|had\s+it|gave\s+up|leaks?)\b",
    re.IGNORECASE,
)
# "for my kids", "my kids need": the owner's people are who the thing is for.
FOR_THEM = re.compile(r"\bfor\s+$", re.IGNORECASE)
NEEDING = re.compile(r"^\s*(?:\w+\s+)?(?:need|needs|want|wants)\b", re.IGNORECASE)
# Readings of "do you sell X?" / "need an X": a search, or a question or cart wish about X.
ASKS_FOR_A_THING = FRESH_SEARCH | {"refine_search", "add_to_cart"} | {
    "check_availability", "product_details",
}  # fmt: skip
# Readings a statement of something unwanted ("ideally not wool, it makes me itch") is often
# given because of its pronoun: with a list on screen, it narrows the list.
NOT_A_WISH = {OUT_OF_SCOPE, "product_details", "product_reviews", "check_availability"}
ITEM_QUESTIONS = {"check_availability", "product_details", "product_reviews"}
# Readings of "the 2nd one in M" that a size the item comes in turns into a choice.
CHOOSABLE = ITEM_QUESTIONS | {"affirm", "refine_search", "find_similar"}
# The actions of a reply about one item ("what's it made of?" answered), after which a bare
# size and colour choose that item.
ANSWERED_ABOUT_AN_ITEM = frozenset({"details", "answer", "answer_not_stated", "reviews"})
CONTINUABLE = {"add_to_cart", "remove_from_cart", "product_details", "product_reviews"}
# "no, it's a hoodie" right after a photo search says what the photo shows: same photo, that kind
# (the kind must follow these words; "that's nice, now show me tents" is a new topic).
PHOTO_CORRECTION = re.compile(
    r"^\W*(?:(?:no|nope|nah|actually)\b\W*)?"
    r"(?:it['\u2019]?s|it\s+is|that['\u2019]?s|that\s+is|this\s+is|they['\u2019]?re|they\s+are|those\s+are|"
    r"these\s+are)\s+(?:(?:a|an|some|more\s+like|like|one\s+of\s+those)\s+)?",
    re.IGNORECASE,
)
CONTINUATION = re.compile(r"^\s*(?:and|also|plus|same for)\b|\b(?:too|as well)\W*$", re.IGNORECASE)
# Intents that a message naming catalog things (a product type, colour, material, brand, a
# price) is not, unless its words say so: "red shorts" is no greeting, "wool sweater" no cart
# request, "hi, I need a rain jacket" a request. Each keeps its reading only with its cue.
GROUNDED_OVERRIDABLE = {
    "greet": None,
    "goodbye": None,
    "affirm": None,
    "deny": None,
    "out_of_scope": None,
    "complete_the_look": re.compile(
        r"\b(?:go(?:es)? with|match\w*|outfit|pair\w*|wear with)\b", re.I
    ),
    # "can you help me find a rain jacket?" names what it wants: a search.
    "ask_capabilities": None,
    "human_handoff": re.compile(
        r"\b(?:human|agent|(?:a|real|actual|live)\s+person|someone|representative|staff)\b", re.I
    ),
    "store_policy": re.compile(
        r"\b(?:return\w*|refund\w*|exchange\w*|ship\w*|deliver\w*|warrant\w*|polic\w*)\b", re.I
    ),
    "order_status": re.compile(
        r"\b(?:my order|order status|package|parcel|tracking|track\s+(?:my|the|an?|it|order))\b",
        re.I,
    ),
    "view_cart": re.compile(r"\b(?:cart|basket)\b", re.I),
    "checkout": re.compile(r"\b(?:check\s*out|pay|purchase|cart|basket)\b", re.I),
    "remove_from_cart": re.compile(r"\b(?:remove|delete|take\b.*\bout|drop|cart|basket)\b", re.I),
    # With nothing on screen to add, "a bag I can carry my laptop in" names a kind to find.
    "add_to_cart": re.compile(r"\b(?:add|buy|purchase|cart|basket)\b", re.I),
}
# Intents that act on items on screen or in the cart; with none there and none pointed at, a
# message naming catalog things is a search whatever its cue word ("I would like to buy a
# laptop bag", "luggage that's TSA approved?", "trekking poles, just not the carbon ones": with
# nothing on screen there is nothing to compare).
NEEDS_ITEMS = {"add_to_cart", "remove_from_cart", "compare_products"} | ITEM_QUESTIONS
# "anything cheaper?", "cheaper ones", "cheaper than the first": a request for a new list, not
# a question comparing the shown items ("which one is cheaper?").
CHEAPER_REQUEST = re.compile(
    r"\b(?:anything|something|any|show|got|have|find|see|want|need)\b[^?]*?"
    r"\b(?:cheaper|less expensive|more affordable)\b"
    r"|(?<!\bthe )\b(?:cheaper|less expensive)\s+"
    r"(?:ones?|options?|than|alternatives?|stuff|items?)\b",
    re.I,
)
# "do any of these come in green?", "which of those are under $30?": a filter on the list.
# "which is the cheapest?", "and the priciest?", "which of those is the priciest": with a list on
# screen, that list sorted so the answer comes first (the message names nothing else).
PRICE_SUPERLATIVE = re.compile(
    r"^\W*(?:(?:and|so|ok|okay|hmm|what about|how about)\W+)*"
    r"(?:which(?:\s+one|\s+of\s+(?:them|these|those))?(?:\s+is|'s|\s+are)?\s+"
    r"|what(?:'s|\s+is)\s+)?(?:the\s+)?"
    r"(?:(?P<cheap>cheapest|least expensive|lowest[- ]priced|most affordable|cheaper|"
    r"less expensive|(?:easiest|kindest|gentlest)\s+on\s+the\s+(?:wallet|pocket|budget))|"
    r"priciest|most expensive|dearest|costliest|highest[- ]priced|pricier|more expensive)"
    r"(?:\s+(?:one|ones|option|of (?:them|these|those|all)|here))?\W*"
    # "which is cheaper? show me that one first"
    r"(?:(?:show|put|list)\s+(?:me\s+)?(?:that|it|this)(?:\s+one)?\s+first\W*)?$",
    re.IGNORECASE,
)
# A message asking about a product rather than giving an order: a question mark, or a
# question's opening words (after a greeting).
QUESTION_FORM = re.compile(
    r"\?|^\W*(?:(?:hi|hello|hey|hiya|g'?day|yo)\b\W*(?:\w+\W+)?)?(?:is|are|does|do|did|can|"
    r"could|will|would|should|has(?!\s+to\b)|have(?!\s+to\b)|how|how'?s|hows|what|what'?s|whats|why|why'?s|whys|any|"
    r"reckon|tell)\b"
    # "kratos pants - do they run large": the question after the thing it is about
    r"|\s[-\u2013\u2014:]\s*(?:is|are|does|do|did|can|will|would|has|have|how|what)\b",
    re.IGNORECASE,
)
# ... but not one for other products: "do you have something warmer?", "any alternatives?".
OTHER_PRODUCTS = re.compile(
    r"\b(?:something|anything|another|alternatives?|instead|similar|recommend|suggest)\b"
    r"|\bdo\s+you\s+(?:have|sell|carry|stock)\b|\bshow\s+me\b|(?<!which\s)\bones\b",
    re.IGNORECASE,
)


def _right_before(words: str) -> re.Pattern[str]:
    """One of `words` at the end of the text searched, or one word before its end: searched
    up to a kind's start, it says the kind comes right after ("these yoga trousers")."""
    return re.compile(rf"\b(?:{words})\s+(?:[\w-]+\s+)?$", re.IGNORECASE)


# "these yoga trousers", "this jacket": the product in focus by its kind.
POINTED_AT = _right_before("this|these|that|those")
# "similar jackets that come in XL", "other black tanks": products besides those on screen (not
# "what do other people think of this tank").
OTHERS = _right_before("similar|other|alternative")
# "does it have a water bottle pocket?": asked of the item itself, so a kind it names is a part
# of it ("water bottle"), not another product to search for.
OF_THE_ITEM = re.compile(
    r"\b(?:does|do|is|are|has|have|can|will|would)\s+(?:it|this|these|they|that|those)\b",
    re.IGNORECASE,
)
# "add to bag", "put it in my basket": the shopper's cart, by any of its names.
# Any word for the cart ("show me the second" names none, so it looks at an item).
NAMES_THE_CART = re.compile(rf"\b{CART_WORDS}\b", re.IGNORECASE)
THE_CART = re.compile(
    rf"\b(?:to|into|in|from)\s+(?:my\s+|the\s+|your\s+|ur\s+)?{CART_WORDS}\b", re.IGNORECASE
)
# What a complete-the-look request says: "what goes with it?", "does it match", "an outfit".
GOES_WITH = re.compile(
    r"\bgo(?:es)?\s+with\b|\bmatch\w*|\bpair\w*\s+with\b|\bwear\s+(?:it\s+|them\s+)?with\b"
    r"|\boutfit\b|\blook\b|\bstyle\s+it\b",
    re.IGNORECASE,
)
# Intents a question about the product in focus is often mistaken for (the classifier learnt
# searches, not product questions): read in context as a product question.
PRODUCT_QUESTION_FROM = {
    OUT_OF_SCOPE, "search_products", "refine_search", "remove_filter", "browse_category",
    "get_recommendation", "greet", "ask_capabilities", "product_details", "product_reviews",
}  # fmt: skip
# "which of these", "any of those", "do any of them": the list on screen, pointed at.
THE_LIST = re.compile(r"\b(?:of\s+)?(?:these|those|them|em)\b", re.IGNORECASE)
# A question for a product's own fields: "what brand is the black one?", "can I get the price and
# sizes?", "how much for those two?", "who makes it?". With items on screen it asks about them,
# whatever the classifier made of the rest ("can I get..." is no cart request, "price" no filter).
_ITEM_FIELD = r"prices?|costs?|brands?|makers?|sizes?|sizing|materials?|fabrics?"
_REVIEW_FIELD = r"ratings?|reviews?"
_ASKED_FIELD = f"(?:{_ITEM_FIELD}|{_REVIEW_FIELD})"
FIELD_QUESTION = re.compile(
    r"\bhow\s+much\s+(?:is|are|was|were|for|does|do|would|did)\b|\bwho\s+(?:makes?|made)\b"
    r"|\bmade\s+(?:of|from|by)\b|\bwhat\s+(?:is|are)\s+(?:it|they|this|that|these|those)\s+made\b"
    rf"|\b(?:what|what's|whats|which)\b(?:\s+(?:is|are|was|were))?(?:\s+the)?\s+{_ASKED_FIELD}\b"
    rf"|\b(?:tell|give|get|have|know|share|check|see)\s+(?:me\s+|us\s+)?"
    rf"(?:the|its|their|about\s+the)\s+(?:\w+\s+){{0,2}}?{_ASKED_FIELD}\b",
    re.IGNORECASE,
)
REVIEW_FIELDS = re.compile(rf"\b(?:{_REVIEW_FIELD}|rated|stars?)\b", re.IGNORECASE)
OTHER_FIELDS = re.compile(rf"\b(?:{_ITEM_FIELD}|how\s+much|makes?|made)\b", re.IGNORECASE)
# "what else do you have?", "any other suggestions?", "something else": more of the list.
MORE_OPTIONS = re.compile(
    r"\b(?:what|anything|something|any)\s+else\b|\bany\s*(?:thing\s+)?other\b|\bother\s+"
    r"(?:options?|ones?|suggestions?|recommendations?|choices?|items?)\b|\bmore\s+(?:options?|"
    r"suggestions?|recommendations?|choices?)\b",
    re.IGNORECASE,
)
# A field question read otherwise stays what the classifier said only for these intents.
FIELD_QUESTION_INTENTS = ITEM_QUESTIONS | {"compare_products", "sort_results"}
# "are they polarized?": a pronoun for the item on screen.
PRONOUN = re.compile(r"\b(?:it|they|this|that|these|those|them|its|their)\b", re.IGNORECASE)
# Entity types that filter a shown list or ground a search, with every filter attribute.
LIST_FILTER_TYPES = ("color", "size", "brand", "gender", "label", FEATURE)
GROUNDING_TYPES = ("title", "category", "color", "brand", "gender", "label", FEATURE)
RATING_FILTER = re.compile(
    r"\b[1-5](?:\.\d)?\s*(?:\+|stars?\s+(?:or|and)\s+(?:more|up|above|better))", re.IGNORECASE
)
# Characters that carry no words for the NLU (trained on plain text): control and format
# characters (NUL, bidi overrides, zero-width joiners), lone surrogates, private-use and
# unassigned code points, enclosing marks and variation selectors.
WORDLESS_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Me"})
# Symbols from the arrows block up: emoji, dingbats, pictographs (not ™, ®, ° or currency).
FIRST_PICTOGRAPH = 0x2190


@dataclass(frozen=True, slots=True)
class DecidedTurn:
    """A turn read by another NLU (its intent and entities) and tracked, ready for `act`."""

    parse: Parse
    result: TrackResult


class DialogueModel:
    """Understands a shopper's message in the context of the conversation and answers it.

    `respond(state, text, image)`: the NLU (`NluModel`: a calibrated intent classifier and the
    catalog's phrase table for slots) reads the message alone; `_in_context` rereads it against
    the state (an answer to the assistant's own question, a question about the product on
    screen, a refinement of the shown list); the catalog gets a say where the classifier has
    none (`_shopping_need`: a need in the shopper's words is a search; `_uncarried`: a thing no
    product mentions is not carried); `track` updates the `DialogueState` (constraints, shown
    list, focus, cart); `Policy.act` decides and does the reply (search, answer from the
    product's text, compare, cart), talking to the store only through `CatalogPort`; an optional
    LLM rewrites the wording, checked against the facts. A failing turn restores the state."""

    def __init__(
        self,
        nlu: NluModel,
        policy: Policy,
        templates: Templates,
        rewriter: Rewriter | None = None,
        uncarried: UncarriedThings | None = None,
        closeness: Callable[[str], float] | None = None,
        need_closeness: float = 1.0,
        nearest_kinds: Callable[[str, int], dict[str, int]] | None = None,
    ) -> None:
        """`closeness` is the catalog's `CatalogPort.closeness`: an off-topic reading of words
        that come at least `need_closeness` close to a product's text is searched instead.
        `nearest_kinds` is `CatalogPort.nearest_kinds`: a kind a long story names in passing
        that the story as a whole does not point at is a wish, not a filter."""
        self.nlu = nlu
        self.uncarried = uncarried
        self.closeness = closeness
        self.need_closeness = need_closeness
        self.nearest_kinds = nearest_kinds
        self.policy = policy
        self.templates = templates
        self.rewriter = rewriter

    @classmethod
    def load(
        cls,
        prompts_dir: Path,
        catalog: CatalogPort,
        embedder: Embedder,
        embedder_name: str,
        cache_dir: Path,
        *,
        force_train: bool = False,
        complete: Complete | None = None,
        dictionary: frozenset[str] = frozenset(),
        orders: OrderPort | None = None,
    ) -> tuple[DialogueModel, TrainingReport]:
        """Read every prompt file, train (or load) the NLU, wire the policy. `dictionary`:
        the language's real words (the text encoder's vocabulary), kept from spelling
        correction; `orders`: the store's order lookup, if it has one."""
        settings = DialogueSettings.load(prompts_dir / DIALOGUE_FILE)
        templates = Templates(prompts_dir / RESPONSES_FILE)
        store_policy = StorePolicy(prompts_dir / POLICY_FILE)
        vocabulary = catalog.vocabulary()
        nlu, report = NluModel.build(
            prompts_dir / NLU_FILE,
            embedder,
            embedder_name,
            vocabulary,
            cache_dir,
            settings.classifier,
            settings.clarify_share,
            force=force_train,
            kinds=catalog.kinds(),
            names=catalog.product_names(),
            attributes=catalog.attributes(),
            dictionary=dictionary,
        )
        rewriter = None
        if settings.llm.enabled or complete is not None:
            prompts = LlmPrompts.load(prompts_dir / LLM_PROMPTS_FILE)
            facets = (*GUARDED_FACETS, *catalog.attributes())
            guarded = [v for facet in facets for v in vocabulary.get(facet, [])]
            rewriter = Rewriter(
                complete or langchain_completion(settings.llm), prompts, GroundingCheck(guarded)
            )
        answerer = ProductAnswerer(embedder, settings.answers)
        policy = Policy(catalog, templates, store_policy, settings.policy, orders, answerer)
        terms = {w for phrase in nlu.extractor.table for w in phrase.split()}
        # Shopping words of the examples ("gift", "something"); an off-topic example's words
        # ("do I need an umbrella today") say nothing about what the store sells.
        shopping = {
            token.lower()
            for example in nlu.data.examples
            if example.intent != OUT_OF_SCOPE
            for token in TOKEN.findall(example.text)
        }
        uncarried = UncarriedThings(catalog.mentions, terms, shopping | STOP_WORDS, dictionary)
        model = cls(
            nlu,
            policy,
            templates,
            rewriter,
            uncarried,
            catalog.closeness,
            settings.need_closeness,
            catalog.nearest_kinds,
        )
        return model, report

    def read_entities(self, text: str) -> Extraction:
        """The catalog's slots in a text as the NLU reads them, without an intent."""
        return self.nlu.extractor.extract(text)

    def track_decided(
        self, state: DialogueState, text: str, intent: str, extraction: Extraction
    ) -> DecidedTurn:
        """Another NLU's reading of a turn (the Rasa server's intent and entities) applied to
        the state as our own reading would be; `act` then answers it. In between, a caller
        may refuse the turn (a product it points at has left the catalog)."""
        prediction = IntentPrediction(intent, 1.0, ((intent, 1.0),), 1.0)
        parse = Parse(text, intent, 1.0, prediction, extraction)
        return DecidedTurn(parse, track(state, intent, text, extraction))

    def act(self, state: DialogueState, turn: DecidedTurn) -> DialogueReply:
        """The reply to a tracked turn: search, answer, compare or change the cart."""
        return self.policy.act(state, turn.parse, turn.result)

    def respond(
        self, state: DialogueState, text: str | bytes | None = None, image: Any = None
    ) -> DialogueReply:
        raw = _as_text(text).strip()
        if len(raw) > MAX_MESSAGE_CHARS:
            return self._notice(state, raw[:80], "too_long")
        message = read_message(raw)
        if not message and image is None:
            return self._notice(state, "", "clarify_vague")
        snapshot = copy.deepcopy(state)
        try:
            reply = self._turn(state, message, image)
        except Exception:
            log.exception("turn failed; the session state is kept")
            _restore(state, snapshot)
            return self._notice(state, message, "error")
        state.history.append(Turn(message, reply.intent, reply.action, reply.text))
        del state.history[:-HISTORY_TURNS]
        return reply

    def _turn(self, state: DialogueState, message: str, image: Any) -> DialogueReply:
        two = self._add_then_find(state, message) if image is None else None
        if two is not None:
            # "add it. and show me headlamps": the item goes in the cart, then the search
            added = self._turn(state, two[0], None)
            if added.action != "add_to_cart":
                return added  # "which size?" first: the search can wait for the answer
            state.history.append(
                Turn(two[0], added.intent, added.action, added.text, first_part=True)
            )
            found = self._turn(state, two[1], None)
            return replace(found, text=f"{added.text}\n{found.text}")
        parse = self.nlu.parse(message) if message else None
        if image is not None:
            state.image = image
            parse = self._forced(parse, message, "search_by_image")
        elif parse is not None and parse.intent == "search_by_image" and state.image is None:
            # "could I see your ice axes?" with no photo sent, now or before: words to search
            parse = self._forced(parse, message, "search_products")
        assert parse is not None
        parse = self._in_context(state, parse)
        parse = self._shopping_need(parse)  # before: a need read as a request may lack a kind
        parse = self._owned_things(parse)
        parse = self._kinds_in_passing(parse)
        parse = self._uncarried(state, parse)
        photo = image if image is not None else self._named_photo(state, parse)
        result = track(state, parse.intent, message, parse.extraction)
        if photo is not None:
            state.image = photo  # track() starts a new topic for a photo; keep the photo
        elif parse.intent != "search_by_image" and result.new_topic:
            state.image = None
        reply = self.policy.act(state, parse, result)
        if not parse.ambiguous:
            state.offered_intents = []
        if self.rewriter is not None and reply.facts:
            text, verdict = self.rewriter.rewrite(message, reply.text, reply.facts)
            reply.text, reply.rewritten = text, verdict.ok
        return reply

    def _add_then_find(self, state: DialogueState, message: str) -> tuple[str, str] | None:
        """(the cart request, the search) when one message does both: "I'll take the first.
        also need a chalk bag", "add it and show me headlamps". The first part must read as
        adding an item on screen and name no kind; the second must name a kind to find."""
        if not state.shown:
            return None
        for joint in THEN_ALSO.finditer(message):
            first, rest = message[: joint.start()].strip(), message[joint.end() :].strip()
            if not first or not rest:
                continue
            # the slots first (no model): most messages with an "and" name no second kind
            entities = self.read_entities(rest).entities
            kinds = [e for e in entities if e.type == "category" and e.known]
            if not kinds or any(e.negated for e in kinds):
                continue
            before = self._in_context(copy.deepcopy(state), self.nlu.parse(first))
            if before.intent != "add_to_cart" or before.extraction.values("category"):
                continue
            if self.nlu.parse(rest).intent in CART_INTENTS:
                continue
            return first, rest
        return None

    @staticmethod
    def _named_photo(state: DialogueState, parse: Parse) -> Any:
        """The photo of the turn before when this message says what it shows ("no, it's a
        hoodie"): searched again as that kind, instead of dropped with the old topic."""
        last = state.history[-1] if state.history else None
        said = PHOTO_CORRECTION.match(parse.text)
        if state.image is None or last is None or last.intent != "search_by_image" or not said:
            return None
        kind_next = any(
            e.type == "category" and e.known and not e.negated and e.start <= said.end() + 1
            for e in parse.extraction.entities
        )
        return state.image if kind_next else None

    def _in_context(self, state: DialogueState, parse: Parse) -> Parse:
        """Answers to the assistant's own questions: a size for a pending add, "yes" to a
        clarifying question."""
        ext = parse.extraction
        if state.pending_order and order_number(parse.text) is not None:
            return self._forced(parse, parse.text, "order_status")  # "it's 104233"
        negates = any(e.negated for e in ext.entities) or any(r.negated for r in ext.references)
        if parse.intent == "deny" and negates and (state.shown or state.constraints.active()):
            return self._forced(parse, parse.text, "refine_search")  # "no raptor elite"
        named = any(e.type == "title" and not e.negated for e in ext.entities) or ext.references
        if named and CHOOSING.search(parse.text) and parse.intent not in CART_INTENTS:
            return self._forced(parse, parse.text, "add_to_cart")  # "I'll go with the Strike"
        if named and state.cart and SWAP.search(parse.text) and parse.intent != "add_to_cart":
            return self._forced(parse, parse.text, "add_to_cart")  # "swap it for the other one"
        if state.cart and ANOTHER_OF_IT.search(parse.text) and parse.intent not in CART_INTENTS:
            return self._forced(parse, parse.text, "add_to_cart")
        if parse.intent not in CART_INTENTS and self._orders_it(state, parse):
            return self._forced(parse, parse.text, "add_to_cart")  # "add M purple"
        rejected = any(r.negated for r in ext.references)
        pointing_at = any(r.kind != "focus" and not r.negated for r in ext.references)
        if rejected and state.shown and not pointing_at and parse.intent not in CART_INTENTS:
            # "not that one, what else?", "nah not that one, something more freestyle": the
            # list without it, however the rest was read.
            return self._forced(parse, parse.text, "refine_search")
        unwanted = any(e.negated and _filters(e) for e in ext.entities)
        if unwanted and state.shown and "?" not in parse.text and parse.intent in NOT_A_WISH:
            return self._forced(parse, parse.text, "refine_search")  # "ideally not wool, it itches"
        if self._takes_back(state, parse):
            return self._forced(parse, parse.text, "remove_from_cart")
        lets_go = REMOVAL.search(parse.text) or RELEASE.search(parse.text)
        refused = any(e.negated and e.known for e in ext.entities) or bool(ext.refused)
        removing = (
            parse.intent == "remove_filter"
            or (parse.intent == "remove_from_cart" and not state.cart)
            # "anything but analog" points at no item to find others like
            or (parse.intent == "find_similar" and not pointing_at)
        )
        if refused and state.shown and removing and not lets_go:
            # "no capris please, I want full length", "not a backpack, they hurt my shoulders":
            # a refusal narrows the list; it removes no filter and nothing from an empty cart
            return self._forced(parse, parse.text, "refine_search")
        superlative = PRICE_SUPERLATIVE.match(parse.text)
        if superlative and state.shown:
            ext.sort = "price_asc" if superlative["cheap"] else "price_desc"
            ext.references = []
            return self._forced(parse, parse.text, "sort_results")
        pointing = [r for r in ext.references if r.kind != "focus" and not r.negated]
        # "all the backpacks again", "the other duffels": a kind named, no one item
        at_one = [r for r in pointing if r.kind not in ("category", "other")]
        cart_named = NAMES_THE_CART.search(parse.text)
        # the cart intents too, when the message neither names the cart nor opens with an order
        ordered = cart_named or PUT_IN.search(parse.text)
        loosely_cart = parse.intent in CART_INTENTS and not ordered
        wish = any(not e.negated and _filters(e) for e in ext.entities)
        # (the item something is to be like is pointed at however it is named)
        pointed = pointing if parse.intent == "find_similar" else at_one
        if (
            ext.sort
            and state.shown
            and not pointed
            and (parse.intent in ITEM_QUESTIONS | SORTABLE or loosely_cart)
            and ext.price is None
        ):
            # "blue, size large, priciest first, I want it to feel special": an order for the
            # list, whatever "it" made the classifier think ("start me off with the least
            # expensive" narrows nothing: the list as it is, in that order)
            return self._forced(parse, parse.text, "refine_search" if wish else "sort_results")
        if parse.intent == OUT_OF_SCOPE and pointing and state.shown:
            return self._forced(parse, parse.text, "product_details")  # "what about #9"
        if (
            parse.intent == "check_availability"
            and WHICH_OPTIONS.search(parse.text)
            and not (ext.values("size") or ext.values("color"))
        ):
            # "what sizes does the black coat come in?" asks for the list (a detail of it);
            # "does it come in L?" whether one exists
            return self._forced(parse, parse.text, "product_details")
        if (
            parse.intent in ("show_more", "complete_the_look")
            and at_one
            and state.shown
            and QUESTION_FORM.match(parse.text)
            and not GOES_WITH.search(parse.text)
        ):
            # "what's the top one got that the others haven't": a question about that one
            return self._forced(parse, parse.text, "product_details")
        looked_at = parse.intent == "view_cart" or SHOW_ME.match(parse.text) is not None
        if looked_at and parse.intent in CART_INTENTS and at_one and state.shown and not cart_named:
            return self._forced(parse, parse.text, "product_details")  # "show me the second"
        nothing_pointed = (
            not pointing
            and state.focus is None
            and not state.single_match
            and not LIKE_THAT_ONE.search(parse.text)
        )
        if parse.intent == "find_similar" and state.shown and nothing_pointed and wish:
            # "same sort of thing but in blue" with no one item in view: the list, changed
            return self._forced(parse, parse.text, "refine_search")
        in_focus = state.focus is not None or (state.shown and state.single_match)
        about_it = bool(ext.references) or PRONOUN.search(parse.text) is not None
        asked = "?" in parse.text or QUESTION_FORM.search(parse.text) is not None
        if parse.intent == OUT_OF_SCOPE and about_it and in_focus and asked:
            # "is it warm enough for winter?", "are they polarized?": a question about the
            # item on screen, however unlike our examples it is worded.
            return self._forced(parse, parse.text, "product_details")
        # a price question the classifier took for the store's rules: none of their words
        not_a_policy = parse.intent == "store_policy" and not (
            GROUNDED_OVERRIDABLE["store_policy"].search(parse.text)
        )
        if (
            (parse.intent == OUT_OF_SCOPE or not_a_policy)
            and asked
            and state.shown
            and IT.search(parse.text)
            and PRICE_TALK.search(parse.text)
            and not CHEAPER_REQUEST.search(parse.text)
        ):
            # "why's it so expensive lol" right after a list: a question about the price of
            # its top (the reply names it); "will it rain in Paris tomorrow?" stays outside
            return self._forced(parse, parse.text, "product_details")
        if parse.intent == OUT_OF_SCOPE and not asked and self._describes_the_shown(state, ext):
            # "needs to have maps preloaded": words the shown products' own text uses, a wish
            # for the list however unlike our examples it is worded
            return self._forced(parse, parse.text, "refine_search")
        if parse.intent == "check_availability" and SOMETHING_LIKE.search(parse.text):
            # "have you got anything like the blue jeans but in XL?": other products like it,
            # not whether that one comes in XL
            return self._forced(parse, parse.text, "find_similar")
        if parse.intent == "complete_the_look" and THEIR_OWN_THINGS.search(parse.text):
            # "which blouse would go with my wardrobe?": a pick among blouses for the shopper's
            # own clothes, not things to wear with one of ours
            return self._forced(parse, parse.text, "get_recommendation")
        other_kind_items = any(
            e.type == "category" and e.known and OTHERS.search(parse.text, 0, e.start)
            for e in ext.entities
        )
        if parse.intent in ITEM_QUESTIONS and state.shown and other_kind_items:
            # "ugh ok, similar jackets that come in XL then": other products, not a question
            # about the one on screen
            return self._forced(parse, parse.text, "find_similar")
        wished = any(not e.negated and _filters(e) for e in ext.entities)
        listed = state.shown and state.focus is None and not state.single_match
        if wished and listed and IF_YOU_HAVE.search(parse.text):
            # "purple if you have it" over a list: a wish for the list, not a stock question
            # about its top
            return self._forced(parse, parse.text, "refine_search")
        if self._product_question(state, parse):
            # "does it have pockets?", "what do people think of it?"
            return self._forced(parse, parse.text, _item_question(parse.text))
        if RESET.search(parse.text) and not ext.values("category", known=True):
            return self._forced(parse, parse.text, "search_products")  # "start over": ask anew
        contextual = self._contextual_intent(state, parse)
        if contextual:
            return self._forced(parse, parse.text, contextual)
        if state.pending_add is not None:
            if parse.intent == "deny":
                state.pending_add = None
            elif (
                # "lavender" alone is the answer, whatever the classifier made of one word
                (
                    parse.intent not in NOT_ANSWERS
                    or not _without_catalog_words(parse.text, ext).strip(" .!,")
                )
                and (ext.values("size") or ext.values("color"))
                and not ext.values("category")
                and ext.price is None
            ):
                return self._forced(parse, parse.text, "add_to_cart")
            elif parse.intent != "add_to_cart":
                state.pending_add = None
        if state.offered_intents and parse.intent == "affirm" and state.history:
            previous = self.nlu.parse(state.history[-1].user)
            return self._forced(previous, previous.text, state.offered_intents[0])
        if state.offered_intents and ext.references and ext.references[0].kind == "ordinal":
            position = ext.references[0].positions[0]
            if 1 <= position <= len(state.offered_intents) and state.history:
                previous = self.nlu.parse(state.history[-1].user)
                return self._forced(previous, previous.text, state.offered_intents[position - 1])
        bare_wish = wished and "?" not in parse.text and not state.pending_add
        if bare_wish and state.shown and parse.intent == OUT_OF_SCOPE:
            return self._forced(parse, parse.text, "refine_search")  # "also in L"
        return parse

    def _orders_it(self, state: DialogueState, parse: Parse) -> bool:
        """An order for the item on screen rather than a wish for the list: a cart verb
        opening the message ("add M purple"), or a number of them in a size or colour ("2 of
        those in medium"); not a question, a price, a sort, a filter change or another kind."""
        ext, text = parse.extraction, parse.text
        if not (state.shown or state.focus) or QUESTION_FORM.search(text):
            return False
        if ext.price is not None or ext.sort or FILTER_TALK.search(text):
            return False
        if self._another_kind(state, ext) or RESET.search(text):
            return False
        if PUT_IN.search(text):
            return True
        variant = bool(ext.values("size", known=True) or ext.values("color", known=True))
        return variant and SOME_OF_THOSE.search(text) is not None

    def _describes_the_shown(self, state: DialogueState, ext: Extraction) -> bool:
        """The content words of the message (two at least; all but one of three or more,
        "needs to have maps preloaded") are in the text of the shown products: the shopper
        describes what they want of the list in the list's own words."""
        words = {w for w in ext.content_words if len(w) > 2 and not w.isdigit()}
        if len(words) < 2 or not state.shown:
            return False
        found: set[str] = set()
        for card in state.shown:
            text = self.policy.catalog.product_text(card.id)
            if text is None:
                continue
            said = " ".join([text.title, *text.description]).lower()
            found |= {w for w in words if re.search(rf"\b{re.escape(w)}", said)}
        return len(found) >= max(2, len(words) - (len(words) >= 3))

    def _takes_back(self, state: DialogueState, parse: Parse) -> bool:
        """An item in the cart going back out ("ok take the endeavor out for now", "remove
        it, I'll wait for a sale", "take the first ones back out"): a removal word about the
        item in focus, a shown item or a cart line named by its title, and no filter named."""
        text, ext = parse.text, parse.extraction
        if not state.cart or parse.intent == "remove_from_cart" or not TAKE_BACK.search(text):
            return False
        if FILTER_TALK.search(text) or GROUNDED_OVERRIDABLE["store_policy"].search(text):
            return False  # "remove the price limit", "can I take it back if it doesn't fit?"
        if any(e.known and e.type != "title" and _filters(e) for e in ext.entities):
            return False  # "drop the black": a colour filter goes
        in_cart = {line.product_id for line in state.cart}
        titles = " ".join(line.title.lower() for line in state.cart)
        named = any(e.type == "title" and e.value in titles for e in ext.entities)
        pointed = any(not r.negated for r in ext.references)
        about_it = PRONOUN.search(text) is not None and (
            state.focus in in_cart or len(in_cart) == 1
        )
        return named or pointed or about_it

    def _product_question(self, state: DialogueState, parse: Parse) -> bool:
        """A question about the product in focus, or across the shown list, that its text
        may answer ("is this good for rain?", "zippers hold up?", "which of these are
        waterproof?"), however the classifier read it. Not when it sets a price, colour, size,
        gender or brand, names another kind, or asks for other products."""
        ext, text = parse.extraction, parse.text
        fit = FIT_WITH_OWN_SIZE.search(text) is not None  # "come up big?" is no stock question
        # "will the Lando be tight round the arms?", "would the Juno do for skiing?": the
        # product in focus asked about by its name, whatever the classifier made of it
        by_name = parse.intent != "check_availability" and _names_the_focus(state, parse)
        readable = (
            by_name
            or parse.intent in PRODUCT_QUESTION_FROM
            or (fit and parse.intent == "check_availability")
            # "removable pads?" with nothing in the cart removes nothing
            or (parse.intent == "remove_from_cart" and not state.cart)
            # "real leather or faux?" with one product on screen has nothing to compare it to
            or (parse.intent == "compare_products" and len(state.shown) == 1)
            # "is this one long enough?" asks about it, not what goes with it
            or (
                parse.intent == "complete_the_look"
                and OF_THE_ITEM.search(text) is not None
                and not GOES_WITH.search(text)
            )
        )
        if self.policy.answerer is None or not readable:
            return False
        if state.pending_add or state.offered_intents or not QUESTION_FORM.search(text):
            return False
        if COMPARE_CUE.search(text) and (ext.values("title") or _ordinals(ext)):
            return False  # "how does it stack up against the Strike / the second?": the two
        across = len(state.shown) > 1 and LIST_QUESTION.search(text) is not None
        if not (across or state.focus is not None or (state.shown and state.single_match)):
            return False
        if ext.price is not None or ext.sort or OTHER_PRODUCTS.search(text):
            return False
        if MORE_OPTIONS.search(text) or CHEAPER_REQUEST.search(text) or RESET.search(text):
            return False
        # "does it come up big? I'm normally a medium": the size is the shopper's own, and so
        # is "I'm a big bloke" beside the product's name.
        own_words = (*(() if fit else ("size",)), *(() if by_name else ("gender",)))
        setting = ("color", "brand", "label", *own_words)
        if any(e.known and e.type in setting for e in ext.entities):
            return False
        if across and any(e.known and is_attribute(e.type) for e in ext.entities):
            return False  # "any striped?", "which are cotton?": the catalog's value filters
        if by_name or ext.values("title") or OF_THE_ITEM.search(text) is not None:
            return True  # "can I iron the Typhon if it gets creased in my bag?"
        # "ok for cycling?" asks what the product is for; "is the shoulder strap sturdy?"
        # names a part its own text mentions: neither asks for another kind.
        used_or_part = not across and (
            USE_QUESTION.search(text) is not None or self._part_of_focus(state, ext)
        )
        if used_or_part:
            return True
        if self._another_kind(state, ext):
            return False  # "any snowboard boots?" with goggles on screen asks for boots
        shown_kinds = {c.lower() for card in state.shown for c in card.categories}
        return {c.lower() for c in ext.values("category", known=True)} <= shown_kinds

    def _another_kind(self, state: DialogueState, ext: Extraction) -> bool:
        """The message names a kind of product by a noun no shown title carries and that is
        no part of the product in focus: a coarse category shared with the screen ("Ski/
        boarding" for goggles and boots) does not make it a question about them."""
        said = [
            (e.spelt or e.text).lower()
            for e in ext.entities
            if e.type == "category" and e.known and not e.negated
        ]
        if not said:
            return False
        titles = [card.title.lower() for card in state.shown]
        return not any(_singular(kind.split()[-1]) in title for kind in said for title in titles)

    def _part_of_focus(self, state: DialogueState, ext: Extraction) -> bool:
        focus = state.focus or (state.shown[0].id if state.shown and state.single_match else None)
        text = self.policy.catalog.product_text(focus) if focus else None
        if text is None:
            return False
        words = " ".join(
            [*text.description, *(v for values in text.attributes.values() for v in values)]
        ).lower()
        said = [e.text.lower() for e in ext.entities if e.type == "category" and e.known]
        return bool(said) and all(re.search(rf"\b{re.escape(w)}", words) for w in said)

    def _contextual_intent(self, state: DialogueState, parse: Parse) -> str | None:
        """Intents that only make sense with something on screen, read in context."""
        ext, intent = parse.extraction, parse.intent
        named = ext.values("title")
        if intent == "compare_products" and len(named) >= 2:
            return None  # "Beaumont vs Typhon, which is warmer?": those two, compared
        if named and COMPARE_CUE.search(parse.text) and (len(named) >= 2 or state.focus):
            return "compare_products"  # "how does it stack up against the Strike?"
        if state.focus and _ordinals(ext) and COMPARE_CUE.search(parse.text):
            return "compare_products"  # "and how does it stack up against the second?"
        categories = set(ext.values("category", known=True))
        filters_said = ext.price is not None or any(
            e.known and not e.negated and e.type in ("color", "size") for e in ext.entities
        )
        if intent == "complete_the_look" and categories and filters_said:
            # "what tops would go with them? black too, I'm a small up top": that kind in that
            # colour and size, which only a search can honour
            return "search_products"
        if (
            intent == "add_to_cart"
            # "and a jacket to go with it": the "it" is what the other thing goes with
            and (not ext.references or GOES_WITH.search(parse.text))
            and not THE_CART.search(parse.text)
            and self._another_kind(state, ext)
        ):
            state.pending_add = None
            return "search_products"  # "also a duffel for weekends away": another thing to find
        if len(state.shown) >= 2 and not categories and weighs_a_quality(parse.text):
            return "compare_products"  # "which is warmer out of those two?"
        nothing_yet = not state.shown and not state.constraints.active()
        if changed_line(state, parse) is not None:
            return "add_to_cart"  # "swap it to M": the variant just added, changed
        if _picks_a_variant(state, parse):
            return "add_to_cart"  # "the first one in L, green pls": that item, in that variant
        grounded = self._grounded_search(state, parse)
        if grounded:
            return grounded
        cart_talk = intent in CART_INTENTS
        if state.shown and not cart_talk and CHEAPER_REQUEST.search(parse.text):
            return "refine_search"  # below the reference price, same kind (the tracker)
        field_question = self._field_question(state, parse)
        if field_question:
            return field_question
        if intent == "ask_capabilities" and state.shown:
            # With items on screen, "what else can you show me?" wants more of them and "can
            # you tell me how they're rated?" asks about them: neither asks what I can do.
            if PRONOUN.search(parse.text):
                return _item_question(parse.text)
            if MORE_OPTIONS.search(parse.text):
                return "show_more"
        # "in 28?" with a list on screen and no item in focus asks about the list.
        unfocused = intent in ITEM_QUESTIONS and not (state.focus or state.single_match)
        if (
            state.shown
            and (LIST_QUESTION.search(parse.text) or (unfocused and not ext.references))
            and (
                ext.price is not None
                or any(
                    (e.known or e.type == FEATURE)
                    and (e.type in LIST_FILTER_TYPES or is_attribute(e.type))
                    for e in ext.entities
                )  # "which of these are reflective?": a feature word, even one we lack
            )
        ):
            if THE_LIST.search(parse.text):
                # "which of these are reflective? I bike in the dark": the kind stays the
                # list's, whatever other kind words the reason gives ("any jackets in blue?"
                # names a kind to search instead).
                ext.entities = [e for e in ext.entities if e.type != "category" or e.negated]
            return "refine_search"  # the shown list, filtered
        if intent in REFINING and nothing_yet and (categories or ext.price is not None):
            return "search_products"  # "women's jackets, cheapest first" as a first message
        pointing = [r for r in ext.references if r.kind != "focus"] if state.shown else []
        if intent in ITEM_QUESTIONS | {"find_similar"} and categories and not pointing:
            # "do you have men's jackets in green?", "is there a watch that does GPS?" (that
            # "that" points at nothing): a kind other than the item in focus is a search.
            focus = next((c for c in state.shown if c.id == state.focus), None)
            other_kind = focus is None or not categories & {c.lower() for c in focus.categories}
            if other_kind and (intent != "find_similar" or not state.shown):
                return "search_products"
        if intent == "product_reviews" and not ext.references and RATING_FILTER.search(parse.text):
            return "refine_search"  # "rated 4 stars or more"
        # the last message's intents: both of "add it. and show me headlamps"
        previous = [t.intent for t in state.history[-1:]]
        previous += [t.intent for t in state.history[-2:-1] if t.first_part]
        continued = next((i for i in previous if i in CONTINUABLE), "")
        if (
            continued
            and ext.references
            and CONTINUATION.search(parse.text)
            and not self._another_kind(state, ext)  # "and a jacket to go with it"
        ):
            return continued  # "and the second in L too" after adding an item
        return None

    @staticmethod
    def _field_question(state: DialogueState, parse: Parse) -> str | None:
        """A question for shown items' own fields (price, brand, sizes, material, rating) is a
        question about them: product_reviews when it asks only for ratings or reviews, else
        product_details. A field given a value ("in size M", "under $40") is a constraint, and
        a kind not on screen is a search, so neither is read here."""
        ext, intent = parse.extraction, parse.intent
        if not state.shown or intent in FIELD_QUESTION_INTENTS:
            return None
        text = parse.text
        if not FIELD_QUESTION.search(text) or LIST_QUESTION.search(text):
            return None  # "which of these have the best reviews?" filters the list
        if GROUNDED_OVERRIDABLE["add_to_cart"].search(text):
            return None
        if ext.price is not None or ext.values("size") or ext.sort:
            return None
        shown_kinds = {c.lower() for card in state.shown for c in card.categories}
        if any(c.lower() not in shown_kinds for c in ext.values("category", known=True)):
            return None
        return _item_question(text)

    def _grounded_search(self, state: DialogueState, parse: Parse) -> str | None:
        """A message that names the catalog's own things is a search (or a refinement of the
        one on screen) unless a cue word says it is what the classifier thought: the
        catalog's vocabulary holds up on phrasings the training examples never had."""
        ext, intent = parse.extraction, parse.intent
        # With nothing on screen, "luggage that's TSA approved" or "is the backpack waterproof?"
        # point at no item: the kind they name is what to find ("is it waterproof?" names none).
        names_a_kind = bool(ext.values("category", known=True) or ext.values(FEATURE))
        nothing_to_act_on = intent in NEEDS_ITEMS and not (
            state.shown
            or state.focus
            or state.cart
            or ext.values("title")
            or (ext.references and not names_a_kind)
        )
        overridable = intent in GROUNDED_OVERRIDABLE or nothing_to_act_on
        if not overridable or state.pending_add or state.offered_intents:
            return None
        if intent == "add_to_cart" and (state.shown or state.focus):
            return None  # "I'll take the blue hoodie": an item on screen
        cue = GROUNDED_OVERRIDABLE.get(intent)
        if (
            cue is not None
            and not nothing_to_act_on
            and cue.search(_without_catalog_words(parse.text, ext))
        ):
            return None  # a cue word inside a catalog name ("track pants") is no cue
        if state.shown and any(r.kind != "focus" for r in ext.references):
            return None  # pointing at shown items: the item rules read it
        named = [
            e
            for e in ext.entities
            if e.known and not e.negated and (e.type in GROUNDING_TYPES or is_attribute(e.type))
        ]
        if not named and ext.price is None:
            return None
        categories = {e.value for e in named if e.type == "category"}
        current = set(state.constraints.categories)
        if (state.shown or current) and (not categories or categories <= current):
            return "refine_search"
        return "search_products"

    def _uncarried(self, state: DialogueState, parse: Parse) -> Parse:
        """A request for something the catalog never mentions ("need a swimsuit") is a search
        for a kind the store lacks: the policy says so and offers the nearest products as
        alternatives, instead of showing them as swimsuits."""
        ext = parse.extraction
        asking = parse.intent in ASKS_FOR_A_THING or parse.ambiguous is not None
        # "Looking for a fishing rod" read as off-topic is still a shopper asking for a thing;
        # with products on screen, bare words ("not black tho", "under fifty") refine them.
        framed = parse.intent == OUT_OF_SCOPE or bool(state.shown)
        pointing = (state.shown and ext.references) or any(e.type == "title" for e in ext.entities)
        if self.uncarried is None or not (asking or framed) or pointing:
            return parse
        # "workout accessories": a word for what a thing is for names no kind to lack
        ext.entities = [
            e for e in ext.entities
            if e.known or e.type != "category" or not names_no_kind(e.value)
        ]  # fmt: skip
        lacking = ext.values("category", known=False)  # "socks", which the NLU knows we lack
        if not lacking and self.uncarried.mark(parse.text, ext, framed=framed) is None:
            return parse
        if parse.intent in FRESH_SEARCH and parse.ambiguous is None:
            return parse
        return self._forced(parse, parse.text, "search_products")

    def _shopping_need(self, parse: Parse) -> Parse:
        """A need told in the shopper's own words ("my wrists ache when I do press-ups", "I
        keep getting lost once my phone loses signal") reads as off-topic to a classifier that
        learnt requests. The catalog knows better: words that come as close to some product's
        text as shoppers' needs do are a search for what meets them."""
        if parse.intent != OUT_OF_SCOPE or self.closeness is None:
            return parse
        if self.closeness(parse.text) < self.need_closeness:
            return parse
        return self._forced(parse, parse.text, "search_products")

    def _owned_things(self, parse: Parse) -> Parse:
        """What a shopper already has is no part of the request: "something to throw over my
        tank" wants no tank, "watching my kids play hockey" no kids' range. A kind the shopper
        owns counts again when it is worn out ("my old bag is falling apart"); people are who
        a thing is for when the message says so ("for my kids", "my kids need")."""
        if parse.intent not in FRESH_SEARCH:
            return parse
        ext = parse.extraction
        owned = [e for e in ext.entities if _owned(parse.text, e)]
        if not owned:
            return parse
        # the kind and what it said with it ("tank" is also the Tank style)
        ext.entities = [
            e for e in ext.entities if not any(e.start < o.end and o.start < e.end for o in owned)
        ]
        said = {e.value for e in ext.entities if e.type == FEATURE}
        ext.styles = [s for s in ext.styles if s in said]
        return replace(parse, intent=browse_or_search(parse.intent, ext))

    def _kinds_in_passing(self, parse: Parse) -> Parse:
        """A shopper telling a story names things that are not what they want: "it's so windy
        on my bike commute I'm frozen" wants a jacket, not cycling gear; "the thing I haul my
        gym kit around in just snapped" a bag. In a long fresh request, a kind named once, not
        asked for in so many words, and that fewer than `KIND_VOTES` of the products nearest
        the whole message belong to is said in passing: it ranks as a word instead of
        filtering the page. Short requests ("bike helmet") name what they want."""
        if self.nearest_kinds is None or parse.intent not in FRESH_SEARCH:
            return parse
        ext = parse.extraction
        kinds = [e for e in ext.entities if e.type == "category" and e.known and not e.negated]
        if not kinds or len(TOKEN.findall(parse.text)) < STORY_WORDS:
            return parse
        named = Counter(e.value for e in kinds)
        # asked for in so many words, or named more than once: the story is about that kind
        kinds = [e for e in kinds if not _asked_for(parse.text, e) and named[e.value] == 1]
        if not kinds:
            return parse
        near = self.nearest_kinds(parse.text, KIND_NEIGHBOURS)
        passing = [
            e for e in kinds
            if max(near.get(name, 0) for name in (e.value, *category_parts(e.value))) < KIND_VOTES
        ]  # fmt: skip
        if not passing:
            return parse
        ext.entities = [
            replace(e, type=FEATURE, value=(e.spelt or e.text).lower()) if e in passing else e
            for e in ext.entities
        ]
        return replace(parse, intent=browse_or_search(parse.intent, ext))

    def _forced(self, parse: Parse | None, text: str, intent: str) -> Parse:
        base = parse or self.nlu.parse(text or "find this")
        intent = browse_or_search(intent, base.extraction)
        return Parse(text, intent, 1.0, base.prediction, base.extraction)

    def _notice(self, state: DialogueState, message: str, name: str) -> DialogueReply:
        text = self.templates.render(name, len(state.history), limit=MAX_MESSAGE_CHARS)
        return DialogueReply(
            text=text,
            intent="",
            action=name,
            cart=list(state.cart),
            state=state.to_dict(),
            confidence=0.0,
        )


def _names_the_focus(state: DialogueState, parse: Parse) -> bool:
    """Whether the message names the product in focus by (part of) its title, or points at it
    by its kind ("these yoga trousers" with a yoga pant in focus)."""
    focus = next((card for card in state.shown if card.id == state.focus), None)
    if focus is None:
        return False
    title = set(TOKEN.findall(focus.title.lower()))
    kinds = {c.lower() for c in focus.categories}
    for e in parse.extraction.entities:
        if e.negated:
            continue
        if e.type == "title" and set(TOKEN.findall(e.value.lower())) <= title:
            return True
        pointed = POINTED_AT.search(parse.text, 0, e.start) is not None
        if e.type == "category" and e.known and pointed and e.value.lower() in kinds:
            return True
    return False


def _owned(text: str, entity: Entity) -> bool:
    """A kind the wanted thing goes with ("over my tank"), not worn out; or a range the store
    lacks ("kids") that the shopper has but is not shopping for."""
    kind = entity.type == "category" and entity.known
    people = entity.type == "gender" and not entity.known
    if entity.negated or not (kind or people):
        return False
    before = text[: entity.start]
    if kind and WORN_WITH.search(before):
        return True  # "something light to throw on over a tee": the tee is worn with it
    owner = OWNED.search(before)
    if owner is None:
        return False
    clause = CLAUSE_BREAK.search(text, entity.end)
    after = text[entity.end : clause.start() if clause else len(text)]
    if kind:
        beside = BESIDE_OWNED.search(before[: owner.start()])
        worn_out = WORN_OUT.search(f"{before[owner.start() :]} {after}")
        return bool(beside) and not worn_out and not entity.text.lower().endswith("ing")
    return not (FOR_THEM.search(before[: owner.start()]) or NEEDING.search(after))


def _asked_for(text: str, entity: Entity) -> bool:
    """Whether the words just before a kind ask for it ("I need a water bottle", "could you
    point me to a chalk bag"): a few words after an asking phrase, in the same clause."""
    before = text[: entity.start]
    asks = [m.end() for m in ASKING.finditer(before)]
    if not asks:
        return False
    gap = before[asks[-1] :]
    return not CLAUSE_BREAK.search(gap) and len(gap.split()) <= ASKED_GAP_WORDS


def _filters(entity: Entity) -> bool:
    """A catalog value that filters a shown list ("in L", "not wool")."""
    return entity.known and (entity.type in LIST_FILTER_TYPES or is_attribute(entity.type))


def _item_question(text: str) -> str:
    """product_reviews for a question about ratings or reviews alone, else product_details."""
    about_reviews = REVIEW_FIELDS.search(text) or OPINION.search(text)
    reviews_only = about_reviews and not OTHER_FIELDS.search(text)
    return "product_reviews" if reviews_only else "product_details"


def _ordinals(ext: Extraction) -> list[Reference]:
    """The places in the list the message points at ("the second", "#3"), not refused."""
    return [r for r in ext.references if r.kind == "ordinal" and not r.negated]


def _picks_a_variant(state: DialogueState, parse: Parse) -> bool:
    """One shown item by its place, in a size it comes in, said as a choice rather than asked
    ("ok ill get the 1st in XS, purple", "2nd one in M"; not "is the 1st one in XS?"): a shop
    assistant hears "I'll take it", whatever the classifier made of the words."""
    ext = parse.extraction
    if parse.intent not in CHOOSABLE or QUESTION_FORM.search(parse.text):
        return False
    ordinals = _ordinals(ext)
    if ext.price or ext.sort or ext.values("category", known=True):
        return False
    if not ordinals:
        return _variant_of_the_item_asked_about(state, ext)
    if len(ordinals) != 1 or len(ordinals[0].positions) != 1:
        return False
    position = ordinals[0].positions[0]
    index = position - 1 if position > 0 else len(state.shown) + position
    if not 0 <= index < len(state.shown):
        return False
    sizes = {s.lower() for s in state.shown[index].sizes}
    return any(size.lower() in sizes for size in ext.values("size"))


def _variant_of_the_item_asked_about(state: DialogueState, ext: Extraction) -> bool:
    """ "ok, XS in white" right after a question about one item: a size and a colour it comes
    in, with nothing else asked, is the shopper taking it (after a list it would narrow the
    list instead)."""
    about_it = state.history and state.history[-1].action in ANSWERED_ABOUT_AN_ITEM
    item = next((c for c in state.shown if c.id == state.focus), None)
    sizes, colors = ext.values("size", known=True), ext.values("color", known=True)
    if not (about_it and item and sizes and colors) or ext.references:
        return False
    offered = {v.lower() for v in (*item.sizes, *item.colors)}
    return all(v.lower() in offered for v in (*sizes, *colors))


def _without_catalog_words(text: str, extraction: Extraction) -> str:
    """The message with the catalog's names blanked out, so "2 person tent" or "track pants"
    keep no word for the cue patterns to find."""
    return blanked(text, (e for e in extraction.entities if e.known))


def _as_text(text: str | bytes | None) -> str:
    """The message as text; bytes (a client that sent raw input) are read as UTF-8."""
    if isinstance(text, bytes | bytearray):
        return bytes(text).decode("utf-8", errors="replace")
    return text or ""


def read_message(text: str) -> str:
    """A message as the NLU reads it: wordless characters dropped, spoken sizes ("waist
    thirty four") written as the catalog writes them, "w/" and "w/o" as the words."""
    return spoken_sizes(SHORTHAND_WITH.sub(_spelt_out, plain_text(text)))


def _spelt_out(match: re.Match[str]) -> str:
    word = "without" if match.group(0).lower().endswith("o") else "with"
    following = match.string[match.end() : match.end() + 1]
    return f"{word} " if following.isalnum() else word


def plain_text(text: str) -> str:
    """The message without wordless characters (emoji, control and format characters, lone
    surrogates), each run of them read as a word break: "🧥🧥 blue jacket🔥" -> "blue jacket"."""
    kept: list[str] = []
    gap = False
    for char in text:
        if _wordless(char):
            gap = True
            continue
        if gap and kept and not kept[-1].isspace() and not char.isspace():
            kept.append(" ")
        gap = False
        kept.append(char)
    return "".join(kept).strip()


def _wordless(char: str) -> bool:
    if char.isspace():
        return False
    category = unicodedata.category(char)
    if category in WORDLESS_CATEGORIES or 0xFE00 <= ord(char) <= 0xFE0F:
        return True
    return category in ("So", "Sk") and ord(char) >= FIRST_PICTOGRAPH


def _restore(state: DialogueState, snapshot: DialogueState) -> None:
    for name in DialogueState.__slots__:  # type: ignore[attr-defined]
        setattr(state, name, getattr(snapshot, name))
