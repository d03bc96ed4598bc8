"""Where shopping sessions live: in this process (the default), or in Redis, shared by workers.

A session is a dialogue state (constraints, cards on screen, cart, history) plus its budgets
(turns, event-log rows). `SessionStore.hold()` gives a turn its session with the session's
lock held, so two turns of one shopper never interleave, whichever worker runs them:

- `MemorySessionStore` keeps live `DialogueState` objects in an LRU table with a thread lock
  each. One process only: a restart loses every cart.
- `RedisSessionStore` keeps each state as JSON (`DialogueState.to_record`) under a key that
  expires after `session_idle_minutes` untouched (Redis TTL). A turn takes a per-session lock
  in Redis (SET NX with an expiry, so a SIGKILLed worker's lock frees itself), reads the state,
  and writes it back in one script that first checks the lock is still its own: a turn that
  outlived its lock is not saved over a newer one. The session table's size, the per-client
  budgets and the secret that signs API session tokens live in Redis too, so they hold across
  workers.

`open_session_store(settings)` picks one from `session_store`; an unreachable Redis is a
`ValueError` naming the setting, and a Redis that fails later is `SessionStoreDown`, which
callers turn into a "try again" answer rather than a crash.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from assistant.config import Settings, redacted
from assistant.security import Allowance, ClientLimiter, TokenBucket
from dialogue import DialogueState

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)
# When the session table is full, a session idle this long may make room for a new one; a
# shopper active more recently is never evicted (new sessions are refused instead).
EVICTABLE_IDLE_S = 600.0
# Per-session rate limit: a burst of this many turns, then `Settings.turns_per_minute`.
RATE_BURST = 10
BUSY = "The shop is very busy right now. Please try again in a minute."
# A turn holds its session's Redis lock at most this long (a killed worker's lock frees
# itself then); another turn of the same session waits a little longer than that.
LOCK_SECONDS = 60.0
LOCK_WAIT_SECONDS = LOCK_SECONDS + 5.0
SECRET_BYTES = 32


class SessionRefused(Exception):
    """No new session now: the client opened too many, or the table is full of live shoppers.
    `retry_after` is in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SessionStoreDown(Exception):
    """The session store (Redis) did not answer: the request cannot be served just now."""


class Bucket(Protocol):
    def take(self, count: float = 1.0) -> float:
        """0.0 when `count` tokens were spent, else the seconds until they will be there."""
        ...


class Limiter(Protocol):
    """A token bucket per key (a client, a session): `take` as `Bucket.take`."""

    @property
    def enabled(self) -> bool: ...

    def take(self, key: str, count: float = 1.0) -> float: ...


@dataclass(slots=True)
class Session:
    """One session while a turn holds it: its state (change it in place) and its budgets."""

    state: DialogueState
    turns: Bucket
    events: Bucket


class SessionStore(Protocol):
    def hold(self, session_id: str, client: str | None = None) -> AbstractContextManager[Session]:
        """The session, opened if new, with its lock held until the block ends; changes to
        its state are kept when the block ends normally. Opening counts against `client`'s
        new-session budget when given and is refused (`SessionRefused`) rather than evicting
        a live shopper when full."""
        ...

    def get(self, session_id: str) -> DialogueState | None:
        """The session's state without opening it or taking its lock (None if not live)."""
        ...

    def has(self, session_id: str) -> bool: ...

    def drop(self, session_id: str) -> DialogueState | None:
        """Remove a session (after any turn in flight); returns its last state."""
        ...

    def limiter(self, name: str, per_minute: float, burst: float | None = None) -> Limiter:
        """A per-key budget shared by everything that uses this store (all workers)."""
        ...

    def secret(self) -> bytes | None:
        """The shared secret that signs API session tokens, or None: this store keeps none."""
        ...


def open_session_store(settings: Settings) -> SessionStore:
    if settings.session_store is None:
        return MemorySessionStore(settings)
    return RedisSessionStore.connect(settings.session_store, settings)


