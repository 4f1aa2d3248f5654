"""What makes a shared secret unacceptable: a shipped placeholder or one short enough to guess.

Both services refuse to start with such a secret (the orchestrator's API keys and compute token, the
Redis password; compute's service token), so the rule lives here once.
"""

MIN_SECRET_CHARS = 32  # `openssl rand -hex 16` gives 32; fewer is within reach of guessing at scale
# Every secret the project ships as an example starts with this, so one rule catches all of them, and an
# operator's "replace-me-..." tweak as well.
PLACEHOLDER_PREFIX = "replace-me"
# Stock example values, in case one is copied from older docs or another project's template.
PLACEHOLDERS = frozenset({"secret", "changeme", "change-me", "password", "redis"})


def is_placeholder(secret: str) -> bool:
    value = secret.strip().lower()
    return value.startswith(PLACEHOLDER_PREFIX) or value in PLACEHOLDERS


def weak_secret(secret: str, what: str, *, min_chars: int = MIN_SECRET_CHARS) -> str | None:
    """Why `secret` (named `what` in the answer) is refused, or None. The answer never quotes it."""
    if is_placeholder(secret):
        return f"{what} is a shipped placeholder: replace it"
    if len(secret.strip()) < min_chars:
        return f"{what} has {len(secret.strip())} characters; at least {min_chars} are required"
    return None
