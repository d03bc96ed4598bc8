"""Which files the shopper app opens: uploads in Gradio's own upload folder, nothing else.

The turn handler takes Gradio's raw file payloads (`preprocess=False`), and a payload is only a
path the browser sends back, so a crafted request could name any file on the server. Gradio's
own check does not run on raw payloads; `Uploads` is that check for our inputs.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REFUSED = (
    "Sorry, I couldn't use that file. Please add your photo or recording again from this page."
)


class UploadRefused(ValueError):
    """A file payload the app will not open; its message (always `REFUSED`) is for the shopper."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


class Uploads:
    """The folders uploads may come from (`roots`, e.g. `gradio.utils.get_upload_folder()`).

    `accept` turns a raw payload into something to open: bytes as they are, or the resolved
    path of a regular file strictly inside a root, symlinks followed (a link in a root pointing
    out is refused). Every other path gets the same `UploadRefused`, whether the file exists,
    is readable or is an image, so the answer tells nothing about the disk; only names and
    metadata inside the roots are looked at, and no file is opened."""

    def __init__(self, roots: Iterable[str | Path]) -> None:
        named = [Path(os.path.abspath(root)) for root in roots]  # noqa: PTH100 (lexical)
        # A root is matched as configured (Gradio hands out paths under it) and resolved
        # (the path a symlinked root really is); a file must resolve under a resolved root.
        self.roots = tuple(dict.fromkeys(named + [Path(os.path.realpath(r)) for r in named]))
        self.real_roots = tuple(dict.fromkeys(Path(os.path.realpath(r)) for r in named))
        if not self.roots:
            raise ValueError("Uploads needs at least one folder")

    def accept(self, payload: Any) -> str | bytes | None:
        """The upload to open for a raw Gradio file payload (`{"path": ...}`, a path string) or
        bytes; None when the input is empty; `UploadRefused` for anything else."""
        if payload is None or payload == "":
            return None
        if isinstance(payload, bytes):
            return payload
        path = payload.get("path") if isinstance(payload, dict) else payload
        if not isinstance(path, str) or not path or "\0" in path:
            raise UploadRefused()
        # Lexically first (".." folded, no link followed): "<root>/../etc" is not in a root.
        named = Path(os.path.abspath(path))  # noqa: PTH100
        if not _inside(named, self.roots):
            raise UploadRefused()
        real = Path(os.path.realpath(named))  # symlinks resolved: a link out lands outside
        if not _inside(real, self.real_roots):
            raise UploadRefused()
        try:
            if not stat.S_ISREG(real.stat().st_mode):
                raise UploadRefused()
        except OSError:
            raise UploadRefused() from None
        return str(real)


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path != root and path.is_relative_to(root) for root in roots)
