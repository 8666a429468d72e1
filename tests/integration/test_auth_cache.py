"""The API's key cache: used only while change notices arrive, dropped by every change."""

from __future__ import annotations

import psycopg2
import pytest

from shared.engine.accounts import Accounts
from tests.conftest import wait_until


@pytest.fixture
def counting(runtime):
    """A second Accounts on the same database, counting its key lookups."""
    accounts = Accounts(runtime.db)
    calls = []
    one = runtime.db.one

    class Db:
        def one(self, name, **params):
            calls.append(name)
            return one(name, **params)

    accounts.db = Db()
    return accounts, calls


def test_a_live_cache_saves_the_lookup_and_forgets_on_notice(runtime, make_account, counting):
    accounts, calls = counting
    _account, key = make_account()
    accounts.cache_live = lambda: True
    assert accounts.authenticate(key).id == accounts.authenticate(key).id
    assert calls.count("find_key") == 1
    accounts.forget_keys()
    accounts.authenticate(key)
    assert calls.count("find_key") == 2


def test_no_cache_without_notices(runtime, make_account, counting):
    accounts, calls = counting
    _account, key = make_account()
    accounts.authenticate(key)
    accounts.authenticate(key)
    assert calls.count("find_key") == 2


def test_a_key_revoked_elsewhere_is_refused_once_the_notice_arrives(client, settings, make_account, runtime):
    _account, key = make_account()
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/jobs", headers=auth).status_code == 200
    assert client.get("/v1/jobs", headers=auth).status_code == 200  # now served from the cache
    with psycopg2.connect(settings.database_url) as conn, conn.cursor() as cur:  # another process's revoke
        cur.execute("UPDATE api_keys SET revoked_at = now() WHERE prefix = %s", (key.split("_")[1],))
    wait_until(lambda: client.get("/v1/jobs", headers=auth).status_code == 401, timeout=5, interval=0.02)


def test_an_account_change_elsewhere_applies_at_once(client, settings, make_account, runtime):
    account, _secret = make_account()
    key = runtime.accounts.create_key(account, kind="public")
    auth = {"Authorization": f"Api-Key {key}", "Referer": "https://app.example.com/page"}
    status = "/dragon/v1/status?tasks=5OYA5JQVFIAHYOMLQG5QV3U33M"  # what a public key may call
    assert client.get(status, headers=auth).status_code == 401  # Dragon's answer to a page off the whitelist
    with psycopg2.connect(settings.database_url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE accounts SET referers = %s WHERE id = %s", (["example.com"], account.id))
    wait_until(lambda: client.get(status, headers=auth).status_code == 200, timeout=5, interval=0.02)
