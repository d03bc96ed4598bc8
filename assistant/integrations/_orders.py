"""The store's order-lookup hook: "where is my order?" answered by the store's own order system.

Why a hook and not canned text: only the store knows its orders, and a status the assistant made
up is a broken promise. With `order_lookup_url` set, the assistant POSTs the order number the
shopper gave and quotes what comes back; without it, the reply says where to find the status.

The contract (README, "Order status"): request `{"order_id": "104233"}` as JSON; answer 200 with
`{"order_id": str, "status": str, "estimated_delivery": str | null, "tracking_url": str | null}`,
or 404 when there is no such order. Anything else (another status, a timeout, a body that does
not fit) is "the order system could not tell", never a guess. Verifying that the shopper owns
the order is the store's side of the hook: it gets the number only.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from pydantic import BaseModel, Field, HttpUrl, ValidationError

from dialogue import OrderLookupUnavailable, OrderStatus

log = logging.getLogger(__name__)
# What one answer may carry: a status line, not a page.
MAX_FIELD_CHARS = 200
MAX_BODY_BYTES = 64 * 1024


class OrderAnswer(BaseModel):
    """The hook's 200 answer, checked before a word of it reaches a shopper."""

    order_id: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    status: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    estimated_delivery: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    tracking_url: HttpUrl | None = None


class HttpOrderLookup:
    """`OrderPort` over the store's HTTP hook."""

    def __init__(self, url: str, timeout_seconds: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"order_lookup_url must be an http(s) URL, got {url!r}")
        if timeout_seconds <= 0:
            raise ValueError("order_lookup_timeout_seconds must be positive")
        self.url = url
        self.timeout_seconds = timeout_seconds

    def lookup(self, order_id: str) -> OrderStatus | None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps({"order_id": order_id}).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "shopassist-orders"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                body = response.read(MAX_BODY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise _unavailable(order_id, f"HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise _unavailable(order_id, f"{type(exc).__name__}: {exc}") from exc
        if len(body) > MAX_BODY_BYTES:
            raise _unavailable(order_id, "answer too large")
        try:
            answer = OrderAnswer.model_validate_json(body)
        except ValidationError as exc:
            raise _unavailable(order_id, f"answer does not fit the contract: {exc}") from exc
        return OrderStatus(
            order_id=answer.order_id,
            status=answer.status,
            estimated_delivery=answer.estimated_delivery,
            tracking_url=str(answer.tracking_url) if answer.tracking_url else None,
        )


def _unavailable(order_id: str, why: str) -> OrderLookupUnavailable:
    log.warning("order lookup for %s failed: %s", order_id, why)
    return OrderLookupUnavailable(why)
