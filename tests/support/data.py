"""The MLST data sets tests and benchmarks read, every one through ``mlst(name)``.

The small public sets the test suite needs ship in the repository (``tests/data/mlst/``, with
their sources and licences), so a fresh clone passes alone. Larger sets only benchmarks read
are looked up in ``$JOBLINE_DATA/mlst`` (default: ``../shared/data/mlst`` beside the checkout);
when one is absent, ``mlst`` raises ``MissingData`` saying where to put it, and the benchmark
skips that case.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IN_REPO = ROOT / "tests" / "data" / "mlst"
LARGE = Path(os.environ.get("JOBLINE_DATA") or ROOT.parent / "shared" / "data") / "mlst"


class MissingData(FileNotFoundError):
    """An optional large data set (benchmarks only) is not on this machine."""


def mlst(name: str) -> Path:
    """The path of MLST set ``name``: shipped in the repository, else an optional large input."""
    for folder in (IN_REPO, LARGE):
        if (folder / name).is_file():
            return folder / name
    raise MissingData(f"{name} is an optional benchmark input not shipped with the repository: "
                      f"put it in {LARGE} (or point JOBLINE_DATA at a folder with mlst/{name}); "
                      f"sources in tests/data/mlst/README.md")


def mlst_sets() -> list[str]:
    """Names of every MLST set on this machine: the shipped ones, and the large ones if present."""
    return sorted({p.name for folder in (IN_REPO, LARGE) if folder.is_dir() for p in folder.glob("*.tsv")})
