"""Parse MLST allelic profiles and isolate tables (tab-separated text).

Profiles: header ``ST<TAB>locus...``, then one row per sequence type (ST). Allele ids
are what phyloDB's MlFormatter takes them for: opaque strings. A plain decimal number
(``12``, not ``012``) is stored as itself; any other id (``12a``, ``LNF``) as a code
<= -2 naming ``labels[-2 - code]``, so equal ids get equal codes. A cell phyloDB reads
as missing (only blanks and ``-``, including empty) is stored as ``MISSING`` (-1); the
distance code treats it as a mismatch against everything, even another missing allele.
Errors raise :class:`ProfileError` with a 1-based line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

MISSING = -1
_MISSING = re.compile(r"[\s-]*")  # phyloDB: ``[\s<missing>]*`` with missing = "-"
_MAX_ALLELE = np.iinfo(np.int32).max
MAX_LABELS = 1_000_000


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
    labels: list[str] = field(default_factory=list)  # code -2 - k is labels[k]

    def __len__(self) -> int:
        return len(self.ids)

    def allele(self, code: int) -> str | None:
        """The allele id a matrix cell stands for (None when missing)."""
        return None if code == MISSING else str(code) if code >= 0 else self.labels[-2 - code]


class Labels:
    """Codes for allele ids that are not plain numbers, shared by every locus of a dataset."""

    def __init__(self, labels: list[str] | None = None) -> None:
        self.labels = list(labels or [])
        self.codes = {label: -2 - k for k, label in enumerate(self.labels)}

    def code(self, value: str) -> int:
        """The matrix cell for one allele id as written in a file (stripped)."""
        if _MISSING.fullmatch(value):
            return MISSING
        if value.isascii() and value.isdigit() and str(int(value)) == value and int(value) <= _MAX_ALLELE:
            return int(value)
        code = self.codes.get(value)
        if code is None:
            if len(self.labels) >= MAX_LABELS:
                raise ProfileError(f"more than {MAX_LABELS} distinct non-numeric allele ids")
            code = self.codes[value] = -2 - len(self.labels)
            self.labels.append(value)
        return code

    def recode(self, matrix: np.ndarray, labels: list[str]) -> np.ndarray:
        """``matrix`` written with ``labels``, rewritten with these codes (adding new ones)."""
        if not labels:
            return matrix
        table = np.array([self.code(label) for label in labels], dtype=np.int32)
        out = matrix.copy()
        named = out <= -2
        out[named] = table[-2 - out[named]]
        return out


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
    names = Labels()
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
            if len(value) > 200:
                raise ProfileError(f"allele id longer than 200 characters for locus {loci[col]!r}", number)
            matrix[row, col] = names.code(value)
    return ProfileSet(ids=ids, loci=loci, matrix=matrix, labels=names.labels)


def parse_isolates(data: bytes | str, id_column: int = 0) -> dict[str, str | None]:
    """Isolate id -> its ST (None when blank), as phyloDB's IsolatesFormatter reads a table.

    The id is column ``id_column`` (phyloDB's ``?id=``, default 0); the ST is the column
    headed exactly ``ST``. An id repeated in the file is one isolate: its last row wins.
    """
    lines = _lines(data)
    if not lines:
        raise ProfileError("empty file", 1)
    head_line, header = lines[0]
    names = [cell.strip() for cell in header]
    if "ST" not in names:
        raise ProfileError("header has no column named exactly ST", head_line)
    if not 0 <= id_column < len(names):
        raise ProfileError(f"the id column {id_column} is not in the header", head_line)
    col = names.index("ST")
    isolates: dict[str, str | None] = {}
    for number, cells in lines[1:]:
        if len(cells) != len(names):
            raise ProfileError(f"expected {len(names)} cells, got {len(cells)}", number)
        isolate = cells[id_column].strip()
        if not isolate or len(isolate) > 200:
            raise ProfileError("an isolate id must have 1 to 200 characters", number)
        st = cells[col].strip()
        isolates[isolate] = None if _MISSING.fullmatch(st) else st
    return isolates
