"""What shoppers did with what they were shown: the interaction event log (`_events.py`), the
event database it and the handoff desk share (`_database.py`: SQLite or PostgreSQL) and the
report staff read (`_report.py`, `shopassist report`).

What the rest of the assistant uses is re-exported here; the modules behind it are private.
"""

from assistant.feedback._database import Database
from assistant.feedback._events import SECONDS_PER_DAY, EventKind, EventLog
from assistant.feedback._report import (
    DAY_COLUMNS,
    INTENT_COLUMNS,
    build_report,
    day_cells,
    intent_cells,
    render_report,
)

__all__ = [
    "DAY_COLUMNS",
    "INTENT_COLUMNS",
    "SECONDS_PER_DAY",
    "Database",
    "EventKind",
    "EventLog",
    "build_report",
    "day_cells",
    "intent_cells",
    "render_report",
]