# In this process ----------------------------------------------------------------------------
@dataclass(slots=True)
class _Held:
    session: Session
    lock: threading.Lock = field(default_factory=threading.Lock)
    used: float = field(default_factory=lambda: time.monotonic())


class MemorySessionStore:
    """Sessions as live objects in this process, least recently used first."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sessions: OrderedDict[str, _Held] = OrderedDict()
        self._lock = threading.Lock()
        self._new_sessions = ClientLimiter(settings.client_sessions_per_minute)

    @contextmanager
    def hold(self, session_id: str, client: str | None = None) -> Iterator[Session]:
        held = self._held(session_id, client)
        with held.lock:
            yield held.session

    def _held(self, session_id: str, client: str | None) -> _Held:
        now = time.monotonic()
        with self._lock:
            self._expire_idle(now)
            held = self._sessions.get(session_id)
            if held is None:
                held = self._sessions[session_id] = self._open(now, client)
            held.used = now
            self._sessions.move_to_end(session_id)
            return held

    def _open(self, now: float, client: str | None) -> _Held:
        """A new session (the caller holds the table's lock)."""
        if client is not None:
            wait = self._new_sessions.take(client)
            if wait:
                raise SessionRefused(BUSY, wait)
        if len(self._sessions) >= self.settings.max_sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.used < EVICTABLE_IDLE_S:
                raise SessionRefused(BUSY, EVICTABLE_IDLE_S - (now - oldest.used))
            self._sessions.popitem(last=False)
        settings = self.settings
        session = Session(
            DialogueState(personalise=settings.personalise),
            turns=TokenBucket(settings.turns_per_minute, RATE_BURST),
            events=TokenBucket(settings.events_per_minute, settings.events_per_minute),
        )
        return _Held(session)

    def _expire_idle(self, now: float) -> None:
        """Drop sessions idle longer than `session_idle_minutes`. Sessions are kept in order of
        use, so only the expired ones at the front are looked at."""
        idle = self.settings.session_idle_minutes * 60
        while idle and self._sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.used <= idle:
                return
            self._sessions.popitem(last=False)

    def get(self, session_id: str) -> DialogueState | None:
        """The live state object itself (a caller in this process may change it)."""
        with self._lock:
            self._expire_idle(time.monotonic())
            held = self._sessions.get(session_id)
            return held.session.state if held is not None else None

    def has(self, session_id: str) -> bool:
        return self.get(session_id) is not None

    def drop(self, session_id: str) -> DialogueState | None:
        with self._lock:
            held = self._sessions.pop(session_id, None)
        return held.session.state if held is not None else None

    def limiter(self, name: str, per_minute: float, burst: float | None = None) -> Limiter:
        return ClientLimiter(per_minute, burst)

    def secret(self) -> bytes | None:
        return None


# In Redis ------------------------------------------------------------------------------------
# Token bucket (as `TokenBucket`), on Redis's clock so workers' clocks need not agree. Returns
# the wait in seconds as a string (Lua numbers would come back truncated to integers).
_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, count = tonumber(ARGV[1]) / 60, tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = math.min(burst, (tonumber(held[1]) or burst)
    + math.max(0, now - (tonumber(held[2]) or now)) * rate)
local wait = 0
if tokens >= count then tokens = tokens - count else wait = (count - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""
# Touch a session (state key, its place in the table), or with ARGV[5] = '1' open it: expired
# entries leave the table first, and a full table gives up its oldest entry only when that
# one is idle past ARGV[4] seconds. Returns {1, ''} when the session is there now, {0, ''}
# when it is not (and was not to be opened), {-1, seconds to wait} when the table is full.
_OPEN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local key, table_key = KEYS[1], KEYS[2]
local sid, idle, most, evictable = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if idle > 0 then redis.call('ZREMRANGEBYSCORE', table_key, '-inf', now - idle) end
if redis.call('EXISTS', key) == 0 then
  if ARGV[5] ~= '1' then return {0, ''} end
  if redis.call('ZCARD', table_key) >= most then
    local oldest = redis.call('ZRANGE', table_key, 0, 0, 'WITHSCORES')
    local age = now - tonumber(oldest[2])
    if age < evictable then return {-1, tostring(evictable - age)} end
    redis.call('ZREM', table_key, oldest[1])
    for _, part in ipairs({'state:', 'turns:', 'events:'}) do
      redis.call('DEL', ARGV[7] .. part .. oldest[1])
    end
  end
  redis.call('SET', key, ARGV[6])
end
if idle > 0 then redis.call('EXPIRE', key, idle) end
redis.call('ZADD', table_key, now, sid)
return {1, ''}
"""
# Write a turn's state back and release its lock, only while the lock is still this turn's.
_SAVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
redis.call('SET', KEYS[2], ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
redis.call('ZADD', KEYS[3], tonumber(t[1]) + tonumber(t[2]) / 1000000, ARGV[4])
redis.call('DEL', KEYS[1])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisBucket:
    """One key's `_BUCKET` in Redis, as a `Bucket`."""

    def __init__(self, limiter: RedisLimiter, key: str) -> None:
        self.limiter, self.key = limiter, key

    def take(self, count: float = 1.0) -> float:
        return self.limiter.take(self.key, count)


class RedisLimiter(Allowance):
    """`ClientLimiter` in Redis: one budget per key, whichever worker is asked. Keys expire
    once their bucket would be full again, so a flood of clients leaves nothing behind."""

    def __init__(
        self, store: RedisSessionStore, prefix: str, per_minute: float, burst: float | None
    ) -> None:
        super().__init__(per_minute, burst)
        self.store, self.prefix = store, prefix

    def take(self, key: str, count: float = 1.0) -> float:
        if not self.enabled:
            return 0.0
        with self.store.talking():
            wait = self.store.bucket(
                keys=[self.prefix + key], args=[self.per_minute, self.burst, count]
            )
        return float(wait)


class RedisSessionStore:
    """Sessions, budgets and the token secret in Redis (see the module's docstring)."""

    def __init__(
        self, client: redis.Redis, settings: Settings, prefix: str = "shopassist:"
    ) -> None:
        self.redis = client
        self.settings = settings
        self.prefix = prefix
        self.bucket = client.register_script(_BUCKET)
        self._open = client.register_script(_OPEN)
        self._save = client.register_script(_SAVE)
        self._release = client.register_script(_RELEASE)
        self._new_sessions = self.limiter("new-sessions", settings.client_sessions_per_minute)
        self._turns = RedisLimiter(self, prefix + "turns:", settings.turns_per_minute, RATE_BURST)
        self._events = RedisLimiter(
            self, prefix + "events:", settings.events_per_minute, settings.events_per_minute
        )

    @classmethod
    def connect(cls, url: str, settings: Settings) -> RedisSessionStore:
        """Connect and check the server answers; a `ValueError` naming the setting if not."""
        import redis

        where = f"session_store: cannot use Redis at {redacted(url)}"
        try:
            client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
            client.ping()
        except ValueError as exc:  # a malformed URL
            raise ValueError(f"{where}: {exc}") from None
        except redis.RedisError as exc:
            raise ValueError(f"{where}: {exc}") from None
        return cls(client, settings)

    @contextmanager
    def talking(self) -> Iterator[None]:
        """Redis failures as `SessionStoreDown` (logged once here, with the reason)."""
        import redis

        try:
            yield
        except redis.RedisError as exc:
            log.error("session store unreachable: %s", exc)
            raise SessionStoreDown("the session store is not answering") from exc

    def _key(self, part: str, session_id: str) -> str:
        return f"{self.prefix}{part}:{session_id}"

    @contextmanager
    def hold(self, session_id: str, client: str | None = None) -> Iterator[Session]:
        self._touch(session_id, client)
        token = self._lock(session_id)
        saved = False
        try:
            with self.talking():
                raw = self.redis.get(self._key("state", session_id))
            state = self._decode(raw) if raw is not None else self._fresh()
            session = Session(
                state, RedisBucket(self._turns, session_id), RedisBucket(self._events, session_id)
            )
            yield session
            with self.talking():
                saved = bool(
                    self._save(
                        keys=[
                            self._key("lock", session_id),
                            self._key("state", session_id),
                            self.prefix + "sessions",
                        ],
                        args=[token, self._encode(state), self._idle_seconds(), session_id],
                    )
                )
            if not saved:
                log.warning("session %s: its turn outlived its lock and was not saved", session_id)
        finally:
            if not saved:
                self._unlock(session_id, token)

    def _touch(self, session_id: str, client: str | None) -> None:
        """Mark the session used (and open it if new), as `MemorySessionStore._held` does."""
        for create in (False, True):
            if create and client is not None:
                wait = self._new_sessions.take(client)
                if wait:
                    raise SessionRefused(BUSY, wait)
            with self.talking():
                status, wait = self._open(
                    keys=[self._key("state", session_id), self.prefix + "sessions"],
                    args=[
                        session_id,
                        self._idle_seconds(),
                        self.settings.max_sessions,
                        EVICTABLE_IDLE_S,
                        "1" if create else "0",
                        self._encode(self._fresh()),
                        self.prefix,
                    ],
                )
            if int(status) == 1:
                return
            if int(status) == -1:
                raise SessionRefused(BUSY, float(wait))

    def _lock(self, session_id: str) -> str:
        token = secrets.token_hex(16)
        key = self._key("lock", session_id)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        pause = 0.005
        while True:
            with self.talking():
                if self.redis.set(key, token, nx=True, px=int(LOCK_SECONDS * 1000)):
                    return token
            if time.monotonic() > deadline:
                raise SessionStoreDown(f"session {session_id} stayed locked")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _unlock(self, session_id: str, token: str) -> None:
        try:
            with self.talking():
                self._release(keys=[self._key("lock", session_id)], args=[token])
        except SessionStoreDown:
            pass  # the lock expires by itself

    def get(self, session_id: str) -> DialogueState | None:
        """A copy read from Redis: changing it changes nothing stored."""
        with self.talking():
            raw = self.redis.get(self._key("state", session_id))
        return None if raw is None else self._decode(raw)

    def has(self, session_id: str) -> bool:
        with self.talking():
            return bool(self.redis.exists(self._key("state", session_id)))

    def drop(self, session_id: str) -> DialogueState | None:
        token = self._lock(session_id)  # after the turn in flight, never under it
        try:
            with self.talking():
                pipe = self.redis.pipeline()
                pipe.get(self._key("state", session_id))
                pipe.delete(*(self._key(p, session_id) for p in ("state", "turns", "events")))
                pipe.zrem(self.prefix + "sessions", session_id)
                raw = pipe.execute()[0]
        finally:
            self._unlock(session_id, token)
        return None if raw is None else self._decode(raw)

    def limiter(self, name: str, per_minute: float, burst: float | None = None) -> Limiter:
        return RedisLimiter(self, f"{self.prefix}limit:{name}:", per_minute, burst)

    def secret(self) -> bytes:
        """Made once by whichever worker asks first; every other worker reads that one."""
        key = self.prefix + "session_secret"
        with self.talking():
            self.redis.set(key, secrets.token_urlsafe(SECRET_BYTES), nx=True)
            value = self.redis.get(key)
        assert value is not None
        return bytes(value)

    def _idle_seconds(self) -> int:
        return self.settings.session_idle_minutes * 60

    def _fresh(self) -> DialogueState:
        return DialogueState(personalise=self.settings.personalise)

    @staticmethod
    def _encode(state: DialogueState) -> str:
        return json.dumps(state.to_record(), separators=(",", ":"))

    @staticmethod
    def _decode(raw: Any) -> DialogueState:
        return DialogueState.from_record(json.loads(raw))
