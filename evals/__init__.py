"""Evaluations of the whole assistant (issue 17 gathers them here). Dependencies point one way:
evals -> assistant -> dialogue, retrieval.

Public: `add_commands`, the `shopassist.commands` entry point that adds
`shopassist eval understanding` (held-out requests and conversations, SIMMC 2.0 shopper turns).
"""

from evals._cli import add_commands

__all__ = ["add_commands"]
