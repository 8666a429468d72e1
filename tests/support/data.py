"""The team's real data sets: ``../shared/data`` beside the checkout (or ``JOBLINE_DATA``)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("JOBLINE_DATA", ROOT.parent / "shared" / "data"))
MLST = DATA / "mlst"
