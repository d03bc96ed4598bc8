"""Who may do what, how often: signed session tokens for the HTTP API (`_credentials.py`) and
the token-bucket rate limits per session and per client (`_limits.py`).
"""
