"""Price expressions: "under $50", "between 20 and 40 dollars", "less than fifty bucks",
"around 30", "cheap". Numbers may be digits or English number words."""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_WORD = "|".join(sorted([*UNITS, *TENS, "hundred", "thousand", "a", "and"], key=len, reverse=True))
# Longest first, or "sixty" would match as "six".
_NUMBER_WORDS = "|".join(sorted([*UNITS, *TENS], key=len, reverse=True))
# Money by its nickname: "under a tenner", "a fiver or less".
MONEY_NICKNAMES = {"fiver": 5, "tenner": 10}
_WORD_NUMBER = (
    rf"(?:(?:{_NUMBER_WORDS})\b(?:[\s-]+(?:{_WORD})\b)*|a\s+hundred(?:[\s-]+(?:{_WORD})\b)*"
    rf"|(?:a\s+)?(?:{'|'.join(MONEY_NICKNAMES)})\b)"
)
# Never part of a longer number: "$99999999999999999999" is not read as $9,999,999.
# "1.5k" is 1500, but the k of "800km" starts a unit.
_DIGITS = (
    r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,7}(?:[.,]\d{1,2})?)(?!\d)(?:k(?![a-z]))?"
)
_UNIT = r"(?:\s?(?:dollars?|bucks?|usd|eur|euros?|quid|pounds?|\$))?"
NUMBER = rf"(?:[$€£]\s?)?(?:{_DIGITS}|{_WORD_NUMBER}){_UNIT}"


def _n(name: str) -> str:
    return f"(?P<{name}>{NUMBER})"


# A minus sign before a bound ("under -5 dollars"): no price is negative.
_NEGATIVE = r"(?P<negative>-|\u2212|minus\s+|negative\s+)?"


# Limits that leave the limit itself out: "under 60" is no $60 item ("60 max" keeps it).
_BELOW = (
    r"under|below|beneath|less\s+th[ae]n|lower\s+than|cheaper\s+than|sub-?(?=\s*[$€£]?\d)|"
    r"undr|unter|south\s+of|<(?!=)"
)
# Signs stand apart from words, so no word boundary comes before them ("tank ≤ $20").
_AT_MOST_SIGN = r"(?<!\w)(?:<=|=<|≤|<)"
_AT_LEAST_SIGN = r"(?<!\w)(?:>=|=>|≥|>)"

