"""API keys: `Authorization: Bearer <key>`, checked in constant time against every configured key."""

import secrets

from fastapi import Request

from orchestrator.api.errors import ApiError


def key_matches(candidate: str, keys: list[str]) -> bool:
    matched = False
    for key in keys:  # no early exit: the time taken does not depend on which key matched
        matched |= secrets.compare_digest(candidate.encode(), key.encode())
    return matched


async def require_api_key(request: Request) -> None:
    keys: list[str] = request.app.state.api_keys
    if not keys:  # dev mode only: create_app refuses to start without keys otherwise
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token or not key_matches(token.strip(), keys):
        raise ApiError(
            401,
            "unauthorized",
            "a valid API key is required (Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
