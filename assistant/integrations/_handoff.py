"""The human handoff desk: a shopper's request for a person, recorded where the store's staff
see it, and passed on to the store's helpdesk when it has a webhook.

Why a desk of its own: the reply to "can I talk to a person?" is a promise. It may only say
what will happen, so the request is written down first (the `handoffs` table of the store's
event database, listed by `shopassist report` and `GET /api/v1/handoffs`), and the helpdesk is
told after the turn, in the background: a slow or broken helpdesk never holds up the chat, and
each delivery's outcome is kept with the request so staff can see which ones never arrived.

What is stored: the time, the session id and, only when the shopper agreed to share it, this
conversation's transcript and cart. `forget(session)` deletes a session's requests and the
event log's retention period applies to them too.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.feedback import SECONDS_PER_DAY, Database

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS handoffs (
    id {id},
    ts DOUBLE PRECISION NOT NULL,
    session TEXT NOT NULL,
    shared TEXT,
    delivered DOUBLE PRECISION,
    delivery_error TEXT
);
CREATE INDEX IF NOT EXISTS handoffs_session ON handoffs(session);
CREATE INDEX IF NOT EXISTS handoffs_ts ON handoffs(ts);
"""
# What a webhook delivery error keeps of the helpdesk's answer.
MAX_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class SharedConversation:
    """What the shopper agreed to share: the conversation so far and the cart."""

    transcript: list[dict[str, str]] = field(default_factory=list)
    cart: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HandoffRecord:
    id: int
    created: float
    session: str
    shared: SharedConversation | None
    # When the helpdesk accepted it (None: not yet, failed, or no webhook configured).
    delivered: float | None = None
    delivery_error: str | None = None

    @property
    def reference(self) -> str:
        """What the shopper and the staff call this request."""
        return f"H-{self.id:05d}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.reference,
            "created": _iso(self.created),
            "session": self.session,
            "shared": asdict(self.shared) if self.shared else None,
            "delivered": _iso(self.delivered) if self.delivered else None,
            "delivery_error": self.delivery_error,
        }


class HandoffDesk:
    def __init__(
        self,
        target: Path | str,
        *,
        webhook_url: str | None = None,
        timeout_seconds: float = 5.0,
        retention_days: float | None = 90.0,
    ) -> None:
        if webhook_url and not webhook_url.startswith(("http://", "https://")):
            raise ValueError(f"handoff_webhook_url must be an http(s) URL, got {webhook_url!r}")
        if timeout_seconds <= 0:
            raise ValueError("handoff_timeout_seconds must be positive")
        self.webhook_url = webhook_url or None
        self.timeout_seconds = timeout_seconds
        self.retention_days = retention_days
        # The event log's database (a SQLite file, or PostgreSQL by URL).
        self._db = Database(target)
        self._db.create(SCHEMA)
        # One delivery at a time, in order; the turn that asked never waits for it.
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handoff-webhook")

    def close(self) -> None:
        self._sender.shutdown(wait=True)
        self._db.close()

    def request(
        self, session: str, shared: SharedConversation | None, now: float | None = None
    ) -> tuple[HandoffRecord, Future[HandoffRecord] | None]:
        """Record a request, then hand it to the helpdesk in the background (the future
        resolves to the record with its delivery outcome; None without a webhook)."""
        created = time.time() if now is None else now
        payload = json.dumps(asdict(shared)) if shared else None
        self._purge(created)
        (ident,), _ = self._db.execute(
            "INSERT INTO handoffs (ts, session, shared) VALUES (?, ?, ?) RETURNING id",
            (created, session, payload),
        )
        record = HandoffRecord(int(ident[0]), created, session, shared)
        if self.webhook_url is None:
            return record, None
        try:
            return record, self._sender.submit(self._deliver, record)
        except RuntimeError:  # shutting down: the request stands, staff see it undelivered
            log.warning("handoff %s recorded; the helpdesk was not told", record.reference)
            return record, None

    def handoffs(self, limit: int = 100, session: str | None = None) -> list[HandoffRecord]:
        """The latest requests first."""
        where, args = ("WHERE session = ?", (session,)) if session else ("", ())
        rows, _ = self._db.execute(
            "SELECT id, ts, session, shared, delivered, delivery_error FROM handoffs "
            f"{where} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        )
        return [_record(row) for row in rows]

    def count(self) -> dict[str, int]:
        """Requests in total, delivered to the helpdesk, and failed deliveries."""
        ((total, delivered, failed),), _ = self._db.execute(
            "SELECT COUNT(*), COUNT(delivered), COUNT(delivery_error) FROM handoffs"
        )
        return {"requests": total, "delivered": delivered, "failed": failed}

    def forget(self, session: str) -> int:
        return self._db.execute("DELETE FROM handoffs WHERE session = ?", (session,))[1]

    def _purge(self, now: float) -> None:
        if self.retention_days is not None:
            cutoff = now - self.retention_days * SECONDS_PER_DAY
            self._db.execute("DELETE FROM handoffs WHERE ts < ?", (cutoff,))

    def _deliver(self, record: HandoffRecord) -> HandoffRecord:
        """POST the request as JSON to the helpdesk; any 2xx is delivered."""
        assert self.webhook_url is not None
        body = json.dumps({"handoff": record.to_dict()}).encode()
        request = urllib.request.Request(
            self.webhook_url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "shopassist-handoff"},
            method="POST",
        )
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                if not 200 <= response.status < 300:
                    error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        delivered = None if error else time.time()
        if error:
            log.warning("handoff %s not delivered to the helpdesk: %s", record.reference, error)
        self._db.execute(
            "UPDATE handoffs SET delivered = ?, delivery_error = ? WHERE id = ?",
            (delivered, error and error[:MAX_ERROR_CHARS], record.id),
        )
        return HandoffRecord(
            record.id, record.created, record.session, record.shared, delivered, error
        )


def shared_conversation(
    turns: Sequence[tuple[str, str]], cart: Sequence[dict[str, Any]]
) -> SharedConversation:
    """The transcript (shopper and assistant, in order) and cart lines to share."""
    transcript = [{"shopper": user, "assistant": reply} for user, reply in turns]
    return SharedConversation(transcript=transcript, cart=list(cart))


def _record(row: tuple[Any, ...]) -> HandoffRecord:
    ident, ts, session, shared, delivered, error = row
    conversation = SharedConversation(**json.loads(shared)) if shared else None
    return HandoffRecord(int(ident), float(ts), str(session), conversation, delivered, error)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
