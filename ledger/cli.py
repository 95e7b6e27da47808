"""The ``ledger`` command line: serve the API, seed the demo, fire due deadlines.

``serve`` refuses to run an open API: with no ``LEDGER_API_KEYS`` it makes a
development key with every scope, keeps it in ``.dev-api-key`` in the working
directory so restarts keep it, and prints it.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
from pathlib import Path

from ledger.application import EscrowLedger
from ledger.settings import SCOPES, Settings, store_from_url


def build_ledger(settings: Settings) -> EscrowLedger:
    fees = None
    if settings.fee_schedule_file:
        from domain.fee_schedule import FeeSchedule

        overrides = json.loads(Path(settings.fee_schedule_file).read_text(), parse_float=str)
        fees = FeeSchedule.from_overrides(overrides)
    env = store_from_url(settings.database_url, pool_size=settings.pool_size).env
    return EscrowLedger(env) if fees is None else EscrowLedger(env, fees=fees)


def dev_api_key(settings: Settings) -> str:
    """The development key, created once in the working directory (`.dev-api-key`)."""
    path = Path(".dev-api-key")
    if path.exists():
        return path.read_text().strip()
    key = "dev-" + secrets.token_urlsafe(24)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.main import create_app
    from projections.runner import JournalProjector

    settings = Settings()
    keys = settings.parsed_api_keys()
    app = build_ledger(settings)
    if not args.no_seed:
        for line in _seed(app):
            print(f"demo: {line}")
    if not keys:
        key = dev_api_key(settings)
        keys = {key: SCOPES}
        print("LEDGER_API_KEYS is not set: using a development key with every scope.")
        print(f"  Authorization: Bearer {key}")
        print(f"  try: curl -H 'Authorization: Bearer {key}' "
              f"http://{args.host}:{args.port}/v1/freelancers/freelancer-ada/balances")
    web = create_app(settings, ledger=app, api_keys=keys)
    scheduler = None
    if not args.no_scheduler:
        from ledger.deadlines import start_scheduler

        scheduler = start_scheduler(app, JournalProjector(app))
    print(f"serving escrow-ledger on http://{args.host}:{args.port} "
          f"(docs at /docs, store {settings.database_url})")
    try:
        uvicorn.run(web, host=args.host, port=args.port, log_level="info")
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
    return 0


def _seed(app: EscrowLedger) -> list[str]:
    from ledger.demo import seed_demo

    return seed_demo(app)


def cmd_seed_demo(args: argparse.Namespace) -> int:
    for line in _seed(build_ledger(Settings())):
        print(line)
    return 0


def cmd_tick(args: argparse.Namespace) -> int:
    from ledger.deadlines import fire_due_deadlines
    from projections.runner import JournalProjector

    app = build_ledger(Settings())
    projector = JournalProjector(app)
    projector.catch_up()
    fired = fire_due_deadlines(app, projector)
    print(f"fired {len(fired)} due deadline(s)")
    return 0


def cmd_trial_balance(args: argparse.Namespace) -> int:
    from projections.runner import JournalProjector

    projector = JournalProjector(build_ledger(Settings()))
    position = projector.catch_up()
    for b in projector.queries.all_balances():
        print(f"{b.account:80} {b.currency} {b.balance:>14}")
    totals = projector.queries.trial_balance()
    print(f"position {position}; debits - credits per currency: "
          + ", ".join(f"{c} {v}" for c, v in totals.items()))
    return 0 if all(v == 0 for v in totals.values()) else 1


def cmd_rebuild_projections(args: argparse.Namespace) -> int:
    from projections.runner import JournalProjector
    from reconciliation.replay import compare_with_projection

    app = build_ledger(Settings())
    projector = JournalProjector(app)
    position = projector.rebuild()
    report = compare_with_projection(app, projector.queries)
    print(f"rebuilt the journal view to position {position}: {report.accounts} accounts, "
          f"{len(report.breaks)} break(s) against a replay")
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="ledger", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default=Settings().host)
    serve.add_argument("--port", type=int, default=Settings().port)
    serve.add_argument("--no-seed", action="store_true", help="do not seed the demo")
    serve.add_argument("--no-scheduler", action="store_true", help="do not fire deadlines")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("seed-demo", help="seed the demo into an empty log").set_defaults(
        func=cmd_seed_demo)
    sub.add_parser("tick", help="fire every due deadline once").set_defaults(func=cmd_tick)
    sub.add_parser("trial-balance", help="print balances; exit 1 if unbalanced").set_defaults(
        func=cmd_trial_balance)
    sub.add_parser("rebuild-projections",
                   help="empty the journal view and replay the log into it").set_defaults(
        func=cmd_rebuild_projections)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
