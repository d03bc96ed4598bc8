"""Speech input: audio decoding, the two Whisper backends, WER and `eval asr`."""

from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.speech import (
    FasterWhisperTranscriber,
    SpeechError,
    SpeechUnavailable,
    build_transcriber,
)
from assistant.speech._transcribe import OpenAIWhisperTranscriber, clean_transcript, decode_audio
from evals._asr_eval import (
    QUERIES,
    AsrReport,
    corpus_wer,
    evaluate_asr,
    normalise_words,
    synthesise,
    word_errors,
    write_asr_report,
)
from evals._cli_asr import add_commands, slot_constraints

REPO = Path(__file__).resolve().parent.parent
SENTENCE = "show me blue jackets under fifty dollars"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> Path:
    """The test sentence spoken by espeak-ng (22.05 kHz WAV)."""
    folder = tmp_path_factory.mktemp("speech")
    return synthesise(SENTENCE, folder / "sentence.wav", voice="en-us", speed=160)


@pytest.fixture(scope="module")
def tiny_en() -> FasterWhisperTranscriber:
    transcriber = FasterWhisperTranscriber()
    transcriber.load()
    return transcriber


# Decoding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("suffix", "codec", "rate", "channels"),
    [
        ("wav", "pcm_s16le", 8000, 1),
        ("wav", "pcm_s16le", 44100, 2),
        ("mp3", "libmp3lame", 44100, 2),
        ("ogg", "libvorbis", 8000, 1),
        ("ogg", "libvorbis", 44100, 2),
        ("webm", "libopus", 48000, 1),
        ("webm", "libvorbis", 44100, 2),
    ],
)
def test_decodes_common_formats_at_any_rate_to_16k_mono(
    spoken: Path, tmp_path: Path, suffix: str, codec: str, rate: int, channels: int
):
    encoded = tmp_path / f"clip.{suffix}"
    ffmpeg("-i", str(spoken), "-ar", str(rate), "-ac", str(channels), "-c:a", codec, str(encoded))
    reference = decode_audio(spoken, max_seconds=30)
    for source in (encoded, str(encoded), encoded.read_bytes()):
        samples = decode_audio(source, max_seconds=30)
        assert samples.dtype == np.float32 and samples.ndim == 1
        # Same length as the original at 16 kHz (codec padding adds a few ms at most).
        assert abs(samples.size - reference.size) / 16_000 < 0.1
        assert np.sqrt(np.mean(samples**2)) > 0.01


def test_corrupt_and_non_audio_input_is_rejected_for_the_shopper(tmp_path: Path, spoken: Path):
    rng = np.random.default_rng(0)
    text_file = tmp_path / "notes.wav"
    text_file.write_text("this is not a recording\n" * 50)
    truncated = spoken.read_bytes()[:60]  # a WAV header and nothing else
    for source in (rng.bytes(4000), b"", truncated, text_file, tmp_path / "missing.ogg"):
        with pytest.raises(SpeechError, match="couldn't read that recording"):
            decode_audio(source, max_seconds=30)


def test_playlists_cannot_make_ffmpeg_open_other_files(tmp_path: Path, spoken: Path):
    playlist = f"#EXTM3U\n#EXTINF:3,\n{spoken}\n#EXT-X-ENDLIST\n".encode()
    with pytest.raises(SpeechError, match="couldn't read"):
        decode_audio(playlist, max_seconds=30)


def test_silence_is_reported_as_nothing_heard(tmp_path: Path):
    silent = tmp_path / "silent.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "2", str(silent))
    with pytest.raises(SpeechError, match="couldn't hear anything"):
        decode_audio(silent, max_seconds=30)


def test_too_long_recording_names_the_limit(tmp_path: Path):
    long = tmp_path / "long.mp3"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=5", str(long))
    assert decode_audio(long, max_seconds=6).size == pytest.approx(5 * 16_000, rel=0.02)
    with pytest.raises(SpeechError, match="longer than 2 seconds"):
        decode_audio(long, max_seconds=2)


def test_oversized_input_is_refused_before_decoding(spoken: Path):
    with pytest.raises(SpeechError, match="too large"):
        decode_audio(spoken, max_seconds=30, max_bytes=1000)


