"""`shopassist bench load`: concurrent shoppers over the HTTP API, on loopback, for a while.

Each simulated shopper is one session at a time, sending its next turn as soon as the previous
reply arrives (a closed loop with no think time, so N shoppers keep up to N turns in flight).
It loops over scripted conversations (search, refine, cheaper, compare, details, add with a
size, remove, view the cart), a new session id each time, with seeded random topics, colours,
sizes and price caps so the search result cache sees a realistic mix of repeats and misses.

Every session is checked against its own replies (`SessionCheck`): the cart may only change on
an add or remove turn and then only as asked ("add the first one in size M" adds exactly #1
of the list this session was shown, in M), the state's turn count is this session's, and no
product id it was never shown may appear in its cart or state: that would be a cross-session
leak. At the end the server's own view (GET the cart and the session) must agree.

The client runs in a separate process (asyncio + httpx), so it never competes with the server
for the GIL; the parent process is the in-process server, so its RSS and CPU are the server's.
After the API levels, a few sessions drive the real UI event through Gradio's queue
(`gradio_client`, checked the same way from the shelf, cart and chat panels), then an optional
soak holds one level while the server's RSS is sampled. Figures are printed and saved, never
asserted: timing belongs here, not in the tests.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import json
import multiprocessing
import os
import random
import re
import socket
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

import httpx

from assistant import go_offline
from assistant.integrations.http_api import API_TOKEN_ENV, PREFIX, SESSION_HEADER

if TYPE_CHECKING:
    from assistant import Assistant

# Bounds: a mistyped flag must not turn into an attack on the box (or on a store).
MAX_SHOPPERS = 500
MAX_SECONDS = 4 * 3600
REQUEST_TIMEOUT = 30.0
# Idle connections are dropped well before uvicorn's 5 s keep-alive timeout, so the client never
# reuses one the server is closing at that moment (a race browsers hide by retrying).
KEEPALIVE_EXPIRY = 1.0
# The target this box should meet: a turn answered within a second for 95% of turns.
P95_TARGET_MS = 1000.0
SAMPLE_SECONDS = 5.0  # server RSS sampling interval
SAMPLES_KEPT = 5  # error and leak messages kept per level
GRACE_SECONDS = 2 * REQUEST_TIMEOUT + 60  # in-flight turns, final checks, client start-up
SEED = 0

# Scripted conversations ----------------------------------------------------------------------
# The sample store's (Luma) vocabulary: tops come in XS-XL, gear has no size.
TOPICS = (
    "women's jackets", "women's hoodies", "women's tees", "women's tanks",
    "men's jackets", "men's hoodies", "men's tees", "men's tanks",
)  # fmt: skip
GEAR = ("a backpack for hiking", "a gym bag", "a watch", "a water bottle", "a yoga mat")
COLOURS = ("blue", "black", "red", "green", "gray", "purple", "orange", "white", "yellow")
SIZES = ("XS", "S", "M", "L", "XL")
PRICES = (30, 40, 50, 60, 70, 80)
FOCUS = 0  # `Step.adds` value for "add it": the product the conversation is about


@dataclass(frozen=True, slots=True)
class Step:
    """One shopper message and what its reply may do.

    `adds`: the turn may add #N of the list on screen (FOCUS: the product in focus) in `size`;
    `removes`: it may take one line out of the cart; `about`: the list positions a
    comparison or details reply must be about. Any other cart change is a mismatch."""

    text: str
    adds: int | None = None
    size: str | None = None
    removes: bool = False
    about: tuple[int, ...] = ()


SCRIPTS: dict[str, tuple[Step, ...]] = {
    "refine and add": (
        Step("show me {topic}"),
        Step("in {colour}"),
        Step("add the first one in size {size}", adds=1, size="{size}"),
        Step("what's in my cart"),
    ),
    "compare and details": (
        Step("{topic}"),
        Step("in {colour}"),
        Step("cheaper"),
        Step("compare the first two", about=(1, 2)),
        Step("tell me about the second one", about=(2,)),
        Step("add it in size {size}", adds=FOCUS, size="{size}"),
        Step("show my cart"),
    ),
    "add then remove": (
        Step("{topic} under ${price}"),
        Step("in {colour}"),
        Step("add the second one in size {size}", adds=2, size="{size}"),
        Step("remove it", removes=True),
        Step("view cart"),
    ),
    "two adds": (
        Step("{topic} in {colour}"),
        Step("add the first one in size {size}", adds=1, size="{size}"),
        Step("add the second one in size {size}", adds=2, size="{size}"),
        Step("show more"),
        Step("what's in my cart"),
    ),
    "gear": (
        Step("{gear}"),
        Step("cheaper"),
        Step("details of the first one", about=(1,)),
        Step("add it to my cart", adds=FOCUS),
        Step("show my cart"),
    ),
}


def conversation(rng: random.Random, name: str | None = None) -> tuple[str, list[Step]]:
    """A script (random unless named) with its blanks filled from the store's vocabulary."""
    name = name or rng.choice(sorted(SCRIPTS))
    blanks = {
        "topic": rng.choice(TOPICS),
        "gear": rng.choice(GEAR),
        "colour": rng.choice(COLOURS),
        "size": rng.choice(SIZES),
        "price": str(rng.choice(PRICES)),
    }
    steps = [
        Step(
            step.text.format(**blanks),
            step.adds,
            step.size.format(**blanks) if step.size else None,
            step.removes,
            step.about,
        )
        for step in SCRIPTS[name]
    ]
    return name, steps


