"""PHYLOViZ dialect: tenancy, roles, the catalogue, and bad input answered in phyloDB's error
format (``{"message": "<problem>", "detail": ...}``) with nothing changed."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.phylo.goeburst import goeburst
from shared.phylo.mlst import parse_profiles
from tests.conftest import wait_until
from tests.support.phyloviz import PYOGENES, Phylo, loci_of, unique

pytestmark = pytest.mark.usefixtures("engine")


def phylo(client, make_account, **kw) -> Phylo:
    account, key = make_account(**kw)
    p = Phylo(client, key)
    p.account = account
    return p


@pytest.fixture
def alice(client, make_account):
    return phylo(client, make_account)


@pytest.fixture
def bob(client, make_account):
    return phylo(client, make_account)


@pytest.fixture
def setup(alice):
    taxon = unique("spyogenes")
    alice.catalogue(taxon, loci_of(PYOGENES))
    project = alice.project()
    dataset = alice.dataset(project, taxon)
    alice.upload(f"/projects/{project}/datasets/{dataset}/profiles/files", PYOGENES.read_bytes())
    return {"taxon": taxon, "project": project, "dataset": dataset, "loci": loci_of(PYOGENES)}


def problem(r, status: int, message: str) -> dict:
    body = r.get_json()
    assert r.status_code == status, body
    assert body["message"] == message and body["detail"], body
    return body


# -- jobs: bad requests --------------------------------------------------------------------


def test_job_requests_that_cannot_run(alice, setup, client):
    project, dataset = setup["project"], setup["dataset"]
    jobs = f"/projects/{project}/jobs"
    cases = [
        ({"analysis": "inference", "algorithm": "nj", "parameters": [dataset, 3]}, 404, "not-found"),
        ({"analysis": "inference", "algorithm": "goeburst", "parameters": [str(uuid.uuid4()), 3]}, 404, "not-found"),
        ({"analysis": "inference", "algorithm": "goeburst", "parameters": ["not-a-uuid", 3]}, 404, "not-found"),
        ({"analysis": "visualization", "algorithm": "radial", "parameters": [dataset, str(uuid.uuid4())]}, 404, "not-found"),
        ({"analysis": "visualization", "algorithm": "force", "parameters": [dataset, str(uuid.uuid4())]}, 404, "not-found"),
        ({"analysis": "clustering", "algorithm": "goeburst", "parameters": [dataset, 3]}, 400, "bad-request"),
        ({"analysis": "inference", "algorithm": "goeburst", "parameters": [dataset]}, 400, "bad-request"),
        ({"analysis": "inference", "algorithm": "goeburst", "parameters": {"dataset": dataset}}, 400, "bad-request"),
        ({"analysis": "inference", "algorithm": "goeburst", "parameters": [dataset, 0]}, 400, "bad-request"),
        ({"analysis": "inference", "algorithm": "goeburst", "parameters": [dataset, "three"]}, 400, "bad-request"),
        ({"analysis": "inference", "algorithm": "goeburst", "parameters": [dataset, True]}, 400, "bad-request"),
        ({"analysis": "inference", "algorithm": "goeburst", "parameters": [dataset, 10**9]}, 400, "bad-request"),
        ({"analysis": 1, "algorithm": "goeburst", "parameters": [dataset, 3]}, 400, "bad-request"),
        ([1, 2], 400, "bad-request"),
    ]
    for payload, status, message in cases:
        problem(alice.post(jobs, payload), status, message)
    problem(alice.post(jobs, data=b'{"analysis": ', content_type="application/json"), 400, "bad-request")
    problem(alice.post(f"/projects/{uuid.uuid4()}/jobs", {"analysis": "inference", "algorithm": "goeburst",
                                                           "parameters": [dataset, 3]}), 404, "not-found")
    problem(alice.post("/projects/nope/jobs", {}), 404, "not-found")
    problem(alice.delete(f"{jobs}/{uuid.uuid4()}"), 404, "not-found")
    problem(alice.delete(f"{jobs}/nope"), 404, "not-found")
    assert alice.jobs(project) == []  # nothing was created
    problem(client.get(alice.url(jobs)), 401, "unauthorized")
    problem(client.get(alice.url(jobs), headers={"Authorization": "Bearer jl_deadbeef_nope"}), 401, "unauthorized")
    problem(client.patch(alice.url(jobs), headers=alice.headers), 405, "not-allowed")
    problem(client.get("/phyloviz/nothing/here", headers=alice.headers), 404, "not-found")


def test_a_visualization_needs_a_finished_inference_of_that_dataset(alice, setup):
    project, dataset = setup["project"], setup["dataset"]
    other = alice.dataset(project, setup["taxon"])
    job = alice.job(project, "inference", "goeburst", [dataset, 2])
    from tests.conftest import wait_until

    wait_until(lambda: alice.finished(project, job["job_id"]), timeout=60, interval=0.2)
    problem(alice.post(f"/projects/{project}/jobs", {"analysis": "visualization", "algorithm": "radial",
                                                     "parameters": [other, job["analysis_id"]]}), 404, "not-found")
    # phyloDB's JobService.valid: an inference needs at least 2 profiles, checked at creation.
    before = alice.jobs(project)
    r = alice.post(f"/projects/{project}/jobs", {"analysis": "inference", "algorithm": "goeburst",
                                                 "parameters": [other, 2]})
    assert "at least 2" in problem(r, 400, "bad-request")["detail"]
    one = "ST\t" + "\t".join(setup["loci"]) + "\n1\t" + "\t".join("1" for _ in setup["loci"]) + "\n"
    assert alice.upload(f"/projects/{project}/datasets/{other}/profiles/files", one.encode()).status_code == 200
    r = alice.post(f"/projects/{project}/jobs", {"analysis": "inference", "algorithm": "goeburst",
                                                 "parameters": [other, 2]})
    assert "has 1 profile" in problem(r, 400, "bad-request")["detail"]
    assert alice.jobs(project) == before  # nothing was queued


def test_goeburst_jobs_made_through_the_canonical_api_fill_nothing(alice, setup, client):
    params = {"project_id": setup["project"], "dataset_id": setup["dataset"],
              "inference_id": str(uuid.uuid4()), "lvs": 3}
    job = client.post("/v1/jobs?wait=20", json={"type": "goeburst", "params": params},
                      headers=alice.headers).get_json()
    assert job["status"] == "failed" and "fills no inference" in job["error"]


def test_goeburst_and_layout_work_from_the_canonical_api_as_output_files(alice, bob, setup, client):
    params = {"project_id": setup["project"], "dataset_id": setup["dataset"], "lvs": 3}
    job = client.post("/v1/jobs?wait=30", json={"type": "goeburst", "params": params},
                      headers=alice.headers).get_json()
    assert job["status"] == "succeeded", job
    assert job["result"]["file"] == "tree.json" and job["result"]["profiles"] == 647
    link = client.get(f"/v1/jobs/{job['id']}/files/tree.json", headers=alice.headers)
    assert link.status_code == 302
    tree = json.loads(client.get(link.headers["Location"]).get_data())
    assert tree == goeburst(parse_profiles(PYOGENES.read_bytes()), 3).to_json()
    # Progress is reported per phase (tests/unit/test_goeburst.py sees each tick); the job keeps
    # one progress event per run, the latest (issue 16), here the last phase's.
    events = client.get(f"/v1/jobs/{job['id']}/events", headers=alice.headers).get_json()
    [progress] = [e for e in events if e["type"] == "progress"]
    assert progress["data"] == {"progress": 1.0, "message": "stored tree.json"}, progress

    inference = alice.job(setup["project"], "inference", "goeburst", [setup["dataset"], 3])
    wait_until(lambda: alice.finished(setup["project"], inference["job_id"]), timeout=60, interval=0.2)
    params = {"project_id": setup["project"], "dataset_id": setup["dataset"], "inference_id": inference["analysis_id"]}
    drawn = client.post("/v1/jobs?wait=30", json={"type": "layout", "params": params}, headers=alice.headers).get_json()
    assert drawn["status"] == "succeeded" and drawn["result"]["files"] == ["layout.json", "layout.svg"], drawn

    # Another account's project stays out of reach: the job fails as if it did not exist.
    theirs = client.post("/v1/jobs?wait=30", json={"type": "goeburst", "params": {
        "project_id": setup["project"], "dataset_id": setup["dataset"], "lvs": 3}}, headers=bob.headers).get_json()
    assert theirs["status"] == "failed" and "no project" in theirs["error"]


# -- tenancy and roles ---------------------------------------------------------------------


def test_another_accounts_private_project_does_not_exist(alice, bob, setup):
    project, dataset = setup["project"], setup["dataset"]
    job = alice.job(project, "inference", "goeburst", [dataset, 3])
    for path in [f"/projects/{project}", f"/projects/{project}/jobs", f"/projects/{project}/datasets",
                 f"/projects/{project}/datasets/{dataset}", f"/projects/{project}/datasets/{dataset}/profiles",
                 f"/projects/{project}/datasets/{dataset}/inferences/{job['analysis_id']}"]:
        problem(bob.get(path), 404, "not-found")
    problem(bob.post(f"/projects/{project}/jobs", {"analysis": "inference", "algorithm": "goeburst",
                                                   "parameters": [dataset, 3]}), 404, "not-found")
    problem(bob.delete(f"/projects/{project}/jobs/{job['job_id']}"), 404, "not-found")
    problem(bob.put(f"/projects/{project}", {"name": "mine"}), 404, "not-found")
    problem(bob.upload(f"/projects/{project}/datasets/{dataset}/profiles/files", b"ST\ta\n1\t1\n"), 404, "not-found")
    assert project not in [p["id"] for p in bob.get("/projects").get_json()]
    assert alice.get(f"/projects/{project}").get_json()["name"] == "Test"  # unchanged


def test_project_users_share_it_public_is_read_only_admin_reads_any(client, make_account, alice, bob, setup):
    project, dataset = setup["project"], setup["dataset"]
    r = alice.put(f"/projects/{project}", {"name": "Shared", "visibility": "private", "description": "d",
                                           "users": [{"id": bob.account.name, "provider": "google"}]})
    assert r.status_code == 204
    got = bob.get(f"/projects/{project}").get_json()
    assert got["name"] == "Shared" and got["version"] == 2
    assert got["users"] == [{"id": bob.account.name, "provider": "google"}]
    job = bob.job(project, "inference", "goeburst", [dataset, 1])  # users may write
    assert job["job_id"] in [j["id"] for j in alice.jobs(project)]
    problem(bob.delete(f"/projects/{project}"), 403, "forbidden")  # only the owner deletes

    carol = phylo(client, make_account)
    assert alice.put(f"/projects/{project}", {"name": "Open", "visibility": "public"}).status_code == 204
    assert project in [p["id"] for p in carol.get("/projects").get_json()]
    assert carol.get(f"/projects/{project}/datasets/{dataset}").get_json()["profiles"] == 647
    assert carol.jobs(project)
    problem(carol.post(f"/projects/{project}/datasets", {"taxon_id": setup["taxon"], "schema_id": "mlst7"}),
            403, "forbidden")
    problem(carol.delete(f"/projects/{project}/jobs/{job['job_id']}"), 403, "forbidden")

    assert alice.put(f"/projects/{project}", {"name": "Closed", "visibility": "private"}).status_code == 204
    problem(carol.get(f"/projects/{project}"), 404, "not-found")
    admin = phylo(client, make_account, role="admin")
    assert admin.get(f"/projects/{project}").get_json()["name"] == "Closed"
    # The list is phyloDB's ProjectRepository's: the caller's projects and public ones, even
    # for an admin (who reads or deletes any project by its id).
    assert project not in [p["id"] for p in admin.get("/projects").get_json()]
    assert admin.delete(f"/projects/{project}").status_code == 204
    problem(alice.get(f"/projects/{project}"), 404, "not-found")


def test_project_crud_and_validation(alice):
    r = alice.post("/projects", {"name": "Test", "visibility": "private", "description": "Test project",
                                 "users": [{"id": "aplf@tecnico.pt", "provider": "google"}]})
    assert r.status_code == 201
    project = r.get_json()["id"]
    got = alice.get(f"/projects/{project}").get_json()
    assert got == {"id": project, "version": 1, "deprecated": False, "name": "Test", "visibility": "private",
                   "description": "Test project", "users": [{"id": "aplf@tecnico.pt", "provider": "google"}]}
    assert {"id": project, "version": 1, "name": "Test", "visibility": "private"} in alice.get("/projects").get_json()
    for bad in [{}, {"name": ""}, {"name": "x", "visibility": "secret"}, {"name": "x", "users": "bob"},
                {"name": "x", "users": [{"provider": "google"}]}, {"name": 5}]:
        problem(alice.post("/projects", bad), 400, "bad-request")
        problem(alice.put(f"/projects/{project}", bad), 400, "bad-request")
    assert alice.get(f"/projects/{project}").get_json()["version"] == 1
    problem(alice.post("/projects", data=b"name=x", content_type="application/x-www-form-urlencoded"),
            400, "bad-request")
    assert alice.delete(f"/projects/{project}").status_code == 204


# -- the catalogue and datasets ------------------------------------------------------------


def test_catalogue_entries_belong_to_their_creator(alice, bob, client, make_account):
    taxon = unique("tax")
    alice.catalogue(taxon, ["a", "b"], schema="s2")
    assert alice.get(f"/taxa/{taxon}").get_json() == {"id": taxon, "version": 1, "deprecated": False,
                                                       "description": "Example taxon"}
    assert [x["id"] for x in alice.get(f"/taxa/{taxon}/loci").get_json()] == ["a", "b"]
    assert alice.get(f"/taxa/{taxon}/schemas/s2").get_json()["loci"] == ["a", "b"]
    assert taxon in [t["id"] for t in bob.get("/taxa").get_json()]  # one catalogue for all
    problem(bob.put(f"/taxa/{taxon}", {"id": taxon, "description": "mine"}), 403, "forbidden")
    problem(bob.put(f"/taxa/{taxon}/schemas/s2", {"loci": ["b", "a"]}), 403, "forbidden")
    problem(bob.delete(f"/taxa/{taxon}/loci/a"), 403, "forbidden")
    # another account's taxon cannot be extended (phyloDB: loci and schemas are admins' to write)
    problem(bob.put(f"/taxa/{taxon}/loci/c", {"id": "c"}), 403, "forbidden")
    problem(bob.put(f"/taxa/{taxon}/schemas/s9", {"loci": ["a", "b"]}), 403, "forbidden")
    assert [x["id"] for x in alice.get(f"/taxa/{taxon}/loci").get_json()] == ["a", "b"]  # nothing changed
    assert [x["id"] for x in alice.get(f"/taxa/{taxon}/schemas").get_json()] == ["s2"]
    assert alice.put(f"/taxa/{taxon}/loci/c", {"id": "c"}).status_code == 204  # its owner may
    problem(alice.put(f"/taxa/{taxon}", {"id": "other"}), 400, "bad-request")
    problem(alice.put("/taxa/bad%20id", {}), 400, "bad-request")
    problem(alice.put(f"/taxa/{taxon}/schemas/s3", {"loci": ["a", "zzz"]}), 400, "bad-request")
    problem(alice.put(f"/taxa/{taxon}/schemas/s3", {"loci": []}), 400, "bad-request")
    problem(alice.put(f"/taxa/{taxon}/schemas/s3", {"loci": ["a"], "type": "wgs"}), 400, "bad-request")
    problem(alice.put(f"/taxa/{unique('none')}/loci/a", {}), 404, "not-found")
    problem(alice.get(f"/taxa/{taxon}/schemas/nope"), 404, "not-found")
    admin = phylo(client, make_account, role="admin")
    assert admin.put(f"/taxa/{taxon}", {"description": "fixed"}).status_code == 204
    assert admin.put(f"/taxa/{taxon}/loci/d", {"id": "d"}).status_code == 204  # an admin may extend any
    assert alice.get(f"/taxa/{taxon}").get_json()["version"] == 2
    assert alice.delete(f"/taxa/{taxon}/schemas/s2").status_code == 204
    assert alice.get(f"/taxa/{taxon}/schemas").get_json() == []
    project = alice.project()
    problem(alice.post(f"/projects/{project}/datasets", {"taxon_id": taxon, "schema_id": "s2"}), 400, "bad-request")
    assert alice.put(f"/taxa/{taxon}/schemas/s2", {"loci": ["a", "b"]}).status_code == 204  # revived
    alice.dataset(project, taxon, "s2")


def test_dataset_crud(alice, setup):
    project, dataset = setup["project"], setup["dataset"]
    got = alice.get(f"/projects/{project}/datasets/{dataset}").get_json()
    assert got == {"project_id": project, "id": dataset, "version": 1, "deprecated": False,
                   "description": "Example dataset", "taxon_id": setup["taxon"], "schema_id": "mlst7",
                   "profiles": 647, "isolates": 0}
    assert alice.put(f"/projects/{project}/datasets/{dataset}", {"description": "renamed"}).status_code == 204
    assert alice.get(f"/projects/{project}/datasets").get_json() == [
        {"id": dataset, "version": 2, "description": "renamed"}]
    for bad in [{"taxon_id": setup["taxon"]}, {"taxon_id": 1, "schema_id": "mlst7"},
                {"taxon_id": setup["taxon"], "schema_id": "nope"}]:
        problem(alice.post(f"/projects/{project}/datasets", bad), 400, "bad-request")
    assert alice.delete(f"/projects/{project}/datasets/{dataset}").status_code == 204
    problem(alice.get(f"/projects/{project}/datasets/{dataset}"), 404, "not-found")


def test_hostile_strings_and_bytes_are_400_and_change_nothing(alice, setup):
    project, dataset, taxon = setup["project"], setup["dataset"], setup["taxon"]
    for raw in [b'{"name": "a\\u0000b"}', b'{"name": "\\ud800"}', b'{"name": "x", "users": [{"id": "\\u0000"}]}',
                b'{"name": "x", "description": "' + b"d" * 3000 + b'"}']:
        problem(alice.post("/projects", data=raw, content_type="application/json"), 400, "bad-request")
        problem(alice.put(f"/projects/{project}", data=raw, content_type="application/json"), 400, "bad-request")
    problem(alice.post(f"/projects/{project}/datasets", {"taxon_id": "a\x00", "schema_id": "mlst7"}),
            400, "bad-request")
    problem(alice.put(f"/taxa/{taxon}", {"description": "\ud800"}), 400, "bad-request")
    for loci in [["a\x00"], ["../x"], ["l1_gki_", "l1_gki_"], [1, 2]]:
        problem(alice.put(f"/taxa/{taxon}/schemas/hostile", {"loci": loci}), 400, "bad-request")
    data = b"ST\ta\tb\tc\td\te\tf\tg\n1\t1\t1\t1\t1\t1\t1\t1\n2\x00\t1\t1\t1\t1\t1\t1\t1\n"
    r = alice.upload(f"/projects/{project}/datasets/{dataset}/profiles/files", data)
    assert problem(r, 400, "bad-request")["invalid_lines"] == [3]
    r = alice.upload(f"/projects/{project}/datasets/{dataset}/isolates/files", b"ST\n1\x00\n")
    assert problem(r, 400, "bad-request")["invalid_lines"] == [2]
    assert alice.get(f"/projects/{project}").get_json()["version"] == 1
    assert alice.get(f"/projects/{project}/datasets/{dataset}").get_json()["profiles"] == 647
