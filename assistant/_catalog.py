"""Adapts the retrieval engine to the dialogue's `CatalogPort`: the one place where dialogue
types meet retrieval types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from typing import Any

from dialogue import (
    CatalogPort,
    Match,
    MatchEvidence,
    PhotoSeen,
    ProductCard,
    ProductText,
    ReviewFact,
    SearchOutcome,
    SearchRequest,
    sentences,
)
from retrieval import (
    FILTER_ATTRIBUTES,
    MAX_K,
    Exclusions,
    Filters,
    Hit,
    ImageRole,
    Personal,
    PhotoReading,
    Preferences,
    Product,
    SearchEngine,
    SearchQuery,
    same_noun,
    singular,
    title_words,
)

SUMMARY_CHARS = 600
MAX_REVIEWS_ON_CARD = 20
TITLE_VOCABULARY_LIMIT = 50_000
VOCABULARY_FACETS = ("category", "color", "size", "gender", "brand", "label", *FILTER_ATTRIBUTES)
# Product ids -> products liked by shoppers who liked them, with scores in (0, 1].
CoLiked = Callable[[Sequence[str]], list[tuple[str, float]]]


class RetrievalCatalog(CatalogPort):
    """The store as the dialogue sees it: `CatalogPort` implemented over the `SearchEngine`.

    It turns a dialogue `SearchRequest` into the engine's `SearchQuery` (category families, a
    wish on a facet the catalog does not state for that kind turned into words, the store's
    sort over the whole result set) and the engine's hits into `ProductCard`s with their
    reasons; it also serves product text for answers, the catalog vocabulary, kind nouns and
    product names that build the NLU's phrase table, and the word and closeness checks."""

    def __init__(
        self,
        engine: SearchEngine,
        extra_vocabulary: dict[str, list[str]] | None = None,
        co_liked: CoLiked | None = None,
    ) -> None:
        self.engine = engine
        self.extra_vocabulary = extra_vocabulary or {}
        self.co_liked = co_liked
        # Product id -> (the product object the card was made from, the card): a card is
        # reused only for that very object, so after a catalog refresh (new objects) every
        # card is made again from the new facts, even one cached by a search in flight.
        self._cards: dict[str, tuple[Product, ProductCard]] = {}
        # The same for product texts: answers cache their sentence vectors per text.
        self._texts: dict[str, tuple[Product, ProductText]] = {}
        self._vocabulary: tuple[object, dict[str, list[str]]] | None = None
        self._kinds: tuple[object, dict[str, str]] | None = None
        # Per catalog view: lower-cased title -> the ids sold under it (`namesakes`).
        self._titles: tuple[object, dict[str, list[str]]] | None = None
        self._names: tuple[object, dict[str, tuple[str, ...]]] | None = None

    def search(self, request: SearchRequest) -> SearchOutcome:
        with self.engine.pinned():  # the seed check and the search read one catalog
            return self._search(request)

    def _search(self, request: SearchRequest) -> SearchOutcome:
        c = request.constraints
        # A wish on a facet the catalog does not state for this kind ("running shorts" where
        # apparel has no activity) ranks by its words instead of filtering everything out.
        unstated = {
            name: values
            for name, facet, values in (
                *((name, name, values) for name, values in c.attributes.items()),
                # Judged only for a named kind: most products carry these.
                ("genders", "gender", c.genders if c.categories else ()),  # bags have none
                ("colors", "color", c.colors if c.categories else ()),  # eShop says it in words
                ("sizes", "size", c.sizes if c.categories else ()),
            )
            if values and not self.engine.view.carries(facet, c.categories)
        }
        families = tuple(
            dict.fromkeys(
                f for name in c.categories for f in self.engine.view.category_family(name)
            )
        )
        if families != c.categories:
            c = replace(c, categories=families)
            request = replace(request, constraints=c)
        if unstated:
            words = [v for values in unstated.values() for v in values]
            c = c.cleared(*unstated)
            request = replace(
                request,
                constraints=c,
                text=" ".join([request.text, *words]).strip(),
            )
        category_words = {  # from the vocabulary computed once per catalog view
            w for name in self.vocabulary()["category"] for w in title_words(name)
        }
        part_styles = set(self.vocabulary()["part_style"])
        kinds = _narrower_kinds(request.prefer.kinds, c.categories, category_words, part_styles)
        try:
            # A constraint reaches the engine under its own name: a new facet is a field of
            # both dataclasses, not another line here.
            filters = Filters(
                **_same_fields(c, Filters, but=("price_max", "kinds")),
                # "under 60": below the limit (a tenth of a cent under it, which no price is)
                price_max=c.price_max - 0.001 if c.price_below and c.price_max else c.price_max,
                kinds=kinds,
            )
            x = request.exclude
            exclude = Exclusions(
                **_same_fields(x, Exclusions, but=("product_ids",)),
                product_ids=(*x.product_ids, *request.seen),
            )
        except ValueError as exc:
            return SearchOutcome(matches=[], empty_reason=f"Those constraints conflict: {exc}.")
        window = request.offset + request.k
        k = min(MAX_K, window)
        query = SearchQuery(
            text=request.text,
            filters=filters,
            exclude=exclude,
            prefer=Preferences(
                cheaper=request.prefer.cheaper,
                brands=request.prefer.brands,
                terms=request.prefer.terms,
                kinds=kinds,
            ),
            personal=self._personal(request),
            image=request.image,
            similar_to=request.similar_to if request.similar_to in self.engine.view.row else None,
            sort=request.sort,  # the whole result set in that order, not a page of the best
            k=k,
        )
        result = self.engine.search(query)
        hits = result.hits[request.offset : window]
        relaxation = result.relaxation
        colors = c.colors
        photographed = result.photo.lookalike if result.photo else None
        return SearchOutcome(
            matches=[self._match(h, colors, photographed) for h in hits],
            total=result.candidates,
            empty_reason=result.empty_reason,
            relaxed_constraint=relaxation.description if relaxation else None,
            relaxed_matches=[self._match(h, colors) for h in relaxation.hits[: request.k]]
            if relaxation
            else [],
            alternatives=[self._match(h, colors) for h in result.alternatives[: request.k]]
            if request.offset == 0
            else [],
            unfiltered=tuple(unstated),
            photo=_photo_seen(result.photo),
        )

    def _personal(self, request: SearchRequest) -> Personal:
        """The shopper's feedback plus, from the event log, what shoppers who liked the same
        products (or the seed product) also liked. Without likes, nothing personal is added."""
        seeds = [*request.liked, *([request.similar_to] if request.similar_to else [])]
        co_liked = self.co_liked(seeds) if self.co_liked and seeds else []
        personal_seeds = set(seeds) | set(request.disliked)
        return Personal(
            liked=request.liked,
            disliked=request.disliked,
            co_liked=tuple((pid, s) for pid, s in co_liked if pid not in personal_seeds),
        )

    def clear_cards(self) -> None:
        """Drop the cards of a catalog no longer in use (they would keep its products alive)."""
        self._cards = {}
        self._texts = {}

    def product(self, product_id: str) -> ProductCard | None:
        product = self.engine.view.products.get(product_id)
        return None if product is None else self._card(product)

    def product_text(self, product_id: str) -> ProductText | None:
        """Every attribute, the sizes and colours in stock, the description's sentences and
        every review: what a product question may be answered from."""
        product = self.engine.view.products.get(product_id)
        if product is None:
            return None
        cached = self._texts.get(product_id)
        if cached is not None and cached[0] is product:
            return cached[1]
        card = self._card(product)  # its in-stock sizes and colours, worked out once
        text = ProductText(
            id=product.id,
            title=product.title,
            attributes={
                name: tuple(values)
                for name, values in product.attributes.items()
                if values and name not in ("size", "color")
            },
            sizes=card.offered_sizes,
            colors=card.offered_colors,
            description=sentences(product.description),
            reviews=tuple(ReviewFact(r.rating, r.text, r.title) for r in product.reviews),
        )
        if len(self._texts) > 10_000:
            self._texts.clear()
        self._texts[product_id] = (product, text)
        return text

    def complete_the_look(self, product_id: str, k: int, kinds: Sequence[str] = ()) -> list[Match]:
        with self.engine.pinned():
            view = self.engine.view
            if product_id not in view.products:
                return []
            families = [f for kind in kinds for f in view.category_family(kind)]
            hits = self.engine.complete_the_look(product_id, k, families)
            return [self._match(h) for h in hits]

    def vocabulary(self) -> dict[str, list[str]]:
        """Computed once per catalog view (a scan of every product): the NLU, the speech
        prompt and each prompt reload all ask for it."""
        view = self.engine.view
        if self._vocabulary is not None and self._vocabulary[0] is view:
            return self._vocabulary[1]
        vocabulary = {facet: view.vocabulary(facet) for facet in VOCABULARY_FACETS}
        styles = {v for p in view.products.values() for v in p.attributes.get("style", [])}
        vocabulary["style"] = sorted(s.lower() for s in styles)
        vocabulary["part_style"] = view.part_styles()
        vocabulary["tag"] = sorted({t for p in view.products.values() for t in p.tags})
        if len(view) <= TITLE_VOCABULARY_LIMIT:
            vocabulary["title"] = sorted({p.title for p in view.products.values()})
        for facet, values in self.extra_vocabulary.items():
            vocabulary[facet] = sorted({*vocabulary.get(facet, []), *values})
        self._vocabulary = (view, vocabulary)
        return vocabulary

    def attributes(self) -> tuple[str, ...]:
        return FILTER_ATTRIBUTES

    def kinds(self) -> dict[str, str]:
        """Once per catalog view, like the vocabulary."""
        view = self.engine.view
        if self._kinds is None or self._kinds[0] is not view:
            self._kinds = (view, view.kind_nouns())
        return self._kinds[1]

    def product_names(self) -> dict[str, tuple[str, ...]]:
        """Once per catalog view, like the vocabulary; none past the title vocabulary's limit
        (a catalog that large names too many products for a phrase table)."""
        view = self.engine.view
        if self._names is None or self._names[0] is not view:
            names = view.product_names() if len(view) <= TITLE_VOCABULARY_LIMIT else {}
            self._names = (view, names)
        return self._names[1]

    def mentions(self, words: str) -> bool:
        return self.engine.mentions(words)

    def closeness(self, text: str) -> float:
        return self.engine.closeness(text)

    def nearest_kinds(self, text: str, k: int) -> dict[str, int]:
        return self.engine.nearest_categories(text, k)

    def namesakes(self, product_id: str) -> list[ProductCard]:
        view = self.engine.view
        if self._titles is None or self._titles[0] is not view:
            titles: dict[str, list[str]] = {}
            for pid, product in view.products.items():
                titles.setdefault(product.title.strip().lower(), []).append(pid)
            self._titles = (view, titles)
        product = view.products.get(product_id)
        if product is None:
            return []
        same = self._titles[1].get(product.title.strip().lower(), [])
        return [self._card(view.products[pid]) for pid in same if pid != product_id]

    def _match(
        self, hit: Hit, colors: Sequence[str] = (), photographed: str | None = None
    ) -> Match:
        """The hit as a match; its card shows the photo of the colour the shopper asked for
        (and says so when it is the product the shopper photographed)."""
        e = hit.evidence
        evidence = MatchEvidence(
            met=tuple(e.met),
            unmet=tuple(e.unmet),
            text_span=e.text_span,
            review_snippet=e.review_snippet,
            review_rating=e.review_rating,
            price_vs_limit=e.price_vs_limit,
            lookalike=hit.product.id == photographed,
        )
        return Match(self._card(hit.product).in_color(*colors), evidence)

    def _card(self, product: Product) -> ProductCard:
        cached = self._cards.get(product.id)
        if cached is not None and cached[0] is product:
            return cached[1]
        stocked = [v for v in product.variants if v.in_stock]
        image = next((i.path for i in product.images if i.role == ImageRole.MAIN), None)
        card = ProductCard(
            id=product.id,
            title=product.title,
            price=product.effective_price,
            regular_price=product.price if product.on_sale else None,
            in_sale=product.in_sale,
            currency=product.currency,
            price_is_from=product.price_is_from,
            category=product.category_path[-1] if product.category_path else "",
            categories=tuple(dict.fromkeys(n.lower() for n in product.category_names)),
            sizes=tuple(product.sizes),
            colors=tuple(product.colors),
            in_stock_sizes=tuple(dict.fromkeys(v.size for v in stocked if v.size)),
            in_stock_colors=tuple(dict.fromkeys(v.color for v in stocked if v.color)),
            genders=tuple(product.attribute_values("gender")),
            attributes={
                name: tuple(values)
                for name in FILTER_ATTRIBUTES
                if (values := product.attribute_values(name))
            },
            brand=product.brand,
            rating=product.rating,
            review_count=len(product.reviews),
            in_stock=product.in_stock,
            image=image or (product.images[0].path if product.images else None),
            color_images=_color_images(product),
            summary=product.description[:SUMMARY_CHARS],
            reviews=tuple(
                ReviewFact(r.rating, r.text, r.title) for r in product.reviews[:MAX_REVIEWS_ON_CARD]
            ),
        )
        if len(self._cards) > 10_000:
            self._cards.clear()
        self._cards[product.id] = (product, card)
        return card