def test_whisper_non_speech_notes_are_not_words():
    assert clean_transcript(" [BLANK_AUDIO] ") == ""
    assert clean_transcript("♪ (music) ♪") == ""
    assert clean_transcript(" Blue jackets (laughs) please.") == "Blue jackets please."


# faster-whisper -------------------------------------------------------------------------------
@pytest.mark.slow
def test_tiny_en_transcribes_a_shopping_request(tiny_en: FasterWhisperTranscriber, spoken: Path):
    result = tiny_en.transcribe(spoken)
    words = normalise_words(result.text)
    assert {"blue", "under", "50"} <= set(words), result.text
    assert any(w.startswith("jacket") for w in words), result.text
    assert result.language == "en"
    assert result.duration_s == pytest.approx(2.6, abs=0.5)
    assert 0 < result.real_time_factor < 1.5
    # The Assistant's Callable[[audio], str], fed bytes or decoded samples alike.
    assert tiny_en(spoken.read_bytes()) == result.text
    assert tiny_en(decode_audio(spoken, max_seconds=30)) == result.text


@pytest.mark.slow
def test_tiny_en_hears_no_words_in_noise(tiny_en: FasterWhisperTranscriber, tmp_path: Path):
    noise = tmp_path / "noise.ogg"
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=3:c=pink:a=0.3:seed=1", str(noise))
    with pytest.raises(SpeechError, match="couldn't make out any words"):
        tiny_en.transcribe(noise)


def test_backend_factory_and_bad_model_settings(tmp_path: Path):
    transcriber = build_transcriber("faster-whisper", None, 12.0)
    assert isinstance(transcriber, FasterWhisperTranscriber)
    assert (Path(transcriber.model_name) / "model.bin").is_file()  # the bundled tiny.en
    assert transcriber.max_seconds == 12.0
    with pytest.raises(ValueError, match="faster-whisper, openai-whisper"):
        build_transcriber("vosk", None, 30)
    with pytest.raises(ValueError, match="openai-whisper needs a model"):
        build_transcriber("openai-whisper", None, 30)
    with pytest.raises(ValueError, match="model folder not found"):
        build_transcriber("faster-whisper", str(tmp_path / "nope"), 30)


def test_a_model_that_cannot_load_apologises_to_the_shopper(tmp_path: Path, spoken: Path):
    # Not a folder nor in the local Hugging Face cache, and nothing is ever downloaded.
    transcriber = FasterWhisperTranscriber("shopassist-no-such-model")
    with pytest.raises(SpeechUnavailable, match="isn't working") as caught:
        transcriber(spoken)
    assert "shopassist-no-such-model" in caught.value.reason
    cached_name = OpenAIWhisperTranscriber("tiny.en", download_root=tmp_path)
    with pytest.raises(SpeechUnavailable) as caught:
        cached_name.load()
    assert "never downloads" in caught.value.reason