# Checking a session against its own replies ---------------------------------------------------
class Line(NamedTuple):
    product_id: str
    size: str | None
    color: str | None
    quantity: int


@dataclass(slots=True)
class Screen:
    """What one reply showed the shopper: from the API's JSON or from the Gradio panels.

    `listed`: the products on screen as a numbered list; `mentioned`: products a comparison or
    details answer is about; `state`: the dialogue state (API only); `said`: the shopper's
    messages in the chat history (Gradio only)."""

    listed: list[str]
    mentioned: list[str]
    cart: list[Line]
    state: dict[str, Any] | None = None
    said: list[str] | None = None

    @classmethod
    def from_api(cls, reply: dict[str, Any]) -> Screen:
        listed = [s["product"]["id"] for s in reply["suggestions"] + reply["alternatives"]]
        mentioned = list((reply.get("comparison") or {}).get("product_ids", []))
        if reply.get("product"):
            mentioned.append(reply["product"]["id"])
        return cls(listed, mentioned, api_lines(reply["cart"]), reply["state"])


def api_lines(items: list[dict[str, Any]]) -> list[Line]:
    return [Line(i["product_id"], i["size"], i["color"], int(i["quantity"])) for i in items]


class SessionCheck:
    """One session's expected cart, list on screen, turn count and the product ids it was
    shown, kept from its own replies; every disagreement is recorded in `problems`."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.seen: set[str] = set()
        self.shown: list[str] = []
        self.cart: list[Line] = []
        self.focus: str | None = None
        self.said: list[str] = []
        self.problems: list[str] = []
        self.adds = self.removes = 0  # cart changes verified against the script

    @property
    def turns(self) -> int:
        return len(self.said)

    def _problem(self, text: str) -> None:
        self.problems.append(f"session {self.session_id}: {text}")

    def observe(self, step: Step, screen: Screen) -> None:
        """Check one reply against everything this session was told before it."""
        self.said.append(step.text)
        where = f"turn {self.turns} ({step.text!r})"
        before = set(self.seen)
        self.seen.update(screen.listed)
        for product_id in screen.mentioned:
            if product_id not in before:
                self._problem(f"{where} is about {product_id}, never shown to this session")
        expected = self._expected_mentions(step)
        if expected and screen.mentioned and screen.mentioned != expected:
            self._problem(f"{where} is about {screen.mentioned}, this session's are {expected}")
        self._cart_change(step, screen.cart, where)
        self.cart = screen.cart
        self._foreign(where, "cart", [line.product_id for line in screen.cart])
        if screen.said is not None and screen.said != self.said:
            self._problem(f"{where}: the chat shows messages {screen.said}, sent {self.said}")
        if screen.state is None:
            self.shown = screen.listed  # the Gradio shelf is the list on screen
            return
        state = screen.state
        if screen.listed and state["shown"] != screen.listed:
            self._problem(f"{where}: state lists {state['shown']}, the reply {screen.listed}")
        self.shown, self.focus = list(state["shown"]), state["focus"]
        if state["turns"] != self.turns - 1:  # the snapshot is taken before the turn is logged
            self._problem(
                f"{where}: state counts {state['turns']} earlier turns, not {self.turns - 1}"
            )
        if api_lines(state["cart"]) != screen.cart:
            self._problem(f"{where}: the state's cart differs from the reply's")
        self._foreign(where, "state", state_ids(state))

    def final(self, cart: list[Line], state: dict[str, Any]) -> None:
        """The server's own view after the last turn (GET cart, GET session) must agree."""
        if Counter(cart) != Counter(self.cart):
            self._problem(f"GET cart has {cart}, the last reply said {self.cart}")
        if Counter(api_lines(state["cart"])) != Counter(self.cart):
            self._problem(f"GET session's cart has {state['cart']}, the last reply {self.cart}")
        if state["shown"] != self.shown:
            self._problem(f"GET session lists {state['shown']}, the last reply {self.shown}")
        if state["turns"] != self.turns:
            self._problem(f"GET session counts {state['turns']} turns, sent {self.turns}")
        self._foreign("GET", "cart", [line.product_id for line in cart])
        self._foreign("GET", "session", state_ids(state))

    def _expected_mentions(self, step: Step) -> list[str]:
        positions = step.about or ((step.adds,) if step.adds else ())
        if positions and all(p <= len(self.shown) for p in positions):
            return [self.shown[p - 1] for p in positions]
        if step.adds == FOCUS and self.focus:
            return [self.focus]
        return []

    def _cart_change(self, step: Step, cart: list[Line], where: str) -> None:
        """Unchanged, or exactly what the step may do (the assistant may also ask for a size
        or colour instead of adding: then nothing changes)."""
        before, after = Counter(_units(self.cart)), Counter(_units(cart))
        gained, lost = after - before, before - after
        if not gained and not lost:
            return
        if step.adds is not None and not lost and sum(gained.values()) == 1:
            (product_id, size, _), *_ = gained
            target = self._expected_mentions(step)
            if target and product_id != target[0]:
                self._problem(f"{where} added {product_id}, this session's target is {target[0]}")
            if step.size and (size or "").lower() != step.size.lower():
                self._problem(f"{where} added size {size}, asked for {step.size}")
            self.adds += 1
            return
        removed = {key for key in lost if key not in after}
        if step.removes and not gained and len(removed) == 1 and set(lost) == removed:
            self.removes += 1
            return
        self._problem(f"{where} changed the cart: +{dict(gained)} -{dict(lost)}")

    def _foreign(self, where: str, what: str, product_ids: Sequence[str]) -> None:
        for product_id in product_ids:
            if product_id not in self.seen:
                self._problem(f"{where}: {what} holds {product_id}, never shown to this session")


