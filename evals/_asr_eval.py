"""`shopassist eval asr`: word error rate, speed and slot agreement of the speech backend.

Shopping queries written from the Luma store's vocabulary are spoken by espeak-ng in several
voices and speeds, transcribed, and scored three ways:

- **WER**: word-level Levenshtein distance over the whole set (edits / reference words) after
  `normalise_words`.
- **Real-time factor**: transcription wall time (decoding + recognition) / audio seconds.
- **Constraint exact-match**: a caller's `constraints(text)` (the dialogue's slot extractor in
  the CLI) applied to the reference and to the transcript gives equal results. This is what a
  shopper feels: "$50" and "fifty dollars" differ as words but ask for the same thing.

Synthetic speech is clean and regular, so these figures are an upper bound for real voices.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
import wave
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from assistant.speech import FasterWhisperTranscriber, SpeechError, Transcriber, normalise_words

DEFAULT_VOICES = ("en-us", "en-gb", "en-us+f3")
DEFAULT_SPEEDS = (140, 170)
TARGET_WER = 0.10
TARGET_RTF = 0.3
ESPEAK_TIMEOUT_S = 30.0

# Written from the Luma sample store's vocabulary: categories, colours, sizes (letters and
# waists), genders, materials, activities, styles and price phrases.
QUERIES: tuple[str, ...] = (
    "show me blue jackets under fifty dollars",
    "do you have gray hoodies in size XL",
    "I need black yoga pants for women",
    "red tees for men under twenty dollars",
    "green shorts between twenty and forty dollars",
    "looking for a white tank top in size small",
    "any purple sweatshirts in extra large",
    "orange running shorts for men",
    "a yellow rain jacket in medium",
    "a black leather bag under a hundred dollars",
    "show me watches under seventy dollars",
    "I want a yoga mat that is not purple",
    "men's pants with a thirty two inch waist",
    "women's leggings in size XS",
    "a blue hoodie but not gray",
    "a cheap black gym bag",
    "a waterproof jacket for hiking",
    "white cotton tees in size large",
    "do you have pants in waist thirty four",
    "a green fleece jacket for women under sixty dollars",
    "a red sports bra in size medium",
    "gray sweatpants for men",
    "a backpack for school under forty dollars",
    "a purple tank for yoga",
    "show me lightweight shorts for running",
    "an orange windbreaker in size XL",
    "black compression tights for the gym",
    "a blue duffel bag for travel",
    "a brown leather watch for men",
    "women's jackets between fifty and eighty dollars",
    "men's hoodies in black or blue",
    "white tees under fifteen dollars",
    "a yellow pullover for women in small",
    "a nylon jacket in size large",
    "show me pants in waist thirty",
    "a green yoga mat under thirty dollars",
    "a gray full zip hoodie in medium",
    "red shorts in waist twenty eight",
    "anything but black jackets",
    "lavender tees for women",
    "a polyester running tee in extra small",
    "a black messenger bag for my laptop",
    "blue capri pants in size medium",
    "a wool jacket under a hundred dollars",
    "men's shorts in waist thirty six",
    "I'd like a white hoodie in extra large",
    "show me orange tees for men",
    "a purple jacket for women in size small",
    "a gray tote bag under thirty five dollars",
    "black hiking pants in waist thirty one",
    "a soft shell jacket in blue",
    "a green tank top for the gym",
    "watches between forty and sixty dollars",
    "yellow tees for girls",
    "a blue jacket under seventy five dollars",
    "a white sweatshirt for women over twenty dollars",
    "show me men's black tees in size medium",
    "a foam yoga mat in purple",
    "gray shorts in size large under thirty dollars",
    "blue and white jackets for men",
)


@dataclass(frozen=True, slots=True)
class WordErrors:
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def edits(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.edits == 0 else 1.0
        return self.edits / self.reference_words


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Minimum substitutions + deletions + insertions turning the reference into the
    hypothesis (normalised words), split by kind."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    # Each cell: (edits, substitutions, deletions, insertions) turning ref[:i] into hyp[:j].
    previous = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        current = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            e, s, d, n = previous[j - 1]
            keep_or_swap = (e, s, d, n) if ref[i - 1] == hyp[j - 1] else (e + 1, s + 1, d, n)
            e, s, d, n = previous[j]
            delete = (e + 1, s, d + 1, n)
            e, s, d, n = current[j - 1]
            insert = (e + 1, s, d, n + 1)
            current.append(min(keep_or_swap, delete, insert))
        previous = current
    _, s, d, n = previous[-1]
    return WordErrors(s, d, n, len(ref))


def corpus_wer(pairs: Sequence[tuple[str, str]]) -> float:
    """Total edits / total reference words over (reference, hypothesis) pairs."""
    errors = [word_errors(r, h) for r, h in pairs]
    words = sum(e.reference_words for e in errors)
    return sum(e.edits for e in errors) / words if words else 0.0


# Synthesis --------------------------------------------------------------------------------------
def synthesise(text: str, path: Path, *, voice: str, speed: int) -> Path:
    """Speak `text` with espeak-ng into a WAV file (22.05 kHz mono, espeak's own rate)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise ValueError("espeak-ng is not installed (apt-get install espeak-ng)")
    command = [espeak, "-v", voice, "-s", str(speed), "-w", str(path), "--stdin"]
    done = subprocess.run(
        command, input=text.encode(), capture_output=True, timeout=ESPEAK_TIMEOUT_S
    )
    if done.returncode != 0 or not path.exists():
        message = done.stderr.decode(errors="replace").strip()
        raise ValueError(f"espeak-ng failed for voice {voice!r} at {speed} wpm: {message}")
    return path


# Evaluation -------------------------------------------------------------------------------------
@dataclass(slots=True)
class AsrSample:
    reference: str
    voice: str
    speed: int
    transcript: str
    audio_seconds: float
    seconds: float
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int
    constraints_match: bool | None = None
    reference_constraints: Any = None
    transcript_constraints: Any = None
    error: str | None = None

    @property
    def edits(self) -> int:
        return self.substitutions + self.deletions + self.insertions


@dataclass(slots=True)
class AsrReport:
    backend: str
    model: str
    initial_prompt: str | None
    voices: list[str]
    speeds: list[int]
    queries: int
    beam_size: int = 1
    phrase_model: bool = False
    samples: list[AsrSample] = field(default_factory=list)

    @property
    def wer(self) -> float:
        words = sum(s.reference_words for s in self.samples)
        return sum(s.edits for s in self.samples) / words if words else 0.0

    @property
    def real_time_factor(self) -> float:
        audio = sum(s.audio_seconds for s in self.samples)
        return sum(s.seconds for s in self.samples) / audio if audio else 0.0

    @property
    def sentence_accuracy(self) -> float:
        """Share of recordings transcribed with no word error at all."""
        return _share([s.edits == 0 for s in self.samples])

    @property
    def constraint_exact_match(self) -> float | None:
        checked = [s.constraints_match for s in self.samples if s.constraints_match is not None]
        return _share(checked) if checked else None

    @property
    def word_perfect_mismatches(self) -> int:
        """Recordings transcribed without a word error whose constraints still differ: the
        extractor reads the spoken and the written form differently ("seventy dollars" vs
        "$70"), a finding for the slot extractor rather than for speech recognition."""
        return sum(1 for s in self.samples if s.edits == 0 and s.constraints_match is False)

    def breakdown(self, key: str) -> dict[str, dict[str, float]]:
        """WER, RTF and constraint exact-match per voice or per speed."""
        groups: dict[str, list[AsrSample]] = defaultdict(list)
        for sample in self.samples:
            groups[str(getattr(sample, key))].append(sample)
        out: dict[str, dict[str, float]] = {}
        for name, samples in groups.items():
            part = AsrReport(self.backend, self.model, None, [], [], 0, samples=samples)
            row = {"wer": part.wer, "rtf": part.real_time_factor, "n": float(len(samples))}
            if part.constraint_exact_match is not None:
                row["constraint_exact_match"] = part.constraint_exact_match
            out[name] = row
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            "initial_prompt": self.initial_prompt,
            "voices": self.voices,
            "speeds": self.speeds,
            "queries": self.queries,
            "beam_size": self.beam_size,
            "phrase_model": self.phrase_model,
            "recordings": len(self.samples),
            "wer": self.wer,
            "real_time_factor": self.real_time_factor,
            "sentence_accuracy": self.sentence_accuracy,
            "constraint_exact_match": self.constraint_exact_match,
            "word_perfect_mismatches": self.word_perfect_mismatches,
            "targets": {"wer": TARGET_WER, "real_time_factor": TARGET_RTF},
            "by_voice": self.breakdown("voice"),
            "by_speed": self.breakdown("speed"),
            "samples": [asdict(s) for s in self.samples],
        }

    def markdown(self, worst: int = 10) -> str:
        cem = self.constraint_exact_match
        lines = [
            f"## ASR: {self.backend}, model {self.model}",
            "",
            f"{len(self.samples)} recordings: {self.queries} queries x voices "
            f"{', '.join(self.voices)} x speeds {', '.join(map(str, self.speeds))} wpm "
            f"(espeak-ng); Whisper prompt: {_describe(self.initial_prompt)}; "
            f"beam size {self.beam_size}; "
            f"phrase model re-ranking: {'yes' if self.phrase_model else 'no'}.",
            "",
            "| metric | value | target |",
            "|---|---|---|",
            f"| WER | {self.wer:.1%} | <= {TARGET_WER:.0%} |",
            f"| real-time factor | {self.real_time_factor:.3f} | <= {TARGET_RTF} |",
            f"| sentences without error | {self.sentence_accuracy:.1%} | |",
            f"| constraint exact-match | {'n/a' if cem is None else f'{cem:.1%}'} | |",
            f"| ... mismatches on word-perfect transcripts | {self.word_perfect_mismatches} | |",
            "",
            "| voice / speed | WER | RTF | constraint exact-match | n |",
            "|---|---|---|---|---|",
        ]
        for key in ("voice", "speed"):
            for name, row in self.breakdown(key).items():
                match = row.get("constraint_exact_match")
                lines.append(
                    f"| {name} | {row['wer']:.1%} | {row['rtf']:.3f} | "
                    f"{'n/a' if match is None else f'{match:.1%}'} | {row['n']:.0f} |"
                )
        wrong = sorted(
            (s for s in self.samples if s.edits or s.constraints_match is False),
            key=lambda s: (-s.edits, s.reference),
        )[:worst]
        if wrong:
            lines += ["", "Worst transcripts:", ""]
            lines += [
                f"- [{s.voice} {s.speed}] {s.reference!r} -> {s.transcript!r}"
                + (" (constraints differ)" if s.constraints_match is False else "")
                for s in wrong
            ]
        return "\n".join(lines)


