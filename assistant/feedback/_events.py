"""The interaction event log: what shoppers were shown and what they did with it, in SQLite
(`DATA/events.db`) or, with `event_db_url`, in PostgreSQL (`assistant/feedback/_database.py`).

One row per event: a timestamp, the session id, the kind, the product and the intent of the turn
(plus the position on screen for `shown`). No message text, no names, no addresses: nothing a
shopper typed is stored. It feeds "shoppers who liked X also liked Y", `shopassist report` and
`shopassist eval feedback`; `forget(session)` deletes a session's rows and rows older than the
retention period are purged.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from assistant.feedback._database import Database

PURGE_EVERY_SECONDS = 3600.0
SECONDS_PER_DAY = 86_400.0
CO_LIKED_LIMIT = 50
MAX_SEED_PRODUCTS = 50


class EventKind(StrEnum):
    SHOWN = "shown"
    OPENED = "opened"
    LIKED = "liked"
    DISLIKED = "disliked"
    CLEARED = "cleared"  # a thumbs up or down taken back
    ADDED = "added"
    REMOVED = "removed"


# A session's interest in a product, for co-likes: it liked it or put it in the cart, and did
# not later dislike it or take the like back.
POSITIVE = (EventKind.LIKED, EventKind.ADDED)
CANCELS = (EventKind.DISLIKED, EventKind.CLEARED)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id {id},
    ts DOUBLE PRECISION NOT NULL,
    session TEXT NOT NULL,
    kind TEXT NOT NULL,
    product_id TEXT,
    intent TEXT,
    position INTEGER
);
CREATE INDEX IF NOT EXISTS events_session ON events(session);
CREATE INDEX IF NOT EXISTS events_product ON events(product_id, kind);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
"""


@dataclass(frozen=True, slots=True)
class Event:
    ts: float
    session: str
    kind: EventKind
    product_id: str | None
    intent: str | None = None
    position: int | None = None


