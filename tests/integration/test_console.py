"""The web console through Flask's test client: sign-in, scopes, CSRF, tenancy, every page.

The same flows in a real browser are in ``tests/browser``; these run everywhere and fast.
"""

from __future__ import annotations

import html
import re
import uuid

import pytest

pytestmark = pytest.mark.usefixtures("engine")
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    """A browser-like session on the console: cookies kept, the CSRF token read from pages."""

    def __init__(self, app, key: str | None = None) -> None:
        self.client = app.test_client()
        self.token = ""
        if key:
            r = self.sign_in(key)
            assert r.status_code == 302 and r.headers["Location"].endswith("/console/jobs"), r.data[:300]
            self.get("/console/jobs")  # signing in starts a new session, with a new CSRF token

    def get(self, path: str, **kw):
        r = self.client.get(path, base_url="https://localhost", **kw)
        found = TOKEN.search(r.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return r

    def post(self, path: str, data: dict | None = None, token: bool = True, **kw):
        if token and not self.token:
            self.get("/console/sign-in")
        body = dict(data or {})
        if token:
            body["csrf_token"] = self.token
        return self.client.post(path, data=body, base_url="https://localhost",
                                headers={"Referer": "https://localhost/console/jobs"}, **kw)

    def sign_in(self, key: str):
        self.get("/console/sign-in")
        return self.post("/console/sign-in", {"key": key})


@pytest.fixture
def jobs_of(client):
    def create(key: str, **body):
        body = {"type": "hello", "params": {"name": "A"}, **body}
        r = client.post("/v1/jobs", json=body, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 201, r.data
        return r.get_json()

    return create


def test_sign_in_sets_a_locked_down_cookie_and_shows_the_jobs(app, make_account, jobs_of):
    _account, key = make_account()
    job = jobs_of(key, params={"name": "Console"})
    c = Console(app)
    assert c.get("/console/jobs").status_code == 302  # not signed in yet
    r = c.sign_in(key)
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert key not in cookie  # the session names the key by id; the key itself never travels again
    page = c.get("/console/jobs").get_data(as_text=True)
    assert job["id"][:8] in page and "Cancel selected" in page
    detail = html.unescape(c.get(f"/console/jobs/{job['id']}").get_data(as_text=True))
    assert '"name": "Console"' in detail and "Timeline" in detail


def test_wrong_and_public_keys_cannot_sign_in(app, runtime):
    account = runtime.accounts.create(f"pub-{uuid.uuid4().hex[:8]}", referers=["localhost"])
    public = runtime.accounts.create_key(account, kind="public")
    c = Console(app)
    r = c.sign_in("jl_nothing_atall")
    assert r.status_code == 401 and "not valid" in r.get_data(as_text=True)
    c.client.environ_base["HTTP_REFERER"] = "https://localhost/console/sign-in"  # a whitelisted page, even so
    r = c.sign_in(public)
    assert r.status_code == 401 and "public key cannot sign in" in r.get_data(as_text=True)
    assert c.get("/console/jobs").status_code == 302
    r = c.get("/console/jobs/table", headers={"HX-Request": "true"})  # a live refresh after the session ended
    assert r.status_code == 401 and r.headers["HX-Redirect"] == "/console/sign-in"


def test_a_read_key_session_sees_no_buttons_and_cannot_cancel(app, runtime, make_account, jobs_of):
    account, secret = make_account()
    read = runtime.accounts.create_key(account, kind="read")
    job = jobs_of(secret, type="test.sleep", params={"seconds": 30, "steps": 300})
    c = Console(app, read)
    page = c.get("/console/jobs").get_data(as_text=True)
    assert job["id"][:8] in page
    assert "Cancel selected" not in page and "New job" not in page
    detail = c.get(f"/console/jobs/{job['id']}").get_data(as_text=True)
    assert "Cancel job" not in detail and "Restart job" not in detail and "Delete job" not in detail
    for path, data in [(f"/console/jobs/{job['id']}/cancel", {}), (f"/console/jobs/{job['id']}/delete", {}),
                       ("/console/jobs/bulk", {"action": "cancel", "ids": job["id"]}),
                       ("/console/jobs/new", {"type": "hello", "params": '{"name": "x"}'}),
                       ("/console/keys", {"kind": "secret", "label": "x"})]:
        r = c.post(path, data)
        assert r.status_code == 403, (path, r.status_code)
        assert "may not do this" in r.get_data(as_text=True)
    assert runtime.jobs.get(account, job["id"])["status"] in ("queued", "running")
    assert runtime.jobs.get(account, job["id"])["cancel_requested_at"] is None
    assert len(runtime.accounts.list_keys(account)) == 2
    runtime.jobs.cancel(account, job["id"])


def test_every_form_needs_the_csrf_token(app, runtime, make_account, jobs_of):
    account, key = make_account()
    job = jobs_of(key, type="test.sleep", params={"seconds": 30, "steps": 300})
    c = Console(app, key)
    for path in [f"/console/jobs/{job['id']}/cancel", "/console/jobs/bulk", "/console/keys", "/console/sign-out"]:
        r = c.post(path, {"action": "cancel", "ids": job["id"], "kind": "secret"}, token=False)
        assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True), path
        r = c.client.post(path, data={"csrf_token": "forged"}, base_url="https://localhost")
        assert r.status_code == 400, path
    assert runtime.jobs.get(account, job["id"])["cancel_requested_at"] is None
    assert len(runtime.accounts.list_keys(account)) == 1
    assert c.get("/console/jobs").status_code == 200  # still signed in
    assert c.post(f"/console/jobs/{job['id']}/cancel").status_code == 302
    assert runtime.jobs.get(account, job["id"])["status"] == "canceled" or \
        runtime.jobs.get(account, job["id"])["cancel_requested_at"] is not None


def test_no_account_sees_anothers_data(app, runtime, make_account, jobs_of):
    a, key_a = make_account()
    _b, key_b = make_account()
    job = jobs_of(key_a, type="test.sleep", params={"seconds": 30, "steps": 300})
    done = jobs_of(key_a, params={"name": "Secret A"})
    prefix_a = runtime.accounts.list_keys(a)[0]["prefix"]
    b = Console(app, key_b)
    for path in [f"/console/jobs/{job['id']}", f"/console/jobs/{job['id']}/live", f"/console/jobs/{done['id']}"]:
        r = b.get(path)
        assert r.status_code == 404, path
        assert "Secret A" not in r.get_data(as_text=True)
    for verb in ("cancel", "restart", "delete"):
        r = b.post(f"/console/jobs/{job['id']}/{verb}")
        assert r.status_code == 404, (verb, r.get_data(as_text=True)[-600:])
    r = b.post("/console/jobs/bulk", {"action": "cancel", "ids": job["id"]})
    assert r.status_code == 302  # reported as skipped, and nothing done
    assert b.post("/console/keys/revoke", {"prefix": prefix_a}).status_code == 404
    for path in ["/console/jobs", "/console/jobs/table", "/console/queues", "/console/keys"]:
        text = b.get(path).get_data(as_text=True)
        assert job["id"][:8] not in text and done["id"][:8] not in text and prefix_a not in text, path
    assert runtime.jobs.get(a, job["id"])["cancel_requested_at"] is None
    assert runtime.accounts.authenticate(key_a).id == a.id  # A's key still works
    runtime.jobs.cancel(a, job["id"])


def test_filters_paging_and_bad_filters(app, make_account, jobs_of):
    _account, key = make_account()
    made = [jobs_of(key, params={"name": f"n{i}"}) for i in range(27)]
    c = Console(app, key)
    first = c.get("/console/jobs").get_data(as_text=True)
    assert made[-1]["id"][:8] in first and made[0]["id"][:8] not in first
    older = re.search(r'href="(/console/jobs\?[^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    second = c.get(older).get_data(as_text=True)
    assert made[0]["id"][:8] in second and made[-1]["id"][:8] not in second
    none = c.get("/console/jobs?type=image.info").get_data(as_text=True)
    assert "No jobs match" in none
    future = c.get("/console/jobs?created_after=2999-01-01T00:00").get_data(as_text=True)
    assert "No jobs match" in future
    for bad in ["status=bogus", "created_after=yesterday", "before=abc"]:
        r = c.get(f"/console/jobs?{bad}")
        assert r.status_code == 400 and r.mimetype == "text/html", bad


def test_queues_keys_and_revoking_the_session_key(app, runtime, make_account, jobs_of):
    account, key = make_account()
    jobs_of(key, params={"name": "q"})
    c = Console(app, key)
    page = c.get("/console/queues").get_data(as_text=True)
    for queue in ("default", "images", "analysis", "maintenance"):
        assert f">{queue}<" in page
    r = c.post("/console/keys", {"kind": "read", "label": "dashboard"})
    created = re.search(r'data-testid="new-key">([^<]+)<', r.get_data(as_text=True)).group(1)
    assert runtime.accounts.authenticate(created).scopes == {"read"}
    listed = c.get("/console/keys").get_data(as_text=True)
    assert "dashboard" in listed and created not in listed  # shown once
    assert c.post("/console/keys", {"kind": "root"}).status_code == 400
    own = runtime.accounts.list_keys(account)[0]["prefix"]
    assert c.post("/console/keys/revoke", {"prefix": own}).status_code == 302
    assert c.get("/console/jobs").status_code == 302  # the session's key is gone: so is the session
    for page in ("apps", "datasets", "uploads"):
        assert Console(app, created).get(f"/console/{page}").status_code == 200, page


def test_every_console_route_with_a_job_id_refuses_another_account(app, runtime, make_account, jobs_of):
    """Generated from the route table, so a new console route is swept too."""
    a, key_a = make_account()
    _b, key_b = make_account()
    job = jobs_of(key_a, type="test.sleep", params={"seconds": 30, "steps": 300})
    b = Console(app, key_b)
    swept = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or "job_id" not in rule.arguments:
            continue
        values = {"job_id": job["id"], **{arg: "cancel" for arg in rule.arguments - {"job_id"}}}
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            r = b.get(path) if method == "GET" else b.post(path)
            assert r.status_code == 404, (rule.endpoint, method, r.status_code)
            swept += 1
    assert swept >= 3
    assert runtime.jobs.get(a, job["id"])["cancel_requested_at"] is None
    runtime.jobs.cancel(a, job["id"])


def test_outputs_are_shown_as_people_want_them(app, runtime, make_account, jobs_of):
    from tests.conftest import wait_until

    account, key = make_account()
    job = jobs_of(key, type="test.files", params={"names": ["notes.txt", "tree.svg"]})
    wait_until(lambda: runtime.jobs.get(account, job["id"])["status"] == "succeeded", timeout=60)
    row = runtime.jobs.get(account, job["id"])
    runtime.files.save(row["id"], job["id"], "counts.json", b'{"nodes": 12, "edges": [1, 2]}', "application/json")
    page = html.unescape(Console(app, key).get(f"/console/jobs/{job['id']}").get_data(as_text=True))
    assert re.search(r'<img src="[^"]+/files/[^"]+" alt="Output tree.svg"', page)  # drawn, e.g. a goeBURST layout
    assert '"edges": [\n    1,\n    2\n  ],\n  "nodes": 12' in page  # JSON pretty-printed
    assert 'alt="Output notes.txt"' not in page and ">notes.txt</a>" in page  # anything else: a link


def test_queues_count_throughput_and_failure_rate_of_the_account_only(app, runtime, make_account, jobs_of):
    from tests.conftest import wait_until

    account, key = make_account()
    other, other_key = make_account()
    made = [jobs_of(key, type="test.sleep", params={"seconds": 0.1, "steps": 1}),
            jobs_of(key, type="test.sleep", params={"seconds": 0.1, "steps": 1, "fail": "no"}),
            jobs_of(other_key, type="test.sleep", params={"seconds": 0.1, "steps": 1, "fail": "no"})]
    owners = [account, account, other]
    wait_until(lambda: all(runtime.jobs.get(o, j["id"])["status"] in ("succeeded", "failed")
                           for o, j in zip(owners, made, strict=True)), timeout=60)
    jobs_of(key, type="test.sleep", params={}, start_at="2999-01-01T00:00:00Z")
    page = Console(app, key).get("/console/queues").get_data(as_text=True)
    default = re.search(r'<th scope="row">default</th>(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>(\d+)</td>", default)[:3] == ["1", "0", "0"]  # scheduled, queued, running
    last_hour = re.findall(r'<th scope="row">default</th>(.*?)</tr>', page, re.S)[1]
    assert re.findall(r"<td>([\d.%]+)</td>", last_hour) == ["2", "1", "1", "0", "50.0%"]  # not the other's failure


def test_the_accounts_page_is_for_admin_keys_only(app, runtime, make_account):
    _user, user_key = make_account()
    admin, admin_key = make_account(role="admin")
    assert Console(app, user_key).get("/console/accounts").status_code == 404
    page = Console(app, admin_key).get("/console/accounts").get_data(as_text=True)
    assert admin.name in page and _user.name in page


def test_a_jobs_callback_deliveries_are_shown(app, runtime, make_account, jobs_of, receiver):
    from tests.conftest import wait_until

    account, key = make_account()
    job = jobs_of(key, callback_url=f"{receiver.url}/console-hook")
    receiver.wait_for("/console-hook", timeout=60)
    c = Console(app, key)

    def shown():
        page = c.get(f"/console/jobs/{job['id']}").get_data(as_text=True)
        return page if 's-delivered">delivered' in page else None

    page = wait_until(shown, timeout=30)
    assert f"{receiver.url}/console-hook" in page and "1 (last: 200," in page
    [delivery_id] = re.findall(r'action="/console/jobs/[^/]+/deliveries/([^/]+)/redeliver"', page)
    assert c.post(f"/console/jobs/{job['id']}/deliveries/{delivery_id}/redeliver", token=False).status_code == 400
    r = c.post(f"/console/jobs/{job['id']}/deliveries/{delivery_id}/redeliver")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/console/jobs/{job['id']}")
    again = receiver.wait_for("/console-hook", 2, timeout=60)
    assert again[0].headers["webhook-id"] == again[1].headers["webhook-id"] == delivery_id
    read_key = runtime.accounts.create_key(account, "read")
    assert "/redeliver" not in Console(app, read_key).get(f"/console/jobs/{job['id']}").get_data(as_text=True)
