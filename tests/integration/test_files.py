"""Output files: signed expiring URLs, redirects by name, deletion with the job."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("engine")


def run_files_job(client, auth, **params):
    r = client.post("/v1/jobs?wait=15", json={"type": "test.files", "params": params}, headers=auth)
    job = r.get_json()
    assert job["status"] == "succeeded", job
    return job


def test_list_redirect_download_and_delete(client, auth, runtime):
    job = run_files_job(client, auth)
    files = client.get(f"/v1/jobs/{job['id']}/files", headers=auth).get_json()
    assert [(f["name"], f["size"]) for f in files] == [("a.txt", 16), ("b.json", 17)]
    assert files[1]["content_type"] == "application/json"
    r = client.get(f"/v1/jobs/{job['id']}/files/a.txt", headers=auth)
    assert r.status_code == 302 and "/files/" in r.headers["Location"]
    path = r.headers["Location"].split("localhost", 1)[1]
    got = client.get(path)
    assert got.status_code == 200 and got.data == b"content of a.txt" and got.mimetype == "text/plain"
    assert client.get(f"/v1/jobs/{job['id']}/files/nope.txt", headers=auth).status_code == 404
    # by its name without the extension too, as Dragon's outputs are named (small for small.jpg)
    by_stem = client.get(f"/v1/jobs/{job['id']}/files/b", headers=auth)
    assert by_stem.status_code == 302 and client.get(by_stem.headers["Location"].split("localhost", 1)[1]).mimetype \
        == "application/json"
    assert client.get(f"/v1/jobs/{job['id']}/files/nope", headers=auth).status_code == 404
    # tampered and expired links
    assert client.get(path[:-3] + "xyz").status_code == 404
    key = f"jobs/{job['id']}/a.txt"
    expired = runtime.files.signer.sign(key, -1, "a.txt", "text/plain")
    assert client.get(f"/files/{expired}").status_code == 404
    # deleting the job deletes its files; old links stop working
    assert client.delete(f"/v1/jobs/{job['id']}", headers=auth).status_code == 204
    assert client.get(path).status_code == 404
    assert not runtime.files.store.exists(key)


def test_files_of_another_account_are_404(client, auth, make_account):
    job = run_files_job(client, auth)
    other = {"Authorization": f"Bearer {make_account()[1]}"}
    assert client.get(f"/v1/jobs/{job['id']}/files", headers=other).status_code == 404
    assert client.get(f"/v1/jobs/{job['id']}/files/a.txt", headers=other).status_code == 404


def test_invalid_output_name_fails_the_job_not_the_worker(client, auth):
    r = client.post("/v1/jobs?wait=15", json={"type": "test.files", "params": {"names": ["../escape"]}}, headers=auth)
    job = r.get_json()
    assert job["status"] == "failed" and "invalid file name" in job["error"]
    run_files_job(client, auth)  # the worker lives on
