"""The search engine: one entry point for text, filters, photos and "more like this".

Plan: exact hard filters from catalog facts -> candidates from several rankers (dense text,
BM25, image, CLIP, catalog links) -> reciprocal rank fusion -> soft-preference re-ranking ->
MMR for variety -> evidence for each hit. Empty results say which filter emptied them and show
the nearest relaxation.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from retrieval._documents import product_document, tokenize
from retrieval._encoders import ImageEncoder, TextEncoder
from retrieval._facets import LABELS, CatalogView, Mask, noun_pattern, title_names
from retrieval._index import VectorIndex
from retrieval._indexer import collection_name
from retrieval._lexical import BM25Index
from retrieval._model import LinkKind, Product
from retrieval._photo_kinds import (
    CLIP_SCALE,
    PhotoGuess,
    PhotoKindProbe,
    PhotoReading,
    kind_of,
)
from retrieval._query import (
    Evidence,
    Exclusions,
    Filters,
    Hit,
    Personal,
    Relaxation,
    SearchQuery,
    SearchResult,
)
from retrieval._store import CatalogStamp

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)
RRF_K = 60
# When at most this share of rows is allowed, scoring just those rows beats a masked scan of
# all rows (`shopassist bench retrieval`: 5.5% of 1M rows 28 ms vs 60 ms; 67% of 100k rows
# 18 ms vs 5 ms).
SUBSET_SHARE = 0.2
MIN_SNIPPET_WORDS = 5  # shorter review sentences ("Love it!") support no particular need
# A disliked product's near-duplicates are hidden with it: the same family (another size or
# colour sold as its own SKU) or a description this close in the text space.
NEAR_DUPLICATE = 0.9
# The products with the store photo nearest a query photo come first, whatever variety, fusion or
# the guessed kind would do, when at least PINNED similar (a crop, mirror or re-compressed copy of
# a store photo scored >= 0.75 for 99% of them when this was chosen). At LOOKALIKE, with no tie,
# the reply names the product: `shopassist eval retrieval` reports how often that name is right.
PINNED = 0.75
LOOKALIKE = 0.95
TIED = 0.005
CLOSEST_POOL = 20
MAX_PINNED = 3
# A photo's guessed kind narrows the results at this confidence and only boosts its kind below.
KIND_FILTER = 0.8
KIND_BOOST = 0.4
MAX_DISLIKED = 50  # the most recent ones; older thumbs-down stop hiding neighbours
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_SIZE_OR_NUMBER = re.compile(r"\b\d+(\.\d+)?\s*(cm|mm|in|inch|foot|ft|oz|ml|l|lb|kg)?\b")


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """Weights of each ranker in the fusion and of the soft preferences in re-ranking."""

    dense: float = 1.0
    bm25: float = 1.0
    image: float = 1.0
    colour: float = 1.0
    clip: float = 0.5
    links: float = 0.8
    audience: float = 1.0
    cheaper: float = 0.3
    brand: float = 0.2
    term: float = 0.1
    # A soft wish naming a style the product is filed under ("full zip", "duffel"): products
    # that state it rank before those silent on it, without hiding them (a catalog may state
    # no style at all).
    stated: float = 0.3
    # A title naming the asked-for noun: the whole phrase, or half for its last word alone.
    kind: float = 0.3
    # A store label said as a plain word ("new tank tops", "what's new in watches"): the
    # products carrying it rank first, without hiding the rest (the word may mean fresh).
    label: float = 0.3
    # Personalisation: a product sharing the colours, styles and price band of what the
    # shopper liked gains up to `liked`; one liked by shoppers with the same likes up to
    # `co_liked`; with a seed product, co-likes are also a ranker in the fusion.
    liked: float = 0.3
    co_liked: float = 0.2
    also_liked: float = 0.8
    mmr_lambda: float = 0.75

    def __post_init__(self) -> None:
        if not 0 <= self.mmr_lambda <= 1:
            raise ValueError("mmr_lambda must be between 0 and 1")


class _Lru(OrderedDict[object, object]):
    """A tiny LRU map for query vectors and results, safe to share between threads (the UI and
    the HTTP API serve several sessions at once)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def fetch(self, key: object, compute: Callable[[], object]) -> object:
        with self._lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        value = compute()  # outside the lock: a slow search must not block cached ones
        if self.size:
            with self._lock:
                self[key] = value
                if len(self) > self.size:
                    self.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            super().clear()


