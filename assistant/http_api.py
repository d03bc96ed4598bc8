"""The HTTP API: JSON endpoints over the `Assistant`, served beside the Gradio app.

`create_api(assistant, token=...)` returns a FastAPI router under `/api/v1`: a chat turn,
search, product details and similar items, the cart, and the learning loop (thumbs, the
privacy choice, forgetting a session). `ui.serve` mounts it on the same server as the shopper
app; any FastAPI app can `include_router` it.

Contract: sessions are named by the caller (the same ids as `Assistant.respond`); every error
is JSON `{"detail": "..."}` (4xx says what to fix; an unexpected failure is a logged 500 with a
generic message, never a stack trace); with a token every route needs
`Authorization: Bearer <token>`. Catalog photos are served by the API rather than exposing
server file paths.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, Security
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from assistant._assistant import MAX_QUANTITY, RATE_LIMITED, SESSION_ID, Assistant
from dialogue import (
    MAX_MESSAGE_CHARS,
    CartLine,
    Constraints,
    Match,
    ProductCard,
    SearchOutcome,
    SearchRequest,
)

log = logging.getLogger(__name__)
PREFIX = "/api/v1"
# The bearer token comes from this variable only (never a settings file, never logged).
API_TOKEN_ENV = "SHOPASSIST_API_TOKEN"
# Far above any valid request (a chat message is at most MAX_MESSAGE_CHARS characters).
MAX_BODY_BYTES = 64 * 1024
MAX_K = 50
MAX_QUERY_CHARS = 500
MAX_ID_CHARS = 300
MAX_COLOR_CHARS = 60
SESSION_RULE = "session id: 1-128 letters, digits, '_', '-', '.', ':'"
INTERNAL_ERROR = "Internal server error; it has been logged."
LOCKED = f"This server has a login: set ${API_TOKEN_ENV} to use the HTTP API."


# Wire shapes ---------------------------------------------------------------------------------
class ApiError(BaseModel):
    detail: str = Field(examples=["unknown product 'luma:XX99'"])


class Review(BaseModel):
    rating: float
    text: str
    title: str = ""


class Product(BaseModel):
    """A product card: the catalog facts the assistant may state about a product."""

    id: str = Field(examples=["luma:WJ03"])
    title: str
    price: float | None = Field(description="the price to pay (the sale price when on sale)")
    regular_price: float | None = Field(description="set only when the product is on sale")
    currency: str
    price_is_from: bool = Field(description="bundles and kits: the price of the cheapest choice")
    category: str
    categories: list[str]
    sizes: list[str]
    colors: list[str]
    in_stock_sizes: list[str]
    in_stock_colors: list[str]
    materials: list[str]
    genders: list[str]
    activities: list[str]
    brand: str | None
    rating: float | None
    review_count: int
    in_stock: bool
    image_url: str | None = Field(
        description="the photo, served by this API: of the colour searched for when the catalog "
        "has one, else the main photo"
    )
    image_color: str | None = Field(description="the colour the photo shows, when chosen for one")
    summary: str
    reviews: list[Review]


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


class CartItem(BaseModel):
    product_id: str
    title: str
    unit_price: float | None
    quantity: int
    size: str | None
    color: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> float | None:
        return None if self.unit_price is None else round(self.unit_price * self.quantity, 2)


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


class ChatRequest(BaseModel):
    session_id: str = Field(max_length=128, examples=["web-42"])
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


class CartAdd(BaseModel):
    product_id: str = Field(min_length=1, max_length=MAX_ID_CHARS, examples=["luma:WJ03"])
    quantity: int = Field(1, ge=1, le=MAX_QUANTITY)
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


class Forgotten(BaseModel):
    session_id: str
    events_deleted: int


# Errors --------------------------------------------------------------------------------------
class _TooLarge(HTTPException):
    """An HTTPException, so FastAPI's body reader lets it through instead of making it a 400."""

    def __init__(self) -> None:
        super().__init__(413, f"the request body is over {MAX_BODY_BYTES} bytes")


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
def image_url(product_id: str, color: str | None = None) -> str:
    """Where the web app serves a product's photo (of `color` when given): cards never carry
    server file paths."""
    url = f"{PREFIX}/products/{quote(product_id, safe=':')}/image"
    return f"{url}?{urlencode({'color': color})}" if color else url


