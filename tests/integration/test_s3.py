"""S3 storage end to end: the API and a real worker process store job files and uploads in
a real S3-compatible server (moto's, on loopback, in its own process); downloads follow the
presigned URL to that server; deleting a job or an upload deletes its objects."""

from __future__ import annotations

import io
import uuid

import pytest
import requests
from PIL import Image

from shared.engine.errors import NotFound, StorageUnavailable
from shared.engine.storage import S3Store, open_store
from tests.support import images
from tests.support.callbacks import Stack
from tests.support.net import free_port
from tests.support.s3 import ENV, moto_server

BUCKET = "jobline-objects"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    boto3 = pytest.importorskip("boto3", reason="pip install jobline[s3]")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in ENV.items():  # the worker processes inherit them
            mp.setenv(name, value)
        with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
            boto3.client("s3", endpoint_url=url).create_bucket(Bucket=BUCKET)
            yield url


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory, s3):
    s = Stack(*servers, tmp_path_factory.mktemp("s3stack"), storage_url=f"s3://{BUCKET}/jobline", s3_endpoint=s3)
    try:
        yield s.start()
    finally:
        s.stop()


@pytest.fixture
def api(stack):
    _account, key = stack.account()
    return stack.app.test_client(), {"Authorization": f"Bearer {key}"}


def objects(s3, prefix: str) -> list[str]:
    return S3Store(BUCKET, "jobline", s3).keys(prefix)


def test_the_store_against_a_real_server(s3):
    store = open_store(f"s3://{BUCKET}/unit-{uuid.uuid4().hex[:8]}", s3)
    store.put("jobs/a/one.txt", b"one", "text/plain")
    store.put("jobs/a/two/deep.json", b"{}", "application/json")
    store.put("jobs/ab/other.txt", b"not under jobs/a", "text/plain")
    assert store.get("jobs/a/one.txt") == b"one"
    stream = store.open("jobs/a/two/deep.json")
    assert stream.read(1) == b"{" and stream.read() == b"}"  # read as it arrives
    assert store.exists("jobs/a/one.txt") and not store.exists("jobs/a/none")
    assert store.keys("jobs/a") == ["jobs/a/one.txt", "jobs/a/two/deep.json"]
    store.delete_prefix("jobs/a")
    assert store.keys("jobs/a") == [] and store.keys("jobs/ab") == ["jobs/ab/other.txt"]
    with pytest.raises(NotFound):
        store.get("jobs/a/one.txt")
    with pytest.raises(ValueError, match="invalid object key"):
        store.put("../escape", b"x", "text/plain")


def test_an_unreachable_server_is_transient_not_a_crash():
    store = open_store(f"s3://{BUCKET}/x", f"http://127.0.0.1:{free_port()}")
    for call in (lambda: store.put("k/v", b"x", "text/plain"), lambda: store.get("k/v"),
                 lambda: store.exists("k/v"), lambda: store.delete_prefix("k")):
        with pytest.raises(StorageUnavailable, match="object store"):
            call()


def test_thumbnails_made_by_a_worker_land_in_s3_and_go_with_the_job(api, s3):
    client, auth = api
    with images.image_server({"/cat.jpg": ("image/jpeg", images.jpeg(800, 600))}) as served:
        r = client.post("/v1/jobs?wait=60", json={"type": "image.thumb", "params": {"url": f"{served}/cat.jpg"}},
                        headers=auth)
    job = r.get_json()
    assert job["status"] == "succeeded", job
    assert objects(s3, f"jobs/{job['id']}") == [f"jobs/{job['id']}/large.jpg", f"jobs/{job['id']}/small.jpg"]
    r = client.get(f"/v1/jobs/{job['id']}/files/small", headers=auth)
    assert r.status_code == 302 and r.headers["Location"].startswith(f"{s3}/{BUCKET}/jobline/jobs/{job['id']}/")
    got = requests.get(r.headers["Location"], timeout=10)  # presigned: no key, straight from the store
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(got.content)).size == (200, 150)
    assert client.delete(f"/v1/jobs/{job['id']}", headers=auth).status_code == 204
    assert objects(s3, f"jobs/{job['id']}") == []
    assert requests.get(r.headers["Location"], timeout=10).status_code in (403, 404)  # S3 or moto's words


def test_an_upload_is_stored_in_s3_read_by_the_worker_and_deleted(api, stack, s3):
    client, auth = api
    r = client.post("/v1/uploads", data=images.jpeg(320, 240), headers={**auth, "Content-Type": "image/jpeg"})
    assert r.status_code == 201, r.get_json()
    upload_id = r.get_json()["upload_id"]
    [stored] = [k for k in objects(s3, "uploads") if upload_id in k]
    job = client.post("/v1/jobs?wait=60", json={"type": "image.info", "params": {"upload_id": upload_id}},
                      headers=auth).get_json()
    assert job["status"] == "succeeded" and job["result"]["width"] == 320, job
    assert client.delete(f"/v1/uploads/{upload_id}", headers=auth).status_code == 204
    assert stored not in objects(s3, "uploads")


def test_the_api_answers_503_when_the_store_is_down(stack, servers):
    from api.app import create_app
    from shared.engine.runtime import Runtime

    settings = stack.settings.__class__(**{**vars(stack.settings),
                                           "s3_endpoint": f"http://127.0.0.1:{free_port()}"})
    runtime = Runtime.build(settings)
    try:
        client = create_app(runtime=runtime).test_client()
        _acct, key = stack.account()
        r = client.post("/v1/uploads", data=images.png_alpha(),
                        headers={"Authorization": f"Bearer {key}", "Content-Type": "image/png"})
        assert r.status_code == 503 and "object store" in r.get_json()["message"], r.get_json()
    finally:
        runtime.db.close()
