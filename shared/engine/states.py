"""Job states and the transitions between them: the only place that names them.

The database mirrors this module: ``job_status`` is a Postgres enum with the same members,
and a trigger refuses any status change not listed in ``TRANSITIONS`` (migration 0001).
``tests/integration/test_database.py`` (``test_database_refuses_exactly_what_the_state_machine_refuses``)
checks the two agree on every pair of states.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    #: Waiting for its ``start_at``. In: create with a future start. Out: beat (dispatch), cancel.
    SCHEDULED = "scheduled"
    #: Waiting in PostgreSQL to be claimed. In: create, dispatch, retry, reap, restart. Out: a worker's claim, cancel.
    QUEUED = "queued"
    #: A worker holds the claim's lease and runs the handler. Out: the same worker, another worker's claim
    #: once the lease runs out (a new attempt), beat's reaper, cancel.
    RUNNING = "running"
    #: The handler returned; ``result`` holds what it returned.
    SUCCEEDED = "succeeded"
    #: The handler raised a permanent error, ran out of attempts, or its worker died too often.
    FAILED = "failed"
    #: A client cancelled it before it finished.
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED})
ACTIVE = frozenset(Status) - TERMINAL


@dataclass(frozen=True)
class Transition:
    """A verb: the states a job may be in for it, and the state it leaves the job in."""

    name: str
    sources: frozenset[Status]
    target: Status

    @property
    def source_names(self) -> list[str]:
        """Bound as ``status = ANY(%(sources)s::job_status[])`` in the conditional UPDATE."""
        return sorted(s.value for s in self.sources)


DISPATCH = Transition("dispatch", frozenset({Status.SCHEDULED}), Status.QUEUED)
CLAIM = Transition("claim", frozenset({Status.QUEUED}), Status.RUNNING)
SUCCEED = Transition("succeed", frozenset({Status.RUNNING}), Status.SUCCEEDED)
FAIL = Transition("fail", frozenset({Status.RUNNING}), Status.FAILED)
RETRY = Transition("retry", frozenset({Status.RUNNING}), Status.QUEUED)
CANCEL = Transition("cancel", frozenset({Status.SCHEDULED, Status.QUEUED, Status.RUNNING}), Status.CANCELED)
RESTART = Transition("restart", TERMINAL, Status.QUEUED)

TRANSITIONS: tuple[Transition, ...] = (DISPATCH, CLAIM, SUCCEED, FAIL, RETRY, CANCEL, RESTART)


def allowed_moves() -> frozenset[tuple[Status, Status]]:
    """Every (from, to) pair some transition permits; the database trigger lists the same."""
    return frozenset((s, t.target) for t in TRANSITIONS for s in t.sources)


def can_move(source: Status, target: Status) -> bool:
    return (source, target) in allowed_moves()