def evaluate_asr(
    transcriber: Transcriber,
    *,
    queries: Sequence[str] = QUERIES,
    voices: Sequence[str] = DEFAULT_VOICES,
    speeds: Sequence[int] = DEFAULT_SPEEDS,
    constraints: Callable[[str], Any] | None = None,
    work_dir: Path | None = None,
    progress: bool = True,
) -> AsrReport:
    """Speak every query in every voice and speed, transcribe, and score."""
    if not queries or not voices or not speeds:
        raise ValueError("need at least one query, voice and speed")
    transcriber.load()  # so the first sample's time is recognition, not model loading
    report = AsrReport(
        backend=transcriber.backend,
        model=transcriber.model_name,
        initial_prompt=transcriber.initial_prompt,
        voices=list(voices),
        speeds=list(speeds),
        queries=len(queries),
        beam_size=transcriber.beam_size,
        phrase_model=isinstance(transcriber, FasterWhisperTranscriber)
        and transcriber.phrase_model is not None,
    )
    jobs = [(q, v, s) for q in queries for v in voices for s in speeds]
    with tempfile.TemporaryDirectory(prefix="shopassist-asr-", dir=work_dir) as folder:
        _warm_up(transcriber, Path(folder), voices[0], speeds[0])
        for n, (query, voice, speed) in enumerate(
            tqdm(jobs, desc="eval asr", disable=not progress)
        ):
            wav = synthesise(query, Path(folder) / f"{n:04d}.wav", voice=voice, speed=speed)
            report.samples.append(_score(transcriber, wav, query, voice, speed, constraints))
            wav.unlink()
    return report


