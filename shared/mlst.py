"""Parse MLST allelic profiles and isolate tables (tab-separated text).

Profiles: header ``ST<TAB>locus...``, then one row per sequence type (ST). A
missing allele (empty cell, blank or ``-``) is stored as ``MISSING`` (-1); the
distance code treats it as a mismatch against everything, even another missing
allele. Errors raise :class:`ProfileError` with a 1-based line number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MISSING = -1
_MISSING_CELLS = ("", "-")
_MAX_ALLELE = np.iinfo(np.int32).max


class ProfileError(ValueError):
    """A malformed profile or isolate file; ``line`` is 1-based (0 if not tied to a line)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.message = message
        self.line = line


@dataclass
class ProfileSet:
    """Profiles in file order: ``matrix[i]`` holds the alleles of ``ids[i]``."""

    ids: list[str]
    loci: list[str]
    matrix: np.ndarray  # (n, len(loci)) int32; MISSING marks a missing allele

    def __len__(self) -> int:
        return len(self.ids)


def _lines(data: bytes | str) -> list[tuple[int, list[str]]]:
    """Non-blank lines as (1-based line number, tab-split cells)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ProfileError("file is not UTF-8 text") from exc
    data = data.removeprefix("\ufeff")
    out = []
    for number, raw in enumerate(data.split("\n"), start=1):
        line = raw.rstrip("\r")
        if line.strip():
            out.append((number, line.split("\t")))
    return out


def parse_profiles(data: bytes | str) -> ProfileSet:
    """Parse an allelic profile table; raise ProfileError on the first problem."""
    lines = _lines(data)
    if not lines:
        raise ProfileError("empty file", 1)
    head_line, header = lines[0]
    header = [cell.strip() for cell in header]
    if header[0].upper() != "ST":
        raise ProfileError(f"first header column must be ST, got {header[0]!r}", head_line)
    loci = header[1:]
    if not loci:
        raise ProfileError("header has no locus columns", head_line)
    if len(lines) == 1:
        raise ProfileError("no profiles after the header", head_line)
    width = len(header)
    ids: list[str] = []
    seen: dict[str, int] = {}
    matrix = np.empty((len(lines) - 1, len(loci)), dtype=np.int32)
    for row, (number, cells) in enumerate(lines[1:]):
        if len(cells) != width:
            raise ProfileError(f"expected {width} cells, got {len(cells)}", number)
        st = cells[0].strip()
        if not st:
            raise ProfileError("empty ST id", number)
        if st in seen:
            raise ProfileError(f"duplicate ST {st!r} (first on line {seen[st]})", number)
        seen[st] = number
        ids.append(st)
        for col, cell in enumerate(cells[1:]):
            value = cell.strip()
            if value in _MISSING_CELLS:
                matrix[row, col] = MISSING
            elif value.isascii() and value.isdigit() and int(value) <= _MAX_ALLELE:
                matrix[row, col] = int(value)
            else:
                raise ProfileError(f"bad allele {value!r} for locus {loci[col]!r}", number)
    return ProfileSet(ids=ids, loci=loci, matrix=matrix)


def parse_isolates(data: bytes | str) -> dict[str, int]:
    """Count isolates per ST from a table whose header has an ``ST`` column."""
    lines = _lines(data)
    if not lines:
        raise ProfileError("empty file", 1)
    head_line, header = lines[0]
    names = [cell.strip().upper() for cell in header]
    if "ST" not in names:
        raise ProfileError("header has no ST column", head_line)
    col = names.index("ST")
    counts: dict[str, int] = {}
    for number, cells in lines[1:]:
        if col >= len(cells):
            raise ProfileError(f"missing ST cell (column {col + 1})", number)
        st = cells[col].strip()
        if st and st != "-":
            counts[st] = counts.get(st, 0) + 1
    return counts
