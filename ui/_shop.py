"""What the shopper UI does, apart from Gradio's layout: turns, card buttons, start over.

`Shop` turns a shopper action into a stream of `Frame`s (what the screen should show next);
`ui.app` maps frames onto Gradio components. Keeping the behaviour here lets tests drive it
with the real `Assistant` and no browser.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from math import ceil

from assistant import MAX_MESSAGE_CHARS, Assistant, Comparison, DialogueState, Reply
from ui._html import (
    ACTIONS,
    ShelfItem,
    cards_html,
    cart_html,
    compare_html,
    esc,
    message_html,
    notices_html,
)
from ui._images import Thumbnails, thumbnail_data_url

log = logging.getLogger(__name__)
BUSY_HTML = '<em aria-busy="true">Looking…</em>'
FAILURE = "Sorry, something went wrong on our side. Please try that again in a moment."
STALE_CARD = "That product is no longer in the list I showed you. Ask me for it again?"
COMPARE_NOTE = "The comparison table is below the products."
# The turn a card button sends: the dialogue resolves "#N" against the list on screen, and
# asks for a size when the product needs one.
CARD_TURNS = {
    "details": "tell me more about #{n}",
    "more": "show me more like #{n}",
    "add": "add #{n} to my cart",
}
UPLOAD_THUMBNAIL_PX = 160
Message = dict[str, str]


def new_session_id() -> str:
    return f"web-{uuid.uuid4().hex}"


@dataclass
class View:
    """One browser session: its assistant session id and what its screen shows."""

    session_id: str = field(default_factory=new_session_id)
    history: list[Message] = field(default_factory=list)
    shelf: list[ShelfItem] = field(default_factory=list)
    comparison: Comparison | None = None
    compare_images: list[str | None] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def clear(self) -> None:
        """Everything but the session id."""
        self.history, self.shelf, self.notices = [], [], []
        self.comparison, self.compare_images = None, []


@dataclass(frozen=True, slots=True)
class Panels:
    cards: str
    compare: str
    cart: str
    notices: str


EMPTY = Panels(cards_html([], positions={}, feedback={}), "", cart_html([], 0.0), "")


@dataclass(slots=True)
class Frame:
    """One screen update. None means "leave as is"; `busy` True locks the inputs while a
    turn runs, False unlocks them."""

    view: View
    history: list[Message] | None = None
    panels: Panels | None = None
    busy: bool | None = None
    clear_inputs: bool = False


class Shop:
    def __init__(
        self,
        assistant: Assistant,
        *,
        stream_delay: float = 0.02,
        stream_steps: int = 16,
        thumbnails: Thumbnails | None = None,
    ) -> None:
        self.assistant = assistant
        self.stream_delay = stream_delay
        self.stream_steps = stream_steps
        self.thumbnails = thumbnails or Thumbnails()
        # One turn at a time per browser session (a double click must not interleave two
        # turns' screen updates); sessions run in parallel, as they do through the HTTP API.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # Shopper turns ----------------------------------------------------------------------------
    def turn(
        self,
        view: View | None,
        text: str | None = None,
        image: str | None = None,
        audio: str | None = None,
        *,
        clear_inputs: bool = True,
        client: str | None = None,
    ) -> Iterator[Frame]:
        """Show the shopper's message, then the reply growing word by word, then the cards,
        comparison and cart. Never raises: a failure becomes a friendly chat message.
        `client` (the browser's address) is who a new session is counted against."""
        view = view or View()
        text = (text or "").strip()
        if not (text or image or audio):
            yield Frame(view)
            return
        asked: Message = {"role": "user", "content": self._shopper_html(text, image, audio)}
        answer: Message = {"role": "assistant", "content": BUSY_HTML}
        view.history += [asked, answer]
        yield Frame(view, _copy(view.history), busy=True, clear_inputs=clear_inputs)
        panels = None
        try:
            with self._session_lock(view.session_id):
                reply = self.assistant.respond(
                    view.session_id, text=text or None, image=image, audio=audio, client=client
                )
                panels = self._after(view, reply)
            if audio is not None and reply.transcript:
                asked["content"] = self._shopper_html(text, image, audio, reply.transcript)
            said = _chat_text(reply)
        except Exception:
            log.exception("turn failed (session %s)", view.session_id)
            said = FAILURE
            panels = self._safe_panels(view)
        yield from self._stream(view, answer, said, panels)

    def refuse(self, view: View | None, text: str | None, said: str) -> Iterator[Frame]:
        """A turn the app will not run (an upload it refused): the shopper's words and `said`
        in the chat, inputs cleared; the assistant is not asked and the session's dialogue,
        cart and panels stay as they were."""
        view = view or View()
        text = (text or "").strip()
        asked = "<br>".join(["📎 (file)", *([message_html(_echoed(text))] if text else [])])
        answer: Message = {"role": "assistant", "content": ""}
        view.history += [{"role": "user", "content": asked}, answer]
        yield Frame(view, _copy(view.history), busy=True, clear_inputs=True)
        yield from self._stream(view, answer, said, None)

    def card_action(self, view: View | None, action: str, product_id: str) -> Iterator[Frame]:
        """A card button: thumbs up/down go to the assistant (pressing one again takes it
        back); "details", "more like this" and "add to cart" become the turn a shopper
        would type."""
        view = view or View()
        if action not in ACTIONS or product_id not in {i.card.id for i in view.shelf}:
            yield Frame(view)  # a forged or stale click: nothing to do
            return
        if action in ("up", "down"):
            value = 1 if action == "up" else -1
            if self.assistant.state(view.session_id).rating_of(product_id) == value:
                value = 0  # pressed again: taken back
            try:
                self.assistant.feedback(view.session_id, product_id, value)
            except (KeyError, ValueError):
                log.exception("feedback failed (session %s)", view.session_id)
            yield Frame(view, panels=self._safe_panels(view))
            return
        shown = [card.id for card in self.assistant.state(view.session_id).shown]
        if product_id not in shown:
            answer: Message = {"role": "assistant", "content": ""}
            view.history.append(answer)
            yield from self._stream(view, answer, STALE_CARD, self._safe_panels(view))
            return
        text = CARD_TURNS[action].format(n=shown.index(product_id) + 1)
        yield from self.turn(view, text, clear_inputs=False)

    def set_personalise(self, view: View | None, enabled: bool) -> Frame:
        """The shopper's privacy choice for this session (kept when they start over)."""
        view = view or View()
        self.assistant.set_personalise(view.session_id, bool(enabled))
        return Frame(view)

    def start_over(self, view: View | None) -> Frame:
        """Forget the dialogue (constraints, results, cart) and clear the screen."""
        view = view or View()
        self.assistant.reset(view.session_id)
        view.clear()
        return Frame(view, [], self._safe_panels(view), busy=False, clear_inputs=True)

    def forget(self, view: View | None) -> None:
        """Gradio dropped this browser session's state: drop its dialogue too."""
        if view is not None:
            self.assistant.reset(view.session_id)
            with self._locks_guard:
                self._locks.pop(view.session_id, None)

    def _session_lock(self, session_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(session_id, threading.Lock())

    # Rendering --------------------------------------------------------------------------------
    def panels(self, view: View) -> Panels:
        state = self.assistant.state(view.session_id)
        return _render(view, state, self.thumbnails)

    def _after(self, view: View, reply: Reply) -> Panels:
        """Bring the screen in step with the reply and the dialogue state."""
        dialogue = reply.dialogue
        state = self.assistant.state(view.session_id)
        if dialogue.suggestions or dialogue.alternatives:
            count = len(dialogue.suggestions)
            view.shelf = [
                ShelfItem(s.card, s.reason, number)
                for number, s in enumerate(dialogue.suggestions, 1)
            ] + [
                ShelfItem(s.card, s.reason, number, alternative=True)
                for number, s in enumerate(dialogue.alternatives, count + 1)
            ]
            view.comparison, view.compare_images = None, []
        elif not state.shown:
            view.shelf, view.comparison, view.compare_images = [], None, []
        if dialogue.comparison is not None:
            view.comparison = dialogue.comparison
            cards = [self.assistant.catalog.product(pid) for pid in dialogue.comparison.product_ids]
            view.compare_images = [self.thumbnails(c.image) if c else None for c in cards]
        view.notices = list(reply.notices)
        return _render(view, state, self.thumbnails)

    def _safe_panels(self, view: View) -> Panels | None:
        try:
            return self.panels(view)
        except Exception:
            log.exception("rendering failed (session %s)", view.session_id)
            return None

    def _stream(
        self, view: View, answer: Message, text: str, panels: Panels | None
    ) -> Iterator[Frame]:
        """The reply text growing in a few steps, then the panels with the inputs unlocked."""
        parts = list(_growing(text, self.stream_steps))
        for partial in parts[:-1]:
            answer["content"] = message_html(partial)
            yield Frame(view, _copy(view.history))
            if self.stream_delay:
                time.sleep(self.stream_delay)
        answer["content"] = message_html(text)
        yield Frame(view, _copy(view.history), panels, busy=False)

    def _shopper_html(
        self, text: str, image: str | None, audio: str | None, transcript: str | None = None
    ) -> str:
        parts = []
        if image:
            thumb = thumbnail_data_url(image, UPLOAD_THUMBNAIL_PX)
            parts.append(
                f'<img src="{esc(thumb)}" alt="your photo" '
                f'style="width:{UPLOAD_THUMBNAIL_PX}px;max-width:100%">'
                if thumb
                else "📷 (photo)"
            )
        if audio:
            parts.append("🎤 " + (esc(transcript) if transcript else "(voice message)"))
        if text:
            parts.append(message_html(_echoed(text)))
        return "<br>".join(parts)


def _render(view: View, state: DialogueState, thumbnails: Thumbnails) -> Panels:
    positions = {card.id: n for n, card in enumerate(state.shown, 1)}
    return Panels(
        cards=cards_html(
            view.shelf,
            positions=positions,
            feedback={item.card.id: state.rating_of(item.card.id) for item in view.shelf},
            focus=state.focus,
            thumbnail=thumbnails,
        ),
        compare=compare_html(view.comparison, images=view.compare_images),
        cart=cart_html(state.cart, state.cart_total()),
        notices=notices_html(view.notices),
    )


def _chat_text(reply: Reply) -> str:
    """The reply for the chat bubble; a comparison's Markdown table is drawn as a real table
    below the cards instead."""
    if reply.dialogue.comparison is None:
        return reply.text
    lines = [line for line in reply.text.split("\n") if not line.lstrip().startswith("|")]
    return "\n".join([*lines, COMPARE_NOTE])


def _growing(text: str, steps: int) -> Iterator[str]:
    """Prefixes of `text` ending on word boundaries, in at most `steps` steps, the last whole."""
    words = re.findall(r"\S+\s*", text) or [text]
    size = max(1, ceil(len(words) / max(1, steps)))
    for end in range(size, len(words) + size, size):
        yield "".join(words[:end])


def _copy(history: list[Message]) -> list[Message]:
    return [dict(message) for message in history]


def _echoed(text: str) -> str:
    """The shopper's words as shown in the chat: at most MAX_MESSAGE_CHARS (the dialogue reads
    no more), so a huge paste is not sent back to the browser with every frame."""
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"
