"""Keeps a running assistant on the catalog the store holds now, without a restart.

An ingest is a separate process: it replaces a catalog in the SQLite store (bumping the
store's catalog version in the same transaction) and then syncs the vector index (bumping the
index version). A server that never looked again would keep quoting, and adding to carts, the
old prices, and would still find products the store no longer sells. So:

- `LiveCatalog.check()` reads the store's version stamp (one indexed query) on every turn and
  cart or feedback call, and, while serving, from a background thread every
  `catalog_check_seconds`; when it moved, the search engine reloads (its new snapshot swaps in
  with one assignment, see `SearchEngine.refresh`) and the dialogue model re-reads the
  catalog's vocabulary, so a new colour or category is understood too.
- `LiveCatalog.follow()` brings one session up to date before its next turn: cart lines are
  re-priced (the shopper is told of each change), lines of removed products are flagged so
  checkout refuses them, and the cards on screen are re-read so "the second one" quotes the
  new price, in the same positions.

Not refreshed: the speech recogniser's prompt (Whisper's initial prompt of catalog words,
built once at start) and the Rasa export; both are only hints or files, never facts quoted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from assistant._catalog import RetrievalCatalog
from dialogue import DialogueState, ProductCard, money
from retrieval import CatalogStamp, CatalogStore, SearchEngine

log = logging.getLogger(__name__)
# After a refresh that failed or had to keep the old vectors (an ingest still syncing the
# index), the same store stamp is not tried again for this long; a newer stamp is, at once.
RETRY_SECONDS = 10.0
# Titles of products removed while this server ran, for "no longer in the catalog" messages.
MAX_REMEMBERED = 10_000


class LiveCatalog:
    """Watches the store's version stamp, reloads the engine when it moves, and brings each
    session's cart and shown cards up to the catalog in use."""

    def __init__(
        self,
        store: CatalogStore,
        engine: SearchEngine,
        catalog: RetrievalCatalog,
        *,
        on_refresh: Callable[[], object] | None = None,
        check_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.engine = engine
        self.catalog = catalog
        # Called after the facts changed (not after a vectors-only reload): the dialogue
        # model re-reads the catalog's vocabulary.
        self.on_refresh = on_refresh
        self.check_seconds = check_seconds
        self._refresh_lock = threading.Lock()
        self._failed: CatalogStamp | None = None
        self._retry_at = 0.0
        self._gone: OrderedDict[str, str] = OrderedDict()
        self._pending: OrderedDict[str, list[str]] = OrderedDict()
        self._pending_lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._watch_lock = threading.Lock()
        self._stop = threading.Event()

    # Versions ---------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The catalog version the assistant answers from (what `/api/v1/health` reports)."""
        stamp = self.engine.stamp
        return stamp.catalog if stamp is not None else 0

    def store_version(self) -> int:
        return self.store.version()

    # Checking and reloading -------------------------------------------------------------------
    def check(self) -> bool:
        """Reload if the store moved on since the engine's snapshot was read; True when it
        reloaded. Never raises: a store that cannot be read or a failed reload is logged and
        the turn goes on with the catalog in use (a turn in flight never fails on it). Call it
        outside `engine.pinned()`, which would hide the reload from this thread."""
        try:
            wanted = self.store.stamp()
        except Exception:
            log.exception("catalog version not readable; keeping the catalog in use")
            return False
        if wanted == self.engine.stamp:
            return False
        return self._refresh(wanted)

    def _refresh(self, wanted: CatalogStamp) -> bool:
        with self._refresh_lock:  # one reload at a time; the others then find it done
            before = self.engine.stamp
            if before == wanted:
                return False
            if wanted == self._failed and time.monotonic() < self._retry_at:
                return False
            old = self.engine.view
            try:
                self.engine.refresh()
            except Exception:
                log.exception("catalog reload failed; keeping version %s", self.version)
                self._failed, self._retry_at = wanted, time.monotonic() + RETRY_SECONDS
                return False
            after = self.engine.stamp
            if after is None or after.index < 0:  # the index is still being written
                self._failed, self._retry_at = wanted, time.monotonic() + RETRY_SECONDS
            self.catalog.clear_cards()
            self._remember_gone(old.products, self.engine.view.products)
            log.info("catalog reloaded: version %s -> %s", before, after)
            if self.on_refresh is not None and (
                before is None or after is None or before.catalog != after.catalog
            ):
                try:
                    self.on_refresh()
                except Exception:  # the vocabulary is a help; prices are already current
                    log.exception("dialogue model not refreshed after the catalog reload")
            return True

    def _remember_gone(self, old: Mapping[str, object], new: Mapping[str, object]) -> None:
        for product_id in old.keys() - new.keys():
            self._gone[product_id] = str(getattr(old[product_id], "title", product_id))
            self._gone.move_to_end(product_id)
        for product_id in [p for p in self._gone if p in new]:  # back in the catalog
            del self._gone[product_id]
        while len(self._gone) > MAX_REMEMBERED:
            self._gone.popitem(last=False)

    def unknown_product(self, product_id: str) -> str:
        """Why a product id cannot be used: gone from the catalog (by name), or unknown."""
        title = self._gone.get(product_id)
        if title is not None:
            return f"{title} ({product_id!r}) is no longer in the catalog"
        return f"unknown product {product_id!r}"

    # The background watcher -------------------------------------------------------------------
    def watch(self) -> bool:
        """Start checking every `check_seconds` in a daemon thread (idempotent; `0` = only on
        turns). True when a watcher runs."""
        if self.check_seconds <= 0:
            return False
        with self._watch_lock:
            if self._watcher is None or not self._watcher.is_alive():
                self._stop.clear()
                self._watcher = threading.Thread(
                    target=self._watch, name="catalog-watcher", daemon=True
                )
                self._watcher.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        watcher = self._watcher
        if watcher is not None:
            watcher.join(timeout=10)

    def _watch(self) -> None:
        while not self._stop.wait(self.check_seconds):
            self.check()

    # Sessions ---------------------------------------------------------------------------------
    @contextmanager
    def turn(self, session_id: str, state: DialogueState) -> Iterator[list[str]]:
        """Around one turn, with the session's lock held (and `check()` called just before,
        outside it): bring the session up to date and pin the engine's snapshot so the whole
        turn reads one catalog. Yields the notices for the shopper (price changes, removed
        products)."""
        with self.engine.pinned():
            yield self.follow(session_id, state)

    def follow(self, session_id: str, state: DialogueState, *, deliver: bool = True) -> list[str]:
        """Re-read the session's cart and shown cards if the catalog changed since it last
        did. Returns the notices (with any kept from earlier calls); with `deliver=False`
        (a cart or feedback call, which has no reply text) they wait for the next turn."""
        with self.engine.pinned():
            version = self.version
            notices = (
                [] if state.catalog_version == version else reprice(state, self.catalog.product)
            )
            state.catalog_version = version
        with self._pending_lock:
            earlier = self._pending.pop(session_id, [])
            if not deliver:
                if earlier or notices:
                    self._pending[session_id] = earlier + notices
                    while len(self._pending) > MAX_REMEMBERED:
                        self._pending.popitem(last=False)
                return []
        return earlier + notices


def reprice(state: DialogueState, product: Callable[[str], ProductCard | None]) -> list[str]:
    """Bring a dialogue state to the catalog `product` reads from; returns what the shopper
    should be told.

    Cart lines take the catalog's current price (and title); a line whose product is gone is
    flagged `removed` (shown in the cart views, refused at checkout) and comes back if the
    product does. Shown cards are replaced by fresh ones in the same positions, keeping the
    colour photo they showed; a removed product's card stays so positions do not shift, and
    the policy says it is gone when the shopper points at it."""
    notices: list[str] = []
    for line in state.cart:
        card = product(line.product_id)
        if card is None:
            if not line.removed:
                line.removed = True
                notices.append(
                    f"{line.title} is no longer in our catalog. It is marked in your cart; "
                    "please remove it before checking out."
                )
            continue
        if line.removed:
            line.removed = False
            notices.append(f"{card.title} is back in our catalog.")
        if card.price != line.unit_price:
            notices.append(
                f"The price of {card.title} changed from "
                f"{money(line.unit_price, card.currency)} to {money(card.price, card.currency)}."
            )
            line.unit_price = card.price
        line.title = card.title
    notices = list(dict.fromkeys(notices))  # one notice per product, not per size or colour
    fresh: list[ProductCard] = []
    for shown in state.shown:
        card = product(shown.id)
        if card is not None and shown.image_color:
            card = card.in_color(shown.image_color)
        fresh.append(card if card is not None else shown)
    state.shown = fresh
    return notices
