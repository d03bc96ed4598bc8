"""Things the store does not sell, read from the catalog rather than from a list.

"Need a swimsuit for aqua aerobics" in a store with no swimsuits used to be searched like any
request, and the page answered with shorts and water bottles as if they were swimsuits. The
catalog itself says what it sells: a product noun that no product's title, attributes or
description ever uses, that the training examples never use and that no catalog term spells
(not even with a typo), is a thing the store does not carry. The assistant then says so and
offers what comes closest as alternatives, never as matches.

Only the noun a request asks for counts: the words right after "do you sell", "need a",
"looking for", "any" (or the message's first words), up to the first preposition or clause
break, so "a hammock to string between two trees" asks for a hammock and the trees are
context. The word must be a noun in the English lexicon (`lemminflect`): "sz", "fr" and
"cheap" are not things.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lemminflect import getAllLemmas, getInflection

from dialogue._entities import Entity, Extraction, _edit_distance, _singulars

# What a shopper says before the thing they want. "like", "after" and "got" ask only in their
# asking forms ("I'd like a", "I'm after a", "got any", "you got"): a tent that "leaks like a
# sieve", "after spin class" and "I've got a wedding" ask for no sieve, class or wedding.
ASKING = re.compile(
    r"\b(?:(?:do|does|d'?ya|d'?you)\s+(?:you|u|ya|y'?all)?\s*(?:guys\s+)?"
    r"(?:sell|stock|have|carry|do|got|make)"
    r"|have\s+you\s+got|(?:you|u|ya)\s+got|any|need|needs|want|wants|looking\s+for|look\s+for"
    r"|(?:is|are)\s+there"
    r"|searching\s+for|shopping\s+for|(?:i'?m|am|we'?re|are)\s+(?:\w+\s+)?after"
    r"|(?:i'?d|we'?d|would|wd)\s+(?:\w+\s+)?like|get\s+me|show\s+me|find\s+me|buy"
    r"|point\s+me\s+(?:to|towards|at)|recommend|suggest)\b"
    r"|^\s*got\b",
    re.IGNORECASE,
)
# Words that end the noun phrase: prepositions, conjunctions, pronouns, verbs of a new clause.
BOUNDARY = frozenset({
    "for", "to", "with", "that", "which", "who", "in", "on", "at", "from", "under", "over",
    "around", "about", "like", "so", "because", "but", "and", "or", "if", "please", "pls", "plz",
    "thanks", "i", "we", "she", "he", "it", "they", "is", "are", "can", "could", "would", "will",
    "as", "than", "by", "without", "near", "up", "between", "below", "within",
})  # fmt: skip
OWNERS = frozenset({"my", "our", "your", "his", "her", "their"})
# Words before the noun that say how many or which, never what.
LEADING = frozenset({
    "a", "an", "some", "the", "any", "one", "pair", "pairs", "set", "sets", "pack", "of",
    "couple", "new", "good",
    "decent", "nice", "proper", "solid", "little", "small", "big", "few", "more", "my", "me",
    "us", "your", "ur",
})  # fmt: skip
WORD = re.compile(r"[a-z][a-z'\-]*|\d\S*", re.IGNORECASE)
CLAUSE_BREAK = re.compile(r"[,.?!;:]")
NUMBER_NEXT = re.compile(r"\s*[$£€]?\d")
SHORT_WORD = 4
# Shorter words share a prefix by chance ("cap" and "capri").
MIN_STEM = 4
# Entity types that describe the thing rather than name it ("men's", "size 12", "blue").
DESCRIBING = frozenset({"gender", "size", "color", "brand"})
MAX_PHRASE_WORDS = 4
# Units after a number ("10 lb dumbbells", "2 l bottle") say how big, not what.
UNITS = frozenset({"lb", "lbs", "kg", "kgs", "oz", "g", "l", "ml", "cm", "mm", "in", "inch", "ft"})
# Heads that name no kind of their own: "a gps unit", "a handheld device" ask for the gps.
GENERIC_HEADS = frozenset({
    "unit", "device", "thing", "gadget", "model", "item", "product", "piece", "version",
    "type", "kind", "style", "option",
    # "little workout accessories", "hiking gear": what for, not what
    "accessory", "gear", "equipment", "stuff", "essential", "kit",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class AskedThing:
    """The noun phrase a request asks for, as said, with its span in the message."""

    phrase: str
    head: str
    start: int
    end: int

    def plural(self) -> str:
        """ "swimsuit" -> "swimsuits", "fishing rod" -> "fishing rods" (as a shop says it)."""
        words = self.phrase.split()
        if not words[-1].endswith("s"):  # "pyjamas" and "socks" stay as they are
            words[-1] = next(iter(getInflection(words[-1], tag="NNS")), words[-1])
        return " ".join(words)


class UncarriedThings:
    """Finds the thing a request asks for when the store sells nothing of the kind.

    `mentions` is the catalog's word check (`CatalogPort.mentions`); `known_words` are the
    words the assistant already reads as something: the catalog's terms and synonyms, and the
    shopping words of the training examples."""

    def __init__(
        self,
        mentions: Callable[[str], bool],
        terms: Iterable[str],
        everyday_words: Iterable[str] = (),
        dictionary: frozenset[str] = frozenset(),
    ) -> None:
        """`terms`: the words of the catalog's terms and their synonyms (the phrase table),
        which a word may also nearly spell; `everyday_words`: the training examples' other
        words ("something", "gift"); `dictionary`: real words of the language (the text
        encoder's vocabulary), which vouch for nouns the lexicon lacks ("sunglasses") but
        not for slang ("trackies")."""
        if not callable(mentions):
            raise TypeError("UncarriedThings needs the catalog's word check")
        self.mentions = mentions
        self.terms = frozenset(w.lower() for w in terms if len(w) >= MIN_STEM)
        self.known_words = self.terms | {w.lower() for w in everyday_words}
        self.dictionary = dictionary

    def run(self, text: str, extraction: Extraction, *, framed: bool = False) -> AskedThing | None:
        """The thing asked for, when the catalog never mentions it; else None. `framed`:
        only when the message says it asks ("looking for a fishing rod"), not from its
        first words alone."""
        asked = asked_thing(text, extraction, framed=framed)
        if asked is None or any(_covers(e, asked) for e in extraction.entities if e.known):
            return None
        head = asked.head
        if head in self.known_words or _singular(head) in self.known_words:
            return None
        if names_no_kind(head):
            return None
        if not self._is_noun(head) or self._near_a_known_word(head):
            return None
        if self.mentions(head) or self.mentions(_singular(head)):
            return None
        return asked

    def _is_noun(self, word: str) -> bool:
        lemmas = getAllLemmas(word)
        if not lemmas:  # not in the lexicon: a real word if the encoder knows it whole
            return word in self.dictionary
        return "NOUN" in lemmas and "ADJ" not in lemmas and "ADV" not in lemmas

    def _near_a_known_word(self, word: str) -> bool:
        """ "trackies" shares its stem with "track"; "jackt" is one letter off "jacket": words
        the catalog's own terms nearly spell are read as those terms elsewhere."""
        stem = _singular(word)
        if len(stem) < MIN_STEM:
            return False
        for known in self.terms:
            if known.startswith(stem) or stem.startswith(known):
                return True
            if abs(len(known) - len(stem)) <= 1 and _edit_distance(known, stem, 1) <= 1:
                return True
        return False

    def mark(self, text: str, extraction: Extraction, *, framed: bool = False) -> AskedThing | None:
        """Run, and when the thing is not carried record it in `extraction` as a category
        the store lacks (which the tracker and policy already answer honestly), dropping
        the categories the rest of the message named as context ("sunglasses for cycling")."""
        asked = self.run(text, extraction, framed=framed)
        if asked is None:
            return None
        extraction.entities = [
            e for e in extraction.entities if not (e.type == "category" and e.known)
        ]
        extraction.entities.append(
            Entity("category", asked.plural(), asked.phrase, asked.start, asked.end, known=False)
        )
        return asked


def asked_thing(text: str, extraction: Extraction, *, framed: bool = False) -> AskedThing | None:
    """The words after the first asking phrase (or the message's first words, unless
    `framed`), up to a preposition or clause break, without describing words ("men's",
    "XL") or numbers."""
    frame = ASKING.search(text)
    if frame is None:
        first = WORD.search(text)
        # Unasked, only a message that opens with its noun names a thing ("pyjamas for my
        # son"); "I sweat buckets", "my husband is..." talk about the shopper.
        if framed or first is None or first.group(0).lower() in BOUNDARY | OWNERS:
            return None
    start = frame.end() if frame else 0
    describing = [(e.start, e.end) for e in extraction.entities if e.type in DESCRIBING]
    words: list[re.Match[str]] = []
    price = extraction.price
    for match in WORD.finditer(text, start):
        if words and CLAUSE_BREAK.search(text[words[-1].end() : match.start()]):
            break
        if price is not None and price.start <= match.start() < price.end:
            break  # "bags between forty and sixty dollars": the price is no part of the thing
        word = match.group(0).lower()
        if word in BOUNDARY:
            break  # "buy for him": the asking words are not followed by a thing
        if not words and word in LEADING:
            continue
        if len(word) <= SHORT_WORD and NUMBER_NEXT.match(text, match.end()):
            break  # "sub 30", "age 6", "size 12": a price or a size, not the thing
        words.append(match)
        if len(words) >= MAX_PHRASE_WORDS:
            break
    kept = [
        m
        for m in words
        if not m.group(0)[0].isdigit()
        and m.group(0).lower() not in UNITS
        and not any(s <= m.start() < e for s, e in describing)
    ]
    if not kept:
        return None
    phrase_words = kept[-2:]
    return AskedThing(
        phrase=" ".join(m.group(0).lower() for m in phrase_words),
        head=kept[-1].group(0).lower(),
        start=phrase_words[0].start(),
        end=phrase_words[-1].end(),
    )


def names_no_kind(noun: str) -> bool:
    """Whether the noun ("unit", "accessories", "gear") says what a thing is, not which."""
    word = noun.split()[-1]
    return bool({word, _singular(word), *_singulars(word)} & GENERIC_HEADS)


def _covers(entity: Entity, asked: AskedThing) -> bool:
    head_start = asked.end - len(asked.head)
    return entity.start <= head_start < entity.end


def _singular(word: str) -> str:
    lemmas = getAllLemmas(word).get("NOUN")
    return lemmas[0] if lemmas else word
