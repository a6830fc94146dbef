"""Bearer-token guard of the state-changing endpoints.

No token configured: every state-changing request is refused (403). A token configured: the
request needs `Authorization: Bearer <token>`; missing or wrong -> 401.
"""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request, status


def require_token(request: Request) -> None:
    """FastAPI dependency: refuse unless the request carries the configured bearer token."""
    token = request.app.state.settings.web.token
    if token is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "state-changing endpoints are disabled: set web.token in the configuration",
        )
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    expected = token.get_secret_value().encode("utf-8")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        given.strip().encode("utf-8"), expected
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": 'Bearer realm="linkwatch"'},
        )