def _units(lines: list[Line]) -> Iterator[tuple[str, str | None, str | None]]:
    for line in lines:
        for _ in range(line.quantity):
            yield line.product_id, line.size, line.color


def state_ids(state: dict[str, Any]) -> list[str]:
    """Every product id a dialogue state snapshot holds."""
    ids = [*state["shown"], *state["liked"], *state["disliked"]]
    ids += [line["product_id"] for line in state["cart"]]
    ids += [pid for pid in (state["focus"], state.get("similar_to")) if pid]
    if state.get("pending_add"):
        ids.append(state["pending_add"]["product_id"])
    return ids


# Tallies ---------------------------------------------------------------------------------------
@dataclass
class Tally:
    """What one load level measured. Throughput counts chat turns only (not the checks' GETs)."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    leaks: int = 0
    leak_samples: list[str] = field(default_factory=list)
    rate_limited: int = 0
    lost_carts: int = 0  # sessions the server no longer had at their final check
    sessions: int = 0
    sessions_checked: int = 0
    cart_adds: int = 0
    cart_removes: int = 0
    session_rates: list[float] = field(default_factory=list)  # turns a minute, per session
    first_start: float = float("inf")
    last_end: float = 0.0
    began: float = field(default_factory=time.perf_counter)

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < SAMPLES_KEPT:
            self.error_samples.append(f"[{time.perf_counter() - self.began:.1f}s] {message}")

    def turn(self, started: float, ended: float) -> None:
        self.latencies_ms.append((ended - started) * 1000)
        self.first_start, self.last_end = min(self.first_start, started), max(self.last_end, ended)

    def checked(self, check: SessionCheck, span: float) -> None:
        self.sessions_checked += 1
        self.cart_adds += check.adds
        self.cart_removes += check.removes
        self.leaks += len(check.problems)
        self.leak_samples += check.problems[: SAMPLES_KEPT - len(self.leak_samples)]
        if check.turns > 1 and span > 0:
            self.session_rates.append(check.turns / span * 60)

    def merge(self, other: Tally) -> None:
        self.latencies_ms += other.latencies_ms
        self.errors += other.errors
        self.error_samples = (self.error_samples + other.error_samples)[:SAMPLES_KEPT]
        self.leaks += other.leaks
        self.leak_samples = (self.leak_samples + other.leak_samples)[:SAMPLES_KEPT]
        self.rate_limited += other.rate_limited
        self.lost_carts += other.lost_carts
        self.sessions += other.sessions
        self.sessions_checked += other.sessions_checked
        self.cart_adds += other.cart_adds
        self.cart_removes += other.cart_removes
        self.session_rates += other.session_rates
        self.first_start = min(self.first_start, other.first_start)
        self.last_end = max(self.last_end, other.last_end)

    def summary(self) -> dict[str, Any]:
        seconds = max(self.last_end - self.first_start, 1e-9)
        rates = self.session_rates
        return {
            "turns": len(self.latencies_ms),
            "seconds": round(seconds, 1) if self.latencies_ms else 0.0,
            "turns_per_s": round(len(self.latencies_ms) / seconds, 2) if self.latencies_ms else 0,
            "latency_ms": latency_summary(self.latencies_ms),
            "errors": self.errors,
            "error_samples": self.error_samples,
            "leaks": self.leaks,
            "leak_samples": self.leak_samples,
            "rate_limited": self.rate_limited,
            "lost_carts": self.lost_carts,
            "sessions": self.sessions,
            "sessions_checked": self.sessions_checked,
            "cart_adds_checked": self.cart_adds,
            "cart_removes_checked": self.cart_removes,
            "session_turns_per_min": {
                "median": round(statistics.median(rates), 1) if rates else None,
                "max": round(max(rates), 1) if rates else None,
            },
        }


def latency_summary(samples_ms: Sequence[float]) -> dict[str, float | int | None]:
    """Nearest-rank percentiles (as `evals._retrieval_bench.percentiles`, plus p99 and max)."""
    ordered = sorted(samples_ms)
    if not ordered:
        return {"p50": None, "p95": None, "p99": None, "max": None, "n": 0}
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)  # noqa: E731
    return {
        "p50": pick(0.5),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(ordered[-1], 1),
        "n": len(ordered),
    }


# The HTTP API shoppers (run in the client process) ---------------------------------------------
# The action of a turn the dialogue model failed on (logged, state restored): a 200 that is
# a server error all the same.
FAILED_TURN = "error"


class _Failed(Exception):
    """A request failed (already counted): the session's state is unknown from here on."""


