"""Fail closed at start: the API refuses to run without API keys (outside dev mode), with a key short
enough to guess, or with a secret still at a placeholder the project ships (deploy/k8s/config.yaml), so
a forgotten edit stops the deployment instead of opening it."""

import logging
from urllib.parse import unquote, urlsplit

from orchestrator.settings import Settings

log = logging.getLogger(__name__)

MIN_API_KEY_CHARS = 32  # `openssl rand -hex 16` gives 32; fewer is within reach of guessing at scale
# Every secret the project ships as an example starts with this, so one rule catches all of them, and an
# operator's "replace-me-..." tweak as well.
PLACEHOLDER_PREFIX = "replace-me"
# Stock example values, in case one is copied from older docs or another project's template.
PLACEHOLDERS = frozenset({"secret", "changeme", "change-me", "password", "redis"})


class InsecureConfiguration(RuntimeError):
    pass


def is_placeholder(secret: str) -> bool:
    value = secret.strip().lower()
    return value.startswith(PLACEHOLDER_PREFIX) or value in PLACEHOLDERS


def _refusal(key: str) -> str | None:
    if is_placeholder(key):
        return "an ORCH_API_KEYS entry is a shipped placeholder: replace it"
    if len(key) < MIN_API_KEY_CHARS:
        return f"an ORCH_API_KEYS entry has {len(key)} characters; at least {MIN_API_KEY_CHARS} are required"
    return None


def check_security(settings: Settings) -> list[str]:
    """The API keys to accept ([] only in dev mode without keys), or InsecureConfiguration. The
    message never quotes a key."""
    keys = settings.api_key_list
    refusals = sorted({reason for key in keys if (reason := _refusal(key))})
    if refusals:
        raise InsecureConfiguration("; ".join(refusals) + " (generate keys with `openssl rand -hex 32`)")
    token = settings.compute_token
    if token is not None and is_placeholder(token.get_secret_value()):
        raise InsecureConfiguration("ORCH_COMPUTE_TOKEN is a shipped placeholder: replace it")
    redis_password = urlsplit(settings.redis_url).password
    if redis_password is not None and is_placeholder(unquote(redis_password)):
        raise InsecureConfiguration("the password in ORCH_REDIS_URL is a shipped placeholder: replace it")
    if keys:
        return keys
    if settings.env != "dev":
        raise InsecureConfiguration(
            "no API keys: set ORCH_API_KEYS (comma-separated), or ORCH_ENV=dev to run without authentication"
        )
    log.warning("!" * 78)
    log.warning("ORCH_ENV=dev and no ORCH_API_KEYS: the API accepts every request WITHOUT AUTHENTICATION")
    log.warning("!" * 78)
    return []
