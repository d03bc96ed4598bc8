"""Voice messages: speech to text (`_transcribe.py`: audio decoding, the Whisper backends) and
the phrase model that picks among Whisper's guesses (`_phrase_model.py`).

What the rest of the assistant (and `shopassist eval asr`) uses is re-exported here; the
modules behind it are private. The transcriber's names load their module on first use: the
`Assistant` builds the phrase model at start-up and the transcriber only when voice is on, so
importing the one must not import the other.
"""

from typing import TYPE_CHECKING

from assistant._lazy import lazy_names
from assistant.speech._phrase_model import (
    DEFAULT_WEIGHT,
    DEFAULT_WORD_BONUS,
    PhraseModel,
    normalise_words,
    phrase_model_for,
)

if TYPE_CHECKING:
    from assistant.speech._transcribe import (
        BACKENDS,
        DEFAULT_MAX_SECONDS,
        SPEECH_FILE,
        FasterWhisperTranscriber,
        SpeechError,
        SpeechUnavailable,
        Transcriber,
        build_transcriber,
        load_example_requests,
        store_prompt,
    )

_TRANSCRIBER = (  # loaded on first use
    "BACKENDS",
    "DEFAULT_MAX_SECONDS",
    "SPEECH_FILE",
    "FasterWhisperTranscriber",
    "SpeechError",
    "SpeechUnavailable",
    "Transcriber",
    "build_transcriber",
    "load_example_requests",
    "store_prompt",
)

__all__ = [
    "BACKENDS",
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_WEIGHT",
    "DEFAULT_WORD_BONUS",
    "SPEECH_FILE",
    "FasterWhisperTranscriber",
    "PhraseModel",
    "SpeechError",
    "SpeechUnavailable",
    "Transcriber",
    "build_transcriber",
    "load_example_requests",
    "normalise_words",
    "phrase_model_for",
    "store_prompt",
]

__getattr__ = lazy_names(__name__, {name: ("_transcribe", name) for name in _TRANSCRIBER})
