"""The job-type registry: name → handler, parameter schema, queue, limits.

Handlers are named by import path (``"workers.handlers.hello:run"``) so that the API can
validate parameters and route jobs without importing worker code.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from marshmallow import Schema

QUEUES: tuple[str, ...] = ("default", "images", "analysis", "maintenance", "callbacks")


@dataclass(frozen=True)
class JobType:
    name: str
    queue: str
    params: type[Schema]
    handler: str
    description: str
    soft_time_limit: float = 300.0  # seconds; the handler sees a timeout error
    time_limit: float = 330.0  # seconds; the worker process is killed
    max_attempts: int = 3

    @cached_property
    def schema(self) -> Schema:
        """One instance of ``params``, reused: building a schema costs more than a load."""
        return self.params()

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise ValueError(f"job type {self.name}: unknown queue {self.queue!r}")


class Registry:
    """Job types by name; unknown names raise ``KeyError`` with the known ones listed."""

    def __init__(self, types: list[JobType]) -> None:
        self._types = {t.name: t for t in types}

    def __getitem__(self, name: str) -> JobType:
        try:
            return self._types[name]
        except KeyError:
            raise KeyError(f"unknown job type {name!r}; known: {', '.join(sorted(self._types))}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[JobType]:
        return iter(self._types.values())

    def names(self) -> list[str]:
        return sorted(self._types)


def default_registry(plugins: str = "") -> Registry:
    """Every feature's ``shared/<feature>/jobtypes.py`` (its ``JOB_TYPES``), plus those of plugin modules."""
    import shared

    modules = [f"shared.{p.parent.name}.jobtypes" for folder in shared.__path__
               for p in sorted(Path(folder).glob("*/jobtypes.py"))]
    modules += [name.strip() for name in plugins.split(",") if name.strip()]
    return Registry([t for name in modules for t in importlib.import_module(name).JOB_TYPES])
