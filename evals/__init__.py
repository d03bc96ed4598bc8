"""Every evaluation and benchmark: the whole assistant's, the dialogue model's and the retrieval
engine's (issue 17 gathers them here). Dependencies point one way:
evals -> assistant -> dialogue, retrieval.

Public: `add_commands`, the `shopassist.commands` entry point that adds every `shopassist eval`
and `shopassist bench` command (`eval understanding`: held-out requests and conversations,
SIMMC 2.0 shopper turns; `eval retrieval`, `eval audit`, `eval nlu`, `eval dialogue`,
`bench retrieval`, ...).
"""

from typing import Any

__all__ = ["add_commands"]


def __getattr__(name: str) -> Any:
    """`add_commands` imports the assistant, so it loads only when asked for: a measurement
    run in a fresh process (`bench retrieval`'s server phase) pays only for what it uses."""
    if name == "add_commands":
        from evals._cli import add_commands

        return add_commands
    raise AttributeError(f"module 'evals' has no attribute {name!r}")