# Order matters: ranges before one-sided bounds.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "between",
        re.compile(
            rf"\b(?:between|from)\s+{_n('low')}\s+(?:and|to|-)\s+{_n('high')}", re.IGNORECASE
        ),
    ),
    ("between", re.compile(rf"(?<![\w#]){_n('low')}\s*(?:-|to)\s*{_n('high')}", re.IGNORECASE)),
    (
        "max",
        re.compile(
            rf"(?:\b(?:{_BELOW}|no\s+more\s+than|not\s+more\s+than|at\s+most|up\s+to|"
            r"max(?:imum)?(?:\s+of)?|within|budget\s+(?:is|of))|"
            + _AT_MOST_SIGN
            + r")\s*"
            + _NEGATIVE
            + _n("value"),
            re.IGNORECASE,
        ),
    ),
    (
        "max",
        re.compile(
            _n("value")
            + r"\s+(?:or\s+(?:less|under|below|cheaper)|max(?:imum)?|tops|to\s+spend|budget)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "min",
        re.compile(
            r"(?:\b(?:over|above|more\s+than|greater\s+than|at\s+least|min(?:imum)?(?:\s+of)?|"
            r"pricier\s+than|starting\s+at|north\s+of)|"
            + _AT_LEAST_SIGN
            + r")\s*"
            + _NEGATIVE
            + _n("value"),
            re.IGNORECASE,
        ),
    ),
    ("min", re.compile(_n("value") + r"\s*(?:\+|or\s+(?:more|above|over))", re.IGNORECASE)),
    (
        "around",
        re.compile(
            # "round 400", "'round 400": the spoken "around"
            r"(?:\b|')(?:a?round|about|approximately|approx\.?|roughly|close\s+to|near|~)\s*"
            + _NEGATIVE
            + _n("value"),
            re.IGNORECASE,
        ),
    ),
    ("around", re.compile(_n("value") + r"[\s-]?ish\b", re.IGNORECASE)),  # "30ish", "50-ish"
]
CHEAP_WORDS = re.compile(
    r"\b(?:cheap(?:er|est)?|inexpensive|affordable|budget|bargain|low[\s-]cost|economical)\b",
    re.IGNORECASE,
)
AROUND_SPREAD = 0.2
STRICTLY_BELOW = re.compile(rf"(?:{_BELOW})", re.IGNORECASE)
# A number read as a length, weight, time, age or count rather than money ("5'4", "6 foot",
# "30 years", "for about six months", "within ten minutes", "800km").
MEASURE_AFTER = re.compile(
    r"\s?(?:['\u2019\u2032]\d|(?:ft|feet|foot|cm|mm|inch(?:es)?|kg|kilos?|lbs?|"
    r"pounds?\s+(?:heavy|weight)|miles?|kms?|kilomet(?:re|er)s?|met(?:re|er)s?|"
    r"l|lt?rs?|lit(?:re|er)s?|ml|oz|people|persons?|person|kids?|"
    r"seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|months?|years?|yrs?|"
    r"degrees?|percent|reps?|laps?|shoulders?|times?|pairs?|pieces?|pcs|pack)\b|%|\u00b0)",
    re.IGNORECASE,
)
MONEY_WORD = re.compile(r"[$€£]|dollar|buck|usd|eur|quid|fiver|tenner", re.IGNORECASE)
# A negation just before "over X" / "more than X" turns the floor into a ceiling.
NEGATED_BOUND = re.compile(
    r"(?:\bnot|n['\u2019]t|\bnever|\bnothing|\bnothin['\u2019]?|\bnuthin[g'\u2019]?)"
    r"\s+(?:(?!(?:mind|care|matter)\b)\w+\s+){0,3}?$",
    re.IGNORECASE,
)

