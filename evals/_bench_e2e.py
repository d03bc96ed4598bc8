"""`shopassist bench e2e`: whole turns as a shopper feels them.

A text turn is NLU + state + search + reply through `Assistant.respond` (no LLM); a voice turn
adds decoding and transcribing a 5-second recording synthesised with espeak-ng; a photo turn
adds encoding a shopper's photo (a store photo, cropped) and reading its kind. Figures are
printed and saved, never asserted: timing belongs here, not in the tests.
"""

from __future__ import annotations

import json
import random
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from assistant import Assistant
from evals._retrieval_bench import percentiles, rss_mb

# Short scripted conversations: each turn builds on the previous ones, as in a real session.
CONVERSATIONS = (
    ("show me women's jackets", "in blue", "under $60", "compare the first two",
     "add the second one", "M"),
    ("men's hoodies", "not black", "cheapest first", "tell me about the first one",
     "what's in my cart"),
    ("yoga gear for women", "show more", "any reviews for the first one?", "what goes with it"),
    ("a waterproof jacket for hiking", "size L", "what's your return policy?", "thanks, bye"),
)  # fmt: skip
VOICE_QUERY = "show me black yoga pants for women in size medium under fifty dollars please"
VOICE_SECONDS = 5.0
PHOTO_TURNS = 40
PHOTO_SEED = 11


def bench_text_turns(assistant: Assistant, rounds: int) -> dict[str, Any]:
    """Every turn of the scripted conversations, `rounds` times, each round a new session and
    cold search caches (a repeated query would otherwise be a cache hit)."""
    samples: list[float] = []
    for _ in range(rounds):
        assistant.stack.engine.refresh()
        for conversation in CONVERSATIONS:
            session = f"bench-{uuid.uuid4().hex}"
            for text in conversation:
                samples.append(_time(partial(assistant.respond, session, text)))
    return percentiles(samples)


def bench_voice_turns(assistant: Assistant, repeat: int, work_dir: Path) -> dict[str, Any]:
    """A 5-second spoken request, transcribed and answered."""
    clip = five_second_clip(work_dir)
    session = f"bench-{uuid.uuid4().hex}"
    assistant.respond(session, audio=clip)  # loads the speech model; not timed
    turn = partial(assistant.respond, session, audio=clip)
    samples = [_time(turn) for _ in range(repeat)]
    return {**percentiles(samples), "audio_seconds": VOICE_SECONDS}


def bench_photo_turns(assistant: Assistant, repeat: int) -> dict[str, Any] | None:
    """A photo with "like this": the store's own product photos, each cropped (so no two
    photos are the same), a new session each; None for a store without photos."""
    from evals._retrieval_eval import alter
    from retrieval import load_image

    products = [p for p in assistant.stack.engine.view.products.values() if p.images]
    if not products:
        return None
    rng = random.Random(PHOTO_SEED)
    photos = [
        alter(load_image(products[n % len(products)].images[0].path), "crop", rng)
        for n in range(repeat + 1)
    ]
    assistant.respond(f"bench-{uuid.uuid4().hex}", "like this", image=photos[0])  # untimed
    samples = [
        _time(partial(assistant.respond, f"bench-{uuid.uuid4().hex}", "like this", image=photo))
        for photo in photos[1:]
    ]
    return percentiles(samples)


def five_second_clip(work_dir: Path) -> Path:
    """espeak-ng speech padded with silence to exactly five seconds (16 kHz mono WAV)."""
    speech = work_dir / "speech.wav"
    clip = work_dir / "voice-5s.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(speech), VOICE_QUERY], check=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(speech), "-af",
         f"apad=whole_dur={VOICE_SECONDS}", "-t", str(VOICE_SECONDS), "-ac", "1", "-ar", "16000",
         str(clip)],
        check=True,
    )  # fmt: skip
    return clip


def run(
    assistant: Assistant,
    rounds: int,
    voice_repeat: int,
    out_dir: Path,
    photo_repeat: int = PHOTO_TURNS,
) -> dict[str, Any]:
    report: dict[str, Any] = {"rss_mb_models_loaded": round(rss_mb())}
    warm = f"bench-{uuid.uuid4().hex}"
    for text in CONVERSATIONS[0]:
        assistant.respond(warm, text)  # caches and lazy imports, untimed
    report["text_turn_ms"] = bench_text_turns(assistant, rounds)
    if voice_repeat and assistant.transcriber is not None:
        with tempfile.TemporaryDirectory(prefix="shopassist-e2e-") as work:
            report["voice_turn_ms"] = bench_voice_turns(assistant, voice_repeat, Path(work))
    if photo_repeat and assistant.stack.image_encoder is not None:
        photo = bench_photo_turns(assistant, photo_repeat)
        if photo is not None:
            report["photo_turn_ms"] = photo
    report["rss_mb_end"] = round(rss_mb())
    report["targets"] = {
        "text_turn_p95_ms": 200, "voice_turn_p95_ms": 1500, "photo_turn_p95_ms": 300,
        "rss_mb": 2560,
    }  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "e2e.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _time(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000
