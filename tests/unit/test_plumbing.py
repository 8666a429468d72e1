"""Settings, the named-query parser, key format and error flattening: pure logic."""

import subprocess
import sys
from pathlib import Path

import pytest

from shared.engine.accounts import referer_allowed, split_key
from shared.engine.jobs import flatten_errors
from shared.engine.queries import parse, queries
from shared.engine.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_settings_from_env_types_and_defaults():
    s = Settings.from_env({"JOBLINE_MAX_BATCH": "7", "JOBLINE_HEARTBEAT_S": "0.5", "REDIS_URL": "redis://x/1"})
    assert s.max_batch == 7 and s.heartbeat_s == 0.5 and s.redis_url == "redis://x/1"
    assert Settings.from_env({}).max_batch == Settings().max_batch
    assert Settings.from_env(s.to_env()) == s


def test_settings_table_lists_every_variable():
    names = [row[0] for row in Settings.table()]
    assert "DATABASE_URL" in names and len(names) == len(set(names))


def test_query_parser():
    assert parse("-- a --\nSELECT 1;\n\n-- b_2 --\nSELECT 2;\n") == {"a": "SELECT 1;", "b_2": "SELECT 2;"}
    with pytest.raises(ValueError):
        parse("-- a --\nSELECT 1;\n-- a --\nSELECT 2;")


def test_named_queries_load_and_unknown_name_fails_loudly():
    assert "claim_job" in queries
    with pytest.raises(KeyError, match="no query named"):
        queries["nope"]


@pytest.mark.parametrize("key,prefix", [
    ("jl_abcd1234_secret", "abcd1234"), ("jl_abc_secret", None), ("xx_abcd1234_s", None),
    ("jl_abcd1234_", None), ("", None), ("jl_abcd1234_a_b-c", "abcd1234"),
])
def test_split_key(key, prefix):
    assert split_key(key) == prefix


def test_referer_whitelist():
    allowed = ("example.com",)
    assert referer_allowed("https://example.com/page", allowed)
    assert referer_allowed("https://www.example.com/", allowed)
    assert not referer_allowed("https://evil-example.com/", allowed)
    assert not referer_allowed("https://example.com.evil.net/", allowed)
    assert not referer_allowed(None, allowed)


def test_flatten_errors():
    errs = flatten_errors({"params": {"name": ["Missing."]}, "jobs": {0: {"type": ["Bad."]}}}, "json")
    assert {"name": "params.name", "location": "json", "description": "Missing."} in errs
    assert {"name": "jobs.0.type", "location": "json", "description": "Bad."} in errs


def test_api_and_workers_never_import_each_other():
    """import-linter's contracts (pyproject.toml): api ⟂ workers; shared imports neither."""
    result = subprocess.run([sys.executable, "-m", "importlinter.cli", "--config", "pyproject.toml"],
                            cwd=ROOT, capture_output=True, text=True)
    if "No module named" in result.stderr:
        result = subprocess.run(["lint-imports", "--config", "pyproject.toml"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower() or " 0 broken" in result.stdout.lower()


def test_the_hot_path_claims_exactly_as_claim_next():
    """succeed_and_claim_next repeats claim_next's CTEs; a change to one must reach the other."""
    claim = queries["claim_next"]
    ctes = claim[claim.index("WITH RECURSIVE ") + len("WITH RECURSIVE "):claim.rindex("\nSELECT ")]
    combined = queries["succeed_and_claim_next"]
    assert ctes in combined and combined.index(ctes) > combined.index("done_events AS (")
