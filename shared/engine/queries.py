"""Named SQL queries, loaded from ``shared/*/sql/*.sql``.

A file holds blocks headed by ``-- name --``; call sites use ``queries["name"]`` with
``%(param)s`` placeholders, never string formatting. ``-- include: name`` in a block stands
for the SQL of block ``name`` (its leading comment lines left out), so two queries can share
CTEs instead of repeating them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_HEADER = re.compile(r"^-- ([a-z0-9_]+) --$", re.MULTILINE)
_INCLUDE = re.compile(r"-- include: ([a-z0-9_]+)\n")


def parse(text: str) -> dict[str, str]:
    parts = _HEADER.split(text)
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise ValueError(f"query {name!r} defined twice")
        found[name] = body.strip()
    return found


def _expand(sql: str, blocks: dict[str, str]) -> str:
    def body(match: re.Match) -> str:
        lines = blocks[match.group(1)].splitlines()
        while lines and lines[0].startswith("--"):
            lines.pop(0)
        return "\n".join(lines) + "\n"

    return _INCLUDE.sub(body, sql)


class Queries(Mapping[str, str]):
    """Loaded once, on first use; an unknown name fails loudly."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._loaded: dict[str, str] | None = None

    def _all(self) -> dict[str, str]:
        if self._loaded is None:
            loaded: dict[str, str] = {}
            for path in sorted(self._folder.glob("*/sql/*.sql")):
                for name, sql in parse(path.read_text()).items():
                    if name in loaded:
                        raise ValueError(f"query {name!r} defined twice ({path.relative_to(self._folder)})")
                    loaded[name] = sql
            self._loaded = {name: _expand(sql, loaded) for name, sql in loaded.items()}
        return self._loaded

    def __getitem__(self, name: str) -> str:
        try:
            return self._all()[name]
        except KeyError:
            raise KeyError(f"no query named {name!r}") from None

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


queries = Queries(Path(__file__).parents[1])
