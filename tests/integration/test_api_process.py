"""The API process as gunicorn loads it (``api.wsgi``): configured from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import logging
import api.wsgi
log = logging.getLogger("jobline.test")
log.warning("shown", extra={"job_count": 3})
log.info("hidden")
"""


def test_the_api_process_logs_json_lines_at_jobline_log_level(settings):
    env = {**os.environ, **settings.to_env(), "JOBLINE_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]  # every line is JSON
    assert [(x["level"], x["logger"], x["msg"], x["job_count"]) for x in lines if x["logger"] == "jobline.test"] \
        == [("warning", "jobline.test", "shown", 3)]
    assert all(x["level"] in ("warning", "error", "critical") for x in lines)
