"""Fail closed at start: the API refuses to run without API keys (outside dev mode), with a key short
enough to guess, or with a secret still at a placeholder the project ships (deploy/k8s/config.yaml), so
a forgotten edit stops the deployment instead of opening it."""

import logging
from urllib.parse import unquote, urlsplit

from contracts.credentials import is_placeholder, weak_secret
from orchestrator.settings import Settings

log = logging.getLogger(__name__)


class InsecureConfiguration(RuntimeError):
    pass


def check_security(settings: Settings) -> list[str]:
    """The API keys to accept ([] only in dev mode without keys), or InsecureConfiguration. The
    message never quotes a key."""
    keys = settings.api_key_list
    refusals = sorted({reason for key in keys if (reason := weak_secret(key, "an ORCH_API_KEYS entry"))})
    if refusals:
        raise InsecureConfiguration("; ".join(refusals) + " (generate keys with `openssl rand -hex 32`)")
    token = settings.compute_token
    # Compute refuses to start with such a token, so the pair would never talk: say so here too.
    if token is not None and (reason := weak_secret(token.get_secret_value(), "ORCH_COMPUTE_TOKEN")):
        raise InsecureConfiguration(reason)
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
