"""``ledger serve``: uvicorn on uvloop and httptools, in one process or in N worker processes.

Why two shapes. With ``--workers 1`` (the default) one process serves the API
and runs the scheduler and the journal projector as threads, as it always
has. With ``--workers N`` (N > 1) the parent process is uvicorn's supervisor:
it builds the ledger once (schema, demo data) and runs the scheduler and the
background projector itself, while N spawned worker processes serve the API
only. So exactly one process fires deadlines and one keeps the views current,
however many workers there are, and neither competes with request handling for
a worker's GIL (the projector thread took about a quarter of a single server's
samples). The parent is otherwise idle (it only watches its children), which
makes it the simplest home for them: no extra process type to deploy, and when
the parent dies its workers go with it.

A worker's reads take the views as the parent's projector left them (at most
``PROJECTOR_INTERVAL`` behind); a read that names ``min_position`` catches the
views up itself first, so reads-your-writes hold in every worker. Two
processes catching up at once is safe: each batch is written with its
tracking record in one transaction, and the loser's insert is refused and
skipped (``projections.runner``).

Workers are built from the same settings (the environment): the parent puts a
generated development key into ``LEDGER_API_KEYS`` before spawning them, so
every worker accepts the key it printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ledger.settings import SCOPES, Settings

PROJECTOR_INTERVAL = 0.2
"""Seconds between the parent projector's polls when it serves N workers (none poke it)."""
WORKER_APP = "entrypoints.serve:worker_app"


def event_loop_options() -> dict[str, str]:
    """uvloop and httptools where installed (they are dependencies), else uvicorn's own."""
    has = importlib.util.find_spec
    return {"loop": "uvloop" if has("uvloop") else "asyncio",
            "http": "httptools" if has("httptools") else "h11"}


def worker_app() -> FastAPI:
    """One API-only worker (uvicorn's factory): no scheduler, no background projector."""
    from api.main import create_app

    web = create_app(Settings(), background_projector=False)
    web.state.services.projector_elsewhere = True
    return web


def _keys(settings: Settings, host: str, port: int) -> Mapping[str, frozenset[str]]:
    from entrypoints.cli import dev_api_key

    keys: Mapping[str, frozenset[str]] = settings.parsed_api_keys()
    if settings.api_keys_file:
        from api.key_file import KeyFile

        key_file = KeyFile(Path(settings.api_keys_file))
        keys = key_file
        signal.signal(signal.SIGHUP, lambda *_: key_file.reload())
        print(f"API keys from {settings.api_keys_file} ({len(key_file)} key(s)); re-read "
              "when it changes, or now on SIGHUP")
    if not keys:
        key = dev_api_key()
        keys = {key: SCOPES}
        print("LEDGER_API_KEYS is not set: using a development key with every scope.")
        print(f"  Authorization: Bearer {key}")
        print(f"  try: curl -H 'Authorization: Bearer {key}' "
              f"http://{host}:{port}/v1/freelancers/freelancer-ada/balances")
    return keys


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.request_id import uvicorn_log_config
    from entrypoints.cli import prepare_ledger
    from entrypoints.scheduler import start_scheduler

    settings = Settings()
    workers = max(1, int(getattr(args, "workers", 1) or 1))
    if workers > 1 and ":memory:" in settings.database_url:
        # each process would hold its own empty database: workers answering different
        # money, and the parent's scheduler firing against none of it
        print("--workers N needs a database the processes share: a SQLite file or "
              "PostgreSQL, not sqlite:///:memory:", file=sys.stderr)
        return 2
    keys = _keys(settings, args.host, args.port)
    app = prepare_ledger(settings, demo=args.demo)
    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_level": "info",
                               "access_log": False, **event_loop_options(),
                               "log_config": uvicorn_log_config(settings.log_format)}
    if workers == 1:
        from api.main import create_app

        web = create_app(settings, ledger=app, api_keys=keys)
        services = web.state.services
        target: Any = web
    else:
        services = _parent_services(app, keys)
        if not settings.parsed_api_keys() and not settings.api_keys_file:
            # the workers are spawned with this environment: they accept the printed key
            os.environ["LEDGER_API_KEYS"] = ",".join(
                f"{k}:{'+'.join(sorted(v))}" for k, v in keys.items())
        options.update(workers=workers, factory=True)
        target = WORKER_APP
    if settings.metrics_port is not None:
        from api.metrics import serve_metrics

        serve_metrics(services, args.host, settings.metrics_port)
        print(f"metrics on http://{args.host}:{settings.metrics_port}/metrics (no key)")
    # the scheduler shares the projector's runner: with a runner of its own, every tick
    # replayed into every view what the projector had already written (and lost the race)
    scheduler = None if args.no_scheduler else start_scheduler(
        app, services.projector, interval_seconds=settings.scheduler_interval_seconds,
        batch_size=settings.scheduler_batch_size, firing_batch=settings.scheduler_firing_batch)
    print(f"serving escrow-ledger on http://{args.host}:{args.port} "
          f"(docs at /docs, store {settings.database_url}, "
          f"{workers} worker process(es), {options['loop']}/{options['http']}, "
          f"scheduler {'off' if scheduler is None else 'on'}"
          f"{'' if workers == 1 else ' and projector in the parent, pid ' + str(os.getpid())})",
          flush=True)
    try:
        uvicorn.run(target, **options)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if workers > 1 and services.background is not None:
            services.background.stop()
            app.close()
    return 0


def _parent_services(app: Any, keys: Mapping[str, frozenset[str]]) -> Any:
    """The supervisor's own projector (started here) and what its metrics port reads."""
    from api.services import Services
    from ledger.stores import backend_of
    from projections.runner import BackgroundProjector, ProjectionRunner

    runner = ProjectionRunner(app)
    services = Services(ledger=app, projector=runner, api_keys=keys,
                        backend=backend_of(app.recorder))
    services.background = BackgroundProjector(runner, interval=PROJECTOR_INTERVAL)
    services.background.start()
    return services