def headers() -> dict[str, str]:
    """The bearer token the server expects, from the same variable it reads."""
    token = os.environ.get(API_TOKEN_ENV)
    return {"Authorization": f"Bearer {token}"} if token else {}


async def _request(
    http: httpx.AsyncClient, tally: Tally, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    try:
        response = await http.request(method, f"{PREFIX}{path}", **kwargs)
    except httpx.HTTPError as exc:
        tally.error(f"{method} {path}: {type(exc).__name__} {exc}".strip())
        raise _Failed from exc
    if response.status_code != 429 and not response.is_success:
        tally.error(f"{method} {path} -> {response.status_code}: {response.text[:200]}")
        raise _Failed
    return response


async def _until_served(
    http: httpx.AsyncClient, tally: Tally, deadline: float, method: str, path: str, **kwargs: Any
) -> tuple[httpx.Response, float] | None:
    """The request and when its served attempt started, sent again after Retry-After while it
    is refused with 429 (counted apart); None when the deadline passes while waiting."""
    while True:
        started = time.perf_counter()
        response = await _request(http, tally, method, path, **kwargs)
        if response.status_code != 429:
            return response, started
        tally.rate_limited += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(_retry_after(response), remaining))


async def chat(
    http: httpx.AsyncClient, tally: Tally, token: str, text: str, deadline: float
) -> dict[str, Any] | None:
    """One timed turn. A 429 (the per-session rate limit) is counted apart and the turn is
    sent again after Retry-After; None when the deadline passes while waiting."""
    served = await _until_served(
        http, tally, deadline, "POST", "/chat", json={"message": text},
        headers={SESSION_HEADER: token},
    )  # fmt: skip
    if served is None:
        return None
    response, started = served
    tally.turn(started, time.perf_counter())  # the served attempt alone: no 429 waits
    reply: dict[str, Any] = response.json()
    if reply["action"] == FAILED_TURN:
        tally.error(f"POST /chat: the dialogue failed on {text!r} (see the server log)")
        raise _Failed
    return reply


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


