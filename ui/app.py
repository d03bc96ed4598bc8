"""The Gradio shopper app: chat (text, voice, photo), product cards, comparison, cart.

`create_app(assistant)` builds the Blocks; `serve(assistant, ...)` launches it on 127.0.0.1
unless told otherwise. The behaviour lives in `ui._shop`; this module is layout and wiring.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from starlette.middleware import Middleware

from assistant import Assistant, go_offline
from assistant.integrations.http_api import (
    API_TOKEN_ENV,
    MAX_BODY_BYTES,
    ClientRateLimit,
    api_tokens,
    create_api,
)

go_offline()  # before Gradio reads GRADIO_ANALYTICS_ENABLED
import gradio as gr  # noqa: E402

from ui._html import CARDS_CSS, PANEL_CSS  # noqa: E402
from ui._middleware import BodyLimit, SecurityHeaders  # noqa: E402
from ui._shop import EMPTY, Frame, Shop, View  # noqa: E402
from ui._uploads import REFUSED, UploadRefused, Uploads  # noqa: E402

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# Matches `retrieval.load_image`'s own byte limit; Gradio refuses bigger uploads up front.
MAX_UPLOAD = "20mb"
# Request bodies: Gradio's upload route takes MAX_UPLOAD plus the multipart envelope; every
# other route (the queue, login, the API) far less: a chat turn is a few KB, and the API's
# own limit (`MAX_BODY_BYTES`) is the same.
UPLOAD_ROUTE = "/gradio_api/upload"
UPLOAD_BODY_BYTES = 20 * 1024 * 1024 + 64 * 1024
BODY_BYTES = MAX_BODY_BYTES
# Events running at once, across sessions (turns of one session are serialised in `Shop`).
CONCURRENCY = 8
# Uploaded photos and recordings are deleted from Gradio's cache after an hour.
DELETE_CACHE = (3600, 3600)

# Card buttons: one delegated listener on the component root (it outlives re-renders) sends
# the button's action and the card's product id as event data.
CARD_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button || !element.contains(button)) return;
  const card = button.closest('[data-product]');
  if (!card) return;
  trigger('click', {action: button.dataset.action, product: card.dataset.product});
});
"""
INTRO = (
    "### shopassist\n"
    "Ask for products in your own words, refine (“in blue”, “under $60”), compare, and add to "
    "your cart. Upload a photo to find similar products, optionally with words like "
    "“like this but in red”."
)
MIC_NOTE = (
    "Browsers only allow the microphone on pages served from **localhost or HTTPS**; "
    "elsewhere, upload a recording instead."
)
PRIVACY_NOTE = (
    "Your thumbs and what you open or add re-rank what you see, and are kept (without your "
    "messages) to suggest what other shoppers liked. Untick to opt out: what was kept for "
    "this session is deleted and nothing more is recorded."
)
NO_VOICE = " Voice input is not set up on this server yet, so please type for now."


def create_app(
    assistant: Assistant, *, stream_delay: float = 0.02, title: str = "shopassist"
) -> gr.Blocks:
    """The shopper app over `assistant` (queue configured; call `.launch()` or `serve`)."""
    shop = Shop(assistant, stream_delay=stream_delay)
    uploads = Uploads([gr.utils.get_upload_folder()])  # where Gradio's upload route writes
    with gr.Blocks(title=title, delete_cache=DELETE_CACHE) as demo:
        view = gr.State(None, delete_callback=shop.forget)
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chat = gr.Chatbot(
                    label="Chat",
                    height=460,
                    render_markdown=False,  # plain text: shopper and catalog text stay inert
                    sanitize_html=True,
                    feedback_options=None,
                    buttons=["copy_all"],
                    placeholder="Hi! What are you shopping for today?",
                    elem_id="sa-chat",
                )
                with gr.Row(equal_height=True):
                    text = gr.Textbox(
                        placeholder="e.g. black yoga pants in M under $60",
                        show_label=False,
                        container=False,
                        scale=5,
                        autofocus=True,
                        elem_id="sa-text",
                    )
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="sa-send")
                with gr.Row(equal_height=True):
                    photo = gr.Image(
                        label="Photo: find similar products",
                        sources=["upload", "clipboard"],
                        type="filepath",
                        image_mode=None,
                        height=170,
                        elem_id="sa-photo",
                    )
                    audio = gr.Audio(
                        label="Voice",
                        sources=["microphone", "upload"],
                        type="filepath",
                        elem_id="sa-audio",
                    )
                gr.Markdown(
                    MIC_NOTE + ("" if assistant.transcriber else NO_VOICE), elem_id="sa-mic-note"
                )
                notices = _html("", "sa-notices", PANEL_CSS)
            with gr.Column(scale=2, min_width=280):
                cart = _html(EMPTY.cart, "sa-cart", PANEL_CSS)
                restart = gr.Button("Start over", elem_id="sa-start-over")
                personalise = gr.Checkbox(
                    value=assistant.settings.personalise,
                    label="Personalise my results",
                    info=PRIVACY_NOTE,
                    elem_id="sa-personalise",
                )
        cards = _html(EMPTY.cards, "sa-cards", CARDS_CSS, CARD_JS)
        compare = _html("", "sa-compare", PANEL_CSS, visible=False)

        outputs = [chat, text, photo, audio, send, view, cards, compare, cart, notices]

        def on_turn(
            message: str | None,
            image: Any,
            recording: Any,
            state: View | None,
            request: gr.Request,
        ) -> Iterator[tuple[Any, ...]]:
            # The browser's address: a new session counts against its new-session budget.
            client = f"addr:{request.client.host}" if request and request.client else None
            try:  # a raw payload is only a path the browser sends back: only uploads pass
                photo_file, audio_file = uploads.accept(image), uploads.accept(recording)
            except UploadRefused:
                frames = shop.refuse(state, message, REFUSED)
            else:
                frames = shop.turn(state, message, photo_file, audio_file, client=client)
            for frame in frames:
                yield _updates(frame)

        def on_card(state: View | None, evt: gr.EventData) -> Iterator[tuple[Any, ...]]:
            # The event data the card script sends; anything else is ignored by the shop.
            action, product = str(getattr(evt, "action", "")), str(getattr(evt, "product", ""))
            for frame in shop.card_action(state, action, product):
                yield _updates(frame)

        def on_start_over(state: View | None) -> tuple[Any, ...]:
            return _updates(shop.start_over(state))

        # Raw payloads (preprocess=False): an upload reaches the assistant's own image checks
        # and gets a friendly reply, where Gradio's decoding would raise an error toast. So
        # Gradio's upload-folder check does not run either: `uploads` (in on_turn) is ours.
        turn = {
            "fn": on_turn,
            "inputs": [text, photo, audio, view],
            "outputs": outputs,
            "preprocess": False,
            "show_progress": "hidden",
        }
        text.submit(**turn)
        send.click(**turn)
        audio.stop_recording(**turn)
        cards.click(on_card, inputs=[view], outputs=outputs, show_progress="hidden")
        restart.click(on_start_over, inputs=[view], outputs=outputs, show_progress="hidden")
        personalise.input(
            lambda enabled, state: shop.set_personalise(state, enabled).view,
            inputs=[personalise, view],
            outputs=[view],
            show_progress="hidden",
        )
    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo


