"""A fresh clone alone is enough: tests read only data the repository ships, docs link only inside it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import data

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", "node_modules", "build", ".jobline"}
#: Test files that read MLST sets; run again below with the data folder pointing nowhere.
READERS = ["tests/unit/test_mlst.py", "tests/unit/test_radial.py", "tests/unit/test_phylo.py",
           "tests/unit/test_goeburst.py", "tests/unit/test_phylodb_order.py"]


def sources(pattern: str) -> list[Path]:
    return [p for p in ROOT.rglob(pattern) if not SKIP_DIRS & set(p.relative_to(ROOT).parts)]


def test_every_data_set_a_test_reads_ships_in_the_repository():
    names = {}
    for path in sources("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[:2] == ("tests", "bench") or rel in (Path("tests/support/data.py"), Path(__file__).relative_to(ROOT)):
            continue  # benchmarks may read the optional large sets, and skip without them
        text = path.read_text()
        beside = re.search(r"shared/data\b", text)  # the team folder's data, not shared/datasets/
        assert not beside and "JOBLINE_DATA" not in text, f"{rel} reads data beside the repo"
        for name in re.findall(r"\bmlst\(\s*f?[\"']([^\"']+)[\"']", text):
            names[name] = rel
    assert names, "the scan found no data set: has mlst() been renamed?"
    for name, rel in names.items():
        assert (data.IN_REPO / name).is_file(), f"{rel} reads {name}, which is not in tests/data/mlst/"
        assert name in (data.IN_REPO / "README.md").read_text(), f"{name}: no source and licence noted"


def test_the_data_reading_tests_pass_with_nothing_beside_the_repository(tmp_path):
    env = {**os.environ, "JOBLINE_DATA": str(tmp_path)}  # an empty folder: no ../shared/data
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *READERS],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "skipped" not in done.stdout.splitlines()[-1]


def test_a_missing_large_set_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "LARGE", tmp_path / "mlst")
    assert data.mlst("phylodb_profiles_500.tsv").parent == data.IN_REPO
    with pytest.raises(data.MissingData, match=re.escape(str(tmp_path / "mlst"))):
        data.mlst("phylodb_profiles_15000.tsv")


def test_documents_link_only_inside_the_repository():
    for path in sources("*.md"):
        text = path.read_text()
        rel = path.relative_to(ROOT)
        targets = re.findall(r"\]\(([^)\s#]+)[^)]*\)", text) + re.findall(r"`(\.\./[^`\s]+)`", text)
        for target in targets:
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            resolved = (path.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{rel} points outside the repository: {target}"
            assert resolved.exists(), f"{rel} links to a missing file: {target}"


def test_ci_runs_the_readme_test_command_in_a_fresh_clone_without_shared_beside_it():
    ci = (ROOT / ".ci" / "run").read_text()
    readme_command = next(line for line in (ROOT / "README.md").read_text().splitlines()
                          if line.startswith("python3 -m venv .venv") and line.endswith("-m pytest"))
    lines = [line.strip() for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    clone = next(i for i, line in enumerate(lines) if line.startswith("git clone"))
    into = next(i for i, line in enumerate(lines) if line == 'cd "$WORK/jobline"')
    runs = [i for i, line in enumerate(lines) if line == readme_command]
    assert len(runs) == 1 and clone < into < runs[0], "the suite runs once, verbatim, inside the clone"
    assert 'mktemp -d' in ci and 'trap \'rm -rf "$WORK"\' EXIT' in ci
    assert 'test ! -e "$WORK/shared"' in ci
    # The large optional inputs still run in CI, read from the checkout's ../shared through JOBLINE_DATA.
    large = next(line for line in lines if "JOBLINE_DATA=" in line)
    assert "test_phylodb_order.py" in large and "../shared/data" in large
    assert "JOBLINE_DATA" in Path(data.__file__).read_text()


def test_ci_script_is_valid_shell():
    out = subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
