"""The catalogue of every problem ``type`` the API can answer, for clients to branch on.

Built at run time from the ledger's error classes (each ``LedgerError``
subclass our packages define: its ``type`` slug, its family's status, the first
line of its docstring) and the HTTP layer's own problems (``API_PROBLEMS``), so
a new error class is listed without anyone remembering to. The same list is
the ``enum`` of the OpenAPI ``Problem`` schema's ``type``. Needs the `read` scope
like every other read: the list is no secret, but the API is never open.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ReadCaller
from api.errors import API_PROBLEMS, problem_title, problem_type, status_of
from api.routes import problem_responses
from domain.errors import LedgerError

router = APIRouter(prefix="/v1", tags=["problems"])

OUR_PACKAGES = ("domain", "ledger", "projections", "api", "reconciliation", "entrypoints")


@dataclass(frozen=True)
class ProblemKind:
    slug: str
    status: int
    description: str

    def as_json(self) -> dict[str, Any]:
        return {"slug": self.slug, "type": problem_type(self.slug), "status": self.status,
                "title": problem_title(self.slug), "description": self.description}


def _error_classes(root: type[LedgerError] = LedgerError) -> list[type[LedgerError]]:
    """``root`` and every subclass of it, depth first, defined in one of our packages."""
    found = [root] if root.__module__.split(".")[0] in OUR_PACKAGES else []
    for sub in root.__subclasses__():
        found += _error_classes(sub)
    return found


def _summary(kind: type) -> str:
    doc = inspect.getdoc(kind) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def catalogue() -> list[ProblemKind]:
    """Every problem the API can answer, one per slug, by status then slug.

    A slug both the ledger and the HTTP layer use (``not-found``,
    ``invalid-input``) is listed once, with the ledger's description.
    """
    kinds: dict[str, ProblemKind] = {
        slug: ProblemKind(slug, status, description)
        for slug, (status, description) in API_PROBLEMS.items()
    }
    for error in _error_classes():
        kinds[error.type] = ProblemKind(error.type, status_of(error), _summary(error))
    return sorted(kinds.values(), key=lambda k: (k.status, k.slug))


class ProblemKindOut(BaseModel):
    slug: str
    type: str
    status: int
    title: str
    description: str


class ProblemCatalogueOut(BaseModel):
    problems: list[ProblemKindOut]


@router.get("/problems", response_model=ProblemCatalogueOut,
            responses=problem_responses(401, 403))
def list_problems(caller: ReadCaller) -> dict[str, Any]:
    """Every problem `type` the API answers: slug, type URI, HTTP status, title, description.

    Branch on `type` (or `slug`); `title` is as stable; `detail` in a problem is for
    humans. A framework refusal with a status not listed here answers `http-<status>`.
    Needs the `read` scope.
    """
    return {"problems": [k.as_json() for k in catalogue()]}


def document_problem_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Lists every problem type as the ``enum`` of the OpenAPI ``Problem`` schema's ``type``."""
    problem = schema.get("components", {}).get("schemas", {}).get("Problem")
    if problem is not None:
        problem["properties"]["type"]["enum"] = sorted(problem_type(k.slug) for k in catalogue())
        problem["properties"]["type"]["description"] = (
            "The problem's stable type URI; `GET /v1/problems` describes each.")
    return schema
