"""`shopassist eval asr`: speech-to-text on synthesised shopper requests."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.config import Settings
from assistant.speech import (
    BACKENDS,
    DEFAULT_MAX_SECONDS,
    DEFAULT_WEIGHT,
    DEFAULT_WORD_BONUS,
    SPEECH_FILE,
    SpeechUnavailable,
    build_transcriber,
    load_example_requests,
    phrase_model_for,
    store_prompt,
)
from evals._asr_eval import (
    DEFAULT_SPEEDS,
    DEFAULT_VOICES,
    QUERIES,
    evaluate_asr,
    write_asr_report,
)

console = Console()
errors = Console(stderr=True)
PROMPTS = ("none", "catalog", "store")
PHRASE_MODELS = ("none", "store")


def add_commands(eval_commands: Any) -> None:
    asr = eval_commands.add_parser(
        "asr", help="speech-to-text WER, real-time factor and slot agreement (espeak-ng)"
    )
    asr.add_argument("--backend", choices=BACKENDS, default=BACKENDS[0], help="speech backend")
    asr.add_argument(
        "--model", help="model folder, checkpoint or name (default: the bundled tiny.en)"
    )
    asr.add_argument(
        "--voices", default=",".join(DEFAULT_VOICES), help="espeak-ng voices, comma-separated"
    )
    asr.add_argument(
        "--speeds",
        default=",".join(map(str, DEFAULT_SPEEDS)),
        help="speaking rates in words per minute, comma-separated",
    )
    asr.add_argument(
        "--prompt",
        choices=PROMPTS,
        default="store",
        help="Whisper's prompt: none, the catalog's words, or those and prompts/speech.yml's "
        "example requests (store, as the app does)",
    )
    asr.add_argument("--beam-size", type=int, default=5, help="decoder beam width")
    asr.add_argument(
        "--phrase-model",
        choices=PHRASE_MODELS,
        default="store",
        help="re-rank faster-whisper's guesses with the store's phrase model (NLU examples "
        "equal to a test query left out), as the app does",
    )
    asr.add_argument(
        "--queries",
        type=Path,
        help=f"a text file of queries, one a line ('#' comments); default: the {len(QUERIES)} "
        "built in",
    )
    asr.add_argument(
        "--phrase-weight", type=float, default=DEFAULT_WEIGHT, help="phrase model weight"
    )
    asr.add_argument(
        "--word-bonus", type=float, default=DEFAULT_WORD_BONUS, help="phrase model word bonus"
    )
    asr.add_argument("--limit", type=int, help="at most this many queries")
    asr.add_argument("--out", type=Path, help="report folder (default DATA/eval)")
    asr.add_argument("--no-progress", action="store_true", help="hide progress bars")
    asr.set_defaults(handler=_eval_asr)


def _eval_asr(args: argparse.Namespace, settings: Settings) -> int:
    voices = [v.strip() for v in args.voices.split(",") if v.strip()]
    try:
        speeds = [int(s) for s in args.speeds.split(",") if s.strip()]
    except ValueError as exc:
        raise ValueError(f"--speeds must be whole numbers of words per minute: {exc}") from exc
    if not voices or not speeds or any(not 80 <= s <= 450 for s in speeds):
        raise ValueError("--voices needs at least one voice and --speeds values in 80..450")
    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be >= 1")
    vocabulary = _catalog_vocabulary(settings)
    prompt = None
    if args.prompt != "none":
        if not vocabulary:
            errors.print("[yellow]warning:[/] empty catalog; the prompt has no catalog words")
        examples = ""
        if args.prompt == "store":
            examples = load_example_requests(settings.prompts_dir / SPEECH_FILE)
        prompt = store_prompt(vocabulary or {}, examples)
    queries = _read_queries(args.queries) if args.queries else list(QUERIES)
    queries = queries[: args.limit] if args.limit else queries
    phrase_model = None
    if args.phrase_model == "store":
        if args.backend != "faster-whisper":
            raise ValueError("--phrase-model store needs --backend faster-whisper")
        phrase_model = phrase_model_for(
            settings.prompts_dir / "nlu.yml",
            vocabulary or {},
            leave_out=queries,
            weight=args.phrase_weight,
            word_bonus=args.word_bonus,
        )
    transcriber = build_transcriber(
        args.backend,
        args.model,
        DEFAULT_MAX_SECONDS,
        initial_prompt=prompt,
        beam_size=args.beam_size,
        phrase_model=phrase_model,
    )
    try:
        transcriber.load()
    except SpeechUnavailable as exc:
        raise ValueError(exc.reason) from exc
    constraints = None
    if vocabulary is None:
        errors.print(
            "[yellow]warning:[/] the catalog store is empty, so constraint exact-match is "
            "skipped; run `shopassist ingest SOURCE` first to measure it"
        )
    else:
        constraints = slot_constraints(vocabulary, settings.prompts_dir / "nlu.yml")
    report = evaluate_asr(
        transcriber,
        queries=queries,
        voices=voices,
        speeds=speeds,
        constraints=constraints,
        progress=not args.no_progress,
    )
    paths = write_asr_report(report, args.out or settings.data_dir / "eval")
    console.print(report.markdown(), highlight=False, markup=False)
    console.print(f"Saved {', '.join(str(p) for p in paths)}", highlight=False)
    return 0


def _read_queries(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read --queries {path}: {exc}") from exc
    queries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not queries:
        raise ValueError(f"--queries {path} holds no query")
    return queries


def _catalog_vocabulary(settings: Settings) -> dict[str, list[str]] | None:
    """The store's facet values, or None when nothing is ingested (checked cheaply first)."""
    from assistant import RetrievalCatalog, build_retrieval
    from retrieval import CatalogStore

    if not settings.catalog_db.exists() or not CatalogStore(settings.catalog_db).count():
        return None
    return RetrievalCatalog(build_retrieval(settings).engine).vocabulary()


def slot_constraints(
    vocabulary: dict[str, list[str]], nlu_file: Path
) -> Callable[[str], dict[str, Any]]:
    """What the dialogue would search for: the (type, value, negated) entities the slot
    extractor finds in the message as the dialogue reads it, plus the price range. Two texts
    agree when these are equal."""
    from dialogue import EntityExtractor, load_nlu, read_message
    from retrieval import FILTER_ATTRIBUTES

    extractor = EntityExtractor(vocabulary, load_nlu(nlu_file), attributes=FILTER_ATTRIBUTES)

    def constraints(text: str) -> dict[str, Any]:
        found = extractor.extract(read_message(text))
        entities = sorted({(e.type, e.value, e.negated) for e in found.entities})
        price = None if found.price is None else [found.price.minimum, found.price.maximum]
        return {"entities": [list(e) for e in entities], "price": price}

    return constraints