class _DenseSpace:
    """One collection's vectors in memory for exact scoring over filtered candidates, with
    Chroma's HNSW index for unfiltered queries over large collections.

    Rows are vectors (for photo collections, one per photo); `view_row` maps each to its
    product's row in the catalog view, so a filter mask over products selects vector rows.
    """

    def __init__(self, index: VectorIndex, name: str, view: CatalogView) -> None:
        self.index, self.name = index, name
        ids, self.matrix, metadatas = index.vectors(name)
        self.ids = ids
        self.owner = [str(m.get("product_id", i)) for i, m in zip(ids, metadatas, strict=True)]
        self.paths = [str(m.get("path", "")) for m in metadatas]
        self.view_row = np.array([view.row.get(pid, -1) for pid in self.owner], dtype=np.int64)
        self.position = {vector_id: row for row, vector_id in enumerate(ids)}
        self.first_row: dict[str, int] = {}
        for row, pid in enumerate(self.owner):
            self.first_row.setdefault(pid, row)
        self.products = len(self.first_row)

    def remapped(self, view: CatalogView) -> _DenseSpace:
        """These vectors over another catalog view: what a refresh keeps when the index cannot
        be read (an ingest's sync still writing it). Vectors of products gone from the view
        are never ranked (row -1); products new to it have none until the next refresh."""
        space = copy.copy(self)
        space.view_row = np.array([view.row.get(pid, -1) for pid in self.owner], dtype=np.int64)
        return space

    def vector_of(self, product_id: str) -> np.ndarray | None:
        row = self.first_row.get(product_id)
        return None if row is None else self.matrix[row]

    def rank(
        self,
        vector: np.ndarray,
        allowed: Mask | None,
        limit: int,
        exact_limit: int,
        ignore_paths: frozenset[str] = frozenset(),
    ) -> list[tuple[str, float]]:
        """Products by their best-matching row, highest similarity first.

        Plan (measured by `shopassist bench retrieval`): scores are exact (numpy) for indexes
        up to `exact_limit` rows, on the allowed rows alone when they are few, else over all
        rows with the mask; only unfiltered queries on larger indexes go to Chroma's HNSW.
        """
        rows_total = len(self.ids)
        if not rows_total:
            return []
        per_product = max(1, rows_total // max(1, self.products))
        if allowed is None and not ignore_paths and rows_total > exact_limit:
            pairs = self.index.query(self.name, vector, limit * per_product)
            rows = [(self.position[i], s) for i, s in pairs if i in self.position]
            return _best_per_owner(
                [(self.owner[r], s) for r, s in rows if self.view_row[r] >= 0], limit
            )  # a vector of a product this view does not serve is skipped
        usable = self.view_row >= 0
        if allowed is not None:
            usable &= allowed[np.maximum(self.view_row, 0)]
        if ignore_paths:
            usable &= ~np.isin(np.asarray(self.paths, dtype=object), list(ignore_paths))
        count = int(usable.sum())
        if not count:
            return []
        want = min(count, limit * per_product)
        if count <= SUBSET_SHARE * rows_total:
            rows = np.flatnonzero(usable)
            scores = self.matrix[rows] @ vector
        else:
            rows = np.arange(rows_total)
            scores = self.matrix @ vector
            scores[~usable] = -np.inf
        top = (
            np.argpartition(-scores, want - 1)[:want]
            if want < len(scores)
            else np.arange(len(scores))
        )
        top = top[np.argsort(-scores[top])]
        return _best_per_owner([(self.owner[rows[i]], float(scores[i])) for i in top], limit)


class ProductSource(Protocol):
    """Where the engine reads facts: the catalog store, or an in-memory list in benchmarks.
    A source with a `stamp()` method (the catalog store) also says which version it holds."""

    def products(self) -> list[Product]: ...


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Everything the engine derives from one reading of the store and the index.

    `refresh` builds a new one off to the side and swaps it in with one assignment, and each
    search reads the engine's snapshot once (`SearchEngine.pinned`): a search running while a
    catalog update lands sees the old catalog or the new one, never old facts with new vectors.
    The result cache belongs to the snapshot, so a result computed from old facts can never be
    served after the swap.
    """

    view: CatalogView
    documents: dict[str, str]  # lower-cased product documents: BM25 and style-word preferences
    bm25: BM25Index
    text_space: _DenseSpace
    image_space: _DenseSpace | None
    clip_space: _DenseSpace | None
    colour_space: _DenseSpace | None
    # The kinds the store's photos show, learnt from `image_space` (None: too few labelled photos).
    photo_kinds: PhotoKindProbe | None
    results: _Lru
    # The source's stamp, read before its facts (None for a source without one); its `index`
    # is -1 when the vectors could not be reloaded and are the previous snapshot's.
    stamp: CatalogStamp | None


class SearchEngine:
    """Hybrid, filtered, explainable product search over one catalog store.

    A query (`search(SearchQuery)`): exact facet filters become a mask over the catalog view
    (category, gender, colour, size, price, labels, each filter attribute, exclusions); each
    ranker scores the allowed products (MiniLM text vectors, BM25, photo features, photo
    colours, optional CLIP, product links); reciprocal-rank fusion merges them; soft
    preferences re-rank (cheaper, brands, the shopper's kind noun, store labels, personal
    likes); MMR keeps the page varied; each hit carries its evidence (constraints met, the
    sentence and review that matched). With nothing left, the nearest relaxation is searched
    and reported. Reads pin one snapshot of the catalog, so a re-ingest swaps in atomically."""

    def __init__(
        self,
        store: ProductSource,
        index: VectorIndex,
        text_encoder: TextEncoder,
        *,
        image_encoder: ImageEncoder | None = None,
        clip_encoder: ImageEncoder | None = None,
        colour_encoder: ImageEncoder | None = None,
        weights: RankingWeights | None = None,
        candidates: int = 100,
        exact_limit: int = 2_000_000,
        cache_size: int = 512,
        catalog: str | None = None,
    ) -> None:
        if candidates < 1 or exact_limit < 1:
            raise ValueError("candidates and exact_limit must be >= 1")
        self.store = store
        # One store of several sharing a data dir: only this catalog's products are served.
        self.catalog = catalog
        self.index = index
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.clip_encoder = clip_encoder
        self.colour_encoder = colour_encoder
        self.weights = weights or RankingWeights()
        self.candidates = candidates
        self.exact_limit = exact_limit
        self.cache_size = cache_size
        self._vectors = _Lru(cache_size)
        self._local = threading.local()
        self._refresh_lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self.refresh()

    def refresh(self) -> None:
        """Reload facts and vectors (after an ingest + index sync) and clear the caches,
        without disturbing searches in flight: they finish on the snapshot they started with.

        The index is reopened first, so an embedded Chroma shows what a separate ingest process
        wrote. If the vectors cannot be read (that ingest's sync is still writing them), the
        new facts go live with the previous vectors and the stamp says so (`index` -1), so the
        caller refreshes again once the sync is done. Prices and removals never wait."""
        with self._refresh_lock:
            source_stamp = getattr(self.store, "stamp", None)
            stamp = source_stamp() if callable(source_stamp) else None  # before the facts
            products = self.store.products()
            if self.catalog is not None:
                served = [p for p in products if p.catalog == self.catalog]
                if products and not served:
                    log.warning(
                        "no catalog named %r in the store (it has %s): serving nothing",
                        self.catalog,
                        ", ".join(sorted({p.catalog for p in products})),
                    )
                products = served
            view = CatalogView(products)
            documents = {pid: product_document(p).lower() for pid, p in view.products.items()}
            bm25 = BM25Index(tokenize(document) for document in documents.values())
            previous = self._snapshot
            try:
                if previous is not None:
                    self.index.reopen()
                spaces = self._load_spaces(view)
            except Exception:
                if previous is None:
                    raise
                log.warning("vectors not reloaded; keeping the previous ones", exc_info=True)
                spaces = (
                    previous.text_space.remapped(view),
                    previous.image_space.remapped(view) if previous.image_space else None,
                    previous.clip_space.remapped(view) if previous.clip_space else None,
                    previous.colour_space.remapped(view) if previous.colour_space else None,
                )
                stamp = None if stamp is None else replace(stamp, index=-1)
            text_space, image_space, clip_space, colour_space = spaces
            assert text_space is not None
            self._snapshot = _Snapshot(
                view, documents, bm25, text_space, image_space, clip_space, colour_space,
                _fit_photo_kinds(image_space, view), _Lru(self.cache_size), stamp,
            )  # fmt: skip
            self._vectors.clear()

    def _load_spaces(self, view: CatalogView) -> tuple[_DenseSpace | None, ...]:
        """Text, image, CLIP and colour spaces, in that order (None: no such encoder)."""
        spaces: list[_DenseSpace | None] = []
        for kind, encoder in (
            ("text", self.text_encoder),
            ("image", self.image_encoder),
            ("clip", self.clip_encoder),
            ("colour", self.colour_encoder),
        ):
            name = collection_name(kind, encoder.name) if encoder else None
            spaces.append(_DenseSpace(self.index, name, view) if name else None)
        return tuple(spaces)

    # -- the snapshot a search reads ------------------------------------------------------------
    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Every read of the catalog in this block, on this thread, sees one snapshot, even if
        a refresh swaps in another meanwhile. Searches pin themselves; a caller that looks a
        product up and then searches (or a whole dialogue turn) pins around both."""
        local = self._local
        if getattr(local, "snapshot", None) is not None:
            yield  # already pinned by an outer block
            return
        local.snapshot = self._snapshot
        try:
            yield
        finally:
            local.snapshot = None

    def _now(self) -> _Snapshot:
        snapshot = getattr(self._local, "snapshot", None) or self._snapshot
        assert snapshot is not None
        return snapshot

    @property
    def stamp(self) -> CatalogStamp | None:
        """The store version the facts in use were read at (None: the source has none)."""
        return self._now().stamp

    @property
    def view(self) -> CatalogView:
        return self._now().view

    @property
    def text_space(self) -> _DenseSpace:
        return self._now().text_space

    @property
    def image_space(self) -> _DenseSpace | None:
        return self._now().image_space

    @property
    def clip_space(self) -> _DenseSpace | None:
        return self._now().clip_space

    @property
    def colour_space(self) -> _DenseSpace | None:
        return self._now().colour_space

    @property
    def photo_kinds(self) -> PhotoKindProbe | None:
        return self._now().photo_kinds

    def refit_photo_kinds(self, leave_out_paths: Iterable[str]) -> None:
        """For evaluation: learn the kinds again without these photos, as if the store had
        never had them (a held-out photo must not teach the probe its own answer)."""
        with self._refresh_lock:
            now = self._snapshot
            assert now is not None
            self._snapshot = replace(
                now, photo_kinds=_fit_photo_kinds(now.image_space, now.view, leave_out_paths)
            )

    @property
    def _documents(self) -> dict[str, str]:
        return self._now().documents

    @property
    def _bm25(self) -> BM25Index:
        return self._now().bm25

    # -- public entry points ----------------------------------------------------------------------
    def search(self, query: SearchQuery) -> SearchResult:
        with self.pinned():
            key = query.cache_key()
            if key is None:
                return self._search(query)
            cached = self._now().results.fetch(key, lambda: self._search(query))
        assert isinstance(cached, SearchResult)
        return cached

    def similar(self, product_id: str, k: int = 10, filters: Filters | None = None) -> SearchResult:
        """'You may also like': content neighbours blended with the store's own links."""
        return self.search(SearchQuery(similar_to=product_id, k=k, filters=filters or Filters()))

    def complete_the_look(
        self, product_id: str, k: int = 6, categories: Sequence[str] = ()
    ) -> list[Hit]:
        """Items that go with the product: cross-sell links first, then close items from other
        categories for the same shopper (gender), never the same kind of item; only of these
        `categories` when given ("what jacket goes with it?")."""
        with self.pinned():
            return self._complete_the_look(product_id, k, categories)

    def _complete_the_look(self, product_id: str, k: int, categories: Sequence[str]) -> list[Hit]:
        seed = self.view.products.get(product_id)
        if seed is None:
            raise KeyError(f"unknown product {product_id!r}")
        linked = [
            self.view.resolve_sku(seed.catalog, link.target_sku)
            for link in seed.links
            if link.kind in (LinkKind.CROSSSELL, LinkKind.RELATED)
        ]
        kind = seed.category_path[-1:] if seed.category_path else []
        genders = tuple(seed.attributes.get("gender", ()))
        allowed = self.view.allowed(Filters(genders=genders, catalog=seed.catalog), Exclusions())
        for row in np.flatnonzero(allowed):
            allowed[row] = self.view.products[self.view.ids[row]].category_path[-1:] != kind
        vector = self.text_space.vector_of(product_id)
        content = (
            self.text_space.rank(vector, allowed, self.candidates, self.exact_limit)
            if vector is not None
            else []
        )
        rankings = {
            "links": [
                (p.id, 1.0)
                for p in linked
                if p is not None and p.id != product_id and allowed[self.view.row[p.id]]
            ],
            "dense": content,
        }
        fused = self._fuse(rankings)
        if categories:  # ranked among everything that goes with it, then kept to the kind
            of_kind = self.view.facet_mask("category", categories)
            fused = [f for f in fused if of_kind[self.view.row[f[0]]]]
        return [
            Hit(self.view.products[pid], score, Evidence(channels=channels))
            for pid, score, channels in fused[:k]
        ]

    # -- the pipeline ---------------------------------------------------------------------------
    def _search(self, query: SearchQuery) -> SearchResult:
        if query.personal.disliked:
            hidden = self.near_duplicates(query.personal.disliked[-MAX_DISLIKED:])
            exclude = replace(
                query.exclude, product_ids=tuple({*query.exclude.product_ids, *hidden})
            )
            query = replace(query, exclude=exclude)
        filters = query.filters
        allowed = self.view.allowed(filters, query.exclude)
        kind = Filters(catalog=filters.catalog, categories=filters.categories)
        if (
            filters.kinds
            and not (
                self.view.allowed(kind, Exclusions()) & self.view.named_as(filters.kinds)
            ).any()
        ):
            # No title of the kind names the noun ("resistance bands" where titles say
            # "Strength Band"): the noun ranks through the query text instead of filtering.
            query = replace(query, filters=filters.without("kinds"))
            filters = query.filters
            allowed = self.view.allowed(filters, query.exclude)
        if query.similar_to in self.view.row:
            allowed[self.view.row[query.similar_to]] = False
        photo = self._read_photo(query, allowed)
        if photo is not None and photo.narrow and photo.kind_mask is not None:
            allowed = allowed & photo.kind_mask
        candidates = int(allowed.sum())
        if not candidates:
            empty = self._empty(query, photo)
            return replace(empty, photo=photo.reading) if photo is not None else empty
        if query.sort is not None and query.image is None and query.similar_to is None:
            return SearchResult(hits=self._sorted_hits(query, allowed), candidates=candidates)
        hits = self._ranked_hits(query, allowed, photo)
        if query.sort is not None:  # like a photo or a product: the closest, in that order
            ranked = self.view.mask_of(h.product.id for h in hits)
            hits = self._sorted_hits(query, ranked & allowed)
        return SearchResult(
            hits=hits,
            candidates=candidates,
            alternatives=self._alternatives(query, hits, photo),
            photo=photo.reading if photo is not None else None,
        )

    def _read_photo(self, query: SearchQuery, allowed: Mask) -> _Photo | None:
        """Encode the query photo once and read it: the store photo it nearly duplicates, and
        the kind it shows. A category the shopper typed turns the guess off, and a gender they
        typed replaces the guessed department."""
        if query.image is None or self.image_encoder is None or self.image_space is None:
            return None
        image = query.image
        plain = _Photo(
            self.image_encoder.encode_images([image])[0],
            clip=_encoded(self.clip_encoder, self.clip_space, image),
            colour=_encoded(self.colour_encoder, self.colour_space, image),
        )
        if not query.read_photo:
            return plain
        vector = plain.vector
        ignore = frozenset(query.ignore_image_paths)
        filters = query.filters
        # What the photo shows is read against the whole store, not against what is left after
        # the shopper's wishes and the pages already seen: "show more" must not change it.
        store = self.view.allowed(Filters(catalog=filters.catalog), Exclusions())
        nearest = self.image_space.rank(vector, store, MAX_PINNED, self.exact_limit, ignore)
        top = nearest[0][1] if nearest else 0.0
        # Products sharing one store photo (a ball in three sizes) tie: all of them stay.
        closest = [pid for pid, s in nearest if s >= max(PINNED, top - TIED)]
        lookalike = closest[0] if top >= LOOKALIKE and len(closest) == 1 else None
        pinned = tuple(pid for pid in closest if allowed[self.view.row[pid]])
        guess = None
        if lookalike is not None and (kind := kind_of(self.view.products[lookalike])):
            guess = PhotoGuess(kind, 1.0, 1.0)  # the product itself says what it is
        elif self.photo_kinds is not None and self.photo_kinds.knows(filters.catalog):
            look = self._closest_look(vector, plain.colour, store, ignore)
            neighbour = kind_of(self.view.products[look]) if look else None
            zero_shot = self._clip_kinds(plain.clip, self.photo_kinds)
            guess = self.photo_kinds.guess(vector, filters.catalog, neighbour, zero_shot)
        reading = PhotoReading(guess=guess, lookalike=lookalike)
        if guess is None or filters.categories or guess.confidence < KIND_BOOST:
            return replace(plain, reading=reading, pinned=pinned)
        sure_of_department = guess.department_confidence >= KIND_FILTER and not filters.genders
        used = replace(guess.kind, department=guess.kind.department if sure_of_department else None)
        kind_mask = self.view.allowed(
            Filters(
                catalog=used.catalog,
                categories=(used.category,),
                genders=(used.department,) if used.department else (),
            ),
            Exclusions(),
        )
        kind_mask[[self.view.row[pid] for pid in pinned]] = True  # the nearest photo stays
        # Nothing of the kind meets the rest of the request: the kind only ranks first (in the
        # nearest relaxation too), it never empties the page.
        narrow = guess.confidence >= KIND_FILTER and bool((allowed & kind_mask).any())
        reading = replace(reading, used=used, narrowed=narrow)
        return replace(plain, reading=reading, kind_mask=kind_mask, narrow=narrow, pinned=pinned)

    def _clip_kinds(self, photo: np.ndarray | None, probe: PhotoKindProbe) -> np.ndarray | None:
        """CLIP's zero-shot probability for each of the probe's kinds, when CLIP is configured:
        the photo's CLIP vector against "a photo of women's jackets" and the rest."""
        if photo is None or not isinstance(self.clip_encoder, TextEncoder):
            return None
        texts = np.stack([self._clip_text_vector(prompt) for prompt in probe.prompts()])
        similarity = texts @ photo
        weights = np.exp(CLIP_SCALE * (similarity - similarity.max()))
        return weights / weights.sum()

    def _closest_look(
        self, vector: np.ndarray, colours: np.ndarray | None, allowed: Mask, ignore: frozenset[str]
    ) -> str | None:
        """The product whose photos are closest in features and colours together."""
        if colours is None:
            return None
        scores: dict[str, float] = {}
        for space, query in ((self.image_space, vector), (self.colour_space, colours)):
            assert space is not None
            for pid, score in space.rank(query, allowed, CLOSEST_POOL, self.exact_limit, ignore):
                scores[pid] = scores.get(pid, 0.0) + score
        return max(scores, key=lambda pid: scores[pid], default=None)

    def mentions(self, words: str) -> bool:
        """Whether some product's text (title, attributes, description) uses every one of
        these words: a thing no product mentions is not a thing the store sells."""
        tokens = tokenize(words)
        vocabulary = self._bm25.vocabulary
        return bool(tokens) and all(token in vocabulary for token in tokens)

    def closeness(self, text: str) -> float:
        """How close these words come to the nearest product's own text (cosine of the text
        vectors): a shopper's need ("my wrists ache doing press-ups") lands near the products
        that meet it, an off-topic question ("what's the mortgage rate?") near none."""
        if not text.strip():
            return 0.0
        with self.pinned():
            best = self.text_space.rank(self._text_vector(text), None, 1, self.exact_limit)
        return float(best[0][1]) if best else 0.0

    def nearest_categories(self, text: str, k: int) -> dict[str, int]:
        """Category name (every level, lower-cased) -> how many of the `k` products whose own
        text is nearest these words it holds: the kinds a whole message points at, whatever
        words it uses."""
        if not text.strip():
            return {}
        with self.pinned():
            nearest = self.text_space.rank(self._text_vector(text), None, k, self.exact_limit)
            products = [self.view.products[pid] for pid, _ in nearest if pid in self.view.products]
        return dict(Counter(n.lower() for p in products for n in p.category_names))

    def near_duplicates(self, product_ids: Sequence[str]) -> list[str]:
        """The products themselves, their families and their close text neighbours."""
        with self.pinned():
            return self._near_duplicates(product_ids)

    def _near_duplicates(self, product_ids: Sequence[str]) -> list[str]:
        known = [pid for pid in product_ids if pid in self.view.products]
        if not known:
            return []
        families = {_family(self.view.products[pid]) for pid in known}
        found = set(known)
        found.update(pid for pid, p in self.view.products.items() if _family(p) in families)
        space = self.text_space
        vectors = [v for pid in known if (v := space.vector_of(pid)) is not None]
        if vectors and len(space.ids):
            close = (space.matrix @ np.stack(vectors).T).max(axis=1) >= NEAR_DUPLICATE
            found.update(space.owner[row] for row in np.flatnonzero(close))
        return sorted(found)

    def _alternatives(
        self, query: SearchQuery, hits: list[Hit], photo: _Photo | None = None
    ) -> list[Hit]:
        """Near matches to fill a short page: keep what the product is and who it is for
        (category, gender, catalog), relax the rest, and say what each one misses."""
        filters = query.filters
        kept = Filters(
            catalog=filters.catalog, categories=filters.categories, genders=filters.genders
        )
        missing = query.k - len(hits)
        if missing <= 0 or kept == filters:
            return []
        shown = self.view.mask_of([h.product.id for h in hits] + [query.similar_to or ""])
        allowed = self.view.allowed(kept, query.exclude) & ~shown
        if photo is not None and photo.narrow and photo.kind_mask is not None:
            # Relaxing the rest ("like this but in red") keeps to the kind the photo shows.
            allowed &= photo.kind_mask
        if not allowed.any():
            return []
        relaxed = replace(query, filters=kept, k=min(missing, query.k))
        alternatives = self._ranked_hits(relaxed, allowed, photo and photo.unpinned())
        for hit in alternatives:
            labels = self.view.labels_of(hit.product.id) if filters.labels else set()
            hit.evidence.unmet = _constraints_unmet(hit.product, filters, labels)
        return alternatives

    def _ranked_hits(
        self, query: SearchQuery, allowed: Mask, photo: _Photo | None = None
    ) -> list[Hit]:
        restricted = None if allowed.all() else allowed
        rankings = self._rankings(query, restricted, photo)
        if query.rankers:
            rankings = {n: r for n, r in rankings.items() if n in query.rankers}
        if not any(rankings.values()):
            # No signal (no text, photo or seed): browse the allowed set by rating, then price.
            rows = np.flatnonzero(allowed)
            rating = np.nan_to_num(self.view.rating[rows], nan=0.0)
            price = np.nan_to_num(self.view.price[rows], nan=np.inf)
            order = rows[np.lexsort((price, -rating))][: self.candidates]
            rankings = {"browse": [(self.view.ids[row], 1.0) for row in order]}
        fused = self._fuse(rankings)
        rescored = self._apply_preferences(query, fused)
        chosen = self._diversify(rescored, query.k) if query.diversify else rescored[: query.k]
        pinned = photo.pinned if photo is not None else ()
        first = [entry for entry in rescored if entry[0] in pinned]
        if first:
            # The product the photo shows comes first, whatever variety would have dropped.
            chosen = [*first, *(entry for entry in chosen if entry[0] not in pinned)][: query.k]
        return [self._hit(pid, score, channels, query) for pid, score, channels in chosen]

    def _rankings(
        self, query: SearchQuery, allowed: Mask | None, photo: _Photo | None = None
    ) -> dict[str, list[tuple[str, float]]]:
        rankings: dict[str, list[tuple[str, float]]] = {}
        limit, exact = self.candidates, self.exact_limit
        ignore = frozenset(query.ignore_image_paths)
        if query.text.strip():
            vector = self._text_vector(query.text)
            rankings["dense"] = self.text_space.rank(vector, allowed, limit, exact)
            rankings["bm25"] = self._bm25_rank(query.text, allowed, limit)
            if self.clip_encoder and self.clip_space:
                clip_vector = self._clip_text_vector(query.text)
                rankings["clip"] = self.clip_space.rank(clip_vector, allowed, limit, exact, ignore)
        if query.image is not None:
            if self.image_encoder and self.image_space:
                vector = (
                    photo.vector
                    if photo is not None
                    else self.image_encoder.encode_images([query.image])[0]
                )
                rankings["image"] = self.image_space.rank(vector, allowed, limit, exact, ignore)
                if photo is not None and photo.kind_mask is not None and not photo.narrow:
                    # An unsure guess of the kind: its products rank a second time.
                    row = self.view.row
                    rankings["photo_kind"] = [
                        (pid, s) for pid, s in rankings["image"] if photo.kind_mask[row[pid]]
                    ]
            for name, encoder, space, known in (
                ("clip_image", self.clip_encoder, self.clip_space, photo and photo.clip),
                ("colour", self.colour_encoder, self.colour_space, photo and photo.colour),
            ):
                vector = known if known is not None else _encoded(encoder, space, query.image)
                if vector is not None and space is not None:
                    rankings[name] = space.rank(vector, allowed, limit, exact, ignore)
        if query.similar_to:
            rankings.update(self._seed_rankings(query.similar_to, allowed))
            # "Shoppers who liked this also liked", blended with content by the fusion.
            rankings["also_liked"] = [
                (pid, score)
                for pid, score in sorted(query.personal.co_liked, key=lambda t: -t[1])
                if pid != query.similar_to
                and pid in self.view.row
                and (allowed is None or allowed[self.view.row[pid]])
            ]
        return rankings

    def _seed_rankings(
        self, product_id: str, allowed: Mask | None
    ) -> dict[str, list[tuple[str, float]]]:
        seed = self.view.products.get(product_id)
        if seed is None:
            raise KeyError(f"unknown product {product_id!r}")
        rankings: dict[str, list[tuple[str, float]]] = {}
        for name, space in (("dense", self.text_space), ("image", self.image_space)):
            vector = space.vector_of(product_id) if space else None
            if space is not None and vector is not None:
                ranked = space.rank(vector, allowed, self.candidates + 1, self.exact_limit)
                rankings[name] = [(pid, s) for pid, s in ranked if pid != product_id]
        audience = tuple(g for g in seed.attribute_values("gender") if g.lower() != "unisex")
        vector = self.text_space.vector_of(product_id)
        if audience and vector is not None:
            # Stores link items for the same shopper across categories (a hoodie to pants):
            # the seed's nearest neighbours among products for the same audience.
            same = self.view.facet_mask("gender", audience)
            within = same if allowed is None else same & allowed
            ranked = self.text_space.rank(vector, within, self.candidates + 1, self.exact_limit)
            rankings["audience"] = [(pid, s) for pid, s in ranked if pid != product_id]
        seed_words = " ".join((seed.title, *seed.category_path))
        rankings["bm25"] = [
            (pid, s)
            for pid, s in self._bm25_rank(seed_words, allowed, self.candidates + 1)
            if pid != product_id
        ]
        linked = [self.view.resolve_sku(seed.catalog, link.target_sku) for link in seed.links]
        rankings["links"] = [
            (p.id, 1.0)
            for p in linked
            if p is not None
            and p.id != product_id
            and (allowed is None or allowed[self.view.row[p.id]])
        ]
        return rankings

    def _bm25_rank(self, text: str, allowed: Mask | None, limit: int) -> list[tuple[str, float]]:
        tokens = tokenize(text)
        if not tokens:
            return []
        scores = self._bm25.scores(tokens)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        matching = int((scores > 0).sum())
        if not matching:
            return []
        want = min(limit, matching)
        top = np.argpartition(-scores, want - 1)[:want]
        top = top[np.argsort(-scores[top])]
        return [(self.view.ids[i], float(scores[i])) for i in top]

    def _fuse(
        self, rankings: dict[str, list[tuple[str, float]]]
    ) -> list[tuple[str, float, dict[str, int]]]:
        """Reciprocal rank fusion: robust to rankers whose scores are not comparable."""
        scores: dict[str, float] = {}
        channels: dict[str, dict[str, int]] = {}
        for name, ranked in rankings.items():
            weight = getattr(self.weights, name.removesuffix("_image"), 1.0)
            for rank, (pid, _) in enumerate(ranked, start=1):
                scores[pid] = scores.get(pid, 0.0) + weight / (RRF_K + rank)
                channels.setdefault(pid, {})[name] = rank
        top = max(scores.values(), default=1.0)
        return sorted(
            ((pid, s / top, channels[pid]) for pid, s in scores.items()), key=lambda t: -t[1]
        )

    def _apply_preferences(
        self, query: SearchQuery, fused: list[tuple[str, float, dict[str, int]]]
    ) -> list[tuple[str, float, dict[str, int]]]:
        prefer = query.prefer
        if not (prefer.cheaper or prefer.brands or prefer.terms or prefer.kinds or query.personal):
            return fused
        affinity = self._affinity(query.personal)
        prices = sorted(
            p for pid, _, _ in fused if (p := self.view.products[pid].effective_price) is not None
        )
        brands = {b.lower() for b in prefer.brands}
        terms = [t.lower() for t in prefer.terms]
        postings = self.view.postings.get("label", {})
        labelled = [frozenset(postings[t].tolist()) for t in terms if t in postings]
        kinds = [
            (re.compile(rf"\b{noun_pattern(k)}\b", re.I), k) for k in prefer.kinds if k.strip()
        ]
        rescored = []
        for pid, score, channels in fused:
            product = self.view.products[pid]
            bonus = 0.0
            price = product.effective_price
            if prefer.cheaper and price is not None and prices:
                cheaper_share = 1 - (np.searchsorted(prices, price) / max(1, len(prices) - 1))
                bonus += self.weights.cheaper * float(cheaper_share)
            if product.brand and product.brand.lower() in brands:
                bonus += self.weights.brand
            if terms:
                document = self._documents[pid]
                bonus += self.weights.term * sum(1 for t in terms if t in document)
                bonus += self.weights.stated * sum(1 for t in terms if self._states(product, t))
                row = self.view.row[pid]
                bonus += self.weights.label * sum(1 for rows in labelled if row in rows)
            if kinds:
                bonus += self.weights.kind * max(
                    1.0 if whole.search(product.title)
                    else 0.5 if title_names(product.title, [kind])
                    else 0.0
                    for whole, kind in kinds
                )  # fmt: skip
            bonus += affinity(product)
            rescored.append((pid, score + bonus, channels))
        return sorted(rescored, key=lambda t: -t[1])

    def _states(self, product: Product, term: str) -> bool:
        """Whether the product says it is `term`: filed under that style, or named so in its
        title ("Joust Duffle Bag" is a duffel; an eShop bag states no style, only a title)."""
        if term not in self.view.postings.get("style", {}):
            return False  # a word no product is filed under ranks as a plain term only
        if term in self.view.styles_of(product.id):
            return True
        if " " in term:
            return re.search(rf"\b{noun_pattern(term)}\b", product.title, re.I) is not None
        return title_names(product.title, [term])

    def _affinity(self, personal: Personal) -> Callable[[Product], float]:
        """The personal bonus of a product: closeness to the colours, styles and price band
        of what the shopper liked, plus how much shoppers with the same likes liked it."""
        liked = [self.view.products[pid] for pid in personal.liked if pid in self.view.products]
        colours = _shares(p.attribute_values("color") for p in liked)
        styles = _shares(p.attribute_values("style") for p in liked)
        prices = [p.effective_price for p in liked if p.effective_price]
        band = float(np.median(prices)) if prices else None
        co_liked = dict(personal.co_liked)
        weights = self.weights

        def bonus(product: Product) -> float:
            value = weights.co_liked * co_liked.get(product.id, 0.0)
            if not liked:
                return value
            fit = _best_share(colours, product.attribute_values("color"))
            fit += _best_share(styles, product.attribute_values("style"))
            price = product.effective_price
            if band and price:
                fit += max(0.0, 1 - abs(np.log(price / band)) / np.log(2))
            return value + weights.liked * fit / 3

        return bonus

    def _diversify(
        self, ranked: list[tuple[str, float, dict[str, int]]], k: int
    ) -> list[tuple[str, float, dict[str, int]]]:
        """MMR over text vectors, and one item per product family (the same item in another
        size or colour sold as its own SKU) before any second one."""
        pool = ranked[: max(k * 5, 50)]
        if not pool:
            return []
        lam = self.weights.mmr_lambda
        vectors = [self.text_space.vector_of(pid) for pid, _, _ in pool]
        has_vector = [v is not None for v in vectors]
        # A product without a vector gets zeros: never redundant, as in MMR without one.
        zero = np.zeros(self.text_space.matrix.shape[-1], dtype=np.float32)
        matrix = np.stack([v if v is not None else zero for v in vectors])
        relevance = lam * np.array([score for _, score, _ in pool])
        # Similarity of each pool item to the closest item chosen so far (MMR's redundancy).
        redundancy = np.full(len(pool), -np.inf)
        left = np.ones(len(pool), dtype=bool)
        chosen: list[tuple[str, float, dict[str, int]]] = []
        families: set[str] = set()
        deferred: list[tuple[str, float, dict[str, int]]] = []
        while left.any() and len(chosen) < k:
            penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
            value = np.where(left, relevance - (1 - lam) * penalty, -np.inf)
            best = int(np.argmax(value))
            left[best] = False
            item = pool[best]
            family = _family(self.view.products[item[0]])
            if family in families:
                deferred.append(item)
                continue
            families.add(family)
            chosen.append(item)
            if has_vector[best]:
                redundancy = np.maximum(redundancy, matrix @ matrix[best])
        return chosen + deferred[: k - len(chosen)]

    # -- evidence and empty results ---------------------------------------------------------------
    def _sorted_hits(self, query: SearchQuery, allowed: Mask) -> list[Hit]:
        """Every allowed product in the asked order (unknown prices and ratings last), ties
        broken by rating, then price: the first card is the cheapest (dearest, best rated) of
        the whole result set."""
        rows = np.flatnonzero(allowed)
        price, rating = self.view.price[rows], self.view.rating[rows]
        unknown_price, unknown_rating = np.isnan(price), np.isnan(rating)
        price, rating = np.nan_to_num(price), np.nan_to_num(rating)
        if query.sort == "price_asc":
            order = np.lexsort((-rating, price, unknown_price))
        elif query.sort == "price_desc":
            order = np.lexsort((-rating, -price, unknown_price))
        else:
            order = np.lexsort((price, -rating, unknown_rating))
        return [self._hit(self.view.ids[i], 0.0, {}, query) for i in rows[order][: query.k]]

    def _hit(self, pid: str, score: float, channels: dict[str, int], query: SearchQuery) -> Hit:
        product = self.view.products[pid]
        evidence = Evidence(channels=dict(channels))
        filters = query.filters
        evidence.met = _constraints_met(product, filters)
        price = product.effective_price
        if filters.price_max is not None and price is not None:
            evidence.price_vs_limit = round(filters.price_max - price, 2)
        need = tokenize(" ".join((query.text, *query.prefer.terms)))
        evidence.text_span = _best_sentence(product.description, need)
        snippet = _review_support(product, need)
        if snippet:
            evidence.review_snippet, evidence.review_rating = snippet
        return Hit(product, round(score, 4), evidence)

    def _empty(self, query: SearchQuery, photo: _Photo | None = None) -> SearchResult:
        filters = query.filters
        active = filters.active()
        if not active:
            reason = "Nothing in the catalog matches those exclusions."
            return SearchResult(hits=[], candidates=0, empty_reason=reason)
        counts = {
            name: int(self.view.allowed(filters.without(name), query.exclude).sum())
            for name in active
        }
        # The nearest relaxation keeps what the product is and who it is for when it can:
        # "purple watches" relaxes the colour, not the category.
        keep = ("categories", "kinds", "genders", "catalog")
        preferred = [n for n in counts if n not in keep and counts[n]] or list(counts)
        culprit = max(preferred, key=lambda n: counts[n])
        described = ", ".join(self.view.describe(filters, n) for n in active)
        reason = f"No product matches all of: {described}."
        if not counts[culprit]:
            return SearchResult(hits=[], candidates=0, empty_reason=reason)
        relaxed = replace(query, filters=filters.without(culprit))
        allowed = self.view.allowed(relaxed.filters, relaxed.exclude)
        description = (
            f"Without the {self.view.describe(filters, culprit)} filter there "
            f"{'is 1 product' if counts[culprit] == 1 else f'are {counts[culprit]} products'}."
        )
        relaxation = Relaxation(
            dropped=culprit,
            description=description,
            count=counts[culprit],
            hits=self._ranked_hits(relaxed, allowed, photo and photo.unpinned()),
        )
        return SearchResult(hits=[], candidates=0, empty_reason=reason, relaxation=relaxation)

    # -- helpers ----------------------------------------------------------------------------------
    def _text_vector(self, text: str) -> np.ndarray:
        vector = self._vectors.fetch(
            ("text", text), lambda: self.text_encoder.encode_texts([text])[0]
        )
        assert isinstance(vector, np.ndarray)
        return vector

    def _clip_text_vector(self, text: str) -> np.ndarray:
        encoder = self.clip_encoder
        assert encoder is not None and isinstance(encoder, TextEncoder)
        vector = self._vectors.fetch(("clip", text), lambda: encoder.encode_texts([text])[0])
        assert isinstance(vector, np.ndarray)
        return vector


def _best_per_owner(pairs: Sequence[tuple[str, float]], limit: int) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for pid, score in pairs:
        if pid not in best:
            best[pid] = score
            if len(best) >= limit:
                break
    return list(best.items())


def _shares(value_lists: Iterable[Sequence[str]]) -> dict[str, float]:
    """Value -> the share of the lists that contain it (case-insensitive)."""
    counts: dict[str, int] = {}
    total = 0
    for values in value_lists:
        total += 1
        for value in {v.lower() for v in values}:
            counts[value] = counts.get(value, 0) + 1
    return {value: count / total for value, count in counts.items()}


def _best_share(shares: dict[str, float], values: Sequence[str]) -> float:
    return max((shares.get(v.lower(), 0.0) for v in values), default=0.0)


def _family(product: Product) -> str:
    """'Sprite Stasis Ball 55 cm' and '... 65 cm' (or a colour in the title) are one family."""
    title = _SIZE_OR_NUMBER.sub(" ", product.title.lower())
    colours = {c.lower() for c in product.attribute_values("color")}
    words = [w for w in re.findall(r"[a-z]+", title) if w not in colours]
    return f"{product.catalog}:{' '.join(words)}"


def _constraints_met(product: Product, filters: Filters) -> list[str]:
    met = []
    wanted_colors = {c.lower() for c in filters.colors}
    wanted_sizes = {s.lower() for s in filters.sizes}
    if wanted_colors:
        have = [c for c in product.attribute_values("color") if c.lower() in wanted_colors]
        met.append(f"in {' and '.join(have)}")
    if wanted_sizes:
        have = [s for s in product.attribute_values("size") if s.lower() in wanted_sizes]
        met.append(f"size {' / '.join(have)} available")
    price = product.effective_price
    if price is not None and filters.price_max is not None:
        where = "under" if f"{price:.2f}" != f"{filters.price_max:.2f}" else "at"
        met.append(f"${price:.2f}, {where} your ${filters.price_max:.2f} limit")
    if price is not None and filters.price_min is not None:
        met.append(f"${price:.2f}, above your ${filters.price_min:.2f} minimum")
    for facet, values in (("gender", filters.genders), *filters.attributes.items()):
        wanted = {v.lower() for v in values}
        have = [v for v in product.attribute_values(facet) if v.lower() in wanted | {"unisex"}]
        if wanted and have:
            met.append(f"{LABELS.get(facet, facet)}: {', '.join(have)}")
    if filters.categories:
        met.append(" > ".join(product.category_path))
    if filters.brands and product.brand:
        met.append(f"by {product.brand}")
    if filters.min_rating is not None and product.rating is not None:
        met.append(f"rated {product.rating:.1f}/5 from {len(product.reviews)} reviews")
    if filters.on_sale and product.on_sale and price is not None and product.price is not None:
        met.append(f"on sale: ${price:.2f} (was ${product.price:.2f})")
    elif filters.on_sale and product.in_sale:
        met.append("in the store's sale")
    if filters.in_stock:
        met.append("in stock")
    if filters.labels:
        met.append(", ".join(filters.labels))  # the store's own labels, as it names them
    return met


def _constraints_unmet(product: Product, filters: Filters, labels_of: set[str]) -> list[str]:
    unmet = []
    price = product.effective_price
    if filters.price_max is not None and (price is None or price > filters.price_max):
        limit = f"${filters.price_max:.2f}"
        if price is not None and f"${price:.2f}" == limit:
            unmet.append(f"{limit}, not under your {limit} limit")  # "under 60" and it is 60
        else:
            unmet.append(f"over your {limit} limit" + (f" (${price:.2f})" if price else ""))
    if filters.price_min is not None and (price is None or price < filters.price_min):
        unmet.append(f"below your ${filters.price_min:.2f} minimum")
    for facet, values in (
        ("color", filters.colors),
        ("size", filters.sizes),
        *filters.attributes.items(),
        ("brand", filters.brands),
    ):
        wanted = {v.lower() for v in values}
        have = {v.lower() for v in product.attribute_values(facet)}
        if facet == "brand" and product.brand:
            have = {product.brand.lower()}
        if wanted and not wanted & have:
            unmet.append(f"not available in {' or '.join(values)}")
    if filters.min_rating is not None and (product.rating or 0) < filters.min_rating:
        unmet.append(f"rated below {filters.min_rating:g}")
    if filters.on_sale and not product.in_sale:
        unmet.append("not on sale")
    if filters.in_stock and not product.in_stock:
        unmet.append("out of stock")
    if filters.kinds and not title_names(product.title, filters.kinds):
        plural = all(kind.endswith("s") for kind in filters.kinds)  # "not snowboard boots"
        unmet.append(f"not {'' if plural else 'a '}{' or '.join(filters.kinds)}")
    missing = [label for label in filters.labels if label not in labels_of]
    if missing:
        unmet.append(f"not {' or '.join(missing)}")
    return unmet


def _best_sentence(text: str, need: list[str]) -> str | None:
    """The description sentence sharing most words with the need (None if none shares any)."""
    if not need or not text:
        return None
    wanted = set(need)
    best, best_overlap = None, 0
    for sentence in _SENTENCE.split(text):
        overlap = len(wanted & set(tokenize(sentence)))
        if overlap > best_overlap:
            best, best_overlap = sentence.strip(), overlap
    return best


def _review_support(product: Product, need: list[str]) -> tuple[str, float] | None:
    """A sentence from a favourable review (4+ stars) that speaks to the need."""
    if not need:
        return None
    wanted = set(need)
    best: tuple[str, float] | None = None
    best_overlap = 0
    for review in product.reviews:
        if review.rating < 4:
            continue
        for sentence in _SENTENCE.split(f"{review.title}. {review.text}"):
            if len(sentence.split()) < MIN_SNIPPET_WORDS:
                continue
            overlap = len(wanted & set(tokenize(sentence)))
            if overlap > best_overlap:
                best, best_overlap = (sentence.strip()[:200], review.rating), overlap
    return best


@dataclass(frozen=True, slots=True)
class _Photo:
    """A query photo read once per search: its vector, what it seems to show and the rows of
    that kind (narrowing the results when sure, boosting them when not)."""

    vector: np.ndarray
    reading: PhotoReading = field(default_factory=PhotoReading)
    kind_mask: Mask | None = None
    narrow: bool = False
    pinned: tuple[str, ...] = ()  # the products with the nearest store photo, shown first
    # The same photo in the CLIP and colour spaces, when the store has them (encoded once).
    clip: np.ndarray | None = None
    colour: np.ndarray | None = None

    def unpinned(self) -> _Photo:
        """For pages of relaxed or alternative results, where the nearest product is no match."""
        return replace(self, pinned=())


def _encoded(
    encoder: ImageEncoder | None, space: _DenseSpace | None, image: Image
) -> np.ndarray | None:
    """The photo's vector in one space, or None when the store has no such space."""
    return encoder.encode_images([image])[0] if encoder and space else None


def _fit_photo_kinds(
    space: _DenseSpace | None, view: CatalogView, leave_out_paths: Iterable[str] = ()
) -> PhotoKindProbe | None:
    if space is None or not len(space.ids):
        return None
    left_out = set(leave_out_paths)
    rows = [row for row, path in enumerate(space.paths) if path in left_out]
    return PhotoKindProbe.fit(space.matrix, space.owner, view.products, leave_out=rows)
