"""Who may do what, how often: signed session tokens for the HTTP API (`_credentials.py`) and
the token-bucket rate limits per session and per client (`_limits.py`).

What the rest of the assistant uses is re-exported here; the modules behind it are private.
"""

from assistant.security._credentials import SessionSigner
from assistant.security._limits import Allowance, ClientLimiter, TokenBucket, retry_after

__all__ = ["Allowance", "ClientLimiter", "SessionSigner", "TokenBucket", "retry_after"]
