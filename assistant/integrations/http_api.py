"""The HTTP API: JSON endpoints over the `Assistant`, served beside the Gradio app.

`create_api(assistant, token=...)` returns a FastAPI router under `/api/v1`: a chat turn,
search, product details and similar items, the cart, and the learning loop (thumbs, the
privacy choice, forgetting a session). `ui.serve` mounts it on the same server as the shopper
app; any FastAPI app can `include_router` it.

Contract: sessions are issued by the server (`POST /sessions` returns an id and its token) and
every session route needs that token in `X-Session-Token`: an id alone opens nothing, and a
read never creates a session. Each client (its API token when the server has several, else its
address) has a request budget across all routes and a new-session budget; past either, 429
with Retry-After. Every error is JSON `{"detail": "..."}` (4xx says what to fix; an
unexpected failure is a logged 500 with a generic message, never a stack trace); with a token
every route but `GET /health` (catalog versions only) needs `Authorization: Bearer <token>`.
Catalog photos are served by the API rather
than exposing server file paths.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, Security
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant._assistant import RATE_LIMITED, SESSION_ID, UNAVAILABLE, Assistant, Reply
from assistant._sessions import Limiter, SessionRefused, SessionStoreDown
from assistant.integrations.wire import PREFIX, CartItem, Product, cart_line, product_card
from assistant.security import SessionSigner, retry_after
from dialogue import (
    MAX_LINE_QUANTITY,
    MAX_MESSAGE_CHARS,
    CartLine,
    Constraints,
    Match,
    ProductCard,
    SearchOutcome,
    SearchRequest,
)

log = logging.getLogger(__name__)
# The bearer token comes from this variable only (never a settings file, never logged); several
# tokens, comma-separated, give each integration its own rate-limit budget.
API_TOKEN_ENV = "SHOPASSIST_API_TOKEN"
SESSION_HEADER = "X-Session-Token"
# Far above any valid request (a chat message is at most MAX_MESSAGE_CHARS characters).
MAX_BODY_BYTES = 64 * 1024
MAX_K = 50
MAX_QUERY_CHARS = 500
MAX_ID_CHARS = 300
MAX_COLOR_CHARS = 60
SESSION_RULE = "session id: 1-128 letters, digits, '_', '-', '.', ':'"
NO_SESSION_TOKEN = f"send the session's token in {SESSION_HEADER} (from POST {PREFIX}/sessions)"
WRONG_SESSION_TOKEN = "that session token is not valid for this session"
NO_SESSION = f"no such session (expired or forgotten): open one with POST {PREFIX}/sessions"
TOO_MANY_REQUESTS = "too many requests from this client; retry after the time in Retry-After"
INTERNAL_ERROR = "Internal server error; it has been logged."
STORE_DOWN = "The session store is not answering; try again in a few seconds."
LOCKED = f"This server has a login: set ${API_TOKEN_ENV} to use the HTTP API."
STAFF_ONLY = (
    f"Handoff requests may carry shoppers' conversations: set ${API_TOKEN_ENV} to read them."
)
MAX_HANDOFFS = 500


# Wire shapes ---------------------------------------------------------------------------------
class ApiError(BaseModel):
    detail: str = Field(examples=["unknown product 'luma:XX99'"])


class Evidence(BaseModel):
    """Why a product is shown, all of it read from the catalog."""

    met: list[str] = Field(description="the requested constraints it meets")
    unmet: list[str] = Field(description="close alternatives only: what it misses")
    text_span: str | None = Field(description="the catalog sentence that matched the query")
    review_snippet: str | None
    review_rating: float | None
    price_vs_limit: float | None


class Hit(BaseModel):
    product: Product
    evidence: Evidence


class Relaxation(BaseModel):
    description: str = Field(description="the constraint dropped to find these")
    results: list[Hit]


class SearchResults(BaseModel):
    total: int = Field(description="products meeting every constraint")
    results: list[Hit]
    alternatives: list[Hit] = Field(description="near misses when results are few")
    empty_reason: str | None = Field(description="when nothing matches: which constraint")
    relaxation: Relaxation | None = Field(description="when nothing matches: the nearest search")


class Cart(BaseModel):
    lines: list[CartItem]
    items: int = Field(description="the number of articles (quantities summed)")
    total: float


class SessionState(BaseModel):
    """The dialogue state snapshot (`DialogueState.to_dict`); new keys pass through."""

    model_config = ConfigDict(extra="allow")

    filters: dict[str, Any]
    exclude: dict[str, Any]
    prefer: dict[str, Any]
    topic: str
    sort: str | None
    shown: list[str]
    page: int
    focus: str | None
    similar_to: str | None
    cart: list[CartItem]
    pending_add: dict[str, Any] | None
    liked: list[str]
    disliked: list[str]
    personalise: bool
    turns: int


class Suggestion(BaseModel):
    product: Product
    reason: str = Field(description="a short, true reason read from the catalog")


class Comparison(BaseModel):
    product_ids: list[str]
    titles: list[str]
    rows: list[tuple[str, list[str]]] = Field(description="(label, one value per product)")


class SessionCreated(BaseModel):
    session_id: str = Field(examples=["api-Jq3v0c5b7wZxY1t2u3v4w5x6"])
    session_token: str = Field(
        description=f"send it in {SESSION_HEADER} with every request about this session; "
        "it is shown once and cannot be recovered"
    )
    idle_minutes: int = Field(description="dropped after this long unused (0: never)")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an old client's session_id must not be ignored

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    personalise: bool | None = Field(
        None, description="set the session's privacy choice before the turn"
    )

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is blank")
        return value


class ChatReply(BaseModel):
    text: str
    transcript: str | None
    intent: str
    action: str
    confidence: float
    suggestions: list[Suggestion]
    alternatives: list[Suggestion] = Field(description="close matches that miss a constraint")
    comparison: Comparison | None
    product: Product | None = Field(description="the product a details answer is about")
    cart: list[CartItem]
    state: SessionState
    notices: list[str] = Field(
        default_factory=list,
        description="catalog changes to the session's cart since its last turn (new prices, "
        "products no longer sold), to show with the reply",
    )


class CartAdd(BaseModel):
    product_id: str = Field(min_length=1, max_length=MAX_ID_CHARS, examples=["luma:WJ03"])
    quantity: int = Field(1, ge=1, le=MAX_LINE_QUANTITY)
    size: str | None = Field(None, max_length=40, examples=["M"])
    color: str | None = Field(None, max_length=60, examples=["Blue"])


class FeedbackRequest(BaseModel):
    product_id: str = Field(min_length=1, max_length=MAX_ID_CHARS, examples=["luma:WJ03"])
    value: int = Field(
        ge=-1, le=1, strict=True, description="1 thumbs up, -1 thumbs down, 0 take back"
    )


class PrivacyRequest(BaseModel):
    personalise: bool = Field(
        description="false: stop recording, forget what was recorded, ignore own thumbs"
    )


class Feedback(BaseModel):
    personalise: bool
    liked: list[str]
    disliked: list[str]


class SharedConversation(BaseModel):
    """What the shopper agreed to share with the team."""

    transcript: list[dict[str, str]]
    cart: list[dict[str, Any]]


class Handoff(BaseModel):
    """A shopper's request for a person, as the store's staff see it."""

    id: int
    reference: str = Field(examples=["H-00012"])
    created: str = Field(description="UTC, ISO 8601")
    session: str
    shared: SharedConversation | None = Field(
        description="the conversation and cart, only when the shopper agreed to share them"
    )
    delivered: str | None = Field(description="when the helpdesk webhook accepted it (UTC)")
    delivery_error: str | None


class Forgotten(BaseModel):
    session_id: str
    events_deleted: int


class Health(BaseModel):
    """Whether the server answers from the catalog the store holds (`shopassist doctor
    --server URL` compares them)."""

    status: str = Field(description="`ok`, `catalog_behind` (reload pending) or `store_unreadable`")
    catalog_version: int = Field(description="the catalog version this server answers from")
    store_version: int | None = Field(description="the catalog store's version now")


# Errors --------------------------------------------------------------------------------------
def body_too_large(limit: int) -> str:
    """The 413 message, the same from the API and from the server's body limit."""
    return f"the request body is over {limit} bytes"


