"""The dialogue commands of the `shopassist` CLI: train, chat (`eval nlu` and `eval dialogue`
are in `evals`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant._assistant import Assistant, Reply
from assistant._retrieval import open_store
from assistant.config import Settings

console = Console()
errors = Console(stderr=True)


def add_commands(commands: Any) -> None:
    train = commands.add_parser("train", help="train the NLU from prompts/ (cached by content)")
    train.add_argument("--force", action="store_true", help="retrain even if the cache is fresh")
    train.set_defaults(handler=_train)

    chat = commands.add_parser("chat", help="talk to the assistant in the terminal")
    chat.add_argument("--session", default="terminal", help="session id")
    chat.add_argument("--json", action="store_true", help="print each reply as JSON")
    chat.set_defaults(handler=_chat)


def _assistant(settings: Settings, *, retrain: bool = False) -> Assistant:
    if not open_store(settings).count():  # before loading any model
        raise ValueError("The catalog store is empty: run `shopassist ingest SOURCE` first.")
    return Assistant(settings, retrain=retrain)


def _train(args: argparse.Namespace, settings: Settings) -> int:
    assistant = _assistant(settings, retrain=args.force)
    report = assistant.training
    assert report is not None
    source = "loaded from cache" if report.from_cache else "trained"
    console.print(
        f"NLU {source}: {report.examples} examples, {report.intents} intents, "
        f"{report.seconds:.1f}s -> {report.cache_file}",
        highlight=False,
    )
    return 0


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    assistant = _assistant(settings)
    console.print(
        "Chat with the store ('/image PATH [words]' for a photo, '/reset', empty line to quit).",
        highlight=False,
        markup=False,
    )
    if hasattr(sys.stdin, "reconfigure"):  # a stray non-UTF-8 byte must not end the chat
        sys.stdin.reconfigure(errors="replace")
    for line in sys.stdin:
        message = line.strip()
        if not message:
            break
        if message == "/reset":
            assistant.reset(args.session)
            console.print("Started over.")
            continue
        image = None
        if message.startswith("/image "):
            path, _, message = message[len("/image ") :].partition(" ")
            image = Path(path)
        reply = assistant.respond(args.session, text=message or None, image=image)
        _print_reply(reply, as_json=args.json)
    return 0


def _print_reply(reply: Reply, *, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(reply.to_dict(), default=str))
        return
    console.print(reply.text, highlight=False, markup=False)
    for notice in reply.notices:
        errors.print(f"[yellow]note:[/] {notice}", highlight=False)
