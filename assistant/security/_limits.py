"""Rate limits: one token bucket, used per session (turns, event rows) and per client (requests,
new sessions).

A client is whoever sends the requests: its API token when the server has several, else its
address. Buckets are kept for a bounded number of clients (least recently seen dropped first),
so a flood of addresses cannot grow memory without end.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

# Clients whose buckets are remembered at once; a forgotten client starts with a full burst.
MAX_CLIENTS = 100_000


@dataclass(slots=True)
class TokenBucket:
    """`burst` tokens, refilled at `per_minute`; 0 per minute means no limit."""

    per_minute: float
    burst: float
    tokens: float = -1.0  # -1: start full
    checked: float = field(default_factory=lambda: time.monotonic())

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, count: float = 1.0) -> float:
        """Spend `count` tokens: 0.0 when they were there, else the seconds until they will be
        (nothing is spent then)."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic()
        refill = max(0.0, now - self.checked) * self.per_minute / 60
        self.tokens = min(self.burst, self.tokens + refill)
        self.checked = now
        if self.tokens >= count:
            self.tokens -= count
            return 0.0
        return (count - self.tokens) * 60 / self.per_minute


class Allowance:
    """A rate per minute with a burst, checked once for every limiter that keeps one budget
    per key (here in memory; `assistant._sessions.RedisLimiter` in Redis)."""

    def __init__(self, per_minute: float, burst: float | None = None) -> None:
        if per_minute < 0:
            raise ValueError("per_minute must be >= 0")
        self.per_minute = per_minute
        # A burst of a sixth of a minute's allowance (at least 5) absorbs a page of clicks.
        self.burst = burst if burst is not None else max(5.0, per_minute / 6)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0


class ClientLimiter(Allowance):
    """A token bucket per client key; thread-safe. `take(key)` returns the seconds to wait, or
    0.0 when the request may go on."""

    def __init__(self, per_minute: float, burst: float | None = None) -> None:
        super().__init__(per_minute, burst)
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, count: float = 1.0) -> float:
        if not self.enabled:
            return 0.0
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.per_minute, self.burst)
                while len(self._buckets) > MAX_CLIENTS:
                    self._buckets.popitem(last=False)
            self._buckets.move_to_end(key)
            return bucket.take(count)


def retry_after(seconds: float) -> str:
    """The Retry-After header value: whole seconds, at least 1."""
    return str(max(1, int(seconds + 0.999)))