def _warm_up(transcriber: Transcriber, folder: Path, voice: str, speed: int) -> None:
    """One untimed run: the first inference pays one-off allocation costs."""
    wav = synthesise("hello", folder / "warm-up.wav", voice=voice, speed=speed)
    with contextlib.suppress(SpeechError):
        transcriber.transcribe(wav)


def _score(
    transcriber: Transcriber,
    wav: Path,
    query: str,
    voice: str,
    speed: int,
    constraints: Callable[[str], Any] | None,
) -> AsrSample:
    with wave.open(str(wav), "rb") as header:
        audio_seconds = header.getnframes() / header.getframerate()
    error = None
    started = time.perf_counter()
    try:
        transcript = transcriber.transcribe(wav).text
    except SpeechError as exc:  # no transcript scores as every word deleted
        transcript, error = "", str(exc)
    seconds = time.perf_counter() - started
    errors = word_errors(query, transcript)
    sample = AsrSample(
        reference=query,
        voice=voice,
        speed=speed,
        transcript=transcript,
        audio_seconds=audio_seconds,
        seconds=seconds,
        substitutions=errors.substitutions,
        deletions=errors.deletions,
        insertions=errors.insertions,
        reference_words=errors.reference_words,
        error=error,
    )
    if constraints is not None:
        sample.reference_constraints = constraints(query)
        sample.transcript_constraints = constraints(transcript)
        sample.constraints_match = sample.reference_constraints == sample.transcript_constraints
    return sample


def write_asr_report(report: AsrReport, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = out / "asr.json"
    data.write_text(json.dumps(report.to_dict(), indent=2, default=str), encoding="utf-8")
    text = out / "asr.md"
    text.write_text(report.markdown() + "\n", encoding="utf-8")
    return [data, text]


def _describe(prompt: str | None) -> str:
    if not prompt:
        return "none"
    words = prompt.split()
    return f"{len(words)} words ending {' '.join(words[-6:])!r}"


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0
