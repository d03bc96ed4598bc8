"""A keyword-rules intent baseline for the hand-labelled SIMMC sample.

Why it exists: an act accuracy on real shopper turns means little on its own; the issue asks
whether the trained classifier beats a few lines of rules. FROZEN: written on 2026-12-06 from
the 27 intent descriptions of the SIMMC labelling guidelines (sample_data/dev/v2/SIMMC_LABELS.md)
alone, BEFORE any SIMMC turn text was read, and never adjusted after seeing results. Do not
tune it; replace it by a new, separately written baseline if it must change (and say so in the
README).
"""

from __future__ import annotations

import re

_COLOURS = (
    r"black|white|grey|gray|red|blue|green|yellow|pink|purple|orange|brown|beige|"
    r"navy|maroon|violet"
)
_KINDS = (
    r"jackets?|coats?|shirts?|t-?shirts?|tees?|blouses?|tops?|dress(es)?|skirts?|pants|"
    r"trousers|jeans|shorts|hoodies?|sweaters?|sweatshirts?|cardigans?|vests?|suits?|"
    r"shoes|boots|sneakers|bags?|hats?|caps?|clothes|clothing|outfits?"
)
_ATTRS = (
    rf"\b({_COLOURS})\b|\b(xs|s|m|l|xl|xxl|small|medium|large)\b|\$|\bdollars?\b|"
    r"\bunder\b|\bcheap|\bprice\b|\bbrand\b|striped|plaid|floral|checked|patterned|"
    r"sleeve|cotton|leather|denim|wool|silk|rated|reviews?|ratings?"
)
# First matching rule wins: specific, verb-like cues first, the search/browse split last.
_RULES: tuple[tuple[str, str], ...] = (
    ("greet", r"^\W*(hi|hello|hey|good (morning|afternoon|evening))\W*(there)?\W*$"),
    ("goodbye", r"\b(bye|goodbye|see you|that'?s all)\b"),
    ("affirm", r"^\W*(yes|yeah|yep|sure|ok|okay|great|perfect|sounds good)\W*$"),
    ("deny", r"^\W*(no|nope|nah|not really|no thanks)\W*$"),
    ("ask_capabilities", r"what can you (do|help)|how can you help|what do you (do|sell)"),
    ("human_handoff", r"\b(human|real person|agent|representative|customer service)\b"),
    ("order_status", r"\b(my order|order status|track(ing)?|delivered yet)\b"),
    ("store_policy", r"\b(return policy|refund|returns?|shipping|exchange|warranty)\b"),
    ("checkout", r"\b(check ?out|pay now|place (the|my) order)\b"),
    ("view_cart", r"(what'?s|what is) in my (cart|basket)|(show|view|see) (me )?my (cart|basket)"),
    ("remove_from_cart", r"\b(remove|take out|delete)\b.*\b(cart|basket)\b"),
    ("add_to_cart", r"\b(add|buy|purchase|i'?ll take|i will take|i'?ll get|put .* in my)\b"),
    ("search_by_image", r"\b(photo|picture|image|pic)\b"),
    ("compare_products", r"\b(compare|comparison|difference|versus|vs)\b"),
    ("complete_the_look", r"\b(go(es)? with|match(es)? with|pair with|complete the look)\b"),
    ("find_similar", r"\b(similar|same as|alike|like (this|that|the) one)\b"),
    ("sort_results", r"\b(sort|order by|cheapest first|lowest price first|highest rated first)\b"),
    ("remove_filter", r"(any (colou?r|size|price) is fine|doesn'?t matter|no preference)"),
    ("show_more", r"\b(show (me )?more|next page|more results|see more)\b"),
    ("get_recommendation", r"\b(recommend|suggest|popular|what do you think|best)\b"),
    ("check_availability", r"\b(in stock|available|come in|comes in|have (it|this|that) in)\b"),
    ("product_reviews", r"\b(reviews?|ratings?|rated|stars)\b"),
    (
        "product_details",
        r"\b(how much|price|cost|made of|material|brand|sizes?|sleeves?|"
        r"tell me (more )?about|details|what is (it|this|that))\b",
    ),
    (
        "refine_search",
        r"\b(cheaper|instead|what else|anything else|other options|different|"
        r"less expensive|only|without)\b",
    ),
)
_COMPILED = tuple((intent, re.compile(pattern, re.IGNORECASE)) for intent, pattern in _RULES)
_KIND = re.compile(rf"\b({_KINDS})\b", re.IGNORECASE)
_ATTR = re.compile(_ATTRS, re.IGNORECASE)
_REFERENCE = re.compile(r"\b(it|this|that|these|those|one|ones)\b", re.IGNORECASE)


def keyword_intent(text: str) -> str:
    """The first rule that fires; otherwise a search (with attributes), a browse (a product
    kind alone), a question about a referenced item, or out of scope."""
    for intent, pattern in _COMPILED:
        if pattern.search(text):
            return intent
    if _KIND.search(text):
        return "search_products" if _ATTR.search(text) else "browse_category"
    if _REFERENCE.search(text):
        return "product_details"
    return "search_products" if _ATTR.search(text) else "out_of_scope"
