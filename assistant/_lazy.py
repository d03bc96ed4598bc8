"""Names a package re-exports from a module it imports only when one is first asked for.

`assistant.speech` and `assistant.integrations` re-export their public names, but some of their
modules must not load with the package (the transcriber, the Rasa action server): a module
`__getattr__` (PEP 562) imports them on first use instead.
"""

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_names(package: str, names: dict[str, tuple[str, str]]) -> Callable[[str], Any]:
    """The `__getattr__` of `package`: public name -> (its module in the package, the name
    there), that module imported when the name is first asked for."""

    def attribute_of(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = names[name]
        return getattr(import_module(f"{package}.{module}"), attribute)

    return attribute_of