# openai-whisper -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def random_whisper_checkpoint(tmp_path_factory) -> Path:
    """A tiny randomly initialised English Whisper saved the way `whisper.load_model` reads."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,  # fixed by Whisper's 30 s window
        n_audio_state=32,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51864,  # the English-only tokenizer
        n_text_ctx=64,
        n_text_state=32,
        n_text_head=2,
        n_text_layer=1,
    )
    path = tmp_path_factory.mktemp("whisper") / "tiny-random.pt"
    model = Whisper(dims)
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


@pytest.mark.slow
def test_openai_whisper_backend_runs_a_checkpoint(random_whisper_checkpoint: Path, spoken: Path):
    transcriber = build_transcriber("openai-whisper", str(random_whisper_checkpoint), 30)
    assert isinstance(transcriber, OpenAIWhisperTranscriber)
    model = transcriber.load()
    assert model.dims.n_text_state == 32 and transcriber.load() is model  # cached
    # Random weights say nothing sensible (and can drive Whisper's sampler into NaN logits),
    # but the wiring must hold: text, or a message for the shopper, never a crash.
    try:
        text = transcriber(spoken)
    except SpeechError as exc:
        assert "couldn't make" in str(exc) and "logits" not in str(exc)
    else:
        assert isinstance(text, str) and text == text.strip() and text


@pytest.mark.slow
def test_openai_whisper_empty_output_or_failure_is_a_speech_error(
    random_whisper_checkpoint: Path, spoken: Path, monkeypatch
):
    import whisper

    transcriber = OpenAIWhisperTranscriber(random_whisper_checkpoint)
    monkeypatch.setattr(whisper, "transcribe", lambda *a, **k: {"text": " ", "language": "en"})
    with pytest.raises(SpeechError, match="couldn't make out any words"):
        transcriber(spoken)

    def broken(*args, **kwargs):
        raise ValueError("Expected parameter logits to satisfy the constraint")

    monkeypatch.setattr(whisper, "transcribe", broken)
    with pytest.raises(SpeechError, match="couldn't make sense of that recording"):
        transcriber(spoken)


# Word error rate --------------------------------------------------------------------------------
def test_normalisation_makes_written_and_spoken_forms_equal():
    assert normalise_words("Show me Blue Jackets under $50.") == normalise_words(SENTENCE)
    assert normalise_words("a thirty-two inch waist") == ["a", "32", "inch", "waist"]
    assert normalise_words("under a hundred and five bucks") == ["under", "105"]
    assert normalise_words("five fifty") == ["5", "50"]
    assert normalise_words("Grey T shirt, extra-large") == ["gray", "t-shirt", "xl"]
    assert normalise_words("Men's $1,200 jacket") == ["men's", "1200", "jacket"]


def test_word_errors_counts_each_kind_of_edit():
    assert word_errors(SENTENCE, "Show me blue jackets under $50!").wer == 0
    errors = word_errors("red tees for men", "red teas for the men")
    assert (errors.substitutions, errors.deletions, errors.insertions) == (1, 0, 1)
    assert errors.wer == pytest.approx(2 / 4)
    errors = word_errors("gray hoodies in size xl", "gray hoodies")
    assert (errors.deletions, errors.wer) == (3, pytest.approx(3 / 5))
    assert word_errors("blue", "").wer == 1.0
    assert word_errors("", "").wer == 0.0
    # Corpus WER weighs by reference length, not an average of sentence rates.
    assert corpus_wer([("a b c d", "a b c d"), ("e f", "x")]) == pytest.approx(2 / 6)


def test_the_query_set_is_large_and_uses_catalog_words():
    assert len(set(QUERIES)) == len(QUERIES) >= 50
    text = " ".join(QUERIES)
    for word in ("jackets", "hoodies", "tees", "pants", "shorts", "bag", "watches", "yoga mat"):
        assert word in text
    for word in ("black", "blue", "gray", "green", "red", "white", "purple", "orange", "yellow"):
        assert word in text
    assert "under fifty dollars" in text and "between twenty and forty dollars" in text


# eval asr ---------------------------------------------------------------------------------------
def colours(text: str) -> list[str]:
    words = normalise_words(text)
    return sorted({w for w in words if w in {"blue", "gray", "black", "red", "green", "white"}})


@pytest.mark.slow
def test_eval_asr_reports_wer_speed_and_constraint_match(
    tiny_en: FasterWhisperTranscriber, tmp_path: Path
):
    report = evaluate_asr(
        tiny_en,
        queries=QUERIES[:4],
        voices=["en-us", "en-us+f3"],
        speeds=[160],
        constraints=colours,
        work_dir=tmp_path,
        progress=False,
    )
    assert isinstance(report, AsrReport) and len(report.samples) == 8
    assert 0 <= report.wer <= 1 and 0 < report.real_time_factor < 2
    assert report.constraint_exact_match is not None
    assert report.word_perfect_mismatches == sum(
        s.edits == 0 and not s.constraints_match for s in report.samples
    )
    assert 0 <= report.constraint_exact_match <= 1
    sample = report.samples[0]
    assert sample.reference == QUERIES[0] and sample.reference_constraints == ["blue"]
    assert sample.audio_seconds > 1 and sample.reference_words == 6
    assert set(report.breakdown("voice")) == {"en-us", "en-us+f3"}
    paths = write_asr_report(report, tmp_path / "out")
    data = json.loads(paths[0].read_text())
    assert data["recordings"] == 8 and data["wer"] == report.wer
    assert data["targets"] == {"wer": 0.10, "real_time_factor": 0.3}
    assert "| WER |" in paths[1].read_text()
    assert not list(tmp_path.glob("shopassist-asr-*"))  # synthesised audio cleaned up


def test_slot_constraints_compare_what_the_dialogue_would_search_for():
    vocabulary = {
        "category": ["jackets", "hoodies & sweatshirts", "tees"],
        "color": ["blue", "gray", "black"],
        "size": ["xs", "s", "m", "l", "xl"],
    }
    constraints = slot_constraints(vocabulary, REPO / "prompts" / "nlu.yml")
    spoken = constraints(SENTENCE)
    assert ["color", "blue", False] in spoken["entities"]
    assert ["category", "jackets", False] in spoken["entities"]
    assert spoken["price"] == [None, 50.0]
    assert constraints("Show me blue jackets under $50.") == spoken
    assert constraints("Show me blue jackets under $15.") != spoken
    assert constraints("Show me jackets but not blue, under $50.") != spoken
    # Spoken and written waist sizes read alike, as the dialogue reads them.
    waist = slot_constraints(
        {**vocabulary, "size": ["30", "32", "34"]}, REPO / "prompts" / "nlu.yml"
    )
    assert waist("pants in waist thirty four") == waist("pants in waist 34")
    assert ["size", "34", False] in waist("pants in waist thirty four")["entities"]


@pytest.mark.slow
def test_eval_asr_command(tmp_path: Path, capsys):
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    add_commands(commands.add_parser("eval").add_subparsers())
    argv = ["eval", "asr", "--limit", "1", "--voices", "en-us", "--speeds", "170"]
    args = parser.parse_args([*argv, "--no-progress", "--out", str(tmp_path / "eval")])
    assert args.handler(args, Settings(data_dir=tmp_path)) == 0
    data = json.loads((tmp_path / "eval" / "asr.json").read_text())
    assert data["backend"] == "faster-whisper" and data["recordings"] == 1
    assert data["constraint_exact_match"] is None  # empty store: skipped, with a warning
    assert data["phrase_model"] is True  # re-ranked as the app does
    assert "constraint exact-match is skipped" in capsys.readouterr().err
    own = tmp_path / "queries.txt"
    own.write_text("# my queries\nred hoodies\n\n", encoding="utf-8")
    argv = [*argv, "--queries", str(own), "--phrase-model", "none", "--no-progress"]
    args = parser.parse_args([*argv, "--out", str(tmp_path / "own")])
    assert args.handler(args, Settings(data_dir=tmp_path)) == 0
    data = json.loads((tmp_path / "own" / "asr.json").read_text())
    assert [s["reference"] for s in data["samples"]] == ["red hoodies"]
    assert data["phrase_model"] is False
    own.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no query"):
        args.handler(args, Settings(data_dir=tmp_path))
    bad = parser.parse_args(["eval", "asr", "--speeds", "fast"])
    with pytest.raises(ValueError, match="--speeds"):
        bad.handler(bad, Settings(data_dir=tmp_path))


class TestBenchEndToEnd:
    @pytest.mark.slow
    def test_reports_text_and_voice_turns_and_memory(self, assistant, tmp_path):
        from evals._bench_e2e import CONVERSATIONS, run

        report = run(assistant, rounds=1, voice_repeat=1, out_dir=tmp_path)
        assert report["text_turn_ms"]["n"] == sum(len(c) for c in CONVERSATIONS)
        assert 0 < report["text_turn_ms"]["p50"] <= report["text_turn_ms"]["p95"]
        assert report["voice_turn_ms"]["n"] == 1 and report["voice_turn_ms"]["audio_seconds"] == 5
        # memory is reported with the models in it; it need not only grow (a collection may
        # hand pages back between the two readings)
        assert report["rss_mb_models_loaded"] > 100 and report["rss_mb_end"] > 100
        assert (tmp_path / "e2e.json").exists()
