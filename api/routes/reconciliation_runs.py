"""Finance's reconciliation runs over HTTP: upload files, read a run and its breaks, resolve.

Every route needs the ``finance`` scope. A run is recorded as events (the
inputs' SHA-256, the rules' version, counts, breaks) by the same code the
``ledger reconcile`` commands use (``reconciliation.runs``); this layer only
reads the upload and shapes the answers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import HTMLResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.deps import FinanceCaller, FinanceCommandDep
from api.input_models import Timestamp
from api.models import Actor, MultiLine, RequestModel
from api.routes import COMMAND_PROBLEMS, READ_PROBLEMS, located
from api.services import ServicesDep
from domain.errors import BreakNotFound, InvalidInput, StatementRefused
from ledger.commands.reconciliation_runs import break_json, run_summary_json
from projections.paging import decode_cursor, encode_cursor, page_limit
from reconciliation import report, runs
from reconciliation.model import StatementError

router = APIRouter(prefix="/v1/reconciliation", tags=["reconciliation"])

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_FILES = 10


class ResolveIn(RequestModel):
    reason: MultiLine = Field(min_length=1, max_length=1000,
                        description="Why the break is explained (kept in the log).")
    actor: Actor = None


async def _read(upload: UploadFile) -> tuple[str, bytes]:
    data = await upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"{upload.filename}: a statement file is at most "
                           f"{MAX_FILE_BYTES // (1024 * 1024)} MiB")
    return upload.filename or "upload", data


@router.post("/runs", status_code=201, responses=COMMAND_PROBLEMS)
async def create_run(
    command: FinanceCommandDep, response: Response,
    files: Annotated[list[UploadFile] | None, File(
        description="The processor's settlement CSV and/or bank statements (BAI2, "
        "camt.053), each detected by its content. None: `kind=internal` is required.")
    ] = None,
    kind: Annotated[Literal["internal"] | None, Form(
        description="`internal` (and no file): the ledger against itself. Required then, so "
        "a body that was not read (a JSON body, an upload that lost its files) never starts "
        "a run nobody asked for.")] = None,
    trust_account: Annotated[list[str] | None, Form(
        description="The escrow trust account(s) for safeguarding; default: the only "
        "bank account the files cover.")] = None,
    as_of: Annotated[Timestamp | None, Form(
        description="Internal runs only: the moment to reconcile as of (ISO 8601 with a "
        "zone); default now.")] = None,
) -> dict[str, Any]:
    """Runs a reconciliation and records it; answers the run without its breaks.

    A form (`multipart/form-data`, or `application/x-www-form-urlencoded` without
    files); a body of another media type is 415. With files: the ledger against
    them (every file parsed before anything is recorded; a malformed one is 422
    `statement-refused` naming the file, line and field). With `kind=internal` and
    no file: the ledger against itself (trial balance, projection against a
    replay). Neither is 422. The same `Idempotency-Key` answers the same run.
    """
    uploads = [await _read(f) for f in files or []]
    if len(uploads) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per run")
    if uploads and kind == "internal":
        raise InvalidInput("kind=internal is a run without files; send one or the other")
    if not uploads and kind != "internal":
        raise InvalidInput("no statement file: send files, or kind=internal for a run of "
                           "the ledger against itself")
    services = command.services
    ledger = services.ledger
    services.projection_position(None)
    queries = services.projector.queries
    actor = command.actor(None)

    def work() -> dict[str, Any]:
        if uploads:
            if as_of is not None:
                raise InvalidInput("as_of is for internal runs (no files) only")
            try:
                parsed = runs.parse_all(uploads)
            except StatementError as e:
                raise StatementRefused(str(e)) from None
            prepared = runs.prepare_external(ledger, queries, parsed,
                                             trust_accounts=trust_account or ())
        else:
            prepared = runs.prepare_internal(ledger, queries, as_of)
        result = runs.record(ledger, prepared, actor=actor,
                             idempotency_key=command.idempotency_key)
        return services.answer(result, response)

    answer = await run_in_threadpool(work)
    located(response, "reconciliation", "runs", answer["run_id"])
    return answer


@router.get("/runs/{run_id}", responses=READ_PROBLEMS)
def get_run(
    run_id: str, services: ServicesDep, caller: FinanceCaller,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the page before.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """The run (inputs, rules, counts, daily safeguarding) and a page of its breaks, in
    the order found; filter by `status` or `kind`."""
    run = services.ledger.reconciliation_run(run_id)
    start = 0 if cursor is None else int(decode_cursor(cursor, (int,))[0])
    chosen = [break_json(run, b) for b in run.breaks]
    chosen = [b for b in chosen if (status is None or b["status"] == status)
              and (kind is None or b["kind"] == kind)]
    size = page_limit(limit)
    page = chosen[start:start + size]
    more = start + size < len(chosen)
    return {**run_summary_json(run), "breaks": page,
            "next_cursor": encode_cursor([start + size]) if more else None}


@router.get("/runs/{run_id}/report", response_class=HTMLResponse, responses=READ_PROBLEMS)
def get_report(run_id: str, services: ServicesDep, caller: FinanceCaller) -> HTMLResponse:
    """The run as a page a person reads: matched counts and amounts, breaks by kind with
    their evidence, the daily safeguarding chart."""
    run = services.ledger.reconciliation_run(run_id)
    page = report.render(run_summary_json(run), [break_json(run, b) for b in run.breaks])
    return HTMLResponse(page)


@router.post("/breaks/{break_id}/resolve", responses=COMMAND_PROBLEMS)
def resolve_break(break_id: str, body: ResolveIn, command: FinanceCommandDep,
                  response: Response) -> dict[str, Any]:
    """Finance explains a break with a reason (recorded as an event with who and when).
    No money moves: a correction is an ordinary command that posts its own entries."""
    parts = break_id.split("_")
    if len(parts) != 3 or parts[0] != "brk":
        raise BreakNotFound(f"{break_id!r} is not a break id")
    result = command.services.ledger.resolve_break(
        run_id=f"run_{parts[1]}", break_id=break_id, reason=body.reason,
        actor=command.actor(body.actor), idempotency_key=command.idempotency_key)
    return command.services.answer(result, response)