def _photo_seen(reading: PhotoReading | None) -> PhotoSeen | None:
    if reading is None:
        return None
    used = reading.used
    return PhotoSeen(
        kind=used.category if used else None,
        department=used.department if used else None,
        lookalike=reading.lookalike,
    )


def _color_images(product: Product) -> tuple[tuple[str, str], ...]:
    """The first photo of each colour, preferring the colour's main view."""
    by_color: dict[str, tuple[str, str]] = {}
    for image in sorted(product.images, key=lambda i: i.role != ImageRole.MAIN):
        if image.color:
            by_color.setdefault(image.color.lower(), (image.color, image.path))
    return tuple(by_color.values())


def _same_fields(source: object, target: type, *, but: tuple[str, ...]) -> dict[str, Any]:
    """The values of `source` for the fields `target` has under the same name, except those
    the caller sets itself (`but`)."""
    return {
        f.name: getattr(source, f.name)
        for f in fields(target)
        if f.name not in but and hasattr(source, f.name)
    }


def _narrower_kinds(
    kinds: Sequence[str],
    categories: Sequence[str],
    category_words: set[str],
    part_styles: set[str] | frozenset[str] = frozenset(),
) -> tuple[str, ...]:
    """The shopper's product nouns that say more than the category does: "headlamp" inside
    Trekking, "backpack" inside Bags or "climbing harness" inside Climbing filter by title;
    "jackets", "tank top" or "sweatshrit" name the category itself, whose products need not
    say so in their titles (a head noun that is a category word, "top", names one too). A
    style that splits a combined category ("bra" in Bras & Tanks: `part_styles`) narrows it."""
    named = {w for c in categories for w in title_words(c)}

    def narrower(kind: str) -> bool:
        if kind.lower() in part_styles:
            return True  # "sports bra": the bras of Bras & Tanks
        words = [singular(w) for w in kind.lower().split()]
        if any(same_noun(words[-1], c) for c in named):
            return False  # "jackets", "sweatshrit"
        modified = any(same_noun(w, c) for w in words[:-1] for c in named)
        return not modified or words[-1] not in category_words  # "tank top" is Tanks

    return tuple(k for k in kinds if k.strip() and narrower(k))
