"""The assistant as other systems see it, and the store's systems it calls.

Served: the HTTP API (`http_api.py`, a FastAPI router the web app mounts), the Rasa action
server (`_rasa.py`) and the Rasa project export (`_rasa_export.py`), both speaking the product
card and cart line defined once in `wire.py`. Called: the store's order-lookup hook
(`_orders.py`) and its helpdesk, through the human handoff desk (`_handoff.py`).

`http_api` and `wire` are public modules; what the rest of the assistant uses of the private
ones is re-exported here, the Rasa names under names that say so (`serve_actions`, not
`serve`). Those load their module on first use: importing the order hook or the handoff desk
must not import the action server (rasa_sdk, Sanic), which itself imports the `Assistant`
that uses them.
"""

from typing import TYPE_CHECKING

from assistant._lazy import lazy_names
from assistant.integrations._handoff import HandoffDesk, SharedConversation, shared_conversation
from assistant.integrations._orders import HttpOrderLookup

if TYPE_CHECKING:
    from assistant.integrations._rasa import ACTIONS as RASA_ACTIONS
    from assistant.integrations._rasa import DEFAULT_HOST as ACTION_SERVER_HOST
    from assistant.integrations._rasa import DEFAULT_PORT as ACTION_SERVER_PORT
    from assistant.integrations._rasa import create_action_app
    from assistant.integrations._rasa import serve as serve_actions
    from assistant.integrations._rasa_export import DEFAULT_ACTION_URL, export_rasa

# Public name -> (private module, its name there), loaded on first use.
_RASA = {
    "ACTION_SERVER_HOST": ("_rasa", "DEFAULT_HOST"),
    "ACTION_SERVER_PORT": ("_rasa", "DEFAULT_PORT"),
    "RASA_ACTIONS": ("_rasa", "ACTIONS"),
    "create_action_app": ("_rasa", "create_action_app"),
    "serve_actions": ("_rasa", "serve"),
    "DEFAULT_ACTION_URL": ("_rasa_export", "DEFAULT_ACTION_URL"),
    "export_rasa": ("_rasa_export", "export_rasa"),
}

__all__ = [
    "ACTION_SERVER_HOST",
    "ACTION_SERVER_PORT",
    "DEFAULT_ACTION_URL",
    "RASA_ACTIONS",
    "HandoffDesk",
    "HttpOrderLookup",
    "SharedConversation",
    "create_action_app",
    "export_rasa",
    "serve_actions",
    "shared_conversation",
]

__getattr__ = lazy_names(__name__, _RASA)
