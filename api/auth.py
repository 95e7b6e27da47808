"""API keys with scopes: ``Authorization: Bearer <key>``.

A missing or unknown key is 401 (with ``WWW-Authenticate: Bearer``); a known key
without the scope a route needs is 403. Commands (POST) need ``commands``,
reads (GET) need ``read``. Keys are compared in constant time and never stored
or logged: callers are known by ``sha256(key)[:16]``, which also scopes their
idempotency keys so two services cannot collide.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiProblem
from api.services import ServicesDep

COMMANDS = "commands"
READ = "read"
AUDIT = "audit"
FINANCE = "finance"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key issued per calling service, sent as `Authorization: Bearer <key>`.",
)


def fingerprint(api_key: str) -> str:
    """A stable, non-reversible name for a key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Caller:
    """An authenticated calling service."""

    key_id: str
    scopes: frozenset[str]

    @property
    def default_actor(self) -> str:
        return f"api-key:{self.key_id}"

    def actor(self, given: str | None) -> str:
        return self.default_actor if given is None else given

    def idempotency_key(self, header: str) -> str:
        return f"{self.key_id}:{header}"


def find_caller(api_keys: Mapping[str, frozenset[str]], presented: str) -> Caller | None:
    found: Caller | None = None
    for key, scopes in api_keys.items():  # no early exit: time does not depend on the match
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = Caller(fingerprint(key), scopes)
    return found


def _unauthorized(detail: str, error: str | None = None) -> ApiProblem:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return ApiProblem(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


def authenticate(
    api_keys: Mapping[str, frozenset[str]], credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("send an API key as 'Authorization: Bearer <key>'")
    caller = find_caller(api_keys, credentials.credentials)
    if caller is None:
        raise _unauthorized("the API key is not recognised", "invalid_token")
    return caller


def require_scope(scope: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency that authenticates the caller and checks it holds ``scope``.

    ``async`` although it never awaits: it never blocks (a constant-time compare of a
    few keys), and FastAPI runs a plain ``def`` dependency in the thread pool, a hop
    there and back on every request."""
    async def dependency(
        services: ServicesDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        caller = authenticate(services.api_keys, credentials)
        if scope not in caller.scopes:
            raise ApiProblem(
                403, "insufficient-scope", f"this API key lacks the '{scope}' scope",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            )
        return caller

    return dependency
