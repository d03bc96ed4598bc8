"""The `Assistant` facade: sessions, input decoding and the dialogue model, behind one call.

`respond(session_id, text=None, image=None, audio=None) -> Reply`. Sessions are isolated (one
lock and one state each). Prompt files are watched: an edit retrains the NLU on the next turn,
and a broken edit keeps the last good model running and says why in `prompt_error`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant._catalog import RetrievalCatalog
from assistant._retrieval import RetrievalStack, build_retrieval
from assistant.config import Settings
from dialogue import (
    PROMPT_FILES,
    DialogueModel,
    DialogueReply,
    DialogueState,
    NluDataError,
    PromptFileError,
    TrainingReport,
    prompts_hash,
)
from retrieval import ImageRejected, load_image

log = logging.getLogger(__name__)
SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_SESSIONS = 10_000
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


@dataclass(slots=True)
class _Session:
    state: DialogueState = field(default_factory=DialogueState)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Assistant:
    def __init__(
        self,
        settings: Settings,
        stack: RetrievalStack | None = None,
        *,
        transcriber: Transcriber | None = None,
        retrain: bool = False,
    ) -> None:
        self.settings = settings
        self.stack = stack or build_retrieval(settings)
        self.catalog = RetrievalCatalog(self.stack.engine)
        self.transcriber = transcriber if transcriber is not None else self._speech()
        self.prompt_error: str | None = None
        self.training: TrainingReport | None = None
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._sessions_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._prompts_hash = ""
        self._prompts_stamp: tuple[tuple[str, int, int], ...] = ()
        self._model: DialogueModel | None = None
        self.reload(force=True, retrain=retrain)

    def _speech(self) -> Transcriber | None:
        """The configured speech backend; its model loads on the first voice turn."""
        if self.settings.speech_backend == "none":
            return None
        from assistant._speech import build_transcriber, vocabulary_prompt

        return build_transcriber(
            self.settings.speech_backend,
            self.settings.speech_model,
            self.settings.speech_max_seconds,
            # Measured by `shopassist eval asr`: the catalog's words as Whisper's prompt and
            # beam search cut word errors by a third on synthesised shopping queries.
            initial_prompt=vocabulary_prompt(self.catalog.vocabulary()),
            beam_size=5,
        )

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
                )
            except (PromptFileError, NluDataError, ValueError) as exc:
                self.prompt_error = str(exc)
                self._prompts_hash = current
                if self._model is None:
                    raise
                log.error("prompt files not reloaded, keeping the last good version: %s", exc)
                return False
            self._model, self.training = model, report
            self._prompts_hash = current
            self.prompt_error = None
            return True

    @property
    def model(self) -> DialogueModel:
        assert self._model is not None
        return self._model

    # Sessions -------------------------------------------------------------------------------
    def _session(self, session_id: str) -> _Session:
        if not SESSION_ID.match(session_id or ""):
            raise ValueError("session id: 1-128 letters, digits, '_', '-', '.', ':'")
        with self._sessions_lock:
            session = self._sessions.get(session_id)
            if session is None:
                session = self._sessions[session_id] = _Session()
                while len(self._sessions) > MAX_SESSIONS:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(session_id)
            return session

    def state(self, session_id: str) -> DialogueState:
        return self._session(session_id).state

    def reset(self, session_id: str) -> None:
        with self._sessions_lock:
            self._sessions.pop(session_id, None)

    # Turns ----------------------------------------------------------------------------------
    def respond(
        self,
        session_id: str,
        text: str | None = None,
        image: Any = None,
        audio: Any = None,
    ) -> Reply:
        self.reload()
        session = self._session(session_id)
        notices = [] if self.prompt_error is None else [f"prompt files: {self.prompt_error}"]
        transcript = None
        with session.lock:
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
            reply = self.model.respond(session.state, text, picture)
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

    def _notice(self, state: DialogueState, message: str, notices: list[str]) -> Reply:
        dialogue = DialogueReply(
            message, "", "input_error", cart=list(state.cart), state=state.to_dict()
        )
        return Reply(message, dialogue, None, notices)


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