async def session(
    http: httpx.AsyncClient, tally: Tally, steps: Sequence[Step], deadline: float, *, forget: bool
) -> SessionCheck:
    """One conversation in a session the server issues (cut short at the deadline), then the
    server's view of it checked; a session the server no longer has is a lost cart. With
    `forget`, the session is deleted afterwards (with its recorded events)."""
    check = SessionCheck("unopened")
    try:
        opened = await _until_served(http, tally, deadline, "POST", "/sessions")
        if opened is None:
            return check
        body = opened[0].json()
        check.session_id, token = body["session_id"], body["session_token"]
        own = {SESSION_HEADER: token}
        tally.sessions += 1
        started = time.perf_counter()
        for index, step in enumerate(steps):
            if index and time.monotonic() >= deadline:
                break  # the first turn always goes: every counted session has one
            reply = await chat(http, tally, token, step.text, deadline)
            if reply is None:
                break
            check.observe(step, Screen.from_api(reply))
        span = time.perf_counter() - started
        path = f"/sessions/{check.session_id}"
        checks_until = time.monotonic() + REQUEST_TIMEOUT  # the checks may wait out a 429

        async def server_view(method: str, where: str) -> dict[str, Any]:
            served = await _until_served(http, tally, checks_until, method, where, headers=own)
            if served is None:
                raise _Failed
            body: dict[str, Any] = served[0].json()
            return body

        if (await http.get(f"{PREFIX}{path}/cart", headers=own)).status_code == 404:
            tally.lost_carts += 1
            tally.error(f"GET {path}/cart -> 404: the server dropped a live session")
            raise _Failed
        cart, state = await server_view("GET", f"{path}/cart"), await server_view("GET", path)
        check.final(api_lines(cart["lines"]), state)
        tally.checked(check, span)
        if forget:
            await server_view("DELETE", path)
    except _Failed:
        pass  # counted as an error; a half-done turn leaves nothing to check against
    return check


async def _shopper(
    http: httpx.AsyncClient, tally: Tally, rng: random.Random, deadline: float, forget: bool
) -> None:
    while time.monotonic() < deadline:
        _, steps = conversation(rng)
        await session(http, tally, steps, deadline, forget=forget)


def shopper_client(url: str, number: int | None, connections: int = 1) -> httpx.AsyncClient:
    """An HTTP client for one simulated shopper. Against a loopback server each shopper
    sends from its own loopback address (127.1.x.y, `number`), as real shoppers come from
    their own addresses, so the server's per-client budgets apply to each on its own."""
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )
    transport = None
    host = urlsplit(url).hostname or ""
    if number is not None and _is_loopback(host) and host != "::1" and host != "localhost":
        address = f"127.{1 + number // 60000}.{number // 250 % 240}.{number % 250 + 2}"
        transport = httpx.AsyncHTTPTransport(local_address=address, limits=limits)
    return httpx.AsyncClient(
        base_url=url, headers=headers(), timeout=REQUEST_TIMEOUT, limits=limits,
        transport=transport,
    )  # fmt: skip


async def _api_shoppers(url: str, shoppers: int, seconds: float, seed: int, forget: bool) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + seconds

    async def one(number: int) -> None:
        async with shopper_client(url, number) as http:
            await _shopper(http, tally, random.Random(seed * 1000 + number), deadline, forget)

    await asyncio.gather(*(one(i) for i in range(shoppers)))
    return tally


def api_load(url: str, shoppers: int, seconds: float, seed: int, forget: bool) -> dict[str, Any]:
    """A load level (in the client process): the summary plus the client's own CPU time."""
    cpu = time.process_time()
    tally = asyncio.run(_api_shoppers(url, shoppers, seconds, seed, forget))
    return {**tally.summary(), "client_cpu_s": time.process_time() - cpu}


# The hostile client: one address flooding sessions, turns and reads -------------------------------
FLOOD_ADDRESS_NUMBER = 59_999  # far from the shoppers' addresses


@dataclass
class FloodTally:
    requests: int = 0
    refused: int = 0  # 429
    served: int = 0
    other: Counter[int] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "served": self.served,
            "rate_limited": self.refused,
            "share_429": round(self.refused / self.requests, 3) if self.requests else None,
            "other_statuses": {str(k): v for k, v in sorted(self.other.items())},
        }


