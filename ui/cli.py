"""The `shopassist serve` command: the shopper web app (Gradio) on 127.0.0.1 by default.

Wire it in `assistant/cli/_main.py` with `add_commands(commands)`. Voice input needs a transcriber:
pass `transcriber=` a factory `(settings) -> Transcriber | None` (the speech module's
`build_transcriber` wrapped with its settings); without one the app asks shoppers to type.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from assistant import Assistant, Settings, Transcriber, open_store

TranscriberFactory = Callable[[Settings], Transcriber | None]
# USER:PASS from the environment keeps the password out of the process list and shell history.
AUTH_ENV = "SHOPASSIST_AUTH"


def add_commands(commands: Any, *, transcriber: TranscriberFactory | None = None) -> None:
    serve = commands.add_parser("serve", help="start the shopper web app (Gradio)")
    serve.add_argument("--host", help="address to bind (setting `host`, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (setting `port`, default 7860)")
    serve.add_argument(
        "--share",
        action="store_true",
        help="also open a public gradio.live link (uses the network)",
    )
    serve.add_argument(
        "--auth",
        type=parse_auth,
        metavar="USER:PASS",
        help=f"require this login (or set ${AUTH_ENV})",
    )
    serve.set_defaults(handler=partial(_serve, transcriber=transcriber))


def parse_auth(value: str) -> tuple[str, str]:
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("expected USER:PASS")
    return user, password


def _env_auth() -> tuple[str, str] | None:
    value = os.environ.get(AUTH_ENV)
    if not value:
        return None
    try:
        return parse_auth(value)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"${AUTH_ENV}: {exc}") from exc


def _serve(
    args: argparse.Namespace, settings: Settings, *, transcriber: TranscriberFactory | None
) -> int:
    from ui.app import serve  # Gradio loads only for this command

    auth = args.auth or _env_auth()
    if not open_store(settings).count():  # before loading any model
        raise ValueError("The catalog store is empty: run `shopassist ingest SOURCE` first.")
    assistant = Assistant(settings, transcriber=transcriber(settings) if transcriber else None)
    # Product questions' sentence vectors, prepared while the first shoppers browse.
    threading.Thread(target=assistant.warm_answers, name="warm-answers", daemon=True).start()
    host = args.host or settings.host
    port = args.port or settings.port
    share = args.share or settings.share
    if host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        print(
            f"warning: serving on {host} without --auth; anyone who can reach it can chat.",
            file=sys.stderr,
        )
    serve(assistant, host=host, port=port, share=share, auth=auth)
    return 0
