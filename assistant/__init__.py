"""The composition root: settings, the CLI and (later) the Assistant facade and integrations."""

from assistant._offline import go_offline
from assistant._retrieval import RetrievalStack, build_retrieval
from assistant.config import Settings, load_settings

__all__ = ["RetrievalStack", "Settings", "build_retrieval", "go_offline", "load_settings"]