async def _flood(url: str, connections: int, deadline: float, tally: FloodTally) -> None:
    """As fast as `connections` connections allow: open a session, take a turn in it, read a
    session that does not exist. Never waits for Retry-After: that is the attack."""

    async def count(response: httpx.Response) -> None:
        tally.requests += 1
        if response.status_code == 429:
            tally.refused += 1
        elif response.is_success:
            tally.served += 1
        else:
            tally.other[response.status_code] += 1

    async def worker(http: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                opened = await http.post(f"{PREFIX}/sessions")
                await count(opened)
                if opened.status_code == 201:
                    token = opened.json()["session_token"]
                    turn = {"message": "show me bags"}
                    await count(
                        await http.post(
                            f"{PREFIX}/chat", json=turn, headers={SESSION_HEADER: token}
                        )
                    )
                await count(await http.get(f"{PREFIX}/sessions/api-{uuid.uuid4().hex}/cart"))
            except httpx.HTTPError:
                tally.other[0] += 1

    async with shopper_client(url, FLOOD_ADDRESS_NUMBER, connections) as http:
        await asyncio.gather(*(worker(http) for _ in range(connections)))


def hostile_load(
    url: str, shoppers: int, seconds: float, seed: int, forget: bool, connections: int
) -> dict[str, Any]:
    """Scripted shoppers (each from its own address) while one client floods the server."""
    cpu = time.process_time()

    async def both() -> tuple[Tally, FloodTally]:
        flood = FloodTally()
        deadline = time.monotonic() + seconds
        shopping = _api_shoppers(url, shoppers, seconds, seed, forget)
        tally, _ = await asyncio.gather(shopping, _flood(url, connections, deadline, flood))
        return tally, flood

    tally, flood = asyncio.run(both())
    return {
        **tally.summary(),
        "flood": {"connections": connections, **flood.summary()},
        "client_cpu_s": time.process_time() - cpu,
    }


def warm_up(url: str, forget: bool) -> None:
    """Every script once, one after the other (lazy imports, caches); nothing is kept."""
    rng = random.Random(SEED)

    async def each() -> None:
        async with shopper_client(url, 0) as http:
            for name in sorted(SCRIPTS):
                steps = conversation(rng, name)[1]
                await session(http, Tally(), steps, time.monotonic() + 60, forget=forget)

    asyncio.run(each())


# The Gradio queue (run in the client process) --------------------------------------------------
CARD_ID = re.compile(r'<article class="[^"]*" data-product="([^"]*)"')
CART_LINE = re.compile(
    r'<li class="sa-line" data-product="([^"]*)">.*?'
    r'(?:sa-line-options">\(([^)]*)\)</span>)?<span class="sa-line-price">(\d+) &times;',
    re.S,
)
TURN_EVENT = "/on_turn"  # the text box's submit: the same handler as the Send button
PRIVACY_EVENT = "/lambda"  # the "Personalise my results" checkbox


def gradio_screen(outputs: Sequence[Any]) -> Screen:
    """The shelf, the cart and the shopper's messages from the UI event's final outputs."""
    texts = [o for o in outputs if isinstance(o, str)]
    cards = next((t for t in texts if "sa-shelf" in t or "sa-empty" in t), "")
    cart = next((t for t in texts if 'class="sa-cart"' in t), "")
    history = next((o for o in outputs if isinstance(o, list)), [])
    lines = []
    for product_id, options, quantity in CART_LINE.findall(cart):
        parts = [html.unescape(p.strip()) for p in options.split(",") if p.strip()]
        size = next((p.removeprefix("size ") for p in parts if p.startswith("size ")), None)
        color = next((p for p in parts if not p.startswith("size ")), None)
        lines.append(Line(html.unescape(product_id), size, color, int(quantity)))
    said = [_message_text(m) for m in history if m.get("role") == "user"]
    listed = [html.unescape(i) for i in CARD_ID.findall(cards)]
    return Screen(listed, [], lines, said=said)


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return html.unescape(str(content or ""))


def _last_answer(outputs: Sequence[Any]) -> str:
    history = next((o for o in outputs if isinstance(o, list)), [])
    answers = [m for m in history if m.get("role") == "assistant"]
    return _message_text(answers[-1]) if answers else ""


def _gradio_turns(
    client: Any, tally: Tally, check: SessionCheck, steps: Sequence[Step], deadline: float,
    failure: str,
) -> bool:  # fmt: skip
    """One conversation through the UI event; False when a turn failed (counted)."""
    for index, step in enumerate(steps):
        if index and time.monotonic() >= deadline:
            break
        started = time.perf_counter()
        try:
            outputs = client.predict(step.text, None, None, api_name=TURN_EVENT)
        except Exception as exc:
            tally.error(f"{TURN_EVENT}: {type(exc).__name__} {exc}")
            return False
        tally.turn(started, time.perf_counter())
        if _last_answer(outputs) == failure:
            tally.error(f"{TURN_EVENT}: the UI answered with its failure message")
            return False
        check.observe(step, gradio_screen(outputs))
    return True


def gradio_load(url: str, sessions: int, seconds: float, seed: int, forget: bool) -> dict[str, Any]:
    """A few shoppers driving the real UI event through Gradio's queue (`gradio_client`, one
    client and thread each, a new Gradio session per conversation). A turn's latency runs
    from joining the queue to the last streamed frame, so it includes the reply's streaming.
    With `forget`, each session first opts out of personalisation, so it records no events
    (its assistant session id is hidden in the UI's state: the API cannot forget it later)."""
    go_offline()
    from gradio_client import Client

    from ui import FAILURE

    cpu = time.process_time()
    deadline = time.monotonic() + seconds

    def shopper(index: int) -> Tally:
        tally, rng = Tally(), random.Random(seed * 1000 + index)
        client = Client(
            url, verbose=False, download_files=False, analytics_enabled=False,
            headers=headers(), httpx_kwargs={"timeout": REQUEST_TIMEOUT},
        )  # fmt: skip
        try:
            while time.monotonic() < deadline:
                client.reset_session()  # a new Gradio session: a new assistant session
                if forget:
                    client.predict(False, api_name=PRIVACY_EVENT)
                check = SessionCheck(f"gradio-{client.session_hash}")
                tally.sessions += 1
                began = time.perf_counter()
                if _gradio_turns(client, tally, check, conversation(rng)[1], deadline, FAILURE):
                    tally.checked(check, time.perf_counter() - began)
        finally:
            client.close()
        return tally

    total = Tally()
    with ThreadPoolExecutor(sessions) as pool:
        for tally in pool.map(shopper, range(sessions)):
            total.merge(tally)
    return {**total.summary(), "client_cpu_s": time.process_time() - cpu}


# The server under test (this process, or a local one found by its port) ------------------------
@dataclass(frozen=True, slots=True)
class ServerProcess:
    """A local server process, read from /proc: memory and CPU time."""

    pid: int

    def rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def cpu_seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU time the whole box has spent busy since boot, all cores (/proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def listening_process(url: str) -> ServerProcess | None:
    """The local process listening on the URL's loopback port (readable by this user), so a
    separately started `shopassist serve` gets its memory sampled too."""
    parts = urlsplit(url)
    if not _is_loopback(parts.hostname or ""):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].rpartition(":")[2], 16) == port:  # LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(str(fd.readlink()) in inodes for fd in fd_dir.iterdir()):
                return ServerProcess(int(fd_dir.parent.name))
        except OSError:
            continue
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_target(url: str, *, allow_remote: bool = False) -> str:
    """The base URL, refusing anything but loopback unless asked: a load test pointed at a real
    store by mistake would be an attack on it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--url must look like http://127.0.0.1:7860, not {url!r}")
    if not allow_remote and not _is_loopback(parts.hostname):
        raise ValueError(
            f"refusing to load {parts.hostname}: only loopback targets (127.0.0.1, ::1, "
            "localhost) unless --allow-remote is given"
        )
    return url.rstrip("/")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_server(assistant: Assistant) -> Iterator[str]:
    """The real app and API (`ui.serve`) on a free loopback port in this process."""
    from ui import serve

    port = free_port()
    app = serve(assistant, port=port, block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        app.close()


# The run -------------------------------------------------------------------------------------
def _measure(
    pool: Pool, server: ServerProcess | None, job: Callable[..., dict[str, Any]],
    args: tuple[Any, ...], seconds: float,
) -> tuple[dict[str, Any], list[tuple[float, float]]]:  # fmt: skip
    """Run a job in the client process; its summary with the server's and the client's CPU,
    and the server's RSS sampled while it ran (seconds from the start, MB)."""
    cpu_before = server.cpu_seconds() if server else None
    busy_before = busy_seconds()
    started = time.perf_counter()
    samples: list[tuple[float, float]] = []
    result: AsyncResult[dict[str, Any]] = pool.apply_async(job, args)
    while True:
        rss = server.rss_mb() if server else None
        if rss is not None:
            samples.append((time.perf_counter() - started, rss))
        if result.ready():
            break
        if time.perf_counter() - started > seconds + GRACE_SECONDS:
            raise TimeoutError(f"the load client ran over {seconds + GRACE_SECONDS:.0f}s")
        result.wait(SAMPLE_SECONDS)
    summary = result.get()
    wall = time.perf_counter() - started
    client = summary.pop("client_cpu_s")
    cpu_after = server.cpu_seconds() if server else None
    used = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    summary["client_cpu_pct"] = round(client / wall * 100, 1)
    summary["server_cpu_pct"] = None if used is None else round(used / wall * 100, 1)
    # Whatever else ran on the box meanwhile (it skews every figure): all busy CPU time but
    # the server's and the client's, in % of one core.
    other = busy_seconds() - busy_before - client - (used or 0.0)
    summary["other_cpu_pct"] = None if used is None else round(max(0.0, other) / wall * 100, 1)
    summary["server_rss_mb"] = round(samples[-1][1]) if samples else None
    return summary, samples


