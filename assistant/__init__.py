"""The composition root: settings, the CLI and (later) the Assistant facade and integrations."""

from assistant._offline import go_offline
from assistant.config import Settings, load_settings

__all__ = ["Settings", "go_offline", "load_settings"]
