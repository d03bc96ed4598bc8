"""The composition root: settings, the retrieval stack, the `Assistant` facade and the CLI."""

from assistant._assistant import Assistant, Reply, Transcriber
from assistant._catalog import RetrievalCatalog
from assistant._offline import go_offline
from assistant._retrieval import RetrievalStack, build_retrieval
from assistant.config import Settings, load_settings

__all__ = [
    "Assistant",
    "Reply",
    "RetrievalCatalog",
    "RetrievalStack",
    "Settings",
    "Transcriber",
    "build_retrieval",
    "go_offline",
    "load_settings",
]
