"""The ``ledger`` command line: serve the API, run the scheduler, seed the demo, check books.

``serve`` refuses to run an open API: with no ``LEDGER_API_KEYS`` it makes a
development key with every scope, keeps it in ``.dev-api-key`` in the working
directory so restarts keep it, and prints it. It never seeds demo data unless
told to (``--demo``, which ``make run`` passes).
"""

from __future__ import annotations

import argparse
import logging
import secrets
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from domain.bookkeeping.postings import books_balance
from ledger.application import EscrowLedger
from ledger.bootstrap import build_ledger
from ledger.settings import Settings

TEST_CLOCK_WARNING = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! LEDGER_TEST_CLOCK=1: this ledger's time is a TEST CLOCK moved over HTTP     !!
!! (POST /v1/test-clock/advance). Never point it at a production store.        !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


def dev_api_key() -> str:
    """The development key, created once in the working directory (`.dev-api-key`)."""
    path = Path(".dev-api-key")
    if path.exists():
        return path.read_text().strip()
    key = "dev-" + secrets.token_urlsafe(24)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _scheduler(app: EscrowLedger, settings: Settings) -> Any:
    from entrypoints.scheduler import start_scheduler
    from projections.runner import ProjectionRunner

    return start_scheduler(app, ProjectionRunner(app),
                           interval_seconds=settings.scheduler_interval_seconds,
                           batch_size=settings.scheduler_batch_size,
                           firing_batch=settings.scheduler_firing_batch)


def prepare_ledger(settings: Settings, *, demo: bool) -> EscrowLedger:
    """The ledger a server runs on; demo data only when asked for, never by default."""
    app = build_ledger(settings)
    if settings.test_clock:
        print(TEST_CLOCK_WARNING, file=sys.stderr)
    if demo:
        from entrypoints.demo import demo_ids

        for line in _seed(app):
            print(f"demo: {line}")
        for line in demo_ids(app):  # on every start, so the ids are found again
            print(f"demo: {line}")
    return app


def cmd_serve(args: argparse.Namespace) -> int:
    from entrypoints.serve import serve

    return serve(args)


def cmd_scheduler(args: argparse.Namespace) -> int:
    """The scheduler alone, for a deployment that runs the API elsewhere."""
    settings = Settings()
    app = prepare_ledger(settings, demo=False)
    scheduler = _scheduler(app, settings)
    print(f"scheduler polling {settings.database_url} every "
          f"{settings.scheduler_interval_seconds:g}s (Ctrl-C to stop)")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    scheduler.shutdown(wait=True)
    app.close()
    return 0


def _seed(app: EscrowLedger) -> list[str]:
    from entrypoints.demo import seed_demo

    return seed_demo(app)


def cmd_seed_demo(args: argparse.Namespace) -> int:
    for line in _seed(build_ledger(Settings())):
        print(line)
    return 0


def cmd_tick(args: argparse.Namespace) -> int:
    from entrypoints.scheduler import drain
    from projections.runner import ProjectionRunner

    settings = Settings()
    app = build_ledger(settings)
    fired = drain(app, ProjectionRunner(app), lambda _: None,
                  batch_size=settings.scheduler_batch_size,
                  firing_batch=settings.scheduler_firing_batch)
    print(f"fired {fired} due deadline(s)")
    return 0


def cmd_trial_balance(args: argparse.Namespace) -> int:
    from projections.runner import ProjectionRunner

    runner = ProjectionRunner(build_ledger(Settings()))
    position = runner.catch_up()
    for b in runner.queries.all_balances():
        print(f"{b.account:80} {b.currency} {b.balance:>14}")
    totals = runner.queries.trial_balance()
    print(f"position {position}; debits - credits per currency: "
          + ", ".join(f"{c} {v}" for c, v in totals.items()))
    return 0 if books_balance(totals) else 1


def cmd_rebuild_projections(args: argparse.Namespace) -> int:
    from projections.runner import ProjectionRunner
    from reconciliation.replay import compare_with_projection

    app = build_ledger(Settings())
    runner = ProjectionRunner(app)
    name = getattr(args, "name", None)
    try:
        position = runner.rebuild(name)
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2
    report = compare_with_projection(app, runner.queries)
    print(f"rebuilt {name or 'every projection'} to position {position}: "
          f"{report.accounts} accounts, {len(report.breaks)} break(s) against a replay")
    return 0 if report.ok else 1