class EventLog:
    """A thread-safe, append-only log: a SQLite file (`target` a path; WAL, so a report can
    read while the app writes) or a PostgreSQL database (`target` its URL)."""

    def __init__(self, target: Path | str, *, retention_days: float | None = 90.0) -> None:
        if retention_days is not None and retention_days <= 0:
            raise ValueError("retention_days must be positive (or None to keep everything)")
        self.retention_days = retention_days
        self.db = Database(target)
        self.db.create(SCHEMA)
        self._purged_at = 0.0
        self.purge()

    @property
    def path(self) -> Path | None:
        """The SQLite file (None on PostgreSQL)."""
        return self.db.path

    def close(self) -> None:
        self.db.close()

    # Writing ----------------------------------------------------------------------------------
    def record(
        self,
        session: str,
        kind: EventKind | str,
        product_ids: Sequence[str | None] = (None,),
        *,
        intent: str | None = None,
        positions: Sequence[int] | None = None,
        ts: float | None = None,
    ) -> int:
        """Append one event per product (positions, when given, line up with the products)."""
        kind = EventKind(kind)
        if positions is not None and len(positions) != len(product_ids):
            raise ValueError("positions must line up with product_ids")
        now = time.time() if ts is None else ts
        rows = [
            (now, session, str(kind), pid, intent, positions[i] if positions else None)
            for i, pid in enumerate(product_ids)
        ]
        self.db.execute_many(
            "INSERT INTO events(ts, session, kind, product_id, intent, position)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        if now - self._purged_at > PURGE_EVERY_SECONDS:
            self.purge(now)
        return len(rows)

    def forget(self, session: str) -> int:
        """Delete every event of one session; returns how many were deleted."""
        return self.db.execute("DELETE FROM events WHERE session = ?", (session,))[1]

    def purge(self, now: float | None = None) -> int:
        """Delete events older than the retention period."""
        now = time.time() if now is None else now
        self._purged_at = now
        if self.retention_days is None:
            return 0
        cutoff = now - self.retention_days * SECONDS_PER_DAY
        return self.db.execute("DELETE FROM events WHERE ts < ?", (cutoff,))[1]

    # Reading ----------------------------------------------------------------------------------
    def events(self, session: str | None = None) -> list[Event]:
        """Events in the order they happened, of one session or all."""
        query = "SELECT ts, session, kind, product_id, intent, position FROM events"
        params: tuple[str, ...] = ()
        if session is not None:
            query, params = query + " WHERE session = ?", (session,)
        rows, _ = self.db.execute(query + " ORDER BY id", params)
        return [Event(ts, s, EventKind(k), pid, intent, pos) for ts, s, k, pid, intent, pos in rows]

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM events")[0][0][0])

    def sessions(self) -> int:
        return int(self.db.execute("SELECT COUNT(DISTINCT session) FROM events")[0][0][0])

    def co_liked(
        self, product_ids: Sequence[str], limit: int = CO_LIKED_LIMIT
    ) -> list[tuple[str, float]]:
        """Shoppers who liked these also liked: products that sessions interested in any of
        `product_ids` were also interested in, scored by cosine of the session sets (so a
        product everyone likes does not win everything), best first, scores in (0, 1]."""
        seeds = list(dict.fromkeys(product_ids))[-MAX_SEED_PRODUCTS:]
        if not seeds:
            return []
        marks = ",".join("?" * len(seeds))
        kinds = [str(k) for k in (*POSITIVE, *CANCELS)]
        found, _ = self.db.execute(
            f"SELECT DISTINCT session FROM events WHERE product_id IN ({marks}) AND kind IN (?, ?)",
            (*seeds, *map(str, POSITIVE)),
        )
        sessions = [row[0] for row in found]
        if not sessions:
            return []
        rows = self._rows_of_sessions(sessions, kinds)
        interest = _interest(rows)
        seed_set = set(seeds)
        seed_sessions = {s for s, products in interest.items() if products & seed_set}
        if not seed_sessions:
            return []
        together = Counter(pid for s in seed_sessions for pid in interest[s] if pid not in seed_set)
        if not together:
            return []
        popularity = self._popularity(list(together))
        scored = [
            (pid, n / math.sqrt(len(seed_sessions) * max(n, popularity.get(pid, n))))
            for pid, n in together.items()
        ]
        scored.sort(key=lambda t: (-t[1], t[0]))
        return [(pid, round(score, 4)) for pid, score in scored[:limit]]

    def _rows_of_sessions(
        self, sessions: Sequence[str], kinds: Sequence[str]
    ) -> list[tuple[str, str, str]]:
        rows: list[tuple[str, str, str]] = []
        kind_marks = ",".join("?" * len(kinds))
        for start in range(0, len(sessions), 500):  # SQLite's bound-parameter limit
            chunk = sessions[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self.db.execute(
                f"SELECT session, product_id, kind FROM events WHERE session IN ({marks})"
                f" AND kind IN ({kind_marks}) AND product_id IS NOT NULL ORDER BY id",
                (*chunk, *kinds),
            )[0]
        return rows

    def _popularity(self, product_ids: Sequence[str]) -> dict[str, int]:
        """Product -> how many sessions showed interest in it (net of cancellations)."""
        found: dict[str, int] = {}
        kinds = [str(k) for k in (*POSITIVE, *CANCELS)]
        kind_marks = ",".join("?" * len(kinds))
        for start in range(0, len(product_ids), 500):
            chunk = product_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows, _ = self.db.execute(
                f"SELECT session, product_id, kind FROM events WHERE product_id IN ({marks})"
                f" AND kind IN ({kind_marks}) ORDER BY id",
                (*chunk, *kinds),
            )
            for products in _interest(rows).values():
                for pid in products:
                    found[pid] = found.get(pid, 0) + 1
        return found


def _interest(rows: Iterable[tuple[str, str, str]]) -> dict[str, set[str]]:
    """Session -> products it liked or carted, replaying events in order so a later
    dislike or a taken-back like cancels the interest."""
    interest: dict[str, set[str]] = defaultdict(set)
    for session, pid, kind in rows:
        if kind in POSITIVE:
            interest[session].add(pid)
        elif kind in CANCELS:
            interest[session].discard(pid)
    return interest
