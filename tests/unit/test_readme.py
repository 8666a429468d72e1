"""The README stays true: its configuration table is `jobline config`, its test command is CI's."""

from __future__ import annotations

import re
from pathlib import Path

from shared.admin.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_table_is_jobline_config(capsys):
    main(["config"])
    assert capsys.readouterr().out.strip() in (ROOT / "README.md").read_text()


def test_the_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.S).group(1)
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2 and commands[0].endswith("jobline up")
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
