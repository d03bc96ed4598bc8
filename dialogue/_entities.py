"""Slot extraction driven by the catalog's own vocabulary.

The phrase table is built from the catalog (categories, colours, sizes, genders, brands, its
filter attributes such as materials, styles), the nouns its product titles use ("headlamp",
"chalk bag"), the training file's synonyms, lookups and annotated values, so a new catalog
brings its own words. Words the table does not know exactly are matched fuzzily, except
words that occur in the training examples (so "show" never becomes "shoe"). Values the
training data knows but the catalog lacks ("navy", "Nike") are kept with `known=False`, so the
assistant can say plainly the store does not carry them.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from lemminflect import getAllInflections, getAllLemmas

from dialogue._nlu_data import NluData
from dialogue._prices import PriceRange, find_price, parse_number, wants_cheap

# Entity types with rules of their own, in the order that wins when one phrase could be
# several ("men" is a gender before it is a category). The catalog's other filter attributes
# (`CatalogPort.attributes`: "material", "pattern", ...) come next, each its own entity type,
# and free feature words (styles, tags: soft wishes) last.
OWN_TYPES = ("title", "gender", "size", "color", "brand", "label", "category")
FEATURE = "feature"
# Vocabulary facet -> entity type, besides the attributes (each its own type).
CATALOG_FACETS = {
    **{type_: type_ for type_ in OWN_TYPES},
    "style": FEATURE,
    "tag": FEATURE,
}
# Words that close a short answer ("S please", "M thanks").
POLITE = frozenset({"please", "pls", "plz", "thanks", "thx", "ta", "cheers"})
# Words after a size that keep it one ("a small one", "large size", "medium or large").
SIZE_FOLLOWERS = frozenset({"one", "ones", "size", "sizes", "fit", "waist", "inseam", "length"})
# Words about a wish rather than a product, which a refusal may carry ("not the drawstring kind").
WISH_WORDS = frozenset({
    "kind", "kinds", "type", "types", "sort", "sorts", "style", "styles", "ones", "thing",
    "things", "stuff", "please", "thanks", "want", "like", "look", "looks", "looking", "much",
    "too", "very", "that", "this", "these", "those", "them", "anything", "something", "item",
    "items", "product", "products", "option", "options", "again", "more", "thank",
})  # fmt: skip
MIN_REFUSED_LETTERS = 4
# Size codes ("xl", "xxs") are never adjectives; words ("small", "large") may be.
SIZE_LETTERS = 3
# Fraction signs in catalog values, as shoppers type them.
FRACTIONS = {"¼": ("quarter", "1/4"), "½": ("half", "1/2"), "¾": ("three quarter", "3/4")}
# Catalog category names that are merchandising, not something a shopper asks for.
NOISE_CATEGORIES = {"collections", "promotions", "erin recommends", "erin recommends new", "gear"}
TOKEN = re.compile(r"#\d+|[a-z0-9]+(?:['\u2019®™\-][a-z0-9]+)*[®™]?|&", re.IGNORECASE)
NEGATORS = {
    "not", "no", "without", "except", "excluding", "non", "never", "avoid", "nothing", "none",
    "dont", "don't", "hate", "besides", "minus", "skip", "isn't", "isnt", "aren't", "arent",
    "doesn't", "doesnt", "wasn't", "won't", "nor",
}  # fmt: skip
NEGATOR_PHRASES = ("anything but", "other than", "anything except", "rather not", "instead of")
# Words that end a negation's reach: a wish after a refusal ("no hoodies, just show jackets") or
# a new clause ("I never know how long I've been running": no running is refused).
SCOPE_BREAKS = {
    "but", "instead", "rather", "just", "only", "show", "want", "how", "when", "where", "why",
    "because", "since", "been",
}  # fmt: skip
# Words that make a negation describe the shopper's situation rather than what they do not
# want: "I don't own a single pair of running shorts", "none of my pants fit", "he has never
# owned a proper winter coat" ask for them; "I know nothing about watches" refuses none.
SITUATION = {
    "my", "our", "his", "her", "their", "own", "owns", "owned", "had", "fit", "fits", "worn",
    "tried", "bought", "used", "know", "about",
}  # fmt: skip
# "any colour but red", "anything but black": the "but" starts the negation.
ANY_BUT = re.compile(r"\bany(?:thing)?(?:\s+[\w-]+)?\s+$")
HEDGES = {"really", "even", "actually", "do", "i", "we"}
# Words after which "no" is an answer ("no, it's for my son"), not a determiner ("no wool").
INTERJECTION_AFTER = {
    "it", "it's", "its", "i", "i'm", "im", "i'd", "we", "that", "that's", "thats", "this",
    "actually", "wait", "sorry", "thanks", "thank", "please", "he", "he's", "she", "she's",
    "they", "make", "let's", "lets", "the", "you",
}  # fmt: skip
WORD = re.compile(r"[\w'\u2019]+")
# Punctuation, or a dash between words ("Not a hoodie person - a crewneck sweatshirt").
CLAUSE_BREAK = re.compile(r"[,.;:!?]|\s[-\u2013\u2014]+\s")
# "a laptop bag with a padded strap": a product noun after "with" describes the first one.
FEATURE_CUE = re.compile(
    r"\b(?:with|has|have|having)\s+(?:an?\s+|the\s+|some\s+)?(?:[\w-]+\s+){0,2}$", re.I
)
ADDRESS_WORDS = frozenset({"guys", "guy", "lads", "gents", "dudes", "folks", "ladies", "gals"})
ADDRESSED = re.compile(r"\b(?:you|u|ya|y'?all|hey|hi|hello|thanks|thank\s+you)\s+$", re.I)
PITCH = re.compile(r"\bpitch[\s-]+$", re.IGNORECASE)
AT_THE_TOP = re.compile(r"\b(?:at|on|to|from|near)\s+(?:the\s+)?(?:very\s+)?$", re.IGNORECASE)
# "my shorts ripped, need new ones": a replacement, not the store's "new" label.
REPLACING = re.compile(
    r"\b(?:need|needs|want|wants|get|getting|buy|buying|order)\s+(?:some\s+|a\s+couple\s+of\s+)?$",
    re.IGNORECASE,
)
ADDITIVE = re.compile(r"\b(?:or|also|too|as well|either|and)\b", re.IGNORECASE)
ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
    "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "last": -1,
}  # fmt: skip
SMALL_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "a pair": 2, "a couple": 2, "couple": 2, "pair": 2, "both": 2,
}  # fmt: skip
_ORD = "|".join(sorted(ORDINALS, key=len, reverse=True))
_NUM = r"\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten"
REFERENCE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("first_n", re.compile(rf"\b(?:the\s+)?(?:first|top)\s+(?P<n>{_NUM})\b", re.IGNORECASE)),
    (
        "ordinal",
        re.compile(
            rf"(?:#\s?(?P<hash>\d{{1,2}})\b|\b(?:number|no\.?|item|option|nr\.?)\s*(?P<num>\d{{1,2}})\b"
            rf"|\b(?P<ord>{_ORD})\b(?!\s+(?:time|thing|of all|place|thoughts?|hand)\b)"
            rf"|\b(?P<top>top)(?=\s+(?:one|result|pick|item|option)\b))",
            re.IGNORECASE,
        ),
    ),
    (
        "both",
        re.compile(
            r"\b(?:both|(?:the|these|those|them|the\s+last)\s+(?:two|2)(?!\s*(?:\.\d|\$|dollars|bucks|quid))"
            r"|the pair of them)\b",
            re.I,
        ),
    ),
    ("all", re.compile(r"\b(?:all of them|all (?:three|four|five)|every one|all these)\b", re.I)),
    (
        "cheapest",
        re.compile(
            r"\b(?:the\s+)?cheap(?:er|est)\s+(?:one|option|pair|of)\b|\bthe cheapest\b", re.I
        ),
    ),
    (
        "priciest",
        re.compile(
            r"\b(?:the\s+)?(?:more expensive|most expensive|pricier|priciest)"
            r"\s+(?:one|option|pair|of)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "best_rated",
        re.compile(r"\b(?:the\s+)?(?:better|best|higher|highest|top)[\s-]rated(?:\s+one)?\b", re.I),
    ),
    ("other", re.compile(r"\bthe other(?:\s+one)?\b", re.IGNORECASE)),
    (
        "focus",
        re.compile(
            r"\b(?:this|that|the) (?:one|pair)\b"
            r"|\b(?:it|this|that|them|these|those)\b(?!\s+(?:is|are|was))"
            r"|\bit's\b",
            re.IGNORECASE,
        ),
    ),
]
ANAPHOR_DETERMINERS = {"that", "this", "the", "those", "these", "my"}
# Shorter words are one letter off too many others ("tee", "tent") to be called typos.
MIN_FUZZY_LETTERS = 5
NAME_JOINERS = {"or", "vs", "versus", "and", "&", "v"}
SHADES = {"dark", "light", "pale", "bright", "deep"}
NOT_SIZE_UNITS = {"bucks", "dollars", "dollar", "usd", "quid", "pounds", "euros", "percent",
                  "off", "pct"}  # fmt: skip
# "size 9999", "size XXXL": a size the catalog does not have, so the reply can say so.
SIZE_ASKED = re.compile(
    r"\b(?:size|sz)\s+(?P<size>\d{1,6}|\d?x{0,5}[sml]|x{1,5}l)\b(?![.,]\d)", re.IGNORECASE
)
# The dearest-first forms are tried first: "sort by price, high to low" names a direction that
# the bare "sort by price" (cheapest first) would otherwise take.
SORT_PATTERNS = [
    ("price_desc", re.compile(
        r"(?:most|more)\s+(?:expensive|costly|pricey)\s+(?:first|on top|to|ones?\s+first)|"
        r"(?<!least )(?:expensive|pric(?:ey|ier|iest)|dearest|costliest)\s+(?:ones?\s+)?"
        r"(?:first|on top)|"
        r"high(?:est)?(?:\s+price)?\s+(?:first|to\s+low)|\bhi\s+to\s+lo\b|most\s+to\s+least|"
        r"start\w*\s+with\s+the\s+(?:most\s+expensive|priciest|dearest)|"
        r"price\W+(?:descending|high)|highest\s+price|descending", re.IGNORECASE)),
    ("price_asc", re.compile(
        r"cheapest\s+(?:first|ones?\s+first|on top|up)|low(?:est)?\s+to\s+high|\blo\s+to\s+hi\b|"
        r"lowest\s+price|"
        r"price\W+(?:ascending|low)|sort\w*\s+by\s+price|cheap\s+(?:ones?\s+)?first|"
        r"least\s+(?:expensive\s+)?(?:first|to\s+most)|start\w*\s+with\s+the\s+cheapest|"
        r"ascending", re.IGNORECASE)),
    ("rating", re.compile(
        r"(?:best|top|highest)[\s-]rated|by\s+(?:rating|reviews?|stars?)|most\s+(?:stars|popular)|"
        # "rating first", "with good ratings", "well reviewed"; a bare "what's the rating on
        # them?" orders nothing
        r"ratings?\s+(?:first|order)|(?:good|great|high|higher|better|decent|top|best)\s+"
        r"(?:ratings?|reviews?)|(?:well|highly)[\s-](?:rated|reviewed)|best\s+reviewed",
        re.IGNORECASE)),
    ("relevance", re.compile(r"relevan|best\s+match", re.IGNORECASE)),
]  # fmt: skip
BUT = re.compile(r"\bbut\b", re.IGNORECASE)
# Words ending in -bre/-tre that are no British spelling of an -ber/-ter word.
NOT_BRITISH = frozenset({"macabre", "timbre", "cadre", "genre"})
# Verbs that put an item in the cart, after which a capital letter is its size ("add M purple").
CART_VERBS = ("add", "take", "grab", "get", "want", "buy", "order")
QUANTITY = re.compile(
    rf"\b(?:(?P<n>{_NUM}|a pair|a couple|couple|pair)\s+(?:of|x|pieces?|pcs|units?|items?|pairs)\b"
    rf"|(?:x|qty:?|quantity:?)\s*(?P<x>\d{{1,2}})\b|(?:add|take|get|want|need|buy|order)\s+(?P<v>\d{{1,2}}|two|three|four|five)\b(?!\s*(?:dollars?|bucks|\$))"
    # "actually make it 2", "make that three": the line just added, in that number
    rf"|\bmake\s+(?:it|that|them|those)\s+(?P<m>\d|two|three|four|five)"
    # "make it 2 actually", "make it three, thanks"
    rf"(?:\W+(?:actually|instead|then|please|pls|thanks|ta|now))*\s*(?:[.!]|$))"
    # "on second thought, just the one": a number for the line just added
    rf"|\b(?:just|only)\s+(?:the\s+)?(?P<j>one)\s*(?:[.!]|$)",
    re.IGNORECASE,
)
STOP_WORDS = {
    "a", "an", "the", "i", "me", "my", "you", "your", "we", "it", "is", "are", "be", "to", "of",
    "for", "and", "or", "in", "on", "at", "with", "some", "any", "do", "does", "have", "has",
    "please", "pls", "can", "could", "would", "like", "want", "need", "looking", "show", "find",
    "get", "got", "something", "anything", "stuff", "thing", "things", "one", "ones", "that",
    "this", "what", "which", "there", "here", "im", "i'm", "just", "really", "very", "so", "up",
    "new", "good", "nice", "great", "ok", "okay", "hey", "hi", "buy", "shop", "store", "see",
    "give", "gimme", "lemme", "let", "us", "also", "too", "more", "other", "else", "about",
    "from", "by", "all", "maybe", "kind", "sort", "type", "options", "option", "items", "item",
    "products", "product", "recommend", "suggest", "suggestions", "ideas", "idea",
    "gift", "gifts", "present", "help", "search", "browse", "look", "am", "was", "were", "will",
    "our", "its", "it's", "dont", "don't", "not", "no", "yes", "them", "they",
    "nothing", "size", "sizes", "color", "colour", "colors", "colours", "only", "thanks",
    "thank", "actually", "instead", "then", "now", "again", "let's", "lets",
}  # fmt: skip
# Words a refusal carries that never name products ("not really the kind I want").
NOT_PRODUCT_WORDS = frozenset(
    STOP_WORDS | NEGATORS | SCOPE_BREAKS | SITUATION | HEDGES | WISH_WORDS
)


# Anywhere in a message, a price direction and a word for the order: "put the dearest ones at
# the top", "could you list them with the cheapest leading".
ORDER_CUE = re.compile(
    r"\b(?:first(?!\s+(?:one|ones|item|pair|of|\d|two|three|four|five|few|couple)\b)|"
    r"on\s+top|at\s+the\s+top|up\s+top|"
    r"(?:at|to)\s+the\s+front|"
    r"to\s+the\s+top|top\s+of|lead\w*|begin\w*|start\w*|sort\w*|order\w*|arrang\w*|rank\w*|"
    # "go from the top end down, price-wise", "cheap end upwards"
    r"list|(?:down|up)(?:wards?)?(?=\W*(?:price|$|[,.!?])))\b",
    re.IGNORECASE,
)
DEAR_FIRST = re.compile(
    r"\b(?:most\s+(?:expensive|costly|pricey|premium)|pric(?:ier|iest)|dear(?:er|est)|costliest|"
    # "the fanciest first", "from the top end down": the price's high end in other words
    r"highest[\s-]priced|expensive\s+ones?|fanciest|poshest|(?:top|high)[\s-]end)\b",
    re.IGNORECASE,
)
CHEAP_FIRST = re.compile(
    r"\b(?:cheapest|cheaper\s+ones?|least\s+(?:expensive|pricey|costly)|lowest[\s-]priced|"
    r"most\s+affordable|(?:cheap|low|bottom|budget)[\s-]end)\b",
    re.IGNORECASE,
)


# "whats the most expensive mens jacket you have", "show me your cheapest tents", "cheapest
# harness you have?": a superlative before a kind the store files asks for the list from that
# end ("the cheapest one", "add the cheapest band" point at an item instead).
SUPERLATIVE_KIND = re.compile(
    r"(?:\b(?:what'?s|whats|what\s+(?:is|are)|show(?:\s+me|\s+us)?|see|which\s+is)\s+"
    r"(?:the|your|ur|yr)\s+"
    # "woah too much. cheapest harness you have?": the superlative opening a sentence
    r"|(?:^|[.!?]\s+)\W*(?:(?:ok|okay|so|and|then|hmm|well)\W+)*(?:the\s+|your\s+)?)"
    r"(?:(?P<dear>most\s+(?:expensive|costly|pricey)|priciest|dearest|"
    r"costliest)|(?P<cheap>cheapest|least\s+expensive|most\s+affordable|lowest[\s-]priced))"
    r"\s+(?!(?:one|ones|option|options|pair|of|first|on|at|to|in)\b)[a-z]",
    re.IGNORECASE,
)


def sort_asked(text: str) -> str | None:
    """The order the text asks for ("price_desc" for "priciest first"), if any."""
    found = sort_said(text)
    return found[0] if found else None


def sort_said(text: str) -> tuple[str, list[tuple[int, int]]] | None:
    """The order asked for and the spans that say it, so "priciest first" is no "first"
    item (the words between a price word and an order word are left to be read)."""
    for key, pattern in SORT_PATTERNS:
        match = pattern.search(text)
        if match:
            return key, [match.span()]
    cue = ORDER_CUE.search(text)
    if cue is None:
        return None
    dear, cheap = DEAR_FIRST.search(text), CHEAP_FIRST.search(text)
    said = dear if dear and not cheap else cheap if cheap and not dear else None
    if said is None:
        return None
    return ("price_desc" if said is dear else "price_asc"), [said.span(), cue.span()]


def attribute_label(attribute: str) -> str:
    """How a shopper and a reply name a filter attribute: "sleeve_length" is "sleeve length"."""
    return attribute.replace("_", " ")


def is_attribute(type_: str) -> bool:
    """Whether an entity type is one of the catalog's filter attributes: the extractor makes
    no types but its own, the attributes it was built with and free feature words."""
    return type_ not in OWN_TYPES and type_ != FEATURE


@dataclass(frozen=True, slots=True)
class Entity:
    type: str
    value: str
    text: str
    start: int
    end: int
    negated: bool = False
    known: bool = True
    # Says which shown item is meant ("the purple hoodie"), not what to search for.
    qualifies: bool = False
    # The words as the catalog spells them ("climbing harness" for "clmbing harnes").
    spelt: str = ""


@dataclass(frozen=True, slots=True)
class Reference:
    """A pointer at shown items: ordinal positions (1-based; -1 is the last), or a relation."""

    kind: str  # ordinal, first_n, both, all, cheapest, priciest, best_rated, other, focus,
    # category, color, brand
    positions: tuple[int, ...] = ()
    value: str | None = None
    negated: bool = False
    text: str = ""
    color: str | None = None  # "the blue shirt": the shown shirt in blue


@dataclass(slots=True)
class Extraction:
    entities: list[Entity] = field(default_factory=list)
    price: PriceRange | None = None
    cheap: bool = False
    references: list[Reference] = field(default_factory=list)
    quantity: int | None = None
    sort: str | None = None
    additive: bool = False
    content_words: list[str] = field(default_factory=list)
    # The catalog styles asked for ("duffel", "full zip"): a kind of the kind, which the
    # catalog files products under or names in their titles.
    styles: list[str] = field(default_factory=list)
    # Words refused that name nothing the phrase table knows ("not the drawstring kind", "no
    # mesh ones"): products whose titles or styles use them are left out, and they rank nothing.
    refused: list[str] = field(default_factory=list)

    def values(
        self,
        type_: str,
        *,
        negated: bool = False,
        known: bool | None = None,
        qualifiers: bool = True,
    ) -> list[str]:
        """The values of one type; `qualifiers=False` leaves out those that only say which
        shown item is meant ("the purple hoodie")."""
        out: list[str] = []
        for e in self.entities:
            wanted = e.type == type_ and e.negated == negated and (qualifiers or not e.qualifies)
            if wanted and (known is None or e.known == known) and e.value not in out:
                out.append(e.value)
        return out

    def unknown(self) -> list[Entity]:
        return [e for e in self.entities if not e.known and not e.negated]


@dataclass(frozen=True, slots=True)
class _Phrase:
    type: str
    value: str
    known: bool


class EntityExtractor:
    def __init__(
        self,
        catalog_vocabulary: dict[str, list[str]],
        nlu: NluData,
        kinds: dict[str, str] | None = None,
        names: dict[str, tuple[str, ...]] | None = None,
        attributes: Iterable[str] = (),
        dictionary: frozenset[str] = frozenset(),
    ) -> None:
        """`attributes`: the catalog's filter attributes (`CatalogPort.attributes`), whose
        values in the vocabulary become entities of that type. `dictionary`: real words of
        the language, which spelling correction turns into nothing but a product noun or
        name ("polls" may be poles; "while" is never white, "feathers" never fathers)."""
        self.dictionary = dictionary
        self.attributes = tuple(a for a in attributes if is_attribute(a))
        self.types = (*OWN_TYPES, *self.attributes, FEATURE)
        self.facets = {**CATALOG_FACETS, **{a: a for a in self.attributes}}
        self.catalog: dict[str, set[str]] = {t: set() for t in self.types}
        self.table: dict[str, list[_Phrase]] = {}
        # Words from the training examples are real words, never typos of catalog terms.
        self.plain_words = {
            t.lower() for e in nlu.examples for t in TOKEN.findall(e.text)
        } | STOP_WORDS
        self.typed = _typed_values(nlu)
        self.everyday_words = _everyday_words(nlu) - self.typed.keys()
        # One-word product names ("teton") -> the words of the titles they open.
        self.name_words: dict[str, set[str]] = {}
        self._build(catalog_vocabulary, nlu, kinds or {})
        self._add_names(names or {})
        self.max_words = max(len(k.split()) for k in self.table) if self.table else 1
        self.fuzzy_keys = sorted(k for k in self.table if " " not in k and len(k) >= 4)
        self.fuzzy_pairs = sorted(k for k in self.table if k.count(" ") == 1 and len(k) >= 8)

    # Building the phrase table --------------------------------------------------------------
    def _build(self, vocabulary: dict[str, list[str]], nlu: NluData, kinds: dict[str, str]) -> None:
        parts: list[tuple[str, str]] = []
        # A campaign the store files products under ("Eco Friendly") is read as a label, so
        # "eco friendly shorts" are shorts that carry it, never shorts or anything eco.
        labels = {v.lower().strip() for v in vocabulary.get("label", [])}
        self.styles = {v.lower().strip() for v in vocabulary.get("style", []) if v.strip()}
        # Styles that split a combined category into kinds ("bra", "tank" in Bras & Tanks).
        self.part_styles = {v.lower().strip() for v in vocabulary.get("part_style", [])}
        for facet, values in vocabulary.items():
            type_ = self.facets.get(facet)
            if type_ is None:
                continue
            for value in values:
                canonical = value.lower().strip()
                if not canonical or (type_ == "category" and canonical in NOISE_CATEGORIES):
                    continue
                if type_ == "category" and canonical in labels:
                    continue
                self.catalog[type_].add(canonical)
                if type_ == "title":
                    continue  # below, once every title is known
                for surface, said_as in self._value_surfaces(type_, canonical):
                    self._add(surface, said_as, canonical, known=True)
                if type_ == "category":
                    parts += [(part, canonical) for part in category_parts(canonical)]
                words = canonical.split()
                if type_ == "label" and len(words) >= 3:
                    # "the new yoga collection" for "New Luma Yoga Collection": a long
                    # campaign name said with an inner word left out, if what is left is
                    # still a name (not "for him" from "Gifts for Him").
                    for left_out in range(1, len(words) - 1):
                        shorter = words[:left_out] + words[left_out + 1 :]
                        if len([w for w in shorter if w not in STOP_WORDS]) < 2:
                            continue
                        if not self._lookup(" ".join(shorter)):
                            self._add(" ".join(shorter), type_, canonical, known=True)
        for surface, title in _title_surfaces(sorted(self.catalog["title"]), nlu).items():
            self._add(surface, "title", title, known=True)
        # Words products are named by, which a refusal can leave out ("not the drawstring kind").
        names = (*self.catalog["title"], *self.styles)
        self.naming_words = {w.lower() for name in names for w in TOKEN.findall(name)}
        # "tanks" is the category Tanks before it is a part of "Bras & Tanks".
        for part, canonical in parts:
            for surface in _surface_forms(part):
                if not any(p.type == "category" for p in self.table.get(_normalise(surface), [])):
                    self._add(surface, "category", canonical, known=True)
        # The titles' own product nouns ("headlamp": Trekking), before the training file's
        # synonyms: what the catalog files a product under beats a hand-written guess, and a
        # noun that is also a style word ("capri") names the product before its style.
        for noun, category in kinds.items():
            canonical = category.lower().strip()
            if canonical in NOISE_CATEGORIES or canonical not in self.catalog["category"]:
                continue
            for surface in _surface_forms(noun):
                if all(p.type == FEATURE for p in self._lookup(_normalise(surface))):
                    self._add(surface, "category", canonical, known=True)
        # Training data: lookups and annotated values name types, synonyms name surfaces.
        for value, type_ in self.typed.items():
            if type_ in self.types and not self._resolves(value):
                # "[jackts](category)" in a typo example is the jackets, not a kind we lack.
                near = self._misspelt(type_, value)
                for surface in _surface_forms(value):
                    if near is not None:
                        self._add(surface, type_, near.value, known=True)
                    else:
                        self._add(surface, type_, value, known=False)
        for surface, canonical in nlu.synonyms.items():
            for phrase in self._lookup(_normalise(canonical)):
                self._add(surface, phrase.type, phrase.value, phrase.known)
        # A label named by an everyday word ("new") is found by its synonyms ("new arrivals")
        # only: "a new jacket" asks for a jacket.
        for key, phrases in list(self.table.items()):
            if " " not in key and key in self.plain_words:
                kept = [p for p in phrases if p.type != "label" or p.value != key]
                if kept:
                    self.table[key] = kept
                else:
                    del self.table[key]

    def _misspelt(self, type_: str, value: str) -> _Phrase | None:
        """The catalog value of this type that `value` is one letter off ("jackts", "legings"),
        for words of five letters or more; None when there is none."""
        forms = dict.fromkeys([_normalise(value), *_singulars(_normalise(value))])
        for said in (f for f in forms if len(f) >= MIN_FUZZY_LETTERS):
            for key, phrases in self.table.items():
                if abs(len(key) - len(said)) > 1 or key[:1] != said[:1]:
                    continue
                known = [p for p in phrases if p.known and p.type == type_]
                if known and _edit_distance(said, key, 1) <= 1:
                    return known[0]
        return None

    def _value_surfaces(self, type_: str, value: str) -> list[tuple[str, str]]:
        """(surface, entity type) pairs for how a shopper says a catalog value. An attribute
        value said with its attribute's name ("messenger-style", "long sleeves") is that
        value; said alone, it is too when it is no everyday word ("striped"), while an
        everyday word ("long", "full" for sleeve_length; "a long coat") is only a soft wish."""
        if type_ not in self.attributes:
            forms = [*_surface_forms(value), *_with_the_noun(value)]
            return [(surface, type_) for surface in forms]
        if len(_normalise(value).split()) < len(value.split()):
            return []  # a word the tokens cannot see ("¼ zip" would be any "zip")
        carriers = [word for word in type_.split("_") if word not in STOP_WORDS]
        said = [
            f"{value}{joint}{form}"
            for word in carriers
            for form in (word, f"{word}s", f"{word}d" if word.endswith("e") else f"{word}ed")
            for joint in (" ", "-")
        ]
        said += _with_the_noun(value)
        alone = FEATURE if value in self.everyday_words else type_
        pairs = [(form, type_) for phrase in said for form in _surface_forms(phrase)]
        return list(dict.fromkeys([*pairs, *((form, alone) for form in _surface_forms(value))]))

    def _add_names(self, names: dict[str, tuple[str, ...]]) -> None:
        """Product names as titles: "trailtracker" names both products whose titles open with
        it. A name that is already another catalog word or an everyday word of the training
        examples is left to that reading."""
        for name, titles in names.items():
            key = _normalise(name)
            words = key.split()
            if not words or any(p.known for p in self._lookup(key)):
                continue
            if any(len(w) < 3 or w in STOP_WORDS for w in words):
                continue  # "push it", "olivia 1": not a name a shopper says
            if len(words) == 1 and key in self.plain_words:
                continue
            self.name_words[key] = {
                w for title in titles for w in _title_words(title) if w not in words
            }
            for surface in {key, key.replace("-", " "), key.replace("-", "")}:
                self._add(surface, "title", key, known=True)

    def _names_a_product(
        self, tokens: list[tuple[str, int, int]], i: int, consumed: int, name: str
    ) -> bool:
        """Whether a product name at token i is meant as one: with a word of its titles after
        it ("teton pullover", "frankie sweat shirt"), or, said exactly, after "the" ("the
        trailtracker") or as the whole message ("trailtracker?"). "zero phone signal" is no
        Zero Gravity product, "a bag with dual handle straps" no Dual Handle Cardio Ball, and a
        near-miss ("in the spring") no Sprint helmet."""
        if name not in self.name_words:
            return True  # a whole title
        end = i + consumed
        after = [_normalise(t) for t, _, _ in tokens[end : end + 2]]
        title_words = self.name_words[name]
        for following in (after[0] if after else "", "".join(after)):
            if following and (following in title_words or _singular(following) in title_words):
                return True
        said = "".join(_normalise(t) for t, _, _ in tokens[i:end])
        exact = said == name.replace(" ", "")  # "trail tracker" is "trailtracker"
        previous = tokens[i - 1][0].lower() if i else ""
        alone = i == 0 and end == len(tokens)
        return exact and (previous in ANAPHOR_DETERMINERS or alone or self._paired(tokens, i, end))

    def _paired(self, tokens: list[tuple[str, int, int]], i: int, end: int) -> bool:
        """Two names joined as a choice ("rocco or helios", "Beaumont vs Typhon"): each is a
        product's name, as a shopper comparing them means it."""
        words = [_normalise(t) for t, _, _ in tokens]
        before = words[i - 2] if i >= 2 and words[i - 1] in NAME_JOINERS else None
        after = words[end + 1] if end + 1 < len(words) and words[end] in NAME_JOINERS else None
        return any(w in self.name_words for w in (before, after) if w)

    def _resolves(self, text: str) -> bool:
        return any(p.known for p in self._lookup(_normalise(text)))

    def _lookup(self, key: str) -> list[_Phrase]:
        found = list(self.table.get(key, []))
        for singular in _singulars(key):
            found += [p for p in self.table.get(singular, []) if p not in found]
        if key.endswith("'s") and not found:
            # "my mum's birthday", "the hoodie's colour": the word itself
            found = [p for p in self.table.get(key[:-2], []) if p.type != "title"]
        found.sort(key=lambda p: (self.types.index(p.type), not p.known))
        return found

    def _add(self, surface: str, type_: str, value: str, known: bool) -> None:
        key = _normalise(surface)
        if not key or any(
            not TOKEN.search(piece) for piece in re.split(r"[\s-]+", surface.strip())
        ):
            return  # a sign the tokens cannot see: "¼ zip" would be any "zip"
        phrases = self.table.setdefault(key, [])
        phrase = _Phrase(type_, value, known)
        if phrase in phrases:
            return
        # A known catalog value beats an unknown one of the same type.
        phrases[:] = [p for p in phrases if not (p.type == type_ and not p.known and known)]
        if not any(p.type == type_ and p.known and not known for p in phrases):
            phrases.append(phrase)
            phrases.sort(key=lambda p: (self.types.index(p.type), not p.known))

    # Extraction -----------------------------------------------------------------------------
    def extract(self, text: str) -> Extraction:
        out = Extraction()
        out.price = find_price(text)
        out.cheap = wants_cheap(text)
        sort = sort_said(text)
        out.sort = sort[0] if sort else None
        taken: list[tuple[int, int]] = list(sort[1]) if sort else []
        if out.price:
            taken.append((out.price.start, out.price.end))
        out.references = self._references(text, taken)
        for ref in out.references:
            if ref.kind not in ("focus",):
                taken.extend(_span_of(text, ref.text))
        out.quantity = _quantity(text)
        tokens = [(m.group(0), m.start(), m.end()) for m in TOKEN.finditer(text)]
        out.entities = self._entities(text, tokens, taken, out.refused)
        out.entities += _unknown_sizes(text, out.entities, taken)
        out.entities = _modifiers_of_the_kind(text, _features_of_the_kind(text, out.entities))
        self._category_references(text, out)
        out.entities = _but_instead(text, out.entities)
        superlative = SUPERLATIVE_KIND.search(text)
        if out.sort is None and superlative is not None:
            kinds = [e for e in out.entities if e.type == "category" and e.known]
            if any(e.start >= superlative.end() - 1 and not e.negated for e in kinds):
                # only before a kind the store files ("the priciest board" names none: the
                # dearest of everything is no answer)
                out.sort = "price_desc" if superlative["dear"] else "price_asc"
        out.additive = bool(ADDITIVE.search(text))
        out.styles = list(
            dict.fromkeys(
                e.value
                for e in out.entities
                if e.type == FEATURE and not e.negated and not e.qualifies
                and e.value in self.styles and e.value not in self.everyday_words
            )
        )  # fmt: skip
        # "not hooded", "no capri ones": a refused style leaves out the products filed under it
        out.refused += [
            e.value
            for e in out.entities
            if e.type == FEATURE and e.negated and e.value in self.styles
            and e.value not in out.refused
        ]  # fmt: skip
        entity_spans = [(e.start, e.end) for e in out.entities] + taken
        out.content_words = [
            t.lower()
            for t, s, e in tokens
            if t.lower() not in STOP_WORDS | NEGATORS | SCOPE_BREAKS
            and t.lower() not in out.refused
            and not _overlaps((s, e), entity_spans)
        ]
        # "push up handles" for the "Pushup Grips": two words the store writes as one of its
        # product names
        out.content_words += [
            a.lower() + b.lower()
            for (a, s, _), (b, _, e) in itertools.pairwise(tokens)
            if (a + b).lower() in self.naming_words and not _overlaps((s, e), entity_spans)
        ]
        return out

    def _entities(
        self,
        text: str,
        tokens: list[tuple[str, int, int]],
        taken: list[tuple[int, int]],
        refused: list[str],
    ) -> list[Entity]:
        """The entities in reading order; words refused that match nothing go to `refused`."""
        found: list[Entity] = []
        negating = False
        negator_at = -1
        i = 0
        lowered = text.lower()
        while i < len(tokens):
            word, start, _ = tokens[i]
            low = word.lower()
            if i and CLAUSE_BREAK.search(text, tokens[i - 1][2], start):
                negating = False  # "no jackets, hoodies instead": the comma ends the "no"
            if _overlaps((start, tokens[i][2]), taken):
                i += 1  # a price or a pointer: its "no" ("no more than 35") negates nothing
                continue
            following = tokens[i + 1][0].lower() if i + 1 < len(tokens) else ""
            if low == "no" and following in INTERJECTION_AFTER:
                pass  # "wait no it's for my son": "no" answers, it negates nothing
            elif (
                low in NEGATORS
                or any(lowered.startswith(p, start) for p in NEGATOR_PHRASES)
                or (low == "but" and ANY_BUT.search(lowered[:start]))
            ):
                negating, negator_at = True, i
            elif (
                low in SITUATION
                or (
                    low in SCOPE_BREAKS
                    # "I don't (really) want anything cotton": the wish itself is negated
                    and not all(t.lower() in HEDGES for t, _, _ in tokens[negator_at + 1 : i])
                )
            ):
                negating = False
            match = self._match_at(text, tokens, i)
            if match is None:
                if negating and i != negator_at and self._names_products(low):
                    refused.append(low)
                i += 1
                continue
            phrase, consumed, surface_end, spelt = match
            if phrase.type == "title" and not self._names_a_product(
                tokens, i, consumed, phrase.value
            ):
                i += 1
                continue
            if spelt in ADDRESS_WORDS and ADDRESSED.search(text, 0, start):
                i += consumed  # "do u guys sell leggings?": the shop's staff, not a wearer
                continue
            if spelt == "top" and AT_THE_TOP.search(text, 0, start):
                i += 1  # "put the cheapest at the top": a place in the list, not a kind
                continue
            if phrase.type == "label" and spelt == "new ones" and REPLACING.search(text, 0, start):
                i += consumed  # "need new ones": the same thing again, not new arrivals
                continue
            if phrase.type == "color" and PITCH.search(text, 0, start):
                i += 1  # "the campsite is pitch black": darkness, not a colour
                continue
            entity = Entity(
                phrase.type,
                phrase.value,
                text[start:surface_end],
                start,
                surface_end,
                negated=negating,
                known=phrase.known,
                spelt=spelt,
            )
            # "womens shorts 30", "grey capris 29": a number right after a catalog word (not
            # "shorts 30 bucks", "30 percent off")
            unit = tokens[i + consumed][0].lower() if i + consumed < len(tokens) else ""
            after_catalog_word = (
                bool(found) and found[-1].end == tokens[i - 1][2] and unit not in NOT_SIZE_UNITS
                if i
                else False
            )
            describes_a_thing = (
                phrase.type == "size"
                and spelt.isalpha()
                and len(spelt) > SIZE_LETTERS
                and self._describes_a_thing(text, tokens, i + consumed)
            )
            if not describes_a_thing and (
                phrase.type != "size"
                or _size_context(text, tokens, i, consumed)
                or (after_catalog_word and found[-1].type != "size")
            ):
                found.append(entity)
            style = self._style_said(spelt, phrase.value) if phrase.type == "category" else None
            if style is not None:
                # "windbreaker", "duffel bag", "pullover hoodie": the kind, and its style
                found.append(
                    Entity(FEATURE, style, text[start:surface_end], start, surface_end,
                           negated=negating)
                )  # fmt: skip
            if phrase.type == FEATURE and consumed > 1:
                # "track pants", "rain coat": a style whose last word names the kind
                _, head_start, head_end = tokens[i + consumed - 1]
                kind = next(
                    (p for p in self._lookup(_normalise(text[head_start:head_end]))
                     if p.type == "category" and p.known),
                    None,
                )  # fmt: skip
                if kind is not None:
                    found.append(
                        Entity("category", kind.value, text[head_start:head_end], head_start,
                               head_end, negated=negating)
                    )  # fmt: skip
            i += consumed
        # Also punctuation-free breaks: "no hoodies show me jackets" keeps negation local.
        return found

    def _style_said(self, spelt: str, category: str) -> str | None:
        """The catalog style a kind's words name ("duffel" in "duffel bag", "windbreaker"),
        the longest one; never the kind's own noun ("jacket" for Jackets, "hoodie" for Hoodies &
        Sweatshirts): that asks for the kind, not a style of it. A part of a combined category
        the store files as a kind of its own is one ("sports bra" in Bras & Tanks)."""
        words = spelt.split()
        said = {
            " ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)
        }
        said |= {s for phrase in list(said) for s in _singulars(phrase)}
        own = {w for part in (category, *category_parts(category)) for w in part.split()}
        own |= {s for w in list(own) for s in _singulars(w)}
        # one letter off a long style word ("legings", "dufel"), as the kind's own typo was
        said |= {
            s for s in self.styles for w in words
            if " " not in s and len(s) >= MIN_FUZZY_LETTERS and s[0] == w[0]
            and _edit_distance(w, s, 1) <= 1
        }  # fmt: skip
        parts = [s for s in self.part_styles if s in said]
        styles = [
            s
            for s in self.styles
            if s in said
            # "bras & tanks" said whole names both parts: the category, no part of it
            and (
                (s in parts and len(parts) == 1) or not (set(s.split()) | set(_singulars(s))) & own
            )
        ]
        return max(styles, key=len, default=None)

    def _names_products(self, word: str) -> bool:
        """A word some title or style names products by ("drawstring", "racerback"), not a
        word about the wish itself ("kind", "ones", "really")."""
        if len(word) < MIN_REFUSED_LETTERS or not word.isalpha():
            return False
        if word in NOT_PRODUCT_WORDS:
            return False
        return word in self.naming_words or _singular(word) in self.naming_words

    def _describes_a_thing(self, text: str, tokens: list[tuple[str, int, int]], i: int) -> bool:
        """Whether token i, right after a size said as a word, is a noun the catalog does not name:
        "small bits of kit", "a large number of" use the word as an adjective; "men's large",
        "large please", "a small one", "large hoodie" keep it a size."""
        if i >= len(tokens) or CLAUSE_BREAK.search(text, tokens[i - 1][2], tokens[i][1]):
            return False
        word = tokens[i][0].lower()
        if word in SIZE_FOLLOWERS or word in POLITE or self._match_at(text, tokens, i):
            return False
        lemmas = getAllLemmas(word)
        return "NOUN" in lemmas and "ADJ" not in lemmas and "ADV" not in lemmas

    def _match_at(
        self, text: str, tokens: list[tuple[str, int, int]], i: int
    ) -> tuple[_Phrase, int, int, str] | None:
        """The phrase at token i: its reading, the tokens it takes, where it ends, and how
        the table spells it ("climbing harness" for "clmbing harnes")."""
        for n in range(min(self.max_words, len(tokens) - i), 0, -1):
            key = _normalise(" ".join(t for t, _, _ in tokens[i : i + n]))
            phrases = self._lookup(key)
            two_words = n == 2 and key.replace(" ", "").isalpha() and len(key) >= 8
            if not phrases and two_words and not set(key.split()) & STOP_WORDS:
                # not across a function word: a calf that cramps "cramp on" is no crampon
                joined = key.replace(" ", "")
                phrases = self._lookup(joined)  # "sweat shirt", "back pack"
                key = joined if phrases else key
                if not phrases and not set(key.split()) <= self.plain_words:
                    near = self._fuzzy_pair(key)  # "jump rop", "foam rolr"
                    phrases, key = (self.table[near], near) if near else ([], key)
            if phrases:
                return phrases[0], n, tokens[i + n - 1][2], key
        word = tokens[i][0].lower()
        if len(word) >= 4 and word not in self.plain_words and not word.isdigit():
            key = self._fuzzy(word)
            # A real word is meant as said, even one letter off a product noun: "toes" are no
            # tees, "Bali" no ball, "when I bend over" no band.
            if key and word not in self.dictionary:
                return self.table[key][0], 1, tokens[i][2], key
        return None

    def _fuzzy_pair(self, said: str) -> str | None:
        """A known two-word name with one word said exactly and the other one edit away
        from a word of four letters or more ("jump rop"), never two words changed at once
        ("rain boot" is no "rain coat": one edit apart, but "boot" is a word of its own)."""
        first, second = said.split()
        for key in self.fuzzy_pairs:
            a, b = key.split()
            if first == a and second != b and len(b) >= 4 and second not in self.plain_words:
                near = _edit_distance(second, b, 1) <= 1
            elif second == b and first != a and len(a) >= 4 and first not in self.plain_words:
                near = _edit_distance(first, a, 1) <= 1
            else:
                continue
            if near and any(p.known for p in self.table[key]):
                return key
        return None

    def _fuzzy(self, word: str) -> str | None:
        limit = 1 if len(word) < 8 else 2
        best: tuple[int, str] | None = None
        for key in self.fuzzy_keys:
            if abs(len(key) - len(word)) > limit or key[0] != word[0]:
                continue
            distance = _edit_distance(word, key, limit)
            if distance <= limit and (best is None or distance < best[0]):
                best = (distance, key)
        return best[1] if best else None

    def _references(self, text: str, taken: list[tuple[int, int]]) -> list[Reference]:
        refs: list[Reference] = []
        claimed: list[tuple[int, int]] = list(taken)
        for kind, pattern in REFERENCE_PATTERNS:
            for match in pattern.finditer(text):
                span = (match.start(), match.end())
                if _overlaps(span, claimed):
                    continue
                ref = _reference(kind, match)
                if ref is None:
                    continue
                negated = _negated_before(text, match.start())
                refs.append(
                    Reference(ref.kind, ref.positions, None, negated, match.group(0).strip())
                )
                claimed.append(span)
        refs.sort(key=lambda r: text.lower().find(r.text.lower()))
        return refs

    def _category_references(self, text: str, out: Extraction) -> None:
        """'that jacket', 'the blue one': an entity after a determiner may point at an item."""
        lowered = text.lower()
        qualifiers: set[int] = set()
        for index, entity in enumerate(out.entities):
            # "the blue shirt", "that dark grey jacket": a colour may stand between the
            # determiner and the kind, and says which of the shown ones.
            color, start = None, entity.start
            if entity.type == "category" and index:
                before_kind = out.entities[index - 1]
                gap = lowered[before_kind.end : entity.start].split()
                if before_kind.type == "color" and not gap:
                    color, start = before_kind.value, before_kind.start
            before = lowered[:start].split()
            while before and before[-1] in SHADES:
                before.pop()
            if not before or before[-1] not in ANAPHOR_DETERMINERS:
                continue
            if before[-1] == "my" and before[-2:-1] in (["in"], ["into"], ["to"]):
                continue  # "put the first one in my bag": the cart, not a shown bag
            after = WORD.findall(lowered[entity.end :])  # "the blue one?": words, no marks
            if entity.type == "category" and entity.known:
                said = text[start : entity.end]
                out.references.append(
                    Reference("category", (), entity.value, entity.negated, said, color)
                )
                if color is not None:
                    qualifiers.add(index - 1)
            elif entity.type in ("color", "brand") and after[:1] in (["one"], ["pair"]):
                # "the blue one", "the Quester one": the shown item in that colour, by that brand
                out.references.append(
                    Reference(entity.type, (), entity.value, entity.negated, entity.text)
                )
                qualifiers.add(index)
        out.entities = [
            replace(e, qualifies=True) if i in qualifiers else e for i, e in enumerate(out.entities)
        ]


def _features_of_the_kind(text: str, entities: list[Entity]) -> list[Entity]:
    """A product noun that describes the kind named before it ("bag with a padded strap",
    "a jacket that has a hood") is a feature of it, not a second kind to search for."""
    kind = next((e for e in entities if e.type == "category" and not e.negated), None)
    if kind is None:
        return entities
    return [
        Entity("feature", e.text.lower(), e.text, e.start, e.end, e.negated)
        if e.type == "category"
        and e.start > kind.end
        and FEATURE_CUE.search(text[kind.end : e.start])
        else e
        for e in entities
    ]


def _modifiers_of_the_kind(text: str, entities: list[Entity]) -> list[Entity]:
    """ "bike shorts", "gym bag": a product noun right before another of another kind says
    what that one is for. The last noun is the kind; the one before it, a wish."""
    out = list(entities)
    for i, (first, then) in enumerate(itertools.pairwise(entities)):
        if (
            first.type == then.type == "category"
            and first.value != then.value
            and first.negated == then.negated
            and re.fullmatch(r"[\s-]*", text[first.end : then.start])
        ):
            out[i] = Entity(FEATURE, first.text.lower(), first.text, first.start, first.end,
                            first.negated)  # fmt: skip
    return out


def _but_instead(text: str, entities: list[Entity]) -> list[Entity]:
    """A colour or size said after "but" replaces one said before it ("only black?? lame.
    something like it but blue", "the M is fine but L would be better"): the last is wanted
    (the colour of an item pointed at, "the purple hoodie but in blue", says which item)."""
    turns = [m.start() for m in BUT.finditer(text)]
    if not turns:
        return entities
    out = list(entities)
    for type_ in ("color", "size"):
        said = [e for e in out if e.type == type_ and not e.negated and not e.qualifies]
        after = [e for e in said if e.start > turns[-1]]
        if after and len(after) < len(said):
            out = [e for e in out if e not in said or e in after]
    return out


def _unknown_sizes(text: str, entities: list[Entity], taken: list[tuple[int, int]]) -> list[Entity]:
    """Sizes asked for by name ("size 9999") that the phrase table did not know."""
    spans = [(e.start, e.end) for e in entities] + taken
    found: list[Entity] = []
    for match in SIZE_ASKED.finditer(text):
        start, end = match.span("size")
        if _overlaps((start, end), spans):
            continue
        negated = _negated_before(text, match.start())
        value = match["size"].upper()
        found.append(Entity("size", value, value, start, end, negated=negated, known=False))
    return found


def _reference(kind: str, match: re.Match[str]) -> Reference | None:
    groups = match.groupdict()
    if kind == "first_n":
        n = _small_number(groups["n"])
        return Reference(kind, tuple(range(1, n + 1))) if n and n > 1 else None
    if kind == "ordinal":
        raw = groups.get("hash") or groups.get("num")
        if groups.get("top"):
            return Reference(kind, (1,))
        position = int(raw) if raw else ORDINALS[groups["ord"].lower()]
        return Reference(kind, (position,)) if position != 0 else None
    if kind == "both":
        return Reference(kind, (1, 2))
    return Reference(kind)


def _small_number(text: str) -> int | None:
    text = text.lower()
    if text.isdigit():
        return int(text)
    return SMALL_NUMBERS.get(text)


def _quantity(text: str) -> int | None:
    match = QUANTITY.search(text)
    if not match:
        return None
    raw = next(v for v in match.groupdict().values() if v)
    value = _small_number(raw) or (int(parse_number(raw) or 0) if raw[0].isdigit() else None)
    return value if value and 0 < value <= 99 else None


def _negated_before(text: str, start: int) -> bool:
    window = text[max(0, start - 24) : start].lower().split()
    said = text[start:].lower().split()[:1]
    if window and window[-1] == "no" and said and said[0] in INTERJECTION_AFTER:
        return False  # "wait no it's for my son": "no" answers, "it" is not refused
    while window and window[-1] in ANAPHOR_DETERMINERS:
        window.pop()  # "not the first one"
    return bool(window) and (window[-1] in NEGATORS or " ".join(window[-2:]) in NEGATOR_PHRASES)


def _size_context(text: str, tokens: list[tuple[str, int, int]], i: int, consumed: int) -> bool:
    """Single letters and numbers are sizes only where a shopper would mean a size."""
    word = tokens[i][0]
    if consumed > 1 or (len(word) >= 2 and not word.isdigit()):
        return True  # "xl", "extra large", "small"
    if len(tokens) == 1:
        return True  # the whole message: an answer to "which size?"
    previous = tokens[i - 1][0].lower() if i else ""
    if i and re.search(r"[,.;:!]|\s[-\u2013\u2014]\s", text[tokens[i - 1][2] : tokens[i][1]]):
        # "the 2nd one, L", "going with the first. 34, green", "in my cart - 36 in grey": set
        # apart
        previous = ","
    following = tokens[i + 1][0].lower() if i + 1 < len(tokens) else ""
    if previous in ("size", "sz", "sizes", "waist", "inseam") or following in ("waist", "size"):
        return True
    if i == 0 and word.isupper() and following in POLITE:
        return True  # "S please", "L pls": the answer to "which size?"
    after_unit = tokens[i + 2][0].lower() if i + 2 < len(tokens) else ""
    if following in ("inch", "inches") and after_unit in ("waist", "inseam"):
        return True  # "pants, 32 inch waist"
    if word.isdigit():
        return previous in ("in", "a", "an", "or", "and", ",")
    return (
        not word.isdigit()
        and word.isupper()
        # "add it S", "get them M", "add M purple": a capital letter right after the item,
        # or right after the verb that puts it in the cart, is its size
        and previous
        in ("in", "an", "a", "the", "or", "and", ",", "to", "it", "them", "one", "me", *CART_VERBS)
    )


def _title_surfaces(titles: Iterable[str], nlu: NluData) -> dict[str, str]:
    """How shoppers name a product by its title: the whole title, and its distinctive first
    word with the product noun ("the augusta jacket" for "Augusta Pullover Jacket") when no
    other title starts with that word and it is no everyday word of the training examples.
    Titles of one word are left out: they are ordinary words more often than names."""
    common = {t.lower() for e in nlu.examples for t in TOKEN.findall(e.text)} | STOP_WORDS
    words = {title: _title_words(title) for title in titles}
    firsts = Counter(w[0] for w in words.values() if w)
    surfaces: dict[str, str] = {}
    for title, tokens in words.items():
        if len(tokens) < 2:
            continue
        surfaces[" ".join(tokens)] = title
        first, last = tokens[0], tokens[-1]
        if len(tokens) > 2 and firsts[first] == 1 and first not in common and len(first) > 3:
            surfaces.setdefault(f"{first} {last}", title)
    return surfaces


def title_has_name(title: str, name: str) -> bool:
    """Whether the title is, or opens with, the name ("Teton Pullover Hoodie" has "teton"):
    the products a title or product name the shopper said stands for."""
    words, named = _title_words(title), _title_words(name)
    return bool(named) and words[: len(named)] == named


def title_nouns(title: str) -> set[str]:
    """A title's words in the singular ("Zing Jump Rope" -> zing, jump, rope)."""
    return {_singular(word) for word in _title_words(title)}


def _title_words(title: str) -> list[str]:
    return _normalise(title.replace("™", "").replace("®", "")).split()


def blanked(text: str, entities: Iterable[Entity]) -> str:
    """The text with those entities' words blanked out, its length kept so the other spans
    still point at their words."""
    chars = list(text)
    for entity in entities:
        chars[entity.start : entity.end] = " " * (entity.end - entity.start)
    return "".join(chars)


def _singular(word: str) -> str:
    return next(iter(_singulars(word)), word)


def _typed_values(nlu: NluData) -> dict[str, str]:
    """Value -> entity type, as the training file's lookups and annotations name them."""
    typed: dict[str, str] = {}
    for name, values in nlu.lookups.items():
        for value in values:
            typed.setdefault(value.lower(), name)
    for example in nlu.examples:
        for span in example.entities:
            typed.setdefault(span.value.lower(), span.entity)
    return typed


def _everyday_words(nlu: NluData) -> set[str]:
    """Words the training examples use outside their annotated values ("long", "full",
    "text"): everyday words rather than catalog terms (unless annotated elsewhere, which the
    caller takes out: "gym")."""
    words = set(STOP_WORDS)
    for example in nlu.examples:
        text = example.text
        for span in sorted(example.entities, key=lambda s: -s.start):
            text = text[: span.start] + " " + text[span.end :]
        words |= {t.lower() for t in TOKEN.findall(text)}
    return words


def _surface_forms(value: str) -> list[str]:
    """How a value may be written, in a fixed order (the phrase table is built in this order,
    so the same catalog always reads a message the same way, whatever the hash seed)."""
    forms = dict.fromkeys([value, value.replace("®", "").replace("™", "").strip()])
    for sign, words in FRACTIONS.items():  # "¼ zip": "quarter zip", "1/4 zip"
        for form in [f for f in forms if sign in f]:
            forms.update(
                dict.fromkeys(form.replace(sign, f"{w} ").replace("  ", " ") for w in words)
            )
    for form in list(forms):
        forms.update(dict.fromkeys(_singulars(form)))
        forms[form.replace("-", " ")] = None
        forms[form.replace("-", "")] = None
        forms[form.replace(" ", "-")] = None  # "full zip" written "full-zip"
        forms[re.sub(r"^(\d+) (cm|mm|in|ft|foot|l|ml|oz)$", r"\1\2", form)] = None  # "55cm"
        if re.fullmatch(r"\d+ (?:foot|feet)", form):  # "the 10 ft one"
            number = form.split()[0]
            forms.update(dict.fromkeys([f"{number} ft", f"{number}ft", f"{number} feet"]))
        if re.fullmatch(r"\d+ (?:cm|mm|in|ft|foot|feet|l)", form):  # "the 55 one": its number
            forms.update(dict.fromkeys([f"{form.split()[0]} one", f"{form.split()[0]} ones"]))
    return [f for f in forms if f]


def _with_the_noun(value: str) -> list[str]:
    """ "with wheels", "with a hood" for a value made of a noun ("Wheeled", "Hooded", "Padded"):
    the shopper names the part, the store its adjective. Only for a noun the English lexicon
    knows, and only after "with" (a "hood" alone is no hooded jacket)."""
    word = value.lower()
    if " " in word or len(word) < 6 or not word.endswith("ed"):
        return []
    stems = [*getAllLemmas(word).get("VERB", ()), word[:-1]]  # "striped": stripe
    stems += [word[:-3]] if word[-3] == word[-4] else [word[:-2]]  # "padded": pad
    for stem in stems:
        nouns = getAllInflections(stem, upos="NOUN")
        if nouns:
            article = "an" if stem[0] in "aeiou" else "a"
            one, many = nouns.get("NN", ()), nouns.get("NNS", ())
            return [*(f"with {a}{n}" for n in one for a in ("", f"{article} ")),
                    *(f"with {n}" for n in many)]  # fmt: skip
    return []


def category_parts(value: str) -> list[str]:
    """'hoodies & sweatshirts' -> ['hoodies', 'sweatshirts']."""
    parts = [p.strip() for p in re.split(r"\s*(?:&|/|\band\b)\s*", value)]
    return [p for p in parts if p and p != value]


def _normalise(text: str) -> str:
    """Lower-cased tokens, with British -bre/-tre spellings in their American form on both
    sides of a lookup, so "carbon fibre poles" finds "Carbon Fiber Trekking Poles" (and a
    British catalog's "Fibre" the shopper's "fiber")."""
    tokens = TOKEN.findall(text.lower().replace("\u2019", "'"))
    return " ".join(_american(token) for token in tokens)


def _american(word: str) -> str:
    if len(word) >= 5 and word.endswith(("bre", "tre")) and word not in NOT_BRITISH:
        return word[:-2] + "er"
    return word


def _singulars(word: str) -> list[str]:
    """Possible singulars of the last word, likeliest first: 'hoodies' -> ['hoodie', 'hoody']."""
    last = word.split(" ")[-1]
    head = word[: len(word) - len(last)]
    if len(last) <= 3 or last.endswith(("ss", "us", "is")) or not last.endswith("s"):
        return []
    forms = [head + last[:-1]]
    if last.endswith(("ches", "shes", "xes", "sses")):
        forms.append(head + last[:-2])
    if last.endswith("ies"):
        forms.append(head + last[:-3] + "y")
    return forms


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (adjacent swaps count once), stopping early past `limit`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _overlaps(span: tuple[int, int], spans: Iterable[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in spans)


def _span_of(text: str, fragment: str) -> list[tuple[int, int]]:
    index = text.lower().find(fragment.lower())
    return [(index, index + len(fragment))] if index >= 0 and fragment else []