class _TooLarge(HTTPException):
    """An HTTPException, so FastAPI's body reader lets it through instead of making it a 400."""

    def __init__(self) -> None:
        super().__init__(413, body_too_large(MAX_BODY_BYTES))


class _ApiRoute(APIRoute):
    """Every answer is JSON `{"detail": "..."}`, whatever app hosts the router: validation
    errors as one readable line, unexpected failures as a logged, generic 500. Bodies are
    capped here rather than with FastAPI's `max_body_size`, whose 413 is plain text."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(_capped(request))
            except RequestValidationError as exc:
                return _error(422, _readable(exc))
            except StarletteHTTPException as exc:
                return _error(exc.status_code, str(exc.detail), exc.headers)
            except SessionStoreDown:  # logged by the store; nothing is wrong with the request
                return _error(503, STORE_DOWN, {"Retry-After": "5"})
            except Exception:
                log.exception("HTTP API failure: %s %s", request.method, request.url.path)
                return _error(500, INTERNAL_ERROR)

        return guarded


def _capped(request: Request) -> Request:
    """The request, refusing a body over MAX_BODY_BYTES (declared or streamed) unread."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > MAX_BODY_BYTES:
            raise _TooLarge
        return message

    return Request(request.scope, receive)


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _readable(exc: RequestValidationError) -> str:
    """`k: Input should be less than or equal to 50; message: Field required`."""
    parts = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            parts.append(f"body: invalid JSON ({error.get('ctx', {}).get('error', '')})")
            continue
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        parts.append(f"{'.'.join(loc) or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _not_found(product_id: str) -> HTTPException:
    return HTTPException(404, f"unknown product {product_id!r}")


# Conversions ---------------------------------------------------------------------------------
def _hits(matches: list[Match]) -> list[Hit]:
    return [
        Hit(product=product_card(m.card), evidence=Evidence.model_validate(asdict(m.evidence)))
        for m in matches
    ]


def _results(outcome: SearchOutcome) -> SearchResults:
    relaxation = None
    if outcome.relaxed_constraint:
        relaxation = Relaxation(
            description=outcome.relaxed_constraint, results=_hits(outcome.relaxed_matches)
        )
    return SearchResults(
        total=outcome.total,
        results=_hits(outcome.matches),
        alternatives=_hits(outcome.alternatives),
        empty_reason=outcome.empty_reason,
        relaxation=relaxation,
    )


def _chat_reply(reply: Reply, notices: list[str]) -> ChatReply:
    """`Reply.to_dict()` with its product cards and cart lines in the wire shape."""
    d = reply.dialogue
    cards = {
        key: [{"product": product_card(s.card), "reason": s.reason} for s in suggestions]
        for key, suggestions in (("suggestions", d.suggestions), ("alternatives", d.alternatives))
    }
    return ChatReply.model_validate(
        {
            **reply.to_dict(),
            **cards,
            "product": product_card(d.product) if d.product else None,
            "cart": [cart_line(line) for line in d.cart],
            "notices": notices,
        }
    )


def _cart(lines: list[CartLine]) -> Cart:
    items = [cart_line(line) for line in lines]
    total = round(sum(item.total or 0.0 for item in items), 2)
    return Cart(lines=items, items=sum(item.quantity for item in items), total=total)


# Parameters ----------------------------------------------------------------------------------
ProductPath = Annotated[
    str, PathParam(max_length=MAX_ID_CHARS, description="CATALOG:SKU", examples=["luma:WJ03"])
]
SessionPath = Annotated[str, PathParam(description="the session's id (from POST /sessions)")]
# Module level: the closures' annotations are resolved in this module's globals.
BEARER = HTTPBearer(auto_error=False, description=f"the token in ${API_TOKEN_ENV}")
SESSION_KEY = APIKeyHeader(
    name=SESSION_HEADER,
    auto_error=False,
    description="the session_token that POST /sessions returned",
)
SessionToken = Annotated[str | None, Security(SESSION_KEY)]
MAX_VALUES = 20  # of one filter
Values = Annotated[list[str] | None, Query(max_length=MAX_VALUES, description="repeat for OR")]


def api_tokens(value: str | None) -> tuple[str, ...]:
    """The bearer tokens in $SHOPASSIST_API_TOKEN's form: one, or several comma-separated."""
    return tuple(t.strip() for t in (value or "").split(",") if t.strip())


def client_of(request: Request, tokens: Sequence[str] = ()) -> str:
    """Who is asking, for rate limits: the API token it presents when the server has several
    (each integration its own budget), else its address."""
    if len(tokens) > 1:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        for number, known in enumerate(tokens):
            if hmac.compare_digest(given.encode(), known.encode()):
                return f"token:{number}"
    return f"addr:{request.client.host if request.client else 'unknown'}"


def too_many(wait: float, detail: str = TOO_MANY_REQUESTS) -> HTTPException:
    return HTTPException(429, detail, headers={"Retry-After": retry_after(wait)})


class ClientRateLimit:
    """ASGI middleware: the per-client request budget for what the API router does not guard
    itself, the web app's writes (Gradio's queue joins, uploads). Give it the API's limiter, so
    a client has one budget across the whole server. Reads of the page and its assets pass."""

    def __init__(self, app: ASGIApp, limiter: Limiter, tokens: Sequence[str] = ()) -> None:
        self.app = app
        self.limiter = limiter
        self.tokens = tuple(tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in ("GET", "HEAD", "OPTIONS")
            and not scope["path"].startswith(PREFIX)
        ):
            try:
                wait = self.limiter.take(client_of(Request(scope), self.tokens))
            except SessionStoreDown:  # the budgets live in Redis and it is down: say so
                await _error(503, STORE_DOWN, {"Retry-After": "5"})(scope, receive, send)
                return
            if wait:
                headers = {"Retry-After": retry_after(wait)}
                await _error(429, TOO_MANY_REQUESTS, headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# The router ----------------------------------------------------------------------------------
def create_api(
    assistant: Assistant,
    *,
    token: str | None = None,
    require_token: bool = False,
    limiter: Limiter | None = None,
    signer: SessionSigner | None = None,
) -> APIRouter:
    """The API over `assistant`. With `token` (one, or several comma-separated), every route
    needs `Authorization: Bearer <token>`; `require_token` without a token locks the API (401
    saying how to enable it), for servers whose UI has a login: the API must not be the way
    around it. `limiter` is the per-client request budget (shared with the rest of the server
    when given; else one of the API's own from the settings); `signer` issues session tokens
    (else from $SHOPASSIST_SESSION_SECRET or the data directory's secret)."""
    tokens = api_tokens(token)
    if limiter is None:
        limiter = assistant.sessions.limiter(
            "requests", assistant.settings.client_requests_per_minute
        )
    if signer is None:
        signer = SessionSigner.for_data_dir(
            assistant.settings.data_dir, stored=assistant.sessions.secret
        )

    def throttle(request: Request) -> None:
        wait = limiter.take(client_of(request, tokens))
        if wait:
            raise too_many(wait)

    def authorise(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
    ) -> None:
        if not tokens:
            raise HTTPException(401, LOCKED)
        given = (credentials.credentials if credentials else "").encode()
        if not any(hmac.compare_digest(given, known.encode()) for known in tokens):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    def token_session(given: str | None) -> str:
        """The live session a token was issued for; checked before any lookup, so a refusal
        tells nothing about other sessions."""
        if not given:
            raise HTTPException(401, NO_SESSION_TOKEN)
        session_id = signer.session_of(given)
        if session_id is None:
            raise HTTPException(403, WRONG_SESSION_TOKEN)
        if not assistant.has_session(session_id):
            raise HTTPException(404, NO_SESSION)
        return session_id

    def own_session(session_id: SessionPath, given: SessionToken = None) -> str:
        """The path's session, only with that session's own token."""
        if not SESSION_ID.match(session_id):
            raise HTTPException(400, SESSION_RULE)
        if not given:
            raise HTTPException(401, NO_SESSION_TOKEN)
        if signer.session_of(given) != session_id:
            raise HTTPException(403, WRONG_SESSION_TOKEN)
        return token_session(given)

    def token_only(given: SessionToken = None) -> str:
        return token_session(given)

    def optional_session(given: SessionToken = None) -> str | None:
        """Searches may name a session (its thumbs personalise, the results are recorded)."""
        return None if given is None else token_session(given)

    guarded = bool(tokens) or require_token
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ApiError} for code in (400, 401, 403, 404, 413, 422, 429, 500)
    }
    router = APIRouter(
        prefix=PREFIX,
        tags=["shopassist"],
        route_class=_ApiRoute,
        dependencies=[Depends(throttle), *([Depends(authorise)] if guarded else [])],
        responses=errors,
    )

    def personal(session_id: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """A session's thumbs (liked, disliked), only while it allows personalisation."""
        if session_id is None:
            return (), ()
        state = assistant.state(session_id)
        return (tuple(state.liked), tuple(state.disliked)) if state.personalise else ((), ())

    def shown(session_id: str | None, intent: str, outcome: SearchOutcome) -> SearchResults:
        """The results, recorded as shown to the session that asked (if any)."""
        if session_id is not None:
            ids = [
                m.card.id
                for m in (*outcome.matches, *outcome.alternatives, *outcome.relaxed_matches)
            ]
            assistant.shown(session_id, ids, intent)
        return _results(outcome)

    def card_or_404(product_id: str) -> ProductCard:
        card = assistant.catalog.product(product_id)
        if card is None:
            raise _not_found(product_id)
        return card

    def feedback_of(session_id: str) -> Feedback:
        state = assistant.state(session_id)
        return Feedback(
            personalise=state.personalise, liked=list(state.liked), disliked=list(state.disliked)
        )

    # Conversation and catalog ----------------------------------------------------------------
    @router.post("/chat", summary="One chat turn")
    def chat(body: ChatRequest, session_id: str = Depends(token_only)) -> ChatReply:
        """The shopper's message in; the reply with suggestions (each with its reason), the
        comparison, the cart and the dialogue state out. Refinements apply to the session's
        last search ("in blue", "under $60")."""
        if body.personalise is not None:
            assistant.set_personalise(session_id, body.personalise)
        reply = assistant.respond(session_id, text=body.message)
        if reply.dialogue.action == RATE_LIMITED:
            raise HTTPException(429, reply.text, headers={"Retry-After": "5"})
        if reply.dialogue.action == UNAVAILABLE:
            raise HTTPException(503, reply.text, headers={"Retry-After": "5"})
        # The shopper's notices; an operator's (a broken prompt file, with its path) stay home.
        notices = [n for n in reply.notices if not n.startswith("prompt files:")]
        return _chat_reply(reply, notices)

    @router.get("/search", summary="Search the catalog")
    def search(
        http: Request,
        session_id: str | None = Depends(optional_session),
        q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="words")] = "",
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
        color: Values = None,
        size: Values = None,
        category: Values = None,
        gender: Values = None,
        brand: Values = None,
        price_min: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
        price_max: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
        on_sale: bool = False,
        in_stock: bool = False,
    ) -> SearchResults:
        """Products meeting every filter (repeat a filter for OR: `color=Blue&color=Red`),
        ranked by the words, each with the evidence for it; when nothing matches, the reason
        and the nearest relaxed search. Every filter attribute of the catalog filters under
        its own name too: `material=Cotton`, `activity=`, `pattern=`, `sleeve_length=`."""
        if price_min is not None and price_max is not None and price_min > price_max:
            raise HTTPException(400, f"price_min {price_min:g} is above price_max {price_max:g}")
        attributes = {n: http.query_params.getlist(n) for n in assistant.catalog.attributes()}
        crowded = [name for name, values in attributes.items() if len(values) > MAX_VALUES]
        if crowded:
            raise HTTPException(400, f"at most {MAX_VALUES} values of {crowded[0]}")
        constraints = Constraints(
            colors=tuple(color or ()),
            sizes=tuple(size or ()),
            categories=tuple(category or ()),
            genders=tuple(gender or ()),
            brands=tuple(brand or ()),
            attributes={name: tuple(values) for name, values in attributes.items()},
            price_min=price_min,
            price_max=price_max,
            on_sale=on_sale,
            in_stock=in_stock,
        )
        if not q.strip() and not constraints.active():
            raise HTTPException(400, "give search words (q) or at least one filter")
        liked, disliked = personal(session_id)
        request = SearchRequest(
            text=q.strip(), constraints=constraints, k=k, liked=liked, disliked=disliked
        )
        return shown(session_id, "api_search", assistant.catalog.search(request))

    # Routes with a suffix come before the bare product route: ids may contain '/'.
    @router.get("/products/{product_id:path}/similar", summary="Similar items")
    def similar(
        product_id: ProductPath,
        session_id: str | None = Depends(optional_session),
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 6,
    ) -> SearchResults:
        """Close products by content and by what shoppers who liked this one also liked,
        plus the session's own thumbs when it allows personalisation. Never the product
        itself."""
        card_or_404(product_id)
        liked, disliked = personal(session_id)
        request = SearchRequest(similar_to=product_id, k=k, liked=liked, disliked=disliked)
        return shown(session_id, "api_similar", assistant.catalog.search(request))

    @router.get(
        "/products/{product_id:path}/image",
        summary="A product's photo",
        response_class=FileResponse,
        responses={200: {"content": {"image/*": {}}}},
    )
    def image(
        product_id: ProductPath,
        color: Annotated[
            str | None,
            Query(
                max_length=MAX_COLOR_CHARS,
                description="that colour's photo, if the catalog has one (else the main photo)",
            ),
        ] = None,
    ) -> FileResponse:
        card = card_or_404(product_id)
        if color:
            card = card.in_color(color)
        if not card.image or not Path(card.image).is_file():
            raise HTTPException(404, f"no photo for {product_id!r}")
        return FileResponse(card.image)

    @router.get("/products/{product_id:path}", summary="Product details")
    def product(
        product_id: ProductPath, session_id: str | None = Depends(optional_session)
    ) -> Product:
        """The product card; with `session_id` it counts as the shopper opening it."""
        card = card_or_404(product_id)
        if session_id is not None:
            assistant.opened(session_id, product_id)
        return product_card(card)

    # Sessions ----------------------------------------------------------------------------------
    @router.post("/sessions", status_code=201, summary="Open a session")
    def open_session(request: Request) -> SessionCreated:
        """A new session: its id and the token every session route needs (in
        `X-Session-Token`). Counted against the client's new-session budget; refused with 429
        while the server is full of live shoppers (nobody is evicted to make room)."""
        session_id, session_token = signer.issue()
        try:
            assistant.open_session(session_id, client_of(request, tokens))
        except SessionRefused as exc:
            raise too_many(exc.retry_after, str(exc)) from None
        return SessionCreated(
            session_id=session_id,
            session_token=session_token,
            idle_minutes=assistant.settings.session_idle_minutes,
        )

    @router.get("/sessions/{session_id}", summary="A session's dialogue state")
    def session_state(session_id: str = Depends(own_session)) -> SessionState:
        return SessionState.model_validate(assistant.state(session_id).to_dict())

    @router.delete("/sessions/{session_id}", summary="Forget a session")
    def forget(session_id: str = Depends(own_session)) -> Forgotten:
        """Drop the dialogue state and cart and delete the session's recorded events."""
        return Forgotten(session_id=session_id, events_deleted=assistant.forget(session_id))

    @router.get("/sessions/{session_id}/cart", summary="The cart")
    def cart(session_id: str = Depends(own_session)) -> Cart:
        return _cart(assistant.state(session_id).cart)

    @router.post("/sessions/{session_id}/cart", summary="Add to the cart")
    def add_to_cart(body: CartAdd, session_id: str = Depends(own_session)) -> Cart:
        """Adds at the catalog price. A product sold in several sizes (colours) needs one that
        it has; the 400 names them. The same product, size and colour again adds up."""
        try:
            assistant.add_to_cart(
                session_id, body.product_id, body.quantity, body.size or None, body.color or None
            )
        except KeyError as exc:  # unknown, or "no longer in the catalog" (a re-ingest)
            raise HTTPException(404, str(exc.args[0])) from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return _cart(assistant.state(session_id).cart)

    @router.delete("/sessions/{session_id}/cart/{product_id:path}", summary="Remove from cart")
    def remove_from_cart(product_id: ProductPath, session_id: str = Depends(own_session)) -> Cart:
        """Removes every line of the product (all sizes and colours)."""
        if not assistant.remove_from_cart(session_id, product_id):
            raise HTTPException(404, f"{product_id!r} is not in the cart")
        return _cart(assistant.state(session_id).cart)

    @router.post("/sessions/{session_id}/feedback", summary="Thumbs up or down")
    def feedback(body: FeedbackRequest, session_id: str = Depends(own_session)) -> Feedback:
        """A thumbs-down hides the product (and its near-duplicates) from this session's
        searches; a thumbs-up nudges similar products up. Both count only while the session
        allows personalisation."""
        try:
            assistant.feedback(session_id, body.product_id, body.value)
        except KeyError:
            raise _not_found(body.product_id) from None
        return feedback_of(session_id)

    @router.put("/sessions/{session_id}/privacy", summary="The privacy choice")
    def privacy(body: PrivacyRequest, session_id: str = Depends(own_session)) -> Feedback:
        assistant.set_personalise(session_id, body.personalise)
        return feedback_of(session_id)

    @router.get("/handoffs", summary="Requests for a person (staff)")
    def handoffs(limit: int = Query(50, ge=1, le=MAX_HANDOFFS)) -> list[Handoff]:
        """The latest requests first, each with the conversation the shopper agreed to share
        and whether the helpdesk webhook took it. Needs the API token: without one configured,
        this route stays closed even where the rest of the API is open."""
        if not tokens:
            raise HTTPException(403, STAFF_ONLY)
        return [Handoff(**r.to_dict()) for r in assistant.handoffs.handoffs(limit)]

    @router.get("/openapi.json", summary="This API's OpenAPI schema", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        """The schema of these routes alone (the server's /openapi.json also lists the UI's)."""
        return get_openapi(
            title="shopassist HTTP API",
            version="1",
            routes=[r for r in router.routes if getattr(r, "include_in_schema", False)],
        )

    # `GET /health` is open (throttled, no token): monitors and `shopassist doctor --server`
    # read it, and it tells only catalog versions. Its own router keeps the token rule above.
    health = APIRouter(prefix=PREFIX, route_class=_ApiRoute, dependencies=[Depends(throttle)])
    health.add_api_route("/health", _health(assistant), methods=["GET"], summary="Health")
    api = APIRouter()
    api.include_router(router)
    api.include_router(health)
    return api


def _health(assistant: Assistant) -> Callable[[], Health]:
    def health() -> Health:
        """The catalog version the server answers from and the store's; they differ only
        until the server's next check (`catalog_check_seconds`, or a turn)."""
        live = assistant.live_catalog
        try:
            store: int | None = live.store_version()
        except Exception:  # sqlite3.Error and friends: say so, never a 500 on a probe
            log.exception("health: catalog store not readable")
            store = None
        served = live.version
        status = "ok" if store == served else "catalog_behind"
        if store is None:
            status = "store_unreadable"
        return Health(status=status, catalog_version=served, store_version=store)

    return health
