"""The PHYLOViZ dialect against the running service: phyloDB's jobs page (seed 002) and the
resources its clients call, with real MLST data, real workers and phyloDB's answers."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest

from shared.phylo.analyses import newick
from shared.phylo.goeburst import goeburst
from shared.phylo.mlst import parse_isolates, parse_profiles
from shared.phylo.radial import radial
from tests.conftest import wait_until
from tests.support.data import mlst
from tests.support.phyloviz import PYOGENES, Phylo, loci_of, unique

pytestmark = pytest.mark.usefixtures("engine")


@pytest.fixture
def alice(client, make_account):
    account, key = make_account()
    p = Phylo(client, key)
    p.account = account
    return p


@pytest.fixture
def bob(client, make_account):
    account, key = make_account()
    p = Phylo(client, key)
    p.account = account
    return p


@pytest.fixture
def pyogenes(alice):
    """A project with a dataset of the 647 S. pyogenes STs, uploaded (POST, as example.sh)."""
    taxon = unique("spyogenes")
    alice.catalogue(taxon, loci_of(PYOGENES))
    project = alice.project()
    dataset = alice.dataset(project, taxon)
    r = alice.upload(f"/projects/{project}/datasets/{dataset}/profiles/files", PYOGENES.read_bytes())
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"invalid_lines": [], "invalid_entities": [], "added": 647, "updated": 0,
                            "skipped": 0, "profiles": 647}
    return {"taxon": taxon, "project": project, "dataset": dataset}


def infer(p: Phylo, project: str, dataset: str, lvs=3) -> dict:
    job = p.job(project, "inference", "goeburst", [dataset, lvs])
    done = wait_until(lambda: p.finished(project, job["job_id"]), timeout=60, interval=0.2)
    assert done == {"id": job["job_id"], "completed": True, "cancelled": False}
    return job


# -- the documented requests ---------------------------------------------------------------


def test_inference_and_visualization_match_the_algorithms(alice, pyogenes, runtime):
    project, dataset = pyogenes["project"], pyogenes["dataset"]
    job = infer(alice, project, dataset, 3)
    expected = goeburst(parse_profiles(PYOGENES.read_bytes()), 3)

    base = f"/projects/{project}/datasets/{dataset}/inferences/{job['analysis_id']}"
    tree = alice.get(base, format="json").get_json()
    assert tree["id"] == job["analysis_id"] and tree["algorithm"] == "goeburst" and tree["lvs"] == 3
    assert tree["tree"] == expected.to_json()
    assert len(expected.edges) > 500 and len(expected.groups) > 1  # a real forest, not a toy
    plain = alice.get(base).get_json()  # phyloDB's default format: Newick
    assert plain["tree"] == newick(expected.to_json()) and plain["tree"].endswith(";")
    assert alice.get(f"/projects/{project}/datasets/{dataset}/analyses/{job['analysis_id']}",
                     format="nexus").get_json()["tree"].startswith("BEGIN TREES;\n\tTree result = (")
    assert alice.get(base, format="xml").status_code == 400
    listed = alice.get(f"/projects/{project}/datasets/{dataset}/inferences").get_json()
    assert listed == [{"id": job["analysis_id"], "algorithm": "goeburst", "lvs": 3}]

    vis = alice.job(project, "visualization", "radial", [dataset, job["analysis_id"]])
    wait_until(lambda: alice.finished(project, vis["job_id"]), timeout=60, interval=0.2)
    got = alice.get(f"{base}/visualizations/{vis['analysis_id']}").get_json()
    layout = radial(expected)
    assert got["algorithm"] == "radial"
    assert got["coordinates"] == [{"profile_id": n.profile_id, "component": n.component, "x": n.x, "y": n.y}
                                  for n in layout.nodes]
    assert alice.get(f"/projects/{project}/datasets/{dataset}/visualizations/{vis['analysis_id']}"
                     ).get_json() == got
    svg = alice.get(f"{base}/visualizations/{vis['analysis_id']}/svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.data.startswith(b"<?xml") and svg.data.count(b"<circle") == len(layout.nodes)
    # the canonical API sees the same job, its result and its output file
    canonical = alice.client.get(f"/v1/jobs/{vis['job_id']}", headers=alice.headers).get_json()
    assert canonical["type"] == "layout" and canonical["status"] == "succeeded"
    assert canonical["result"]["nodes"] == len(layout.nodes)

    # removing a finished job hides it; its analyses and drawing stay
    assert alice.delete(f"/projects/{project}/jobs/{job['job_id']}").status_code == 204
    assert job["job_id"] not in [j["id"] for j in alice.jobs(project)]
    assert alice.delete(f"/projects/{project}/jobs/{job['job_id']}").status_code == 404
    assert alice.get(base, format="json").get_json()["tree"] == expected.to_json()
    assert alice.get(f"{base}/visualizations/{vis['analysis_id']}/svg").status_code == 200


def test_job_list_is_a_bare_array_paged_newest_first(alice, pyogenes):
    project, dataset = pyogenes["project"], pyogenes["dataset"]
    assert alice.jobs(project) == []
    first = infer(alice, project, dataset, 1)
    second = infer(alice, project, dataset, 2)
    listed = alice.jobs(project)
    assert listed == [{"id": second["job_id"], "completed": True, "cancelled": False},
                      {"id": first["job_id"], "completed": True, "cancelled": False}]
    assert alice.jobs(project, page=1) == []
    assert alice.get(f"/projects/{project}/jobs", page="-1").status_code == 400


def test_delete_of_a_queued_job_cancels_it_and_drops_its_inference(alice, pyogenes, runtime):
    project, dataset = pyogenes["project"], pyogenes["dataset"]
    # Both worker slots busy (-c 2, prefetch 1): the goeBURST job waits in the queue.
    sleepers = [alice.client.post("/v1/jobs", json={"type": "test.sleep", "params": {"seconds": 6, "steps": 6}},
                                  headers=alice.headers).get_json()["id"] for _ in range(2)]
    wait_until(lambda: all(runtime.jobs.get(alice.account, s)["status"] == "running" for s in sleepers))
    job = alice.job(project, "inference", "goeburst", [dataset, 3])
    assert runtime.jobs.get(alice.account, job["job_id"])["status"] == "queued"
    assert alice.jobs(project) == [{"id": job["job_id"], "completed": False, "cancelled": False}]
    assert alice.delete(f"/projects/{project}/jobs/{job['job_id']}").status_code == 204
    assert alice.jobs(project) == []
    assert runtime.jobs.get(alice.account, job["job_id"])["status"] == "canceled"
    r = alice.get(f"/projects/{project}/datasets/{dataset}/inferences/{job['analysis_id']}")
    assert r.status_code == 404 and r.get_json()["message"] == "not-found"
    # deleting a dataset cancels the jobs still to fill its analyses
    again = alice.job(project, "inference", "goeburst", [dataset, 3])
    canonical = runtime.jobs.get(alice.account, again["job_id"])
    assert canonical["status"] == "queued" and canonical["metadata"] == {
        "phyloviz_project": project, "phyloviz_analysis": "inference", "analysis_id": again["analysis_id"]}
    assert alice.delete(f"/projects/{project}/datasets/{dataset}").status_code == 204
    assert runtime.jobs.get(alice.account, again["job_id"])["status"] == "canceled"
    assert alice.jobs(project) == [{"id": again["job_id"], "completed": False, "cancelled": True}]


def test_the_documents_delete_example_without_its_question_mark(alice, pyogenes):
    project, dataset = pyogenes["project"], pyogenes["dataset"]
    job = infer(alice, project, dataset, 1)
    # curl ... 'http://localhost:8080/projects/{p}/jobs/{job}provider=google' (seed 002)
    r = alice.client.delete(f"/phyloviz/projects/{project}/jobs/{job['job_id']}provider=google",
                            headers=alice.headers)
    assert r.status_code == 204 and alice.jobs(project) == []


def test_isolate_counts_decide_ties_as_in_a_direct_call(alice, pyogenes):
    project, dataset = pyogenes["project"], pyogenes["dataset"]
    profiles = parse_profiles(PYOGENES.read_bytes())
    rng = np.random.default_rng(3)
    rows = ["id\tST"] + [f"i{k}\t{st}" for k, st in enumerate(rng.choice(profiles.ids, 900).tolist())]
    rows += ["x1\t99999", "x2\t-", "x3\t"]
    data = ("\n".join(rows) + "\n").encode()
    r = alice.upload(f"/projects/{project}/datasets/{dataset}/isolates/files", data, name="isolates.txt")
    assert r.status_code == 200 and r.get_json()["invalid_entities"] == ["99999"]
    assert r.get_json()["isolates"] == 903  # isolates, with or without a known ST
    job = infer(alice, project, dataset, 3)
    tree = alice.get(f"/projects/{project}/datasets/{dataset}/inferences/{job['analysis_id']}",
                     format="json").get_json()["tree"]
    isolates = Counter(st for st in parse_isolates(data).values() if st is not None)
    assert tree == goeburst(profiles, 3, isolates).to_json()
    assert tree != goeburst(profiles, 3).to_json()  # the isolate tie-break decided something
    assert alice.get(f"/projects/{project}/datasets/{dataset}").get_json()["isolates"] == 903


def test_isolate_files_add_up_by_isolate_id(alice, pyogenes):
    """Several files add isolates; an id seen again is the same isolate (POST keeps the first
    ST, PUT takes the new one), so the frequency tie-break counts each isolate once."""
    project, dataset = pyogenes["project"], pyogenes["dataset"]
    profiles = parse_profiles(PYOGENES.read_bytes())
    rng = np.random.default_rng(5)
    sts = rng.choice(profiles.ids, 1200).tolist()
    first = "id\tST\n" + "".join(f"i{k}\t{st}\n" for k, st in enumerate(sts[:600]))
    second = "country\tid\tST\n" + "".join(f"PT\ti{k}\t{st}\n" for k, st in enumerate(sts[500:], start=500))
    second += f"PT\ti0\t{sts[1]}\n"  # i0 again, with another ST: POST keeps the first
    path = f"/projects/{project}/datasets/{dataset}/isolates/files"
    assert alice.upload(path, first.encode(), name="a.txt").get_json()["isolates"] == 600
    r = alice.client.post(alice.url(path, id="1"), headers=alice.headers, content_type="multipart/form-data",
                          data={"file": (io.BytesIO(second.encode()), "b.txt")})
    assert r.status_code == 200 and r.get_json()["isolates"] == 1200 and r.get_json()["added"] == 600
    job = infer(alice, project, dataset, 3)
    tree = alice.get(f"/projects/{project}/datasets/{dataset}/inferences/{job['analysis_id']}",
                     format="json").get_json()["tree"]
    assert tree == goeburst(profiles, 3, Counter(sts)).to_json()
    # A column named otherwise than exactly ST is refused, and nothing changes.
    bad = alice.upload(path, b"id\tst\nz1\t1\n", name="c.txt")
    assert bad.status_code == 400 and "exactly ST" in bad.get_json()["detail"]
    assert alice.get(f"/projects/{project}/datasets/{dataset}").get_json()["isolates"] == 1200


def test_lvs_above_the_number_of_loci_gives_the_full_forest(alice, runtime):
    path = mlst("phylodb_profiles_500.tsv")
    taxon = unique("spneumo")
    alice.catalogue(taxon, loci_of(path))
    project = alice.project()
    dataset = alice.dataset(project, taxon)
    assert alice.upload(f"/projects/{project}/datasets/{dataset}/profiles/files", path.read_bytes()).status_code == 200
    job = infer(alice, project, dataset, "50")  # phyloDB's parameters are untyped
    tree = alice.get(f"/projects/{project}/datasets/{dataset}/inferences/{job['analysis_id']}",
                     format="json").get_json()["tree"]
    expected = goeburst(parse_profiles(path.read_bytes()), 7).to_json()
    assert tree == {**expected, "lvs": 50}


# -- profiles and isolates -----------------------------------------------------------------


def test_profile_files_post_skips_put_replaces_and_reads_back(alice, pyogenes):
    project, dataset = pyogenes["project"], pyogenes["dataset"]
    files = f"/projects/{project}/datasets/{dataset}/profiles/files"
    text = PYOGENES.read_text().split("\n")
    header, first = text[0], text[1].split("\t")
    changed = "\t".join([first[0], "999", *first[2:]])
    new = "\t".join(["100000", *first[1:]])
    r = alice.upload(files, f"{header}\n{changed}\n{new}\n".encode())
    assert r.get_json() == {"invalid_lines": [], "invalid_entities": [], "added": 1, "updated": 0,
                                 "skipped": 1, "profiles": 648}
    one = alice.get(f"/projects/{project}/datasets/{dataset}/profiles/{first[0]}").get_json()
    assert one["alleles"][0] == first[1]
    r = alice.upload(files, f"{header}\n{changed}\n".encode(), method="put")
    assert r.get_json()["updated"] == 1 and r.get_json()["profiles"] == 648
    one = alice.get(f"/projects/{project}/datasets/{dataset}/profiles/{first[0]}").get_json()
    assert one["alleles"][0] == "999" and one["id"] == first[0]
    page = alice.get(f"/projects/{project}/datasets/{dataset}/profiles").get_json()
    assert len(page) == 100 and page[0] == {"id": "1", "version": 1}
    assert alice.get(f"/projects/{project}/datasets/{dataset}/profiles", page="6").get_json()[-1]["id"] == "100000"
    tsv = alice.get(f"/projects/{project}/datasets/{dataset}/profiles", headers={"Accept": "text/plain"})
    assert tsv.mimetype == "text/plain"
    back = parse_profiles(tsv.data)
    assert back.ids[:647] == parse_profiles(PYOGENES.read_bytes()).ids and back.ids[-1] == "100000"
    assert alice.get(f"/projects/{project}/datasets/{dataset}/profiles/nope").status_code == 404


@pytest.mark.parametrize("content, line, words", [
    (b"ST\ta\tb\tc\td\te\tf\tg\n1\t1\t1\t1\t1\t1\t1\t1\n1\t2\t2\t2\t2\t2\t2\t2\n", 3, "duplicate ST"),
    (b"ST\ta\tb\tc\td\te\tf\tg\n1\t1\t1\t1\t1\t1\t1\t1\n2\t1\t1\n", 3, "expected 8 cells"),
    (b"ST\ta\tb\tc\td\te\tf\tg\n1\t1\t1\t1\t1\t1\t1\t1\n\n2\t1\t1\t1\t" + b"x" * 201 + b"\t1\t1\t1\n", 4,
     "longer than 200"),
    (b"ST\ta\tb\tc\n1\t1\t1\t1\n", 1, "schema"),
    (b"\n\n", 1, "empty"),
    (b"ST\ta\n\xff\xfe\n", 0, "UTF-8"),
])
def test_bad_profile_files_are_400_with_their_line_and_store_nothing(alice, pyogenes, content, line, words):
    project, dataset = pyogenes["project"], pyogenes["dataset"]
    r = alice.upload(f"/projects/{project}/datasets/{dataset}/profiles/files", content)
    body = r.get_json()
    assert r.status_code == 400 and body["message"] == "bad-request"
    assert words in body["detail"] and body["invalid_lines"] == ([line] if line else [])
    assert alice.get(f"/projects/{project}/datasets/{dataset}").get_json()["profiles"] == 647


def test_upload_without_a_file_field_or_too_big(alice, pyogenes, app):
    project, dataset = pyogenes["project"], pyogenes["dataset"]
    path = f"/projects/{project}/datasets/{dataset}/profiles/files"
    r = alice.post(path, data={"other": "x"}, content_type="multipart/form-data")
    assert r.status_code == 400 and "'file'" in r.get_json()["detail"]
    r = alice.upload(path, b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    assert r.status_code == 413 and r.get_json()["message"] == "payload-too-large"
    r = alice.upload(f"/projects/{project}/datasets/{dataset}/isolates/files", b"id\tname\n1\tx\n")
    assert r.status_code == 400 and r.get_json()["invalid_lines"] == [1]


def test_non_numeric_allele_ids_across_uploads_read_back_and_infer(alice):
    """Allele ids are opaque strings, as phyloDB's MlFormatter reads them ("12a", "LNF",
    "012" is not "12"), stable across uploads; "-" and blanks stay missing."""
    taxon = unique("spn")
    alice.catalogue(taxon, ["a", "b", "c"], schema="s3")
    project = alice.project()
    dataset = alice.dataset(project, taxon, schema="s3")
    path = f"/projects/{project}/datasets/{dataset}/profiles/files"
    first = b"ST\ta\tb\tc\n1\t12a\tLNF\t1\n2\t12a\tLNF\t2\n3\t012\t7\t-\n"
    second = b"ST\ta\tb\tc\n4\t12\tnew\t1\n5\t12a\tnew\t \n3\t9\t9\t9\n"
    assert alice.upload(path, first).status_code == 200
    r = alice.upload(path, second)  # POST: profile 3 is kept as it was
    assert r.get_json()["added"] == 2 and r.get_json()["skipped"] == 1
    got = alice.get(f"/projects/{project}/datasets/{dataset}/profiles/5").get_json()
    assert got["alleles"] == ["12a", "new", None]
    tsv = alice.get(f"/projects/{project}/datasets/{dataset}/profiles", headers={"Accept": "text/plain"}).data
    combined = parse_profiles(first + b"4\t12\tnew\t1\n5\t12a\tnew\t \n")
    assert tsv.decode().split("\n")[1:-1] == ["1\t12a\tLNF\t1", "2\t12a\tLNF\t2", "3\t012\t7\t",
                                              "4\t12\tnew\t1", "5\t12a\tnew\t"]
    job = infer(alice, project, dataset, 2)
    tree = alice.get(f"/projects/{project}/datasets/{dataset}/inferences/{job['analysis_id']}",
                     format="json").get_json()["tree"]
    assert tree == goeburst(combined, 2).to_json()
    assert {"from": "1", "to": "2", "distance": 1} in tree["edges"]  # "12a" = "12a", "LNF" = "LNF"
