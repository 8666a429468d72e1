"""Account B's key against account A's ids, on every API surface: 404 (or the dialect's 401
where its document says only the owner may call), and nothing of A's changes."""

from __future__ import annotations

import pytest

from tests.support.media import jpeg, upload
from tests.support.phyloviz import Phylo, unique

pytestmark = pytest.mark.usefixtures("engine")


def test_another_accounts_ids_on_every_surface(client, make_account):
    _a, key_a = make_account()
    _b, key_b = make_account()
    a, b = {"Authorization": f"Bearer {key_a}"}, {"Authorization": f"Bearer {key_b}"}

    # A's resources, one per surface
    job = client.post("/v1/jobs?wait=10", json={"type": "hello", "params": {"name": "A"}}, headers=a).get_json()
    app_id = client.post("/v1/apps", json={"name": "a-app", "type": "hello"}, headers=a).get_json()["app_id"]
    canotic = client.post(f"/canotic/apps/{app_id}/jobs", json={"inputs": [{"name": "A"}]}, headers=a).get_json()
    canotic_job = canotic["jobs"][0]["job_id"]
    task = client.post("/dragon/v1/create", json={"tasks": {"task_name": "hello", "name": "A"}, "block": True},
                       headers={"Authorization": f"Secret {key_a}"}).get_json()[0]["key"]
    phylo = Phylo(client, key_a)
    project = phylo.project(name=unique("p"))
    code = unique("ds").replace("-", "")[:20].lower()
    assert client.post("/v1/datasets", json={"code": code, "title": "A"}, headers=a).status_code == 201
    media = upload(client, key_a, [("a.jpg", jpeg())]).get_json()["job_id"]
    upload_id = client.post("/v1/uploads", data=b"bytes", headers=a).get_json()["upload_id"]

    # B tries every one of them
    for method, path in [
        ("get", f"/v1/jobs/{job['id']}"), ("post", f"/v1/jobs/{job['id']}/cancel"),
        ("post", f"/v1/jobs/{job['id']}/restart"), ("delete", f"/v1/jobs/{job['id']}"),
        ("get", f"/v1/jobs/{job['id']}/events"), ("get", f"/v1/jobs/{job['id']}/files"),
        ("get", f"/v1/apps/{app_id}"), ("delete", f"/v1/apps/{app_id}"),
        ("get", f"/v1/datasets/{code}"), ("delete", f"/v1/datasets/{code}"),
        ("delete", f"/v1/uploads/{upload_id}"),
        ("get", f"/canotic/jobs/{canotic_job}"), ("post", f"/canotic/jobs/{canotic_job}/cancel"),
        ("delete", f"/canotic/jobs/{canotic_job}"), ("post", f"/canotic/jobs/{canotic_job}/restart"),
        ("post", f"/canotic/apps/{app_id}/jobs"),
        ("get", f"/phyloviz/projects/{project}?provider=google"),
        ("get", f"/phyloviz/projects/{project}/jobs?provider=google"),
        ("delete", f"/phyloviz/projects/{project}?provider=google"),
        ("get", f"/dragon/v1/file/x?task={task}"),
        ("get", f"/rekosearch/api/v1/jobs/get?job-id={media}"),
        ("delete", f"/rekosearch/api/v1/jobs/delete?job-id={media}"),
    ]:
        kw = {"json": {"inputs": [{"name": "B"}]}} if path.endswith("/jobs") and method == "post" else {}
        headers = {"Authorization": key_b} if path.startswith("/rekosearch") else b
        r = getattr(client, method)(path, headers=headers, **kw)
        assert r.status_code == 404, (method, path, r.status_code)
    for method, path in [("post", f"/kasabi/dataset/{code}/jobs"), ("get", f"/kasabi/api/{code}/status")]:
        r = getattr(client, method)(path, data={"jobType": "reset"} if method == "post" else None,
                                    headers={"X_KASABI_APIKEY": key_b})
        assert r.status_code == 404, (method, path, r.status_code)  # as an unknown code: nothing revealed
    status = client.get(f"/dragon/v1/status?tasks={task}", headers={"Authorization": f"Secret {key_b}"}).get_json()
    assert status[0]["status"] == "error" and "Hello A" not in str(status)  # nothing of A's revealed

    # nothing of A's changed
    assert client.get(f"/v1/jobs/{job['id']}", headers=a).get_json()["status"] == "succeeded"
    assert client.get(f"/v1/apps/{app_id}", headers=a).status_code == 200
    assert client.get(f"/canotic/jobs/{canotic_job}", headers=a).status_code == 200
    assert client.get(f"/v1/datasets/{code}", headers=a).status_code == 200
    assert client.get(f"/phyloviz/projects/{project}?provider=google", headers=a).status_code == 200
    assert client.get(f"/rekosearch/api/v1/jobs/get?job-id={media}", headers={"Authorization": key_a}).status_code == 200
    assert client.get("/v1/jobs", headers=b).get_json()["jobs"] == []
