"""The Rekosearch jobs API (seed 003) against the running service: every documented request,
uploads, a mixed upload's partial success, deletion killing old links, credits and races."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from shared.media.credits import Credits, InsufficientCredits
from shared.media.service import MediaService, Upload
from tests.conftest import wait_until
from tests.support import media
from tests.support.media import REKO, fetch, upload
from tests.support.net import free_port

pytestmark = pytest.mark.usefixtures("engine")

OBJECT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(jpg|png|txt)$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} UTC$")
MISSING = {"message": "The job-id query parameter is missing", "affected_query_parameter": "job-id: number"}
NOT_A_NUMBER = {"message": "The job-id query parameter is not a number", "affected_query_parameter": "job-id: number"}
NO_JOB = {"message": "The job does not exist", "affected_query_parameter": "job-id: number"}


@pytest.fixture
def account(make_account):
    return make_account()


def get(client, key, job_id):
    return client.get(f"{REKO}/jobs/get?job-id={job_id}", headers={"Authorization": key})


def finished(client, key, job_id):
    def done():
        body = get(client, key, job_id).get_json()
        return body if body["job_info"]["status"] not in ("queued", "processing") else None

    return wait_until(done, timeout=60, interval=0.2)


def by_name(names: dict[str, str]) -> dict[str, str]:
    """original file name → uuid.ext"""
    return {original: obj for obj, original in names.items()}


def stored(settings, public_id) -> list[str]:
    root = Path(settings.storage_url.removeprefix("file://")) / "media" / str(public_id)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def media_dirs(settings) -> set[str]:
    root = Path(settings.storage_url.removeprefix("file://")) / "media"
    return {p.name for p in root.iterdir()} if root.exists() else set()


def test_documented_requests_from_upload_to_delete(client, account, runtime, settings):
    acct, key = account
    photo, flag = media.jpeg(320, 240, seed=1), media.png()
    r = upload(client, key, [("photo.jpg", photo), ("flag.png", flag)], name="Holiday")
    assert r.status_code == 200, r.get_json()
    created = r.get_json()
    job_id = created["job_id"]
    assert created["message"] == "Ok" and isinstance(job_id, int) and created["credits_spent"] == 2
    assert sorted(created["object_uuid_names"].values()) == ["flag.png", "photo.jpg"]

    body = finished(client, key, job_id)
    info, results = body["job_info"], body["results"]
    assert list(body) == ["job_info", "results"]
    assert list(info) == ["user_id", "job_id", "job_name", "date", "total_size", "credits_spent", "email",
                          "object_uuid_names", "media_length", "failed_to_process", "status"]
    names = by_name(info["object_uuid_names"])
    assert all(OBJECT.match(n) for n in names.values()) and names["flag.png"].endswith(".png")
    assert (info["user_id"], info["job_id"], info["job_name"]) == (acct.name, job_id, "Holiday")
    assert DATE.match(info["date"]) and info["total_size"] == len(photo) + len(flag)
    assert (info["credits_spent"], info["email"], info["status"]) == (2, None, "success")
    assert info["media_length"] == {names["photo.jpg"]: 1, names["flag.png"]: 1}
    assert info["failed_to_process"] == {}
    assert sorted(results) == sorted(names.values()) and all(list(v) == ["full", "min"] for v in results.values())

    full = fetch(client, results[names["photo.jpg"]]["full"])
    assert full.status_code == 200 and full.mimetype == "application/json"
    full = full.get_json()
    assert (full["object"], full["file_name"], full["format"], full["width"], full["height"]) == (
        names["photo.jpg"], "photo.jpg", "jpeg", 320, 240)
    assert full["exif"]["model"] == "Canon EOS 5D" and len(full["hashes"]["phash"]) == 16
    flag_min = fetch(client, results[names["flag.png"]]["min"]).get_json()
    assert (flag_min["format"], flag_min["dominant_colour"], flag_min["media_length"]) == ("png", "#ff0000", 1)
    thumb_name = full["thumbnails"][0]["name"]

    listed = client.get(f"{REKO}/jobs/list", headers={"Authorization": key}).get_json()
    assert listed == {"jobs": [{"job_id": job_id, "job_name": "Holiday", "date": info["date"],
                                "total_size": info["total_size"], "credits_spent": 2, "status": "success",
                                "status_meaning": "Job completed successfully"}]}

    def object_url(name):
        r = client.get(f"{REKO}/jobs/get-object-url?job-id={job_id}&object-uuid={name}", headers={"Authorization": key})
        assert r.status_code == 200 and list(r.get_json()) == ["url"]
        return r.get_json()["url"]

    original = fetch(client, object_url(names["flag.png"]))
    assert original.status_code == 200 and original.data == flag and original.mimetype == "image/png"
    assert fetch(client, object_url(names["photo.jpg"].split(".")[0])).data == photo  # the bare uuid works too
    assert fetch(client, object_url(thumb_name)).mimetype == "image/jpeg"
    assert fetch(client, object_url("00000000-0000-0000-0000-000000000000.png")).status_code == 404  # documented NOTE

    usage = client.get("/v1/usage", headers={"Authorization": f"Bearer {key}"}).get_json()
    assert (usage["account"], usage["credits"], usage["credits_spent"], usage["media_jobs"]) == (
        acct.name, settings.default_credits - 2, 2, 1)
    assert usage["jobs"] == {"succeeded": 2}

    public_id = runtime.db.one("media_job_summaries", account_id=acct.id, id=job_id)["public_id"]
    assert len(stored(settings, public_id)) == 2 + 2 * 3  # originals; full, min, thumbnail each
    old = [results[n][k] for n in results for k in ("full", "min")] + [object_url(names["flag.png"])]
    r = client.delete(f"{REKO}/jobs/delete?job-id={job_id}", headers={"Authorization": key})
    assert (r.status_code, r.get_json()) == (200, {"message": "Ok"})
    assert all(fetch(client, url).status_code == 404 for url in old)
    assert stored(settings, public_id) == []
    assert (get(client, key, job_id).status_code, get(client, key, job_id).get_json()) == (404, NO_JOB)
    assert client.get(f"{REKO}/jobs/list", headers={"Authorization": key}).get_json() == {"jobs": []}
    assert client.get("/v1/jobs?type=media.analyze", headers={"Authorization": f"Bearer {key}"}).get_json()["jobs"] == []
    again = client.delete(f"{REKO}/jobs/delete?job-id={job_id}", headers={"Authorization": key})
    assert (again.status_code, again.get_json()) == (404, NO_JOB)


def test_delete_while_objects_are_analysed_leaves_nothing(client, account, runtime, settings):
    acct, key = account
    r = upload(client, key, [(f"p{i}.jpg", media.jpeg(640, 480, seed=i)) for i in range(8)])
    job_id = r.get_json()["job_id"]
    public_id = runtime.db.one("media_job_summaries", account_id=acct.id, id=job_id)["public_id"]
    wait_until(lambda: runtime.db.one("usage", account_id=acct.id, default=0)["jobs"].get("succeeded"), 30, 0.02)
    assert client.delete(f"{REKO}/jobs/delete?job-id={job_id}", headers={"Authorization": key}).status_code == 200
    # A handler still running stores its results, finds its object gone and removes them.
    wait_until(lambda: stored(settings, public_id) == [], 30)
    time.sleep(2 * settings.heartbeat_s + 1)
    assert stored(settings, public_id) == []
    assert runtime.db.one("usage", account_id=acct.id, default=0)["jobs"] == {}


def test_mixed_upload_is_a_partial_success_described_exactly(client, account, runtime):
    acct, key = account
    files = [("a.jpg", media.jpeg(seed=4)), ("notes.txt", media.TEXT), ("b.png", media.png_rgba()),
             ("truncated.jpg", media.truncated_jpeg()), ("bomb.png", media.bomb_png())]
    r = upload(client, key, files, name="Mixed")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["credits_spent"] == 5  # charged up front ...
    info, results = (body := finished(client, key, r.get_json()["job_id"]))["job_info"], body["results"]
    names = by_name(info["object_uuid_names"])
    assert info["status"] == "partial_success"
    assert info["failed_to_process"] == {
        names["notes.txt"]: "File 'notes.txt' is not a valid image file",
        names["truncated.jpg"]: "File 'truncated.jpg' is not a valid image file (truncated)",
        names["bomb.png"]: "File 'bomb.png' is too large to decode (decompression bomb?)",
    }
    assert info["media_length"] == {names["a.jpg"]: 1, names["b.png"]: 1}
    assert sorted(results) == sorted([names["a.jpg"], names["b.png"]])
    assert info["credits_spent"] == 2  # ... and refunded for the three that could not be processed
    assert Credits(runtime.db, runtime.settings.default_credits).usage(acct)["credits_spent"] == 2
    [listed] = client.get(f"{REKO}/jobs/list", headers={"Authorization": key}).get_json()["jobs"]
    assert (listed["status"], listed["status_meaning"]) == (
        "partial_success", "Job completed, but some objects could not be processed (see failed_to_process)")
    # The text file is served, but never as text/html or text/plain: as bytes to download.
    url = client.get(f"{REKO}/jobs/get-object-url?job-id={info['job_id']}&object-uuid={names['notes.txt']}",
                     headers={"Authorization": key}).get_json()["url"]
    served = fetch(client, url)
    assert served.data == media.TEXT and served.mimetype == "application/octet-stream"


def test_nothing_processable_fails_and_costs_nothing(client, account):
    _acct, key = account
    r = upload(client, key, [("notes.txt", media.TEXT)], name="Text")
    info = finished(client, key, r.get_json()["job_id"])["job_info"]
    assert (info["status"], info["credits_spent"], info["media_length"]) == ("failed", 0, {})
    [listed] = client.get(f"{REKO}/jobs/list", headers={"Authorization": key}).get_json()["jobs"]
    assert listed["status_meaning"] == "Job failed: no object could be processed (see failed_to_process)"


def test_job_id_errors_in_the_documented_form(client, account):
    _acct, key = account
    auth = {"Authorization": key}
    for path in ("jobs/get", "jobs/get-object-url"):
        assert (r := client.get(f"{REKO}/{path}", headers=auth)).status_code == 400 and r.get_json() == MISSING
        assert client.get(f"{REKO}/{path}?job-id=", headers=auth).get_json() == MISSING
        for bad in ("abc", "1.5", "-1", "0x1", "１"):
            r = client.get(f"{REKO}/{path}?job-id={bad}&object-uuid=x.png", headers=auth)
            assert (r.status_code, r.get_json()) == (400, NOT_A_NUMBER), bad
    assert (r := client.delete(f"{REKO}/jobs/delete", headers=auth)).status_code == 400 and r.get_json() == MISSING
    assert client.delete(f"{REKO}/jobs/delete?job-id=x", headers=auth).get_json() == NOT_A_NUMBER
    r = client.get(f"{REKO}/jobs/get-object-url?job-id=1", headers=auth)
    assert (r.status_code, r.get_json()) == (400, {"message": "The object-uuid query parameter is missing",
                                                   "affected_query_parameter": "object-uuid: string"})
    r = client.get(f"{REKO}/jobs/get?job-id={10**40}", headers=auth)
    assert (r.status_code, r.get_json()) == (404, NO_JOB)


def test_another_accounts_job_does_not_exist(client, make_account):
    (_a, owner), (_b, other) = make_account(), make_account()
    job_id = upload(client, owner, [("p.png", media.png())]).get_json()["job_id"]
    for r in (get(client, other, job_id),
              client.get(f"{REKO}/jobs/get-object-url?job-id={job_id}&object-uuid=x.png", headers={"Authorization": other}),
              client.delete(f"{REKO}/jobs/delete?job-id={job_id}", headers={"Authorization": other})):
        assert (r.status_code, r.get_json()) == (404, NO_JOB)
    assert get(client, owner, job_id).status_code == 200  # the delete changed nothing
    assert client.get(f"{REKO}/jobs/list", headers={"Authorization": other}).get_json() == {"jobs": []}


def test_job_ids_say_nothing_of_other_accounts_volume(client, make_account):
    """Ids are drawn at random (below 2**53, exact in JavaScript), not from a global sequence."""
    (_a, one), (_b, two) = make_account(), make_account()
    ids = [upload(client, key, [("p.png", media.png())], name=f"n{i}").get_json()["job_id"]
           for i, key in enumerate((one, two, one, two, one))]
    assert len(set(ids)) == 5 and all(0 < i < 2**53 for i in ids)
    assert max(ids) - min(ids) > 10**6, ids  # not a sequence: no count of jobs between two ids
    listed = client.get(f"{REKO}/jobs/list", headers={"Authorization": one}).get_json()["jobs"]
    assert [j["job_id"] for j in listed] == [ids[4], ids[2], ids[0]]  # newest first, as before


def test_unauthorized_in_the_documented_form(client, account):
    _acct, key = account
    requests = [("get", "jobs/get?job-id=1"), ("get", "jobs/list"), ("get", "jobs/get-object-url?job-id=1&object-uuid=a"),
                ("delete", "jobs/delete?job-id=1"), ("post", "upload/gen")]
    for method, path in requests:
        for headers in ({}, {"Authorization": "token123"}, {"Authorization": key[:-2] + "xx"}):
            r = getattr(client, method)(f"{REKO}/{path}", headers=headers)
            assert (r.status_code, r.get_json()) == (401, {"message": "Unauthorized"}), (path, headers)
    assert client.get(f"{REKO}/jobs/list", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_other_errors_keep_the_dialects_form(client, account):
    _acct, key = account
    r = client.get(f"{REKO}/jobs/nope", headers={"Authorization": key})
    assert r.status_code == 404 and list(r.get_json()) == ["message"]
    r = client.post(f"{REKO}/jobs/get?job-id=1", headers={"Authorization": key})
    assert r.status_code == 405 and list(r.get_json()) == ["message"]


def test_object_names_keep_the_original_file_name(client, account):
    _acct, key = account
    r = upload(client, key, [("photos/2020/pic.PNG", media.png()), ("scan", media.jpeg()), ("data", media.TEXT)])
    names = by_name(r.get_json()["object_uuid_names"])
    assert sorted(names) == ["data", "pic.PNG", "scan"]
    assert (names["pic.PNG"][-4:], names["scan"][-4:], names["data"][-4:]) == (".png", ".jpg", ".bin")


def test_a_server_failure_in_the_documented_form(client, account, monkeypatch):
    _acct, key = account

    def broken(*_a, **_kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(MediaService, "summaries", broken)
    r = client.get(f"{REKO}/jobs/list", headers={"Authorization": key})
    assert (r.status_code, r.get_json()) == (500, {"message": "Internal server failure"})


@pytest.mark.parametrize(("files", "form", "headers", "message", "affected"), [
    ([], {}, {}, "The file field is missing: upload one or more files", "file: file"),
    ([("p.png", media.png())], {"job-name": ""}, {}, "The job-name field is missing", "job-name: string"),
    ([("p.png", media.png())], {"job-name": "x" * 201}, {}, "The job-name field is longer than 200 characters",
     "job-name: string"),
    ([("empty.png", b"")], {}, {}, "The file 'empty.png' is empty", "file: file"),
    ([("p.png", media.png())], {}, {"Send-Email": "yes"}, "The Send-Email header must be ?1 or ?0", "Send-Email: ?1|?0"),
    ([("p.png", media.png())], {}, {"Send-Email": "?1"}, "Send-Email: ?1 needs an address: give an email form field",
     "email: string"),
    ([("p.png", media.png())], {"email": "not an address"}, {"Send-Email": "?1"},
     "The email field is not a valid email address", "email: string"),
])
def test_bad_uploads_are_refused_and_change_nothing(client, account, runtime, files, form, headers, message, affected):
    acct, key = account
    data = {"job-name": "Job", **form, "file": [(io.BytesIO(b), n) for n, b in files]}
    r = client.post(f"{REKO}/upload/gen", data=data, headers={"Authorization": key, **headers},
                    content_type="multipart/form-data")
    assert (r.status_code, r.get_json()) == (400, {"message": message, "affected_query_parameter": affected})
    assert runtime.db.one("usage", account_id=acct.id, default=0)["media_jobs"] == 0


def test_not_multipart_and_oversized_uploads(client, account, settings):
    _acct, key = account
    r = client.post(f"{REKO}/upload/gen", json={"files": []}, headers={"Authorization": key})
    assert r.status_code == 400 and r.get_json()["affected_query_parameter"] == "file: file"
    big = b"\xff\xd8\xff" + b"\x00" * settings.max_body_bytes
    r = upload(client, key, [("big.jpg", big)])
    assert r.status_code == 413 and r.get_json() == {
        "message": f"Request body too large (limit {settings.max_body_bytes} bytes)."}


def test_send_email_without_an_smtp_server_is_refused(client, make_account, runtime):
    acct, key = make_account()
    r = upload(client, key, [("p.png", media.png())], send_email="?1", email="me@example.com")
    assert (r.status_code, r.get_json()) == (400, {
        "message": "Send-Email: ?1, but this server sends no email (no SMTP server configured)",
        "affected_query_parameter": "Send-Email: ?1|?0"})
    assert runtime.db.one("usage", account_id=acct.id, default=0)["media_jobs"] == 0


@pytest.fixture
def mailing_client(settings):
    """An API whose settings name an SMTP server (the session's worker still has none)."""
    from api.app import create_app
    from shared.engine.runtime import Runtime

    rt = Runtime.build(replace(settings, smtp_host="127.0.0.1", smtp_port=free_port()))
    yield create_app(runtime=rt).test_client()
    rt.db.close()


def test_send_email_records_the_address_and_queues_the_email(mailing_client, make_account, runtime):
    client = mailing_client
    _acct, key = make_account()
    r = upload(client, key, [("p.png", media.png())], send_email="?1", email="me@example.com")
    job_id = r.get_json()["job_id"]
    info = finished(client, key, job_id)["job_info"]
    assert info["email"] == "me@example.com"
    with runtime.db.transaction() as cur:
        cur.execute("SELECT d.target, d.body FROM deliveries d JOIN media_objects o ON o.job_id = d.job_id "
                    "WHERE o.media_job_id = %(id)s", {"id": job_id})
        [delivery] = cur.fetchall()
    assert delivery["target"] == "me@example.com"
    assert json.loads(delivery["body"])["job_id"] == job_id and json.loads(delivery["body"])["processed"] == 1

    def attempted():  # the callbacks worker sends it (the worker's settings configure no SMTP server)
        with runtime.db.transaction() as cur:
            cur.execute("SELECT d.state, d.last_error FROM deliveries d JOIN media_objects o ON o.job_id = d.job_id"
                        " WHERE o.media_job_id = %(id)s", {"id": job_id})
            row = cur.fetchone()
        return row if row and row["state"] != "pending" else None

    sent = wait_until(attempted, 30)
    assert sent["state"] == "failed" and "JOBLINE_SMTP_HOST" in sent["last_error"]
    (_b, other) = make_account()  # ?0 (or no header): no email
    assert upload(client, other, [("p.png", media.png())], send_email=None).get_json()["email"] is None
    named = runtime.accounts.create(f"ann-{uuid.uuid4().hex[:6]}@example.org")  # named by its address
    r = upload(client, runtime.accounts.create_key(named), [("p.png", media.png())], send_email="?1")
    assert r.status_code == 200 and r.get_json()["email"] == named.name


def test_two_jobs_racing_for_the_last_credits(client, make_account, runtime, settings):
    acct, key = make_account()
    credits = Credits(runtime.db, settings.default_credits)
    credits.grant(acct.name, 3 - settings.default_credits)
    barrier, answers = threading.Barrier(2), []
    before = media_dirs(settings)

    def post():
        own = client.application.test_client()
        barrier.wait()
        answers.append(upload(own, key, [("a.png", media.png()), ("b.png", media.png())]))

    threads = [threading.Thread(target=post) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 402], [r.get_json() for r in answers]
    refused = next(r for r in answers if r.status_code == 402).get_json()
    assert refused == {"message": "Not enough credits: this job costs 2 credits, the balance is 1"}
    assert credits.balance(acct) == 1 and credits.usage(acct)["media_jobs"] == 1
    [job] = MediaService(runtime).summaries(acct)
    assert media_dirs(settings) - before == {str(job["public_id"])}  # the refused job stored nothing


def test_the_conditional_charge_never_overdraws(make_account, runtime, settings):
    """Interleaved by hand: B charges while A holds its charge uncommitted, then A commits."""
    acct, _key = make_account()
    credits = Credits(runtime.db, settings.default_credits)
    credits.grant(acct.name, 2 - settings.default_credits)
    outcome = {}

    def second():
        try:
            with runtime.db.transaction() as cur:
                outcome["b"] = credits.charge(cur, acct, 2)
        except InsufficientCredits as exc:
            outcome["b"] = exc.message

    with runtime.db.transaction() as cur:
        assert credits.charge(cur, acct, 2) == 0
        t = threading.Thread(target=second)
        t.start()
        t.join(0.5)
        assert t.is_alive()  # B waits on A's row lock ...
    t.join(10)
    assert outcome["b"] == "Not enough credits: this job costs 2 credits, the balance is 0"  # ... then re-reads
    assert credits.balance(acct) == 0


def test_a_refused_job_stores_nothing(make_account, runtime, settings):
    acct, _key = make_account()
    Credits(runtime.db, settings.default_credits).grant(acct.name, 1 - settings.default_credits)
    before = media_dirs(settings)
    with pytest.raises(InsufficientCredits):
        MediaService(runtime).create(acct, "Two", [Upload("a.png", media.png()), Upload("b.png", media.png())])
    assert media_dirs(settings) == before
    assert MediaService(runtime).summaries(acct) == []


def test_usage_and_the_credit_command(client, make_account, settings, monkeypatch, capsys):
    from shared.admin import cli

    acct, key = make_account()
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert cli.main(["accounts", "credit", acct.name, "25"]) == 0
    assert json.loads(capsys.readouterr().out) == {"account": acct.name, "credits": settings.default_credits + 25,
                                                   "credits_spent": 0}
    assert cli.main(["accounts", "credit", acct.name, str(-10**6)]) == 2
    assert "fewer than" in capsys.readouterr().err
    usage = client.get("/v1/usage", headers={"Authorization": f"Bearer {key}"})
    assert usage.status_code == 200 and usage.get_json() == {
        "account": acct.name, "credits": settings.default_credits + 25, "credits_spent": 0, "media_jobs": 0, "jobs": {}}
    assert client.get("/v1/usage").status_code == 401
    assert "/v1/usage" in client.get("/openapi.json").get_json()["paths"]


def test_a_hand_made_media_job_finds_nothing(client, make_account, auth):
    (_a, owner) = make_account()
    job_id = upload(client, owner, [("p.png", media.png())]).get_json()["job_id"]
    body = get(client, owner, job_id).get_json()
    object_uuid = next(iter(body["job_info"]["object_uuid_names"])).split(".")[0]
    r = client.post("/v1/jobs?wait=30", json={"type": "media.analyze", "params": {
        "media_job_id": job_id, "object_uuid": object_uuid}}, headers=auth)
    assert r.status_code == 201 and r.get_json()["status"] == "failed"
    assert r.get_json()["error"].startswith("no such media object")
