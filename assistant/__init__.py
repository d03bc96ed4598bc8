"""The composition root: settings, the retrieval stack, the `Assistant` facade and its wiring.

Beside it, one subpackage per job: `cli` (the `shopassist` command), `speech`, `integrations`
(the HTTP API, the wire shapes, Rasa, the order hook, the handoff desk), `feedback` (the event
log and the report) and `security` (session tokens, rate limits).

It also re-exports the plain data types a front end renders (product cards, cart lines, the
comparison table) and the safe image loader, so `ui` depends on `assistant` alone.
"""

from assistant._assistant import Assistant, Reply, Transcriber
from assistant._catalog import RetrievalCatalog
from assistant._offline import go_offline
from assistant._retrieval import RetrievalStack, build_retrieval, open_store
from assistant.config import Settings, load_settings
from assistant.security import ClientLimiter
from dialogue import (
    MAX_MESSAGE_CHARS,
    CartLine,
    Comparison,
    DialogueState,
    ProductCard,
    Suggestion,
    money,
)
from retrieval import ImageRejected, load_image

__all__ = [
    "MAX_MESSAGE_CHARS",
    "Assistant",
    "CartLine",
    "ClientLimiter",
    "Comparison",
    "DialogueState",
    "ImageRejected",
    "ProductCard",
    "Reply",
    "RetrievalCatalog",
    "RetrievalStack",
    "Settings",
    "Suggestion",
    "Transcriber",
    "build_retrieval",
    "go_offline",
    "load_image",
    "load_settings",
    "money",
    "open_store",
]
