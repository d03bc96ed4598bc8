"""`shopassist init`: a copy of the default prompt files in a folder of the user's own.

An installed shopassist reads its default YAML from inside the package, where an upgrade
replaces it and a product team should not edit it; `init` copies it out once for editing.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.config import DEFAULT_PROMPTS_DIR, ENV_PREFIX, Settings

console = Console()


def add_commands(commands: Any) -> None:
    init = commands.add_parser(
        "init", help="copy the default prompt files (prompts/*.yml) to a folder for editing"
    )
    init.add_argument(
        "dir",
        nargs="?",
        type=Path,
        metavar="DIR",
        help=f"where to copy them (default {default_prompts_target()})",
    )
    init.add_argument("--force", action="store_true", help="overwrite files already there")
    init.set_defaults(handler=_init)


def default_prompts_target() -> Path:
    """`$XDG_CONFIG_HOME/shopassist/prompts`, else `~/.config/shopassist/prompts`: the user's
    own configuration folder, which no upgrade or reinstall touches. A relative
    `$XDG_CONFIG_HOME` is ignored, as the XDG spec asks."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "shopassist" / "prompts"


def copy_default_prompts(target: Path, *, force: bool = False) -> list[Path]:
    """Copy every default `*.yml` into `target` and return the files written.

    Without `force`, nothing is written when any of them is already there: a product team's
    edits are never overwritten by accident, and never half of them."""
    sources = sorted(DEFAULT_PROMPTS_DIR.glob("*.yml"))
    if not sources:
        raise ValueError(f"no default prompt files in {DEFAULT_PROMPTS_DIR}: reinstall shopassist")
    present = [source.name for source in sources if (target / source.name).exists()]
    if present and not force:
        raise ValueError(
            f"{target} already has {', '.join(present)}: nothing copied (--force overwrites them)"
        )
    written = []
    try:
        target.mkdir(parents=True, exist_ok=True)
        for source in sources:
            shutil.copyfile(source, target / source.name)
            written.append(target / source.name)
    except OSError as exc:
        raise ValueError(f"cannot write the prompt files to {target}: {exc}") from exc
    return written


def _init(args: argparse.Namespace, settings: Settings) -> int:
    target = (args.dir or default_prompts_target()).expanduser().absolute()
    for path in copy_default_prompts(target, force=args.force):
        console.print(f"wrote {path}", highlight=False, markup=False, soft_wrap=True)
    if settings.prompts_dir.resolve() == target.resolve():
        how = "The current settings already read them from there."
    else:
        how = (
            f"Point shopassist at them: export {ENV_PREFIX}PROMPTS_DIR={target} "
            f"(or `prompts_dir: {target}` in the settings file, or --prompts-dir {target})."
        )
    console.print(how, highlight=False, markup=False, soft_wrap=True)
    return 0