def _product(data: dict[str, Any]) -> Product:
    """A card (as a dict) with its server file paths replaced by the API's photo URL."""
    fields = {k: v for k, v in data.items() if k not in ("image", "color_images")}
    url = image_url(data["id"], data.get("image_color")) if data.get("image") else None
    return Product.model_validate({**fields, "image_url": url})


def _card(card: ProductCard) -> Product:
    return _product(asdict(card))


def _hits(matches: list[Match]) -> list[Hit]:
    return [
        Hit(product=_card(m.card), evidence=Evidence.model_validate(asdict(m.evidence)))
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


def _chat_reply(data: dict[str, Any]) -> ChatReply:
    """`Reply.to_dict()` with its product cards in the API's shape."""
    for key in ("suggestions", "alternatives"):
        data[key] = [{**s, "product": _product(s["product"])} for s in data[key]]
    if data.get("product"):
        data["product"] = _product(data["product"])
    return ChatReply.model_validate(data)


def _cart(lines: list[CartLine]) -> Cart:
    items = [CartItem.model_validate(line, from_attributes=True) for line in lines]
    total = round(sum(item.total or 0.0 for item in items), 2)
    return Cart(lines=items, items=sum(item.quantity for item in items), total=total)


# Parameters ----------------------------------------------------------------------------------
def _session_id(value: str) -> str:
    if not SESSION_ID.match(value):
        raise HTTPException(400, SESSION_RULE)
    return value


def _path_session(
    session_id: Annotated[str, PathParam(description="the caller's session id")],
) -> str:
    return _session_id(session_id)


def _query_session(
    session_id: Annotated[
        str | None,
        Query(description="personalise for this session (its thumbs, if it allows it)"),
    ] = None,
) -> str | None:
    return None if session_id is None else _session_id(session_id)


SessionPath = Annotated[str, Depends(_path_session)]
SessionQuery = Annotated[str | None, Depends(_query_session)]
ProductPath = Annotated[
    str, PathParam(max_length=MAX_ID_CHARS, description="CATALOG:SKU", examples=["luma:WJ03"])
]
# Module level: the closures' annotations are resolved in this module's globals.
BEARER = HTTPBearer(auto_error=False, description=f"the token in ${API_TOKEN_ENV}")
Values = Annotated[list[str] | None, Query(max_length=20, description="repeat for OR")]


# The router ----------------------------------------------------------------------------------
def create_api(
    assistant: Assistant, *, token: str | None = None, require_token: bool = False
) -> APIRouter:
    """The API over `assistant`. With `token`, every route needs `Authorization: Bearer
    <token>`; `require_token` without a token locks the API (401 saying how to enable it), for
    servers whose UI has a login: the API must not be the way around it."""

    def authorise(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
    ) -> None:
        if token is None:
            raise HTTPException(401, LOCKED)
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    guarded = token is not None or require_token
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ApiError} for code in (400, 401, 404, 413, 422, 500)
    }
    router = APIRouter(
        prefix=PREFIX,
        tags=["shopassist"],
        route_class=_ApiRoute,
        dependencies=[Depends(authorise)] if guarded else [],
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
    def chat(body: ChatRequest) -> ChatReply:
        """The shopper's message in; the reply with suggestions (each with its reason), the
        comparison, the cart and the dialogue state out. Refinements apply to the session's
        last search ("in blue", "under $60")."""
        session_id = _session_id(body.session_id)
        if body.personalise is not None:
            assistant.set_personalise(session_id, body.personalise)
        reply = assistant.respond(session_id, text=body.message)
        if reply.dialogue.action == RATE_LIMITED:
            raise HTTPException(429, reply.text, headers={"Retry-After": "5"})
        return _chat_reply(reply.to_dict())

    @router.get("/search", summary="Search the catalog")
    def search(
        session_id: SessionQuery,
        q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="words")] = "",
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
        color: Values = None,
        size: Values = None,
        category: Values = None,
        gender: Values = None,
        brand: Values = None,
        material: Values = None,
        price_min: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
        price_max: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
        on_sale: bool = False,
        in_stock: bool = False,
    ) -> SearchResults:
        """Products meeting every filter (repeat a filter for OR: `color=Blue&color=Red`),
        ranked by the words, each with the evidence for it; when nothing matches, the reason
        and the nearest relaxed search."""
        if price_min is not None and price_max is not None and price_min > price_max:
            raise HTTPException(400, f"price_min {price_min:g} is above price_max {price_max:g}")
        constraints = Constraints(
            colors=tuple(color or ()),
            sizes=tuple(size or ()),
            categories=tuple(category or ()),
            genders=tuple(gender or ()),
            brands=tuple(brand or ()),
            materials=tuple(material or ()),
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
        session_id: SessionQuery,
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
    def product(product_id: ProductPath, session_id: SessionQuery) -> Product:
        """The product card; with `session_id` it counts as the shopper opening it."""
        card = card_or_404(product_id)
        if session_id is not None:
            assistant.opened(session_id, product_id)
        return _card(card)

    # Sessions ----------------------------------------------------------------------------------
    @router.get("/sessions/{session_id}", summary="A session's dialogue state")
    def session_state(session_id: SessionPath) -> SessionState:
        return SessionState.model_validate(assistant.state(session_id).to_dict())

    @router.delete("/sessions/{session_id}", summary="Forget a session")
    def forget(session_id: SessionPath) -> Forgotten:
        """Drop the dialogue state and cart and delete the session's recorded events."""
        return Forgotten(session_id=session_id, events_deleted=assistant.forget(session_id))

    @router.get("/sessions/{session_id}/cart", summary="The cart")
    def cart(session_id: SessionPath) -> Cart:
        return _cart(assistant.state(session_id).cart)

    @router.post("/sessions/{session_id}/cart", summary="Add to the cart")
    def add_to_cart(session_id: SessionPath, body: CartAdd) -> Cart:
        """Adds at the catalog price. A product sold in several sizes (colours) needs one that
        it has; the 400 names them. The same product, size and colour again adds up."""
        try:
            assistant.add_to_cart(
                session_id, body.product_id, body.quantity, body.size or None, body.color or None
            )
        except KeyError:
            raise _not_found(body.product_id) from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return _cart(assistant.state(session_id).cart)

    @router.delete("/sessions/{session_id}/cart/{product_id:path}", summary="Remove from cart")
    def remove_from_cart(session_id: SessionPath, product_id: ProductPath) -> Cart:
        """Removes every line of the product (all sizes and colours)."""
        if not assistant.remove_from_cart(session_id, product_id):
            raise HTTPException(404, f"{product_id!r} is not in the cart")
        return _cart(assistant.state(session_id).cart)

    @router.post("/sessions/{session_id}/feedback", summary="Thumbs up or down")
    def feedback(session_id: SessionPath, body: FeedbackRequest) -> Feedback:
        """A thumbs-down hides the product (and its near-duplicates) from this session's
        searches; a thumbs-up nudges similar products up. Both count only while the session
        allows personalisation."""
        try:
            assistant.feedback(session_id, body.product_id, body.value)
        except KeyError:
            raise _not_found(body.product_id) from None
        return feedback_of(session_id)

    @router.put("/sessions/{session_id}/privacy", summary="The privacy choice")
    def privacy(session_id: SessionPath, body: PrivacyRequest) -> Feedback:
        assistant.set_personalise(session_id, body.personalise)
        return feedback_of(session_id)

    @router.get("/openapi.json", summary="This API's OpenAPI schema", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        """The schema of these routes alone (the server's /openapi.json also lists the UI's)."""
        return get_openapi(
            title="shopassist HTTP API",
            version="1",
            routes=[r for r in router.routes if getattr(r, "include_in_schema", False)],
        )

    return router
