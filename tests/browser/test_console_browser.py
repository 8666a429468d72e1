"""The console in headless Chromium against the live stack (gunicorn, real workers):
sign in, submit a thumbnail job and watch it finish live, see the thumbnail, cancel a
running job, be refused another account's job; screenshots of every page at two widths."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.support.images import image_server, jpeg


def sign_in(page, live: str, key: str) -> None:
    page.goto(f"{live}/console/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live}/console/jobs")


#: How long a page may take to show what the workers did (a wait, not a measurement).
WAIT_MS = 60_000


@pytest.fixture
def api(client):
    def call(method: str, path: str, key: str, **kw):
        r = client.open(path, method=method, headers={"Authorization": f"Bearer {key}"}, **kw)
        assert r.status_code < 300, r.data
        return r.get_json()

    return call


def test_thumbnail_job_finishes_live_and_shows_its_thumbnails(open_page, live, make_account):
    _account, key = make_account()
    page = open_page(DESKTOP)
    sign_in(page, live, key)
    with image_server({"/cat.jpg": ("image/jpeg", jpeg(900, 600))}) as images:
        page.get_by_text("New job").click()
        page.get_by_label("Type").last.select_option("image.thumb")
        page.get_by_label("Parameters (JSON)").fill(json.dumps({"url": f"{images}/cat.jpg"}))
        page.get_by_role("button", name="Submit job").click()
        page.wait_for_url(f"{live}/console/jobs/*")
        page.evaluate("window.__notReloaded = true")
        expect(page.get_by_test_id("status")).to_have_text("succeeded", timeout=WAIT_MS)
    assert page.evaluate("window.__notReloaded") is True  # it changed in place: the page was live
    for name in ("small", "large"):
        img = page.get_by_role("img", name=f"Output {name}")
        img.wait_for()
        assert page.evaluate("(el) => el.complete && el.naturalWidth", img.element_handle()) > 0, name
    assert page.get_by_role("progressbar", name="Progress").get_attribute("value") == "100"
    assert "original_width" in page.get_by_label("Result").inner_text()
    shoot(page, "job")
    page.set_viewport_size(PHONE)
    shoot(page, "job")


def test_cancel_a_running_job_from_its_page(open_page, live, make_account, api):
    _account, key = make_account()
    job = api("POST", "/v1/jobs", key, json={"type": "test.sleep", "params": {"seconds": 60, "steps": 600}})
    page = open_page(PHONE)
    sign_in(page, live, key)
    page.goto(f"{live}/console/jobs/{job['id']}")
    expect(page.get_by_test_id("status")).to_have_text("running", timeout=WAIT_MS)
    page.get_by_role("button", name="Cancel job").click()
    expect(page.get_by_test_id("status")).to_have_text("canceled", timeout=WAIT_MS)
    assert page.get_by_role("button", name="Restart job").is_visible()
    assert "cancel" in page.locator(".timeline").inner_text()
    assert api("GET", f"/v1/jobs/{job['id']}", key)["status"] == "canceled"


def test_bulk_cancel_from_the_list(open_page, live, make_account, api):
    _account, key = make_account()
    made = [api("POST", "/v1/jobs", key, json={"type": "test.sleep", "start_at": "2999-01-01T00:00:00Z",
                                               "params": {"seconds": 1}}) for _ in range(3)]
    page = open_page(DESKTOP)
    sign_in(page, live, key)
    for job in made[:2]:
        page.get_by_role("checkbox", name=f"Select job {job['id'][:8]}").check()
    page.get_by_role("button", name="Cancel selected").click()
    page.get_by_text("cancel: 2 job(s)").wait_for()
    assert [api("GET", f"/v1/jobs/{j['id']}", key)["status"] for j in made] == ["canceled", "canceled", "scheduled"]


def test_another_accounts_job_is_refused(open_page, live, make_account, api):
    _a, key_a = make_account()
    _b, key_b = make_account()
    theirs = api("POST", "/v1/jobs", key_b, json={"type": "hello", "params": {"name": "Bob's secret"}})
    page = open_page(DESKTOP)
    sign_in(page, live, key_a)
    response = page.goto(f"{live}/console/jobs/{theirs['id']}")
    assert response.status == 404
    assert "no job" in page.get_by_role("alert").inner_text()
    assert "Bob" not in page.content()
    page.goto(f"{live}/console/jobs")
    assert theirs["id"][:8] not in page.content()


def test_a_read_key_sees_no_buttons(open_page, live, runtime, make_account, api):
    account, key = make_account()
    read = runtime.accounts.create_key(account, kind="read")
    job = api("POST", "/v1/jobs", key, json={"type": "test.sleep", "start_at": "2999-01-01T00:00:00Z"})
    page = open_page(DESKTOP)
    sign_in(page, live, read)
    page.goto(f"{live}/console/jobs/{job['id']}")
    assert page.get_by_role("button", name="Cancel job").count() == 0
    assert page.get_by_role("button", name="Delete job").count() == 0
    # forging the form anyway: the server refuses it as the API would
    status_code = page.evaluate("""async (id) => {
        const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken'];
        const r = await fetch('/console/jobs/' + id + '/cancel', {method: 'POST',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf_token=' + token});
        return r.status; }""", job["id"])
    assert status_code == 403
    assert api("GET", f"/v1/jobs/{job['id']}", key)["status"] == "scheduled"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_screenshots_of_every_page(open_page, live, make_account, api, viewport):
    account, key = make_account(role="admin")  # an admin's key also has the accounts page
    for i, name in enumerate(["Ada", "Grace", "Linus"]):
        api("POST", "/v1/jobs", key, json={"type": "hello", "params": {"name": name}, "priority": i})
    api("POST", "/v1/jobs", key, json={"type": "test.sleep", "params": {"seconds": 30, "steps": 300}})
    api("POST", "/v1/jobs", key, json={"type": "test.sleep", "params": {"fail": "broken input"}})
    api("POST", "/v1/apps", key, json={"name": "greeter", "type": "hello", "params": {"name": "x"}})
    api("POST", "/v1/datasets", key, json={"code": f"ds{account.id}", "title": "Books"})
    page = open_page(viewport)
    page.goto(f"{live}/console/sign-in")
    shoot(page, "sign-in")
    sign_in(page, live, key)
    for name in ("jobs", "queues", "apps", "datasets", "uploads", "keys", "accounts"):
        page.goto(f"{live}/console/{name}")
        page.get_by_role("heading", level=1).wait_for()
        shoot(page, name)
        # every control has an accessible name
        unnamed = page.evaluate("""() => [...document.querySelectorAll('button, input:not([type=hidden]), select, textarea, a')]
            .filter(el => !(el.getAttribute('aria-label') || el.labels?.length || el.textContent.trim() || el.title))
            .map(el => el.outerHTML.slice(0, 80))""")
        assert not unnamed, (name, unnamed)
        # nothing sticks out sideways at this width (wide tables scroll inside their box)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name


def test_redeliver_a_callback_from_the_job_page(open_page, live, make_account, api, receiver):
    _account, key = make_account()
    job = api("POST", "/v1/jobs", key, json={"type": "hello", "params": {"name": "Hook"},
                                             "callback_url": f"{receiver.url}/browser-hook"})
    [first] = receiver.wait_for("/browser-hook", timeout=60)
    page = open_page(DESKTOP)
    sign_in(page, live, key)
    page.goto(f"{live}/console/jobs/{job['id']}")
    expect(page.locator(".s-delivered")).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("button", name="Redeliver the run 1 callback").click()
    page.get_by_text("redeliver: sent again").wait_for()
    second = receiver.wait_for("/browser-hook", 2, timeout=60)[1]
    assert second.headers["webhook-id"] == first.headers["webhook-id"] and second.body == first.body
    shoot(page, "job-redelivered")