def memory_trend(samples: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Start, end and peak RSS and the least-squares slope in MB a minute."""
    if len(samples) < 2:
        return {"rss_mb_start": None, "rss_mb_end": None, "rss_mb_max": None, "mb_per_min": None}
    minutes = [t / 60 for t, _ in samples]
    mbs = [mb for _, mb in samples]
    slope = statistics.linear_regression(minutes, mbs).slope
    return {
        "rss_mb_start": round(mbs[0]),
        "rss_mb_end": round(mbs[-1]),
        "rss_mb_max": round(max(mbs)),
        "mb_per_min": round(slope, 2),
        "samples": [[round(t), round(mb, 1)] for t, mb in samples],
    }


def sustainable(levels: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The largest level with p95 within the target and no error or leak."""
    fine = [
        level
        for level in levels
        if level["turns"]
        and level["latency_ms"]["p95"] <= P95_TARGET_MS
        and not level["errors"]
        and not level["leaks"]
    ]
    if not fine:
        return None
    best = max(fine, key=lambda level: level["shoppers"])
    return {k: best[k] for k in ("shoppers", "turns_per_s")} | {"p95_ms": best["latency_ms"]["p95"]}


def run(
    url: str,
    shoppers: Sequence[int],
    seconds: float,
    *,
    soak: float = 0.0,
    gradio_sessions: int = 4,
    server: ServerProcess | None = None,
    forget: bool = False,
    out_dir: Path | None = None,
    on_level: Callable[[str, dict[str, Any]], None] | None = None,
    hostile: int = 0,
    hostile_url: str | None = None,
    hostile_shoppers: int = 20,
) -> dict[str, Any]:
    """Warm up, then each load level in turn, the Gradio queue run, the soak (at the smallest
    level) and, with `hostile` connections, `hostile_shoppers` shoppers chatting while one
    client floods `hostile_url` (default `url`: a server running its configured client
    limits). `server` is sampled for RSS and CPU when given."""
    if not shoppers or not all(0 < n <= MAX_SHOPPERS for n in shoppers):
        raise ValueError(f"shoppers must be between 1 and {MAX_SHOPPERS}")
    if not 0 < seconds <= MAX_SECONDS or not 0 <= soak <= MAX_SECONDS:
        raise ValueError(f"durations must be within {MAX_SECONDS}s")
    report: dict[str, Any] = {
        "target": url,
        "cpus": os.cpu_count(),
        "client": "asyncio + httpx in a separate process; closed loop, no think time",
        "seconds_per_level": seconds,
        "p95_target_ms": P95_TARGET_MS,
        "server_pid_sampled": server is not None,
        "sessions_forgotten": forget,
    }
    notify = on_level or (lambda _name, _summary: None)
    # spawn: a fresh interpreter, not a fork of a process running a server's threads.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(warm_up, (url, forget))
        levels = []
        for n in shoppers:
            level, _ = _measure(pool, server, api_load, (url, n, seconds, SEED, forget), seconds)
            levels.append({"shoppers": n, **level})
            notify(f"{n} shoppers", levels[-1])
        report["levels"] = levels
        report["sustainable"] = sustainable(levels)
        if gradio_sessions > 0:
            args = (url, gradio_sessions, seconds, SEED, forget)
            try:
                queue, _ = _measure(pool, server, gradio_load, args, seconds)
            except Exception as exc:  # the UI may be missing or behind a login
                report["gradio_queue"] = {"skipped": f"{type(exc).__name__}: {exc}"}
            else:
                report["gradio_queue"] = {"concurrent_sessions": gradio_sessions, **queue}
                notify(f"Gradio queue, {gradio_sessions} sessions", report["gradio_queue"])
        if soak:
            n = min(shoppers)
            args = (url, n, soak, SEED + 1, forget)
            level, samples = _measure(pool, server, api_load, args, soak)
            report["soak"] = {"shoppers": n, "seconds": soak, **level, **memory_trend(samples)}
            notify(f"soak, {n} shoppers", report["soak"])
        if hostile:
            target = hostile_url or url
            pool.apply(warm_up, (target, forget))
            args_h = (target, hostile_shoppers, seconds, SEED + 2, forget, hostile)
            level, samples = _measure(pool, server, hostile_load, args_h, seconds)
            report["hostile"] = {"shoppers": hostile_shoppers, **level, **memory_trend(samples)}
            notify(f"hostile flood, {hostile_shoppers} shoppers", report["hostile"])
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "load.json"
        path.write_text(json.dumps(report, indent=2), encoding="utf-8")
        report["saved"] = str(path)
    return report
