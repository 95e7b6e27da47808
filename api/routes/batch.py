"""``POST /v1/batch``: up to 1,000 commands in one transaction, all or nothing.

Each item is an ordinary command request (path, body, its own
``Idempotency-Key`` and optional ``If-Match``) and is served by the very route
that serves it alone, so it is checked, decided and answered exactly as it
would be alone; the ledger (``ledger/batch.py``) holds back every write until
the last item has been decided, then saves them all at once. Items see the
effects of the items before them (open a contract, then add its milestone, by
the id the first answer chose; or send ids you chose where a route takes them).

If any item is refused, the batch answers that item's problem, with
``batch_index`` and ``batch_path`` added, and nothing at all is written. A batch
retried with the same keys answers every item as first answered.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import Message

from api.deps import CommandCaller
from api.errors import PROBLEM_MEDIA_TYPE, ApiProblem
from api.routes import COMMAND_PROBLEMS
from api.services import REPLAYED_HEADER, ServicesDep
from domain.errors import ConcurrencyConflict
from ledger.batch import MAX_COMMANDS
from ledger.request_context import current_request_id
from ledger.retries import MAX_ATTEMPTS, pause_after_conflict

router = APIRouter(prefix="/v1", tags=["batch"])

_FORWARDED_SCOPE = ("type", "asgi", "http_version", "scheme", "server", "client", "root_path",
                    "state", "extensions")


class BatchItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["POST"] = Field(default="POST", description="Commands only: POST.")
    path: str = Field(pattern=r"^/v1/[A-Za-z0-9._~:@!$&'()*+,;=%/-]{1,300}$",
                      description="A command route, e.g. `/v1/contracts` (no query string).")
    idempotency_key: str = Field(min_length=1, max_length=200,
                                 description="The item's own `Idempotency-Key`.")
    if_match: str | None = Field(default=None, max_length=40,
                                 description="The item's `If-Match`, if any.")
    body: dict[str, Any] = Field(default_factory=dict, description="The command's JSON body.")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BatchItemIn] = Field(min_length=1, max_length=MAX_COMMANDS)


class BatchItemOut(BaseModel):
    status: int
    body: dict[str, Any]
    location: str | None = None
    replayed: bool = False


class BatchOut(BaseModel):
    position: int = Field(description="The log position at which every item is visible.")
    items: list[BatchItemOut]


@router.post("/batch", response_model=BatchOut, responses=COMMAND_PROBLEMS)
async def apply_batch(
    batch_in: Annotated[BatchIn, Body()], request: Request, services: ServicesDep,
    caller: CommandCaller,
) -> Any:
    """Applies up to 1,000 commands in one transaction: all of them, or none.

    The scope is checked here, and each item is authorised again by its own route."""
    if any(item.path.rstrip("/") == "/v1/batch" for item in batch_in.items):
        raise ApiProblem(422, "invalid-input", "a batch cannot contain a batch")
    ledger = services.ledger
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with ledger.batch() as batch:
            answers: list[BatchItemOut] = []
            for index, item in enumerate(batch_in.items):
                answer = await _serve(request, item, index)
                if not 200 <= answer.status < 300:
                    return _refused(index, item, answer)
                answers.append(answer)
        try:
            position = await run_in_threadpool(ledger.commit_batch, batch)
        except ConcurrencyConflict:
            if attempt == MAX_ATTEMPTS:
                raise
            await run_in_threadpool(pause_after_conflict, attempt)
            continue
        if services.background is not None:
            services.background.poke()
        for answer, item in zip(answers, batch_in.items, strict=True):
            if not answer.replayed and "position" in answer.body:
                answer.body["position"] = batch.positions.get(
                    caller.idempotency_key(item.idempotency_key), position)
        return BatchOut(position=position, items=answers)
    raise AssertionError("unreachable")  # pragma: no cover


async def _serve(request: Request, item: BatchItemIn, index: int) -> BatchItemOut:
    """The item answered by its own route, through the whole app (auth, checks, errors)."""
    body = json.dumps(item.body).encode()
    headers = [(k, v) for k, v in request.scope["headers"]
               if k in (b"authorization", b"user-agent")]
    headers += [(b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"idempotency-key", item.idempotency_key.encode())]
    if item.if_match is not None:
        headers.append((b"if-match", item.if_match.encode()))
    if (outer := current_request_id()) is not None:
        headers.append((b"x-request-id", f"{outer[:120]}.{index}".encode()))
    scope = {k: v for k, v in request.scope.items() if k in _FORWARDED_SCOPE}
    scope.update(method="POST", path=item.path, raw_path=item.path.encode(), query_string=b"",
                 headers=headers)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status, answer_headers, chunks = 500, list[tuple[bytes, bytes]](), list[bytes]()

    async def send(message: Message) -> None:
        nonlocal status, answer_headers
        if message["type"] == "http.response.start":
            status, answer_headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await request.app(scope, receive, send)
    found = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in answer_headers}
    raw = b"".join(chunks)
    try:
        decoded = json.loads(raw) if raw else {}
    except ValueError:
        decoded = {"detail": raw.decode("utf-8", "replace")}
    return BatchItemOut(status=status, body=decoded if isinstance(decoded, dict) else
                        {"value": decoded}, location=found.get("location"),
                        replayed=found.get(REPLAYED_HEADER.lower()) == "true")


def _refused(index: int, item: BatchItemIn, answer: BatchItemOut) -> JSONResponse:
    """The refused item's own problem, saying which item it was; nothing was written."""
    problem = dict(answer.body)
    detail = problem.get("detail", "refused")
    problem.update(detail=f"item {index} ({item.method} {item.path}) was refused, so nothing "
                          f"in the batch was written: {detail}",
                   batch_index=index, batch_path=item.path, status=answer.status)
    return JSONResponse(problem, status_code=answer.status, media_type=PROBLEM_MEDIA_TYPE)
