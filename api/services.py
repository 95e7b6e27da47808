"""What the routes use, built once by ``create_app`` and found on ``app.state``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from api.errors import ApiProblem
from ledger.application import CommandResult, EscrowLedger
from projections.runner import BackgroundProjector, ProjectionRunner

REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass
class Services:
    ledger: EscrowLedger
    projector: ProjectionRunner
    api_keys: Mapping[str, frozenset[str]]
    backend: str
    run_background_projector: bool = True
    read_wait_timeout: float = 5.0
    owns_ledger: bool = False
    background: BackgroundProjector | None = None
    projector_elsewhere: bool = False
    """Another process keeps the views current (``ledger serve --workers N``): a read
    without ``min_position`` takes them as they are, as with ``background``."""

    def answer(self, result: CommandResult, response: Response) -> dict[str, Any]:
        """A command's HTTP body: its response plus the log position; marks replays."""
        if result.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        elif self.background is not None:
            self.background.poke()
        return {**result.response, "position": result.position}

    def projection_position(self, min_position: int | None) -> int:
        """Brings the journal view to ``min_position`` (or as far as it goes).

        Without a background projector every read catches up itself, so reads
        are deterministic; with one, a read without ``min_position`` takes the
        view as it is. Returns a position the view reflects at least; a view
        still behind ``min_position`` after the wait is a 503.
        """
        try:
            return self._projection_position(min_position)
        except ApiProblem:
            raise
        except Exception as e:
            raise ApiProblem(
                503, "projection-stalled",
                f"the journal view cannot catch up with the log ({type(e).__name__}); "
                "commands are still taken; see /v1/health",
                headers={"Retry-After": "5"},
            ) from e

    def _projection_position(self, min_position: int | None) -> int:
        if min_position is not None and min_position > self.ledger.position():
            # no wait can reach a position the log itself has not: say so now
            raise ApiProblem(
                422, "position-not-in-log",
                f"min_position {min_position} is beyond the log's position "
                f"{self.ledger.position()}: send a position a command returned",
            )
        if min_position is not None:
            position = self.projector.wait_for(min_position, timeout=self.read_wait_timeout)
            if position < min_position:
                raise ApiProblem(
                    503, "projection-behind",
                    f"the journal view reflects position {position}, not yet {min_position}; "
                    "retry shortly",
                    headers={"Retry-After": "1"},
                )
            return position
        if self.background is None and not self.projector_elsewhere:
            return self.projector.catch_up()
        return self.projector.position()

    def projector_error(self) -> str | None:
        error = self.projector.last_error
        if error is None and self.background is not None:
            error = self.background.last_error
        return None if error is None else f"{type(error).__name__}: {error}"


async def get_services(request: Request) -> Services:
    """``async`` so FastAPI calls it on the event loop: a plain ``def`` dependency costs a
    hop to the thread pool and back on every request, for one attribute lookup."""
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
