"""What shoppers did with what they were shown: the interaction event log (`_events.py`), the
event database it and the handoff desk share (`_database.py`: SQLite or PostgreSQL) and the
report staff read (`_report.py`, `shopassist report`).
"""
