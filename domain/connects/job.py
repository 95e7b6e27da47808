"""A job, as far as Connects care: whether it led to a contract.

Connects spent on a job come back when the client cancels it *before any
contract exists*, and a boost auction closes at the first hire; the
freelancer's statement counts Connects spent on jobs that led to a contract.
Opening a contract that names its job records the hire here.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


class Job(Aggregate):
    class Hired(Aggregate.Created):
        """The job's first contract was opened."""

        job_id: str
        contract_id: str

        def apply(self, job: Job) -> None:
            job.job_id = self.job_id
            job.contract_ids = (self.contract_id,)
            job.first_hired_at = self.timestamp

    class HiredAgain(Aggregate.Event):
        contract_id: str

        def apply(self, job: Job) -> None:
            job.contract_ids = (*job.contract_ids, self.contract_id)

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        job_id: str
        contract_ids: tuple[str, ...]
        first_hired_at: datetime

    @staticmethod
    def id_for(job_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"escrow-ledger:job:{job_id}")

    @classmethod
    def hire(cls, job: Job | None, job_id: str, contract_id: str, at: datetime) -> Job:
        """Records a contract for the job (creating its record on the first hire)."""
        if job is None:
            return cls._create(cls.Hired, id=cls.id_for(job_id), timestamp=at, job_id=job_id,
                               contract_id=contract_id)
        job.trigger_event(job.HiredAgain, timestamp=at, contract_id=contract_id)
        return job
