"""The exception tree. Each class's docstring is its default message.

API surfaces map these to HTTP in one place each (``api/errors.py`` for the canonical API,
each dialect's own module for its format); handlers raise ``TransientError`` to be retried.
"""

from __future__ import annotations


class JoblineError(Exception):
    """Something went wrong."""

    status = 500

    def __init__(self, message: str | None = None, **details: object) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.details = details
        super().__init__(self.message)


class BadRequest(JoblineError):
    """The request is not valid."""

    status = 400

    def __init__(self, message: str | None = None, errors: list[dict] | None = None, **details: object) -> None:
        super().__init__(message, **details)
        self.errors = errors or []


class Unauthorized(JoblineError):
    """A valid API key is required."""

    status = 401


class Forbidden(JoblineError):
    """This key may not do that."""

    status = 403


class NotFound(JoblineError):
    """No such resource."""

    status = 404


class Conflict(JoblineError):
    """The resource is not in a state that allows this."""

    status = 409


class IdempotencyMismatch(JoblineError):
    """This Idempotency-Key was already used with a different request body."""

    status = 422


class LimitReached(JoblineError):
    """The account's limit of jobs in flight is reached."""

    status = 429


class DatabaseUnavailable(JoblineError):
    """The database is unavailable; nothing was changed. Retry shortly."""

    status = 503


# Raised by handlers -------------------------------------------------------------------


class JobError(Exception):
    """A permanent failure of a job: recorded as its error, not retried."""


class TransientError(Exception):
    """A failure worth retrying (a timeout, a 503 upstream): retried with backoff."""


class StorageFull(JoblineError, TransientError):
    """The object store has no space left; nothing was stored. Retry later."""

    status = 507


class StorageUnavailable(JoblineError, TransientError):
    """The object store cannot be reached or is overloaded; nothing was stored. Retry shortly."""

    status = 503


class JobCanceled(Exception):
    """Raised inside a handler at its next progress report once the job is cancelled."""
