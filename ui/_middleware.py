"""ASGI middleware for the whole server (the Gradio app and `/api/v1`): request-body limits
and security headers. `ui.app.serve` hands them to the FastAPI app Gradio builds.

Both are plain ASGI (not `BaseHTTPMiddleware`), so Gradio's streamed responses (SSE) pass
through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.integrations.http_api import body_too_large

# What the Gradio page needs, and nothing from other origins:
# - scripts: Gradio's page has inline <script>s (its config among them), and `gr.HTML`'s
#   `js_on_load` (the card buttons) is run with `new Function`, hence 'unsafe-inline' and
#   'unsafe-eval'; shopper and catalog text is escaped, never markup, so these are not an
#   opening for it;
# - styles: Gradio sets inline styles and injects <style> elements;
# - images: our thumbnails are `data:` URLs, and the photo and audio previews `blob:` URLs;
# - media, workers: the microphone recording is played back and processed from `blob:`;
# - connect: the queue (fetch + server-sent events) and uploads go to this origin only, and
#   the page reads back its own microphone recording from a `blob:` URL before uploading it;
# - no plugins, no <base> elsewhere, forms post here, and only this origin may frame the page.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self' blob:",
        "worker-src 'self' blob:",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",  # frame-ancestors for browsers without CSP level 2
}


class SecurityHeaders:
    """Adds `headers` to every HTTP response that does not already set them (pages, API
    answers, files, errors)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self.headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes its limit; FastAPI's body parsing
    re-raises HTTPExceptions, so it ends as a 413 whichever route was reading."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, body_too_large(limit))


class BodyLimit:
    """Refuses request bodies over `default` bytes (`limits` maps exact paths to their own),
    with 413 and JSON `{"detail": ...}`: by Content-Length before reading anything, and while
    a body without one (chunked) streams in, before the route sees more than the limit."""

    def __init__(self, app: ASGIApp, *, default: int, limits: Mapping[str, int] = {}) -> None:
        self.app = app
        self.default = default
        self.limits = dict(limits)

    def limit_for(self, scope: Scope) -> int:
        path, root = scope.get("path", ""), scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return self.limits.get(path, self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(limit, send)  # refused unread
            return
        received = 0
        started = False

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_within_limit, send_tracking)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(limit, send)


async def _refuse(limit: int, send: Send) -> None:
    body = json.dumps({"detail": body_too_large(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
