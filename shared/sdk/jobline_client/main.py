"""The client's ``jobline`` command (the SDK's own): every API client command, nothing of the server.

The server's ``jobline`` (``shared/admin/cli.py``) adds the same commands beside its admin ones.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from jobline_client.cli import add_job_commands
from jobline_client.cli_apps import add_app_commands
from jobline_client.live import add_live_commands


def add_client_commands(sub: Any) -> None:
    """Add the API client subcommands (jobs; apps, deliveries, webhook; watch, status) to ``sub``."""
    common = add_job_commands(sub)
    add_app_commands(sub, common)
    add_live_commands(sub, common)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jobline", description="Jobline's canonical API from a shell.")
    sub = p.add_subparsers(dest="command", required=True)
    add_client_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