def cmd_audit_export(args: argparse.Namespace) -> int:
    from entrypoints.audit_export import export

    app = build_ledger(Settings())
    try:
        written = export(app, args.file)
    finally:
        app.close()
    print(f"wrote {written} event(s) to {args.file}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from entrypoints.audit_verify import verify_chain

    app = build_ledger(Settings())
    try:
        return verify_chain(app)
    finally:
        app.close()


def cmd_audit_replay(args: argparse.Namespace) -> int:
    from entrypoints.audit_replay import parse_as_of, run_replay

    try:
        as_of = None if args.as_of is None else parse_as_of(args.as_of)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    keep = None if args.keep is None else Path(args.keep)
    if keep is not None and keep.exists():
        print(f"--keep {keep}: the file exists; name a new one", file=sys.stderr)
        return 2
    app = build_ledger(Settings())
    try:
        return run_replay(app, as_of, keep)
    finally:
        app.close()


def cmd_reconcile(args: argparse.Namespace) -> int:
    from entrypoints.reconcile import run_reconcile

    app = build_ledger(Settings())
    try:
        return run_reconcile(app, args)
    finally:
        app.close()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="ledger", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API (and the scheduler)")
    serve.add_argument("--host", default=Settings().host)
    serve.add_argument("--port", type=int, default=Settings().port)
    serve.add_argument("--demo", action="store_true",
                       help="seed the demo into an empty store first (make run does)")
    serve.add_argument("--no-scheduler", action="store_true",
                       help="serve the API only; run `ledger scheduler` elsewhere")
    serve.add_argument("--workers", type=int, default=1,
                       help="API worker processes (default 1); with more than one, the "
                       "parent process runs the scheduler and the projector")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("scheduler", help="fire due deadlines, without the API").set_defaults(
        func=cmd_scheduler)
    sub.add_parser("seed-demo", help="seed the demo into an empty log").set_defaults(
        func=cmd_seed_demo)
    sub.add_parser("tick", help="fire every due deadline once").set_defaults(func=cmd_tick)
    sub.add_parser("trial-balance", help="print balances; exit 1 if unbalanced").set_defaults(
        func=cmd_trial_balance)
    projections = sub.add_parser("projections", help="read models built from the log")
    verbs = projections.add_subparsers(dest="verb", required=True)
    rebuild = verbs.add_parser("rebuild", help="empty a projection and replay the log into it")
    rebuild.add_argument("name", nargs="?", help="one projection (journal, deadlines, "
                         "payouts, revenue, contracts, jss); default every projection")
    rebuild.set_defaults(func=cmd_rebuild_projections)
    sub.add_parser("rebuild-projections",
                   help="the same as `projections rebuild`").set_defaults(
        func=cmd_rebuild_projections)
    audit = sub.add_parser("audit", help="auditors' tools over the raw log")
    audit_verbs = audit.add_subparsers(dest="verb", required=True)
    audit_export = audit_verbs.add_parser(
        "export", help="write every event, decoded, as JSON Lines (one event a line)")
    audit_export.add_argument("file", help="where to write (replaced if it exists)")
    audit_export.set_defaults(func=cmd_audit_export)
    audit_verbs.add_parser(
        "verify", help="recompute the hash chain from the raw rows; exit 1 naming the first "
        "position that does not match").set_defaults(func=cmd_audit_verify)
    replay = audit_verbs.add_parser(
        "replay", help="rebuild every balance as of a moment from the raw log into a scratch "
        "store and list every difference with the live projection; exit 1 if any")
    replay.add_argument("--as-of", help="ISO 8601 with a time zone, e.g. 2026-03-05T12:00:00Z "
                        "(default: everything recorded)")
    replay.add_argument("--keep", metavar="FILE",
                        help="keep the scratch SQLite store at FILE (a new file)")
    replay.set_defaults(func=cmd_audit_replay)
    from entrypoints.reconcile import add_parser

    add_parser(sub, cmd_reconcile)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
