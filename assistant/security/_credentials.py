"""Server-issued session credentials for the HTTP API.

A session id names a session (it may show up in logs and URLs); the session token proves the
right to it: `<session id>.<HMAC-SHA256 of the id under the server's secret>`. The server keeps
no table of tokens, so any worker holding the same secret can check one, and a forged or bare
id is refused before any session is looked up (so a refusal says nothing about whether the
session exists).

The secret comes from $SHOPASSIST_SESSION_SECRET, else from the session store when it keeps
one (Redis: made by the first worker that asks, so workers on other machines share it), else
from `DATA/session_secret` (created on first use, readable by its owner only), so tokens
survive a restart and are shared by workers over one data directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

SESSION_SECRET_ENV = "SHOPASSIST_SESSION_SECRET"
SECRET_FILE = "session_secret"
API_SESSION_PREFIX = "api-"
_SIGNATURE_CHARS = 43  # base64url of 32 bytes, unpadded


class SessionSigner:
    """Issues session ids with their tokens and reads the id back from a token."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._secret = secret

    @classmethod
    def for_data_dir(
        cls, data_dir: Path, stored: Callable[[], bytes | None] | None = None
    ) -> SessionSigner:
        """The secret from the environment, else `stored()` (the session store's) when it
        gives one, else the data directory's (made if missing)."""
        from_env = os.environ.get(SESSION_SECRET_ENV)
        if from_env:
            return cls(from_env.encode())
        shared = stored() if stored is not None else None
        if shared is not None:
            return cls(shared)
        path = Path(data_dir) / SECRET_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another worker made it first: use theirs
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(32))
        return cls(path.read_text(encoding="utf-8").strip().encode())

    def issue(self) -> tuple[str, str]:
        """A new unguessable session id and its token."""
        session_id = API_SESSION_PREFIX + secrets.token_urlsafe(18)
        return session_id, f"{session_id}.{self._sign(session_id)}"

    def session_of(self, token: str) -> str | None:
        """The session id a token was issued for, or None for anything not issued here."""
        session_id, _, signature = token.rpartition(".")
        if not session_id.startswith(API_SESSION_PREFIX) or len(signature) != _SIGNATURE_CHARS:
            return None
        if not hmac.compare_digest(signature, self._sign(session_id)):
            return None
        return session_id

    def _sign(self, session_id: str) -> str:
        digest = hmac.new(self._secret, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