def serve(
    assistant: Assistant,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    share: bool = False,
    auth: tuple[str, str] | None = None,
    block: bool = True,
    quiet: bool = False,
) -> gr.Blocks:
    """Launch the app, with the HTTP API (`/api/v1`) on the same server, port and share link;
    with `block=False` return once it is listening (tests, embedding); `.close()` stops it.

    The API's routes go to the FastAPI app Gradio builds (`app_kwargs`), so `launch` keeps
    everything else (login, share, upload limit). Its bearer token comes from
    $SHOPASSIST_API_TOKEN only; with a login and no token the API stays locked."""
    app = create_app(assistant)
    token = os.environ.get(API_TOKEN_ENV) or None
    # One request budget per client across the API and the web app's writes.
    limiter = assistant.sessions.limiter("requests", assistant.settings.client_requests_per_minute)
    api = create_api(assistant, token=token, require_token=auth is not None, limiter=limiter)
    # On the whole server (UI, Gradio's routes, API), outermost first: every answer gets the
    # security headers (413 and 429 included), and an oversized body is refused unread.
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(BodyLimit, default=BODY_BYTES, limits={UPLOAD_ROUTE: UPLOAD_BODY_BYTES}),
        Middleware(ClientRateLimit, limiter=limiter, tokens=api_tokens(token)),
    ]
    assistant.live_catalog.watch()  # a re-ingest reaches idle sessions too (0 s: turns only)
    app.launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=auth,
        auth_message="Sign in to the store assistant." if auth else None,
        show_error=False,  # errors reach the shopper as a friendly chat message instead
        max_file_size=MAX_UPLOAD,
        ssr_mode=False,
        prevent_thread_lock=not block,
        quiet=quiet,
        app_kwargs={"routes": api.routes, "middleware": middleware},
    )
    return app


def _html(
    value: str, elem_id: str, css: str, js: str | None = None, *, visible: bool = True
) -> gr.HTML:
    """A gr.HTML panel. The value is always our escaped HTML, passed as `value` (never inside
    the template, which the browser evaluates as a JS template string)."""
    return gr.HTML(
        value,
        elem_id=elem_id,
        css_template=css,
        js_on_load=js,
        apply_default_css=False,
        visible=visible,
    )


def _updates(frame: Frame) -> tuple[Any, ...]:
    """A frame as the values of `outputs` (skip = leave that component alone)."""
    skip = gr.skip()
    busy, panels = frame.busy, frame.panels
    if busy is None:
        text = photo = audio = send = skip
    else:
        cleared = {"value": ""} if frame.clear_inputs else {}
        text = gr.update(interactive=not busy, **cleared)
        photo = gr.update(value=None) if frame.clear_inputs else skip
        audio = gr.update(value=None) if frame.clear_inputs else skip
        send = gr.update(interactive=not busy, value="…" if busy else "Send")
    return (
        skip if frame.history is None else frame.history,
        text,
        photo,
        audio,
        send,
        frame.view,
        skip if panels is None else panels.cards,
        skip if panels is None else gr.update(value=panels.compare, visible=bool(panels.compare)),
        skip if panels is None else panels.cart,
        skip if panels is None else panels.notices,
    )
