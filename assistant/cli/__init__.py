"""The `shopassist` command line: ingest and index catalogs, search, chat, train, evaluate.

`main` is the `shopassist` entry point (`[project.scripts]`); `python -m assistant.cli` runs it
too. Each command family lives in a module of its own (`_main.py`: the parser, the catalog
commands and the plug-in groups; `_dialogue.py`, `_doctor.py`, `_feedback.py`, `_init.py`,
`_rasa.py`, `_report.py`).
"""

from assistant.cli._main import COMMANDS_GROUP, default_catalog_name, main

__all__ = ["COMMANDS_GROUP", "default_catalog_name", "main"]
