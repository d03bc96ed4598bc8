"""The Rasa commands of the `shopassist` CLI: actions (the action server), export-rasa."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.cli._dialogue import _assistant
from assistant.config import Settings
from assistant.integrations import (
    ACTION_SERVER_HOST,
    ACTION_SERVER_PORT,
    DEFAULT_ACTION_URL,
    RASA_ACTIONS,
    export_rasa,
    serve_actions,
)

console = Console()


def add_commands(commands: Any) -> None:
    actions = commands.add_parser(
        "actions", help="serve the catalog, product answers and cart as Rasa custom actions"
    )
    actions.add_argument("--host", default=ACTION_SERVER_HOST, help=f"default {ACTION_SERVER_HOST}")
    actions.add_argument(
        "--port", type=int, default=ACTION_SERVER_PORT, help=f"default {ACTION_SERVER_PORT}"
    )
    actions.set_defaults(handler=_actions)

    export = commands.add_parser(
        "export-rasa", help="write a Rasa 3.x project (NLU, domain, rules) from prompts/"
    )
    export.add_argument("out", type=Path, metavar="DIR", help="project folder to write")
    export.add_argument(
        "--action-url",
        default=DEFAULT_ACTION_URL,
        help=f"action server webhook ({DEFAULT_ACTION_URL})",
    )
    export.set_defaults(handler=_export)


def _actions(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 < args.port < 65536:
        raise ValueError("--port must be 1-65535")
    assistant = _assistant(settings)
    console.print(
        f"Rasa action server with {len(RASA_ACTIONS)} actions on http://{args.host}:{args.port} "
        "(/health, /actions, /webhook); Ctrl-C to stop.",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    serve_actions(assistant, args.host, args.port)
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    for path in export_rasa(settings.prompts_dir, args.out, args.action_url):
        console.print(f"wrote {path}", highlight=False, markup=False)
    return 0