# Spending more than X is what a shopper says they will not do ("she'd kill me if I spent more
# than fifty", "without paying over 80"), unless they say they are willing to.
SPENDING_BOUND = re.compile(
    r"\b(?:spen[dt]\w*|pay(?:ing)?|paid|fork(?:ing)?\s+out|shell(?:ing)?\s+out|blow(?:ing)?)"
    r"\s+(?:\w+\s+){0,2}?$",
    re.IGNORECASE,
)
WILLING = re.compile(
    r"\b(?:happy|willing|glad|ok(?:ay)?|fine|prepared|(?:do\s+not|don['\u2019]?t)\s+mind)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class PriceRange:
    minimum: float | None
    maximum: float | None
    start: int
    end: int
    text: str
    # "under 60", "less than 60": the limit itself is excluded ("60 max" and "up to 60" keep it).
    below: bool = False


def parse_number(text: str) -> float | None:
    """'$1,200' -> 1200, 'fifty five bucks' -> 55, '1.5k' -> 1500, 'a hundred' -> 100."""
    cleaned = re.sub(r"[$€£]|dollars?|bucks?|usd|eur|euros?|quid|pounds?", "", text.lower()).strip()
    if not cleaned:
        return None
    if cleaned[0].isdigit():
        multiplier = 1000.0 if cleaned.endswith("k") else 1.0
        cleaned = cleaned.rstrip("k")
        if re.fullmatch(r"\d{1,3}(,\d{3})+", cleaned):
            cleaned = cleaned.replace(",", "")
        try:
            return float(cleaned.replace(",", ".")) * multiplier
        except ValueError:
            return None
    nickname = MONEY_NICKNAMES.get(cleaned.removeprefix("a ").strip())
    return float(nickname) if nickname is not None else _words_to_number(cleaned)


def _words_to_number(text: str) -> float | None:
    total = current = 0
    seen = False
    for word in re.split(r"[\s-]+", text):
        if word in ("a", "and", ""):
            continue
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
        seen = True
    return float(total + current) if seen else None


def find_price(text: str) -> PriceRange | None:
    """The first price constraint in the text, if any."""
    for kind, pattern in PATTERNS:
        match = next(
            (m for m in pattern.finditer(text) if not _a_measure(text, m)), None
        )  # "I'm around 6 foot, budget around 80": the height is skipped, the budget kept
        if not match:
            continue
        groups = match.groupdict()
        if kind == "between":
            if re.search(r"[a-z]-[a-z]", match.group(0), re.IGNORECASE):
                continue  # "seventy-five" is one number, not a range
            low, high = parse_number(groups["low"]), parse_number(groups["high"])
            if low is None or high is None or not _looks_like_price(match.group(0), high):
                continue
            low, high = sorted((low, high))
            return PriceRange(low, high, match.start(), match.end(), match.group(0))
        value = parse_number(groups["value"])
        if value is None:
            continue
        if groups.get("negative") and value > 0:
            if kind != "max":
                continue  # "over -5": every price is, so it filters nothing
            value = 0.0  # "under -5": nothing costs less than nothing, and nothing is free
        if kind == "max":
            below = bool(STRICTLY_BELOW.match(match.group(0)))
            return PriceRange(None, value, match.start(), match.end(), match.group(0), below)
        if kind == "min":
            before = text[: match.start()]
            spending = SPENDING_BOUND.search(before) and not WILLING.search(before)
            if NEGATED_BOUND.search(text, 0, match.start()) or spending:
                # "I'd rather not go over $40", "don't want to spend more than 60": a limit
                return PriceRange(None, value, match.start(), match.end(), match.group(0))
            return PriceRange(value, None, match.start(), match.end(), match.group(0))
        low = round(value * (1 - AROUND_SPREAD), 2)
        high = round(value * (1 + AROUND_SPREAD), 2)
        return PriceRange(low, high, match.start(), match.end(), match.group(0))
    return None


def _a_measure(text: str, match: re.Match[str]) -> bool:
    """ "about 5'4", "around 6 foot": a height, not a price (unless money is named)."""
    return not MONEY_WORD.search(match.group(0)) and bool(MEASURE_AFTER.match(text, match.end()))


def _looks_like_price(text: str, high: float) -> bool:
    """'28-30' could be waist sizes: a bare range needs a currency mark or a plausible price."""
    if re.search(r"[$€£]|dollar|buck|usd|eur|quid|pound|between|from", text, re.IGNORECASE):
        return True
    return high > 40


def wants_cheap(text: str) -> bool:
    return bool(CHEAP_WORDS.search(text))


# Sizes said in words (voice turns): "waist thirty four", "size twenty eight", "thirty two
# waist", "a thirty two inch waist".
_SIZE_WORDS = rf"(?:{_NUMBER_WORDS})(?:[\s-]+(?:{_NUMBER_WORDS}))?(?![\s-]+(?:hundred|thousand)\b)"
_SPOKEN_SIZE = re.compile(
    rf"\b(?P<before>size|sz|waist|inseam)(?P<gap>\s+)(?P<words>{_SIZE_WORDS})\b"
    rf"|\b(?P<words_first>{_SIZE_WORDS})(?P<gap_after>[\s-]+(?:inch(?:es)?[\s-]+)?)"
    rf"(?P<after>waist|inseam)\b",
    re.IGNORECASE,
)


# "32-inch waist" as "32 inch waist", the way the size reader takes it.
_INCHES = re.compile(r"\b(\d{2})-(inch(?:es)?)\b", re.IGNORECASE)


def spoken_sizes(text: str) -> str:
    """Number words right after "size"/"waist" (or before "waist") as digits, so a spoken
    "waist thirty four" means the catalog's size 34, and "32-inch" as "32 inch"; prices and
    quantities are left alone."""

    def digits(match: re.Match[str]) -> str:
        words = match["words"] or match["words_first"]
        value = _words_to_number(words)
        if value is None or value != int(value):
            return match.group(0)
        if match["before"]:
            return f"{match['before']}{match['gap']}{int(value)}"
        return f"{int(value)}{match['gap_after']}{match['after']}"

    return _INCHES.sub(r"\1 \2", _SPOKEN_SIZE.sub(digits, text))
