"""The `Assistant` facade: sessions, input decoding and the dialogue model, behind one call.

`respond(session_id, text=None, image=None, audio=None) -> Reply`. Sessions are isolated (one
lock and one state each). Prompt files are watched: an edit retrains the NLU on the next turn,
and a broken edit keeps the last good model running and says why in `prompt_error`.

Feedback: what each turn shows and what the shopper does with it (thumbs, details, cart) goes
to the event log, unless the session opted out of personalisation: then nothing of it is
recorded and its own feedback changes no ranking.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant._catalog import RetrievalCatalog
from assistant._live_catalog import LiveCatalog
from assistant._retrieval import RetrievalStack, build_retrieval
from assistant._sessions import (
    Session,
    SessionRefused,
    SessionStore,
    SessionStoreDown,
    open_session_store,
)
from assistant.config import Settings
from assistant.feedback import EventKind, EventLog
from assistant.integrations import (
    HandoffDesk,
    HttpOrderLookup,
    SharedConversation,
    shared_conversation,
)
from assistant.speech import PhraseModel, phrase_model_for
from dialogue import (
    MAX_LINE_QUANTITY,
    PROMPT_FILES,
    CartLine,
    DialogueModel,
    DialogueReply,
    DialogueState,
    NluDataError,
    ProductCard,
    PromptFileError,
    TrainingReport,
    VariantGap,
    only_choices,
    prompts_hash,
    put_in_cart,
    variant_gaps,
)
from retrieval import ImageRejected, load_image

log = logging.getLogger(__name__)
SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# Answers that open one product (a click, for the report): not an add-to-cart or a size question.
OPENING_ACTIONS = frozenset({"details", "reviews", "availability", "complete_look"})
RATE_LIMITED = "rate_limited"
# The session store did not answer (HTTP 503 from the API); a name of its own, never one of the
# dialogue's actions ("unavailable" says a thing the store does not carry).
UNAVAILABLE = "session_store_down"
SLOW_DOWN = "You're sending messages faster than I can keep up. Please wait a few seconds."
STORE_DOWN = "Sorry, I can't reach your shopping session just now. Please try again in a moment."
# Speech to text: audio (a path or bytes) -> transcript. Wired by the speech module.
Transcriber = Callable[[Any], str]


@dataclass(slots=True)
class Reply:
    """One assistant turn, for the UI, the API and the CLI."""

    text: str
    dialogue: DialogueReply
    transcript: str | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def suggestions(self) -> list[Any]:
        return self.dialogue.suggestions

    def to_dict(self) -> dict[str, Any]:
        return {**self.dialogue.to_dict(), "text": self.text, "transcript": self.transcript}


class Assistant:
    """The shopping assistant as the web app, the HTTP API, the Rasa actions and the CLI use it:
    one object per process that owns the catalog, the dialogue model and the sessions.

    A turn (`respond(session_id, text=..., image=..., audio=...)`): reload the prompt files if
    they changed and the catalog if a new version was ingested (carts are re-priced); hold the
    session (its `DialogueState` and cart, in
    memory or in Redis) under the session and client budgets; transcribe a recording; decode a
    photo; hand the text and photo to `DialogueModel.respond`, which understands the message,
    updates the state and asks the catalog (through `RetrievalCatalog`); record the turn in the
    event log; and return a `Reply` with the text, product cards, comparison and cart. Nothing
    a shopper sends crashes a turn: bad input, a busy store or a failing model each get a
    reply of their own and the session is kept."""

    def __init__(
        self,
        settings: Settings,
        stack: RetrievalStack | None = None,
        *,
        transcriber: Transcriber | None = None,
        retrain: bool = False,
        events: EventLog | None = None,
        handoffs: HandoffDesk | None = None,
    ) -> None:
        self.settings = settings
        # First: a session store that cannot be reached stops the start before models load.
        self.sessions: SessionStore = open_session_store(settings)
        self.stack = stack or build_retrieval(settings)
        if events is None and settings.event_log:
            events = EventLog(settings.event_store, retention_days=settings.event_retention_days)
        self.events = events
        # Always on: it stores nothing until a shopper asks for a person.
        self.handoffs = handoffs or HandoffDesk(
            settings.event_store,
            webhook_url=settings.handoff_webhook_url,
            timeout_seconds=settings.handoff_timeout_seconds,
            retention_days=settings.event_retention_days,
        )
        self.orders = (
            HttpOrderLookup(settings.order_lookup_url, settings.order_lookup_timeout_seconds)
            if settings.order_lookup_url
            else None
        )
        self.catalog = RetrievalCatalog(
            self.stack.engine, co_liked=self.events.co_liked if self.events else None
        )
        # A re-ingest by another process reaches running sessions without a restart; a new
        # catalog's words (colours, categories) retrain nothing but rebuild the NLU's slots.
        self.live_catalog = LiveCatalog(
            self.stack.store,
            self.stack.engine,
            self.catalog,
            on_refresh=lambda: self.reload(force=True),
            check_seconds=settings.catalog_check_seconds,
        )
        self.transcriber = transcriber if transcriber is not None else self._speech()
        self.prompt_error: str | None = None
        self.training: TrainingReport | None = None
        self._model_lock = threading.Lock()
        self._prompts_hash = ""
        self._prompts_stamp: tuple[tuple[str, int, int], ...] = ()
        self._model: DialogueModel | None = None
        self.reload(force=True, retrain=retrain)

    def _speech(self) -> Transcriber | None:
        """The configured speech backend; its model loads on the first voice turn."""
        if self.settings.speech_backend == "none":
            return None
        from assistant.speech import (
            SPEECH_FILE,
            build_transcriber,
            load_example_requests,
            store_prompt,
        )

        vocabulary = self.catalog.vocabulary()
        try:
            examples = load_example_requests(self.settings.prompts_dir / SPEECH_FILE)
        except ValueError as exc:  # a broken edit: the catalog's words alone still help
            log.warning("speech prompt examples not used: %s", exc)
            examples = ""
        return build_transcriber(
            self.settings.speech_backend,
            self.settings.speech_model,
            self.settings.speech_max_seconds,
            # Measured by `shopassist eval asr`: the catalog's words and example requests as
            # Whisper's prompt, beam search and the phrase model each cut word errors.
            initial_prompt=store_prompt(vocabulary, examples),
            beam_size=5,
            phrase_model=self._phrase_model(vocabulary),
        )

    def _phrase_model(self, vocabulary: dict[str, list[str]]) -> PhraseModel | None:
        """The phrase model that re-ranks Whisper's guesses, from nlu.yml and the catalog."""
        settings = self.settings
        if not settings.speech_phrase_model or settings.speech_backend != "faster-whisper":
            return None
        try:
            return phrase_model_for(settings.prompts_dir / "nlu.yml", vocabulary)
        except ValueError as exc:  # a broken nlu.yml: voice still works, un-reranked
            log.warning("speech phrase model not built: %s", exc)
            return None

    def _refresh_phrase_model(self) -> None:
        """After an nlu.yml edit, voice turns re-rank with the new examples too."""
        from assistant.speech import FasterWhisperTranscriber

        heard = self.transcriber
        if isinstance(heard, FasterWhisperTranscriber) and heard.phrase_model is not None:
            heard.phrase_model = self._phrase_model(self.catalog.vocabulary()) or heard.phrase_model

    @property
    def model_cache(self) -> Path:
        return self.settings.data_dir / "models"

    # Model lifecycle ------------------------------------------------------------------------
    def reload(self, *, force: bool = False, retrain: bool = False) -> bool:
        """Reload the dialogue model if the prompt files changed. A broken edit keeps the
        running model (the first load has none to keep, so it raises). Called on every turn:
        files are only read and hashed when their size or modification time changed."""
        stamp = _stamp(self.settings.prompts_dir)
        if stamp == self._prompts_stamp and not force and not retrain:
            return False
        self._prompts_stamp = stamp
        current = prompts_hash(self.settings.prompts_dir)
        if current == self._prompts_hash and not force and not retrain:
            return False
        with self._model_lock:
            try:
                model, report = DialogueModel.load(
                    self.settings.prompts_dir,
                    self.catalog,
                    self.stack.text_encoder.encode_texts,
                    self.stack.text_encoder.name,
                    self.model_cache,
                    force_train=retrain,
                    dictionary=self.stack.text_encoder.words(),
                    orders=self.orders,
                )
            except (PromptFileError, NluDataError, ValueError) as exc:
                self.prompt_error = str(exc)
                self._prompts_hash = current
                if self._model is None:
                    raise
                log.error("prompt files not reloaded, keeping the last good version: %s", exc)
                return False
            if self._model is not None:
                self._refresh_phrase_model()
            self._model, self.training = model, report
            self._prompts_hash = current
            self.prompt_error = None
            return True

    @property
    def model(self) -> DialogueModel:
        assert self._model is not None
        return self._model

    # Sessions -------------------------------------------------------------------------------
    def _hold(self, session_id: str, client: str | None = None) -> AbstractContextManager[Session]:
        """The session with its lock held (opened if new; see `SessionStore.hold`)."""
        if not SESSION_ID.match(session_id or ""):
            raise ValueError("session id: 1-128 letters, digits, '_', '-', '.', ':'")
        return self.sessions.hold(session_id, client)

    def open_session(self, session_id: str, client: str | None = None) -> None:
        """Open a session explicitly (the HTTP API's `POST /sessions`); raises
        `SessionRefused` when the client or the server has no room for another."""
        with self._hold(session_id, client):
            pass

    def has_session(self, session_id: str) -> bool:
        """Whether the session is live; a read that never opens one."""
        return self.sessions.has(session_id)

    def state(self, session_id: str) -> DialogueState:
        """A session's dialogue state. Reading never opens a session: an unknown id gets a
        fresh state that is not kept. In memory this is the live state; from Redis, a copy."""
        state = self.sessions.get(session_id)
        return state if state is not None else DialogueState(personalise=self.settings.personalise)

    def reset(self, session_id: str) -> None:
        """Start over: a fresh dialogue and cart; the privacy choice stays."""
        old = self.sessions.drop(session_id)
        if old is not None and old.personalise != self.settings.personalise:
            with self._hold(session_id) as session:
                session.state.personalise = old.personalise

    def forget(self, session_id: str) -> int:
        """Drop a session's state and delete its events and handoff requests; returns the
        rows deleted."""
        self.sessions.drop(session_id)
        events = self.events.forget(session_id) if self.events else 0
        return events + self.handoffs.forget(session_id)

    def hand_off(self, session_id: str, said: str, shared: SharedConversation | None) -> str:
        """Record a request for a person (with `shared` only when the shopper agreed) and tell
        the helpdesk in the background; returns the reply: the dialogue's words and the
        request's reference, or only that it could not be passed on, so the reply never
        promises what nobody will do."""
        templates = self.model.templates
        try:
            record, _ = self.handoffs.request(session_id, shared)
        except Exception:  # a full disk must not turn into a promise nobody keeps
            log.exception("handoff request not recorded (session %s)", session_id)
            return templates.render("handoff_failed")
        return f"{said}\n{templates.render('handoff_reference', reference=record.reference)}"

    def warm_answers(self) -> int:
        """Prepare product-question answers for every product (their sentence vectors), so no
        shopper's first question about a product waits for them. `serve` runs it in the
        background at start-up; returns the number of products prepared."""
        model, catalog = self.model, self.catalog
        answerer = model.policy.answerer
        if answerer is None:
            return 0
        ids = list(self.stack.engine.view.products)
        texts = [t for t in (catalog.product_text(pid) for pid in ids) if t is not None]
        return answerer.warm(texts)

    # Feedback and privacy -----------------------------------------------------------------------
    def feedback(self, session_id: str, product_id: str, value: int) -> None:
        """Thumbs up (1), down (-1) or taken back (0) on a catalog product."""
        self.live_catalog.check()
        if self.catalog.product(product_id) is None:
            raise KeyError(self.live_catalog.unknown_product(product_id))
        with self._hold(session_id) as session:
            self.live_catalog.follow(session_id, session.state, deliver=False)
            session.state.rate(product_id, value)
            kind = {1: EventKind.LIKED, -1: EventKind.DISLIKED, 0: EventKind.CLEARED}[value]
            self._record(session, session_id, kind, [product_id])

    def opened(self, session_id: str, product_id: str) -> None:
        """The shopper opened a product's details outside the chat (a card, the API)."""
        self.live_catalog.check()
        if self.catalog.product(product_id) is None:
            raise KeyError(f"unknown product {product_id!r}")
        with self._hold(session_id) as session:
            self._record(session, session_id, EventKind.OPENED, [product_id])

    # Cart outside the chat (the HTTP API) -----------------------------------------------------
    def add_to_cart(
        self,
        session_id: str,
        product_id: str,
        quantity: int = 1,
        size: str | None = None,
        color: str | None = None,
    ) -> CartLine:
        """Put a product in a session's cart with the dialogue's own check (`variant_gaps`): a
        size (colour) is needed when there are several and must be one that is offered.
        Raises KeyError for an unknown product and ValueError saying what to choose from.
        Returns the cart line (merged with an existing one for the same variant)."""
        self.live_catalog.check()  # never add at a price the store no longer has
        card = self.catalog.product(product_id)
        if card is None:
            raise KeyError(self.live_catalog.unknown_product(product_id))
        if not 1 <= quantity <= MAX_LINE_QUANTITY:
            raise ValueError(f"quantity must be between 1 and {MAX_LINE_QUANTITY}")
        size, color = only_choices(card, size, color)
        gaps = variant_gaps(card, size, color)
        if gaps:
            raise ValueError(_refusal(card, gaps[0]))
        with self._hold(session_id) as session:
            state = session.state
            self.live_catalog.follow(session_id, state, deliver=False)  # re-price the others
            line = put_in_cart(
                state.cart, card, quantity, size, color
            )  # QuantityLimit: a ValueError
            self._record(session, session_id, EventKind.ADDED, [card.id])
            return line

    def remove_from_cart(self, session_id: str, product_id: str) -> bool:
        """Take every line of a product out of a session's cart; False when none was there."""
        self.live_catalog.check()
        with self._hold(session_id) as session:
            state = session.state
            self.live_catalog.follow(session_id, state, deliver=False)
            kept = [line for line in state.cart if line.product_id != product_id]
            if len(kept) == len(state.cart):
                return False
            state.cart = kept
            self._record(session, session_id, EventKind.REMOVED, [product_id])
            return True

    def shown(self, session_id: str, product_ids: list[str], intent: str) -> None:
        """Products shown outside the chat (an API search), in screen order."""
        positions = list(range(1, len(product_ids) + 1))
        with self._hold(session_id) as session:
            self._record(
                session, session_id, EventKind.SHOWN, product_ids, intent=intent,
                positions=positions,
            )  # fmt: skip

    def set_personalise(self, session_id: str, enabled: bool) -> None:
        """A session's privacy choice. Opting out forgets what was recorded so far, stops
        recording, and makes its own thumbs change nothing in the ranking."""
        with self._hold(session_id) as session:
            session.state.personalise = enabled
        if not enabled and self.events:
            self.events.forget(session_id)

    def _record(
        self,
        session: Session,
        session_id: str,
        kind: EventKind,
        product_ids: list[str],
        *,
        intent: str | None = None,
        positions: list[int] | None = None,
    ) -> None:
        if self.events is None or not session.state.personalise or not product_ids:
            return
        if session.events.take(len(product_ids)):
            log.warning("event rows over the per-minute cap dropped (session %s)", session_id)
            return
        try:
            self.events.record(session_id, kind, product_ids, intent=intent, positions=positions)
        except Exception:  # the log is a side channel: a full disk must not fail the turn
            log.exception("event log write failed (session %s)", session_id)

    def _record_turn(
        self, session: Session, session_id: str, reply: DialogueReply, cart_before: Counter
    ) -> None:
        """What this turn showed and what it changed in the cart."""
        intent = reply.intent
        shown = [s.card.id for s in (*reply.suggestions, *reply.alternatives)]
        positions = list(range(1, len(shown) + 1))
        self._record(
            session, session_id, EventKind.SHOWN, shown, intent=intent, positions=positions
        )
        if reply.product is not None and reply.action in OPENING_ACTIONS:
            self._record(session, session_id, EventKind.OPENED, [reply.product.id], intent=intent)
        cart_after = _cart_counts(session.state)
        added = [pid for pid in cart_after if cart_after[pid] > cart_before[pid]]
        removed = [pid for pid in cart_before if cart_before[pid] > cart_after[pid]]
        self._record(session, session_id, EventKind.ADDED, added, intent=intent)
        self._record(session, session_id, EventKind.REMOVED, removed, intent=intent)

    # Turns ----------------------------------------------------------------------------------
    def respond(
        self,
        session_id: str,
        text: str | bytes | None = None,
        image: Any = None,
        audio: Any = None,
        *,
        client: str | None = None,
    ) -> Reply:
        """One shopper turn. A new session opens on its first turn; `client` (the web app
        passes the browser's address) counts that against the client's new-session limit, and
        a refused opening is a "busy" reply (action `rate_limited`), never an eviction."""
        self.reload()
        self.live_catalog.check()  # a catalog update reloads here, before the session's lock
        if isinstance(text, bytes):  # raw client input: read as UTF-8, never fail on it
            text = text.decode("utf-8", errors="replace")
        notices = [] if self.prompt_error is None else [f"prompt files: {self.prompt_error}"]
        try:
            with self._hold(session_id, client) as session:
                return self._turn(session, session_id, text, image, audio, notices)
        except SessionRefused as exc:
            state = DialogueState(personalise=self.settings.personalise)
            return self._notice(state, str(exc), notices, action=RATE_LIMITED)
        except SessionStoreDown:  # logged by the store; the shopper may simply try again
            state = DialogueState(personalise=self.settings.personalise)
            return self._notice(state, STORE_DOWN, notices, action=UNAVAILABLE)

    def _turn(
        self,
        session: Session,
        session_id: str,
        text: str | None,
        image: Any,
        audio: Any,
        notices: list[str],
    ) -> Reply:
        """The turn itself, with the session's lock held."""
        if session.turns.take():
            return self._notice(session.state, SLOW_DOWN, notices, action=RATE_LIMITED)
        transcript = None
        if audio is not None:
            transcript, problem = self._transcribe(audio)
            if problem:
                return self._notice(session.state, problem, notices)
            text = " ".join(t for t in (text, transcript) if t)
        picture = None
        if image is not None:
            try:
                picture = image if hasattr(image, "convert") else load_image(image)
            except ImageRejected as exc:
                return self._notice(session.state, str(exc), notices)
        with self.live_catalog.turn(session_id, session.state) as changes:
            notices += changes  # re-priced or removed cart lines, said before the reply
            cart_before = _cart_counts(session.state)
            reply = self.model.respond(session.state, text, picture)
        self._record_turn(session, session_id, reply, cart_before)
        if reply.handoff is not None:
            state = session.state
            shared = None
            if reply.handoff.share:
                turns = [(turn.user, turn.reply) for turn in state.history]
                shared = shared_conversation(turns, [asdict(line) for line in state.cart])
            reply.text = self.hand_off(session_id, reply.text, shared)
        return Reply(reply.text, reply, transcript, notices)

    def _transcribe(self, audio: Any) -> tuple[str | None, str | None]:
        if self.transcriber is None:
            return None, "Voice input is not set up on this server; please type your message."
        try:
            transcript = self.transcriber(audio).strip()
        except ValueError as exc:
            return None, str(exc)
        if not transcript:
            return None, "I couldn't hear any words in that recording. Could you try again?"
        return transcript, None

    def _notice(
        self, state: DialogueState, message: str, notices: list[str], action: str = "input_error"
    ) -> Reply:
        dialogue = DialogueReply(message, "", action, cart=list(state.cart), state=state.to_dict())
        return Reply(message, dialogue, None, notices)


def _refusal(card: ProductCard, gap: VariantGap) -> str:
    """Why a caller's size/colour is refused, naming the choices as the dialogue does."""
    label = "colour" if gap.facet == "color" else gap.facet
    choices = ", ".join(gap.offered)
    if gap.missing:
        return f"{card.title} needs a {label}; choose one of: {choices}"
    options = f"choose one of: {choices}" if gap.offered else f"it has no {label} options"
    return f"{card.title} has no {label} {gap.chosen!r}; {options}"


def _cart_counts(state: DialogueState) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in state.cart:
        counts[line.product_id] += line.quantity
    return counts


def _stamp(prompts_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Size and modification time of each prompt file (a cheap change detector)."""
    stamp = []
    for name in PROMPT_FILES:
        try:
            info = (prompts_dir / name).stat()
        except OSError:
            stamp.append((name, -1, -1))
        else:
            stamp.append((name, info.st_size, info.st_mtime_ns))
    return tuple(stamp)
