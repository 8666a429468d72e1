"""Fixtures shared by several integration modules (the rest are in tests/conftest.py)."""

from tests.support.hostile import world  # noqa: F401 - the hostile-input tests' resources, one set per module
