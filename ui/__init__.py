"""The Gradio shopper front end, built on the `assistant` facade.

`create_app` and `serve` load Gradio on first use, so importing `ui.cli` (the `serve` command)
keeps every other CLI command fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ui._shop import FAILURE
    from ui.app import create_app, serve

__all__ = ["FAILURE", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "FAILURE":  # the reply a failed turn shows (the load bench recognises it)
        from ui import _shop

        return _shop.FAILURE
    if name in __all__:
        from ui import app

        return getattr(app, name)
    raise AttributeError(f"module 'ui' has no attribute {name!r}")
