"""The composition root of the HTTP API: ``create_app`` wires settings, ledger and projector.

Versioned paths under ``/v1``; OpenAPI at ``/openapi.json``, docs at ``/docs``;
errors as ``application/problem+json`` (see ``api.errors``). The API is never
open: without API keys ``create_app`` refuses to build an app.
"""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from api import metrics
from api.access_log import AccessLogMiddleware
from api.docs import install_docs
from api.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from api.http_cache import ConditionalGetMiddleware
from api.key_file import KeyFile
from api.request_id import install_request_ids
from api.routes import (
    accounts,
    audit_chain,
    batch,
    chargebacks,
    connects,
    contracts,
    disputes,
    events,
    freelancers,
    health,
    hourly,
    jss,
    lists,
    payments,
    payouts,
    problems,
    reconciliation,
    reconciliation_runs,
    time,
)
from api.services import Services
from api.store_breaker import install_store_breaker
from api.strict_json import StrictJsonMiddleware
from ledger.application import EscrowLedger
from ledger.bootstrap import build_ledger
from ledger.settings import Settings, checked_api_keys
from ledger.stores import backend_of
from ledger.test_clock import StoredClock
from projections.runner import BackgroundProjector, ProjectionRunner

DESCRIPTION = (
    "Contracts, escrow and payments ledger for a freelance marketplace.\n\n"
    "Authenticate with `Authorization: Bearer <API key>`; commands need the "
    "`commands` scope and an `Idempotency-Key` header, reads need `read`. "
    "Money is `{\"amount\": \"500.00\", \"currency\": \"USD\"}` with the amount a "
    "string. Errors are `application/problem+json` whose `type` is "
    "`https://escrow-ledger.dev/problems/<slug>`, each listed at `GET /v1/problems`. "
    "Every answer carries `X-Request-Id`; JSON reads carry an `ETag` for `If-None-Match`."
)


def package_version() -> str:
    """The installed distribution's version, else the source tree's pyproject."""
    try:
        return version("escrow-ledger")
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            with pyproject.open("rb") as f:
                return str(tomllib.load(f)["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "0.0.0+unknown"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    services: Services = app.state.services
    if services.run_background_projector:
        services.background = BackgroundProjector(services.projector)
        services.background.start()
    try:
        yield
    finally:
        if services.background is not None:
            services.background.stop()
            services.background = None
        if services.owns_ledger:
            services.ledger.close()


def _problems_as_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Error responses are documented under ``application/problem+json`` only."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[:1] in ("4", "5") and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
            for parameter in operation.get("parameters", []):
                # declared optional so a missing key is our 400 problem, not a bare 422;
                # documented as what it is: required on every command
                if parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key":
                    parameter["required"] = True
    return schema


def create_app(
    settings: Settings | None = None,
    *,
    ledger: EscrowLedger | None = None,
    api_keys: Mapping[str, frozenset[str]] | None = None,
    background_projector: bool = True,
    read_wait_timeout: float = 5.0,
) -> FastAPI:
    """Builds the API.

    ``settings`` default to the environment (``LEDGER_*``). A given ``ledger`` is
    used as is (and not closed); otherwise one is built from
    ``settings`` (store and fee schedule file) and closed at shutdown. ``api_keys`` default to
    the keys file (``LEDGER_API_KEYS_FILE``, followed as it changes) or else
    ``settings.parsed_api_keys()``; none at all is an error. With
    ``background_projector`` the journal view is kept up to date by a thread
    started and stopped with the app's lifespan and poked after each command;
    without it, each read catches the view up itself. ``read_wait_timeout`` is
    how long a read waits for ``min_position`` before answering 503.
    """
    if api_keys is None:
        settings = settings or Settings()
        api_keys = (KeyFile(Path(settings.api_keys_file)) if settings.api_keys_file
                    else settings.parsed_api_keys())
    keys = api_keys if isinstance(api_keys, KeyFile) else checked_api_keys(api_keys)
    owns_ledger = ledger is None
    if ledger is None:
        ledger = build_ledger(settings or Settings())
    services = Services(
        ledger=ledger,
        projector=ProjectionRunner(ledger),
        api_keys=keys,
        backend=backend_of(ledger.recorder),
        run_background_projector=background_projector,
        read_wait_timeout=read_wait_timeout,
        owns_ledger=owns_ledger,
    )

    app = FastAPI(
        title="escrow-ledger",
        version=package_version(),
        description=DESCRIPTION,
        lifespan=_lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    install_request_ids(app)
    app.add_middleware(ConditionalGetMiddleware)
    app.add_middleware(StrictJsonMiddleware)
    install_store_breaker(app)
    app.add_middleware(AccessLogMiddleware)
    install_docs(app)
    for module in (health, contracts, hourly, disputes, chargebacks, connects, payments,
                   payouts, accounts, freelancers, reconciliation, problems, lists, jss,
                   events, audit_chain, reconciliation_runs, metrics, batch):
        app.include_router(module.router)
    app.include_router(time.deadlines_router)
    if isinstance(ledger.clock, StoredClock):
        # a test clock only where one was configured: elsewhere 404 and not in OpenAPI
        app.include_router(time.clock_router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document_problem_types(
                _problems_as_problem_json(FastAPI.openapi(app)))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
