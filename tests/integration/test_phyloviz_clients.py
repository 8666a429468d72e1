"""phyloDB's two real clients, replayed request by request against ``/phyloviz`` over HTTP.

- ``scripts/example/example.sh`` of phyloviz/phyloDB: every curl call as the script makes
  it (method, headers, bodies byte for byte, ``--form`` uploads), with only its base URL
  ``http://localhost:8080`` changed. The script's server-side init step
  (``make_init_data.cypher.sh``, Neo4j seeding) has no HTTP part and is left out.
- ``src/backend/tools/`` of phyloviz/phyloviz-web-platform: typing_data_indexer,
  isolate_data_indexer, tree_indexer and compute_tree_view, each request made with
  ``requests`` exactly as the tool makes it. The tools send no Authorization header: the
  key rides in their ``PHYLODB_URL`` (``http://KEY:@host/phyloviz``), which ``requests``
  turns into HTTP Basic. Project and dataset ids are the platform's MongoDB ObjectIds.

Each replay then reads the results back and compares them with goeBURST and the radial
layout computed directly on the same files (real workers ran the jobs).
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import subprocess
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests

from shared.phylo.analyses import newick
from shared.phylo.goeburst import goeburst
from shared.phylo.mlst import parse_profiles
from shared.phylo.radial import radial
from tests.conftest import wait_until
from tests.support.phyloviz import PYOGENES
from tests.support.web import in_thread

pytestmark = pytest.mark.usefixtures("engine")
EXAMPLE_BASE = "http://localhost:8080"


@pytest.fixture(scope="module")
def live(app):
    with in_thread(app) as url:
        yield url


# -- example.sh ------------------------------------------------------------------------------


class Curl:
    """Runs the script's curl command lines with its base URL swapped for ours."""

    def __init__(self, base: str, token: str, cwd: Path) -> None:
        self.base, self.token, self.cwd = base, token, cwd

    def __call__(self, *args: str) -> tuple[int, str]:
        argv = [a.replace(EXAMPLE_BASE, self.base).replace("$TOKEN", self.token) for a in args]
        out = subprocess.run(["curl", "--silent", "--write-out", "\n%{http_code}", *argv], cwd=self.cwd,
                             capture_output=True, text=True, timeout=60, check=True).stdout
        body, _, status = out.rpartition("\n")
        return int(status), body

    def json(self, *args: str):
        status, body = self(*args)
        assert 200 <= status < 300, (status, body)
        return json.loads(body)


def example_files(tmp: Path) -> Path:
    """profiles.txt (ST + locus1..7, as the script's) and profiles_{1..7}.txt (FASTA per locus)."""
    ps = parse_profiles(PYOGENES.read_bytes())
    rows = list(zip(ps.ids[:40], ps.matrix[:40].tolist(), strict=True))
    lines = ["ST\t" + "\t".join(f"locus{k}" for k in range(1, 8))]
    lines += [st + "\t" + "\t".join(str(a) for a in alleles) for st, alleles in rows]
    (tmp / "profiles.txt").write_text("\n".join(lines) + "\n")
    rng = np.random.default_rng(1)
    for k in range(7):
        ids = sorted({alleles[k] for _, alleles in rows})
        fasta = "".join(f">locus{k + 1}_{a}\n{''.join(rng.choice(list('ACGT'), 31))}\n" for a in ids)
        (tmp / f"profiles_{k + 1}.txt").write_text(fasta)
    return tmp


def test_phylodb_example_sh_runs_unchanged(live, key, runtime, tmp_path):
    # phyloDB lists the caller's projects and every public one by id, and example.sh takes
    # element [0] as the project it has just made: true on the fresh server it expects, so
    # other tests' public projects are made private first.
    _hide_public_projects(runtime)
    curl = Curl(live + "/phyloviz", key, example_files(tmp_path))

    # Check server status: 200 without a key.
    status, _ = curl("--output", "/dev/null", "http://localhost:8080/")
    assert status == 200
    status, body = curl("-v", "--location", "--request", "GET", "http://localhost:8080/users?provider=google",
                        "--header", "Authorization: Bearer $TOKEN")
    assert status == 200 and json.loads(body)[0]["id"]
    assert curl("--location", "--request", "GET", "http://localhost:8080/taxa?provider=google",
                "--header", "Authorization: Bearer $TOKEN")[0] == 200
    status, _ = curl("-v", "--location", "--request", "PUT", "http://localhost:8080/taxa/bbacilliformis?provider=google",
                     "--header", "Content-Type: application/json", "--header", "Authorization: Bearer $TOKEN",
                     "--data-raw", '{\n    "id": "bbacilliformis",\n    "description": "Example taxon"\n  }')
    assert status in (201, 204)
    assert curl("--location", "--request", "GET", "http://localhost:8080/taxa/bbacilliformis/loci?provider=google",
                "--header", "Authorization: Bearer $TOKEN")[0] == 200
    # The script deprecates a locus it never made: phyloDB answers not-found, and so do we.
    assert curl("-v", "--location", "--request", "DELETE",
                "http://localhost:8080/taxa/bbacilliformis/loci/ftsZ?provider=google",
                "--header", "Authorization: Bearer $TOKEN")[0] == 404
    for x in [f"locus{k}" for k in range(1, 8)]:
        status, _ = curl("-v", "--location", "--request", "PUT",
                         f"http://localhost:8080/taxa/bbacilliformis/loci/{x}?provider=google",
                         "--header", "Content-Type: application/json", "--header", "Authorization: Bearer $TOKEN",
                         "--data-raw", f'{{\n      "id": "{x}",\n      "description": "Example locus"\n    }}')
        assert status in (201, 204)
    for x in range(1, 8):
        got = curl.json("-v", "--location", "--request", "POST",
                        f"http://localhost:8080/taxa/bbacilliformis/loci/locus{x}/alleles/files?provider=google",
                        "--header", "Content-Type: multipart/form-data", "--header", "Authorization: Bearer $TOKEN",
                        "--form", f"file=@profiles_{x}.txt")
        assert got["invalid_lines"] == [] and got["alleles"] > 0
    for x in range(1, 8):
        alleles = curl.json("--location", "--request", "GET",
                            f"http://localhost:8080/taxa/bbacilliformis/loci/locus{x}/alleles?provider=google",
                            "--header", "Authorization: Bearer $TOKEN")
        fasta = (tmp_path / f"profiles_{x}.txt").read_text().split("\n")
        assert sorted(a["id"] for a in alleles) == sorted(line[len(f">locus{x}_"):] for line in fasta[::2] if line)
    one = curl.json("--location", "--request", "GET",
                    "http://localhost:8080/taxa/bbacilliformis/loci/locus1/alleles/1?provider=google",
                    "--header", "Authorization: Bearer $TOKEN")
    assert one["id"] == "1" and one["sequence"] == (tmp_path / "profiles_1.txt").read_text().split("\n")[1]
    assert curl("--location", "--request", "GET", "http://localhost:8080/taxa/bbacilliformis/schemas?provider=google",
                "--header", "Authorization: Bearer $TOKEN")[0] == 200
    assert curl("--location", "--request", "GET",
                "http://localhost:8080/taxa/bbacilliformis/schemas/mlst7?provider=google",
                "--header", "Authorization: Bearer $TOKEN")[0] == 404
    status, _ = curl("-v", "--location", "--request", "PUT",
                     "http://localhost:8080/taxa/bbacilliformis/schemas/mlst7?provider=google",
                     "--header", "Content-Type: application/json", "--header", "Authorization: Bearer $TOKEN",
                     "--data-raw", '{\n    "taxon_id": "bbacilliformis",\n\t  "id": "mlst7",\n   \t"type": "mlst",\n'
                     '\t  "description": "demo 7 loci schema",\n\t  "loci": ["locus1", "locus2", "locus3", "locus4", '
                     '"locus5", "locus6", "locus7"]\n  }')
    assert status in (201, 204)
    assert curl("--location", "--request", "GET", "http://localhost:8080/projects?provider=google",
                "--header", "Authorization: Bearer $TOKEN")[0] == 200
    status, body = curl("-v", "--location", "--request", "POST", "http://localhost:8080/projects?provider=google",
                        "--header", "Content-Type: application/json", "--header", "Authorization: Bearer $TOKEN",
                        "--data-raw", '{\n    "name": "Test",\n    "visibility": "private",\n    "description": '
                        '"Test project",\n    "users": [{"id": "aplf@tecnico.pt", "provider": "google"}]\n  }')
    assert status == 201
    made = json.loads(body)["id"]
    project = curl.json("-s", "--location", "--request", "GET", "http://localhost:8080/projects?provider=google",
                        "--header", "Authorization: Bearer $TOKEN")[0]["id"]
    assert project == made

    base = f"http://localhost:8080/projects/{project}"
    assert curl("--location", "--request", "GET", f"{base}/datasets?provider=google",
                "--header", "Authorization: Bearer $TOKEN")[0] == 200
    status, _ = curl("-v", "--location", "--request", "POST", f"{base}/datasets?provider=google",
                     "--header", "Content-Type: application/json", "--header", "Authorization: Bearer $TOKEN",
                     "--data-raw", '{\n    "taxon_id": "bbacilliformis",\n   \t"schema_id": "mlst7",\n'
                     '\t  "description": "Example dataset"\n  }')
    assert status == 201
    dataset = curl.json("-s", "--location", "--request", "GET", f"{base}/datasets?provider=google",
                        "--header", "Authorization: Bearer $TOKEN")[0]["id"]
    got = curl.json("-v", "--location", "--request", "POST", f"{base}/datasets/{dataset}/profiles/files?provider=google",
                    "--header", "Content-Type: multipart/form-data", "--header", "Authorization: Bearer $TOKEN",
                    "--form", "file=@profiles.txt")
    assert got["invalid_lines"] == [] and got["profiles"] == 40
    listed = curl.json("--location", "--request", "GET", f"{base}/datasets/{dataset}/profiles?provider=google",
                       "--header", "Authorization: Bearer $TOKEN")
    assert [p["id"] for p in listed][:10] == [str(x) for x in range(1, 11)]
    profiles = parse_profiles((tmp_path / "profiles.txt").read_bytes())
    for x in range(1, 11):
        one = curl.json("--location", "--request", "GET", f"{base}/datasets/{dataset}/profiles/{x}?provider=google",
                        "--header", "Authorization: Bearer $TOKEN")
        assert one["alleles"] == [str(a) for a in profiles.matrix[x - 1].tolist()]
    status, body = curl("-v", "--location", "--request", "POST", f"{base}/jobs?provider=google",
                        "--header", "Content-Type: application/json", "--header", "Authorization: Bearer $TOKEN",
                        "--data-raw", f'{{\n    "analysis": "inference",\n    "algorithm": "goeburst",\n'
                        f'    "parameters": ["{dataset}", 3]\n  }}')
    assert status == 202
    job = json.loads(body)
    # The job runs on a worker, as phyloDB's runs beside its database: the inference is
    # listed once stored (on phyloDB too the script's next call races the job).
    wait_until(lambda: _finished(curl, base, job["job_id"]), timeout=60, interval=0.2)
    inference = curl.json("-s", "--location", "--request", "GET", f"{base}/datasets/{dataset}/inferences?provider=google",
                          "--header", "Authorization: Bearer $TOKEN")[0]["id"]
    assert inference == job["analysis_id"]
    got = curl.json("--location", "--request", "GET",
                    f"{base}/datasets/{dataset}/inferences/{inference}?provider=google",
                    "--header", "Authorization: Bearer $TOKEN")
    expected = goeburst(profiles, 3)
    assert got["tree"] == newick(expected.to_json())
    # Read back as JSON, and draw it (the platform's next step).
    tree = curl.json(f"{base}/datasets/{dataset}/inferences/{inference}?format=json",
                     "--header", "Authorization: Bearer $TOKEN")["tree"]
    assert tree == expected.to_json()


def _finished(curl: Curl, base: str, job_id: str) -> bool:
    jobs = curl.json(f"{base}/jobs?provider=google", "--header", "Authorization: Bearer $TOKEN")
    entry = next((j for j in jobs if j["id"] == job_id), None)
    return entry is None or entry["completed"]


def _hide_public_projects(runtime) -> None:
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE phylo_projects SET visibility = 'private' WHERE visibility = 'public'")


# -- the web platform's tools ------------------------------------------------------------------


class Platform:
    """The tools' calls, as written in their source (``base_url`` is their PHYLODB_URL)."""

    json_headers = {"Content-Type": "application/json"}

    def __init__(self, base_url: str, workdir: Path) -> None:
        self.base_url, self.workdir = base_url, workdir

    # typing_data_indexer.py
    def create_project(self, project_id):
        payload = json.dumps({"id": project_id, "name": project_id, "visibility": "public", "description": "",
                              "users": []})
        response = requests.request("PUT", f"{self.base_url}/projects/{project_id}", headers=self.json_headers,
                                    data=payload)
        assert response.status_code in range(200, 299), response.text

    def create_taxon(self, taxon_id):
        payload = json.dumps({"id": taxon_id, "description": taxon_id})
        response = requests.request("PUT", f"{self.base_url}/taxa/{taxon_id}", headers=self.json_headers, data=payload)
        assert response.status_code in range(200, 299), response.text

    def create_locus(self, taxon_id, locus_id):
        payload = json.dumps({"id": locus_id, "description": locus_id})
        url = f"{self.base_url}/taxa/{taxon_id}/loci/{locus_id}"
        response = requests.request("PUT", url, headers=self.json_headers, data=payload)
        assert response.status_code in range(200, 299), response.text

    def create_mlst_schema(self, taxon_id, schema_id, loci_list):
        payload = json.dumps({"taxon_id": taxon_id, "id": schema_id, "type": "mlst", "description": schema_id,
                              "loci": loci_list})
        response = requests.request("PUT", f"{self.base_url}/taxa/{taxon_id}/schemas/{schema_id}",
                                    headers=self.json_headers, data=payload)
        assert response.status_code in range(200, 299), response.text

    def create_dataset(self, project_id, dataset_id, typing_data_file_path):
        taxon_id = str(uuid.uuid4())
        self.create_taxon(taxon_id)
        loci_list = self.upload_loci(taxon_id, typing_data_file_path)
        allele_ids = {}
        with open(typing_data_file_path) as file:
            reader = csv.reader(file, delimiter="\t")
            headers = next(reader)
            for row in reader:
                for i, allele_id in enumerate(row[1:], start=1):
                    gene = headers[i]
                    if gene not in allele_ids:
                        allele_ids[gene] = set()
                    allele_ids[gene].add(allele_id)
        for gene in allele_ids.keys():
            with open(self.workdir / f"fasta_{gene}.fasta", "w") as outfile:
                for allele_id in allele_ids[gene]:
                    outfile.write(f">{gene}_{allele_id}\nA\n")
        for gene in allele_ids.keys():
            loci_id = gene.split(".")[0]
            self.upload_allelic_sequences(taxon_id, loci_id, self.workdir / f"fasta_{gene}.fasta")
        schema_id = str(uuid.uuid4())
        self.create_mlst_schema(taxon_id, schema_id, loci_list)
        payload = json.dumps({"id": dataset_id, "taxon_id": taxon_id, "schema_id": schema_id, "description": ""})
        response = requests.request("PUT", f"{self.base_url}/projects/{project_id}/datasets/{dataset_id}",
                                    headers=self.json_headers, data=payload)
        assert response.status_code in range(200, 299), response.text
        return taxon_id, schema_id

    def project_exists(self, project_id):
        response = requests.request("GET", f"{self.base_url}/projects/{project_id}", headers=self.json_headers)
        if response.status_code == 404:
            return False
        assert response.status_code in range(200, 299), response.text
        return True

    def upload_loci(self, taxon_id, typing_data_file_path):
        with open(typing_data_file_path) as f:
            first_row = f.readline()
        loci_list = first_row.split("\t")
        loci_list.pop(0)
        loci_list = [locus_id for locus_id in loci_list if not locus_id.isspace() and locus_id]
        loci_list = [locus_id.strip() for locus_id in loci_list]
        with ThreadPoolExecutor() as executor:
            futures = [executor.submit(self.create_locus, taxon_id, locus_id) for locus_id in loci_list]
            for future in futures:
                future.result()
        return loci_list

    def upload_allelic_sequences(self, taxon_id, loci_id, file):
        files = {"file": open(file, "rb")}  # noqa: SIM115 - as the tool does
        response = requests.request("PUT", f"{self.base_url}/taxa/{taxon_id}/loci/{loci_id}/alleles/files",
                                    files=files)
        assert response.status_code in range(200, 299), response.text
        return response.json()

    def upload_allele_profiles(self, project_id, dataset_id, file):
        files = {"file": open(file, "rb")}  # noqa: SIM115
        response = requests.request("PUT", f"{self.base_url}/projects/{project_id}/datasets/{dataset_id}/profiles/files",
                                    files=files)
        assert response.status_code in range(200, 299), response.text
        return response.json()

    def dataset_exists(self, project_id, dataset_id):
        response = requests.request("GET", f"{self.base_url}/projects/{project_id}/datasets/{dataset_id}",
                                    headers=self.json_headers)
        if response.status_code == 404:
            return False
        assert response.status_code in range(200, 299), response.text
        return True

    def index_typing_data(self, typing_data_file_path, project_id, dataset_id):
        if not self.project_exists(project_id):
            self.create_project(project_id)
        assert not self.dataset_exists(project_id, dataset_id)
        self.create_dataset(project_id, dataset_id, typing_data_file_path)
        return self.upload_allele_profiles(project_id, dataset_id, typing_data_file_path)

    # isolate_data_indexer.py
    def upload_isolates(self, project_id, dataset_id, file):
        files = {"file": open(file, "rb")}  # noqa: SIM115
        response = requests.request("PUT", f"{self.base_url}/projects/{project_id}/datasets/{dataset_id}/isolates/files",
                                    files=files)
        assert response.status_code in range(200, 299), response.text
        return response.json()

    def index_isolate_data(self, isolate_data_file_path, project_id, dataset_id):
        assert self.project_exists(project_id) and self.dataset_exists(project_id, dataset_id)
        return self.upload_isolates(project_id, dataset_id, isolate_data_file_path)

    # tree_indexer.py
    def upload_inference(self, project_id, dataset_id, inference_file_path):
        files = {"file": open(inference_file_path, "rb"), "algorithm": "goeburst", "format": "newick"}  # noqa: SIM115
        response = requests.request("POST", f"{self.base_url}/projects/{project_id}/datasets/{dataset_id}/inferences",
                                    files=files)
        assert response.status_code in range(200, 299), response.text
        return response.json()["id"]

    # compute_tree_view.py
    def create_visualization_job(self, project_id, dataset_id, inference_id):
        data = {"analysis": "visualization", "algorithm": "radial", "parameters": [dataset_id, inference_id]}
        response = requests.request("POST", f"{self.base_url}/projects/{project_id}/jobs", headers=self.json_headers,
                                    json=data)
        assert response.status_code in range(200, 299), response.text
        data = response.json()
        return data["job_id"], data["analysis_id"]

    def get_jobs(self, project_id):
        response = requests.request("GET", f"{self.base_url}/projects/{project_id}/jobs?provider=google",
                                    headers=self.json_headers)
        assert response.status_code in range(200, 299), response.text
        return response.json()

    def get_job(self, project_id, job_id):
        for job in self.get_jobs(project_id):
            if job["id"] == job_id:
                return job
        return None


def test_web_platform_tools_index_typing_isolates_tree_and_view(live, key, tmp_path):
    host = live.removeprefix("http://")
    platform = Platform(f"http://{key}:@{host}/phyloviz", tmp_path)
    project_id, dataset_id = secrets.token_hex(12), secrets.token_hex(12)  # MongoDB ObjectIds
    typing = tmp_path / "typing.tsv"
    typing.write_bytes(PYOGENES.read_bytes())
    profiles = parse_profiles(typing.read_bytes())

    got = platform.index_typing_data(typing, project_id, dataset_id)
    assert got["invalid_lines"] == [] and got["profiles"] == len(profiles)
    dataset = requests.get(f"{platform.base_url}/projects/{project_id}/datasets/{dataset_id}").json()
    assert dataset["id"] == dataset_id and dataset["profiles"] == len(profiles)
    assert requests.get(f"{platform.base_url}/projects/{project_id}").json()["visibility"] == "public"

    rng = np.random.default_rng(7)
    sts = rng.choice(profiles.ids, 2000).tolist()
    isolates = tmp_path / "isolates.tsv"
    isolates.write_text("id\tcountry\tST\n" + "".join(f"iso{k}\tPT\t{st}\n" for k, st in enumerate(sts)))
    got = platform.index_isolate_data(isolates, project_id, dataset_id)
    assert got["isolates"] == 2000 and got["invalid_entities"] == []

    # The platform computes trees outside phyloDB (phylolib) and indexes the Newick file.
    forest = goeburst(profiles, 3, Counter(sts))
    tree_file = tmp_path / "tree.nwk"
    tree_file.write_text(newick(forest.to_json()) + "\n")
    inference_id = platform.upload_inference(project_id, dataset_id, tree_file)
    stored = requests.get(f"{platform.base_url}/projects/{project_id}/datasets/{dataset_id}/inferences/"
                          f"{inference_id}?format=json").json()["tree"]
    assert stored["directed"] == forest.to_json()["directed"] and stored["groups"] == forest.to_json()["groups"]

    job_id, visualization_id = platform.create_visualization_job(project_id, dataset_id, inference_id)
    wait_until(lambda: (platform.get_job(project_id, job_id) or {"completed": True})["completed"],
               timeout=60, interval=0.2)
    view = requests.get(f"{platform.base_url}/projects/{project_id}/datasets/{dataset_id}/inferences/"
                        f"{inference_id}/visualizations/{visualization_id}").json()
    expected = radial(forest).to_json()["nodes"]
    assert view["coordinates"] == expected

    # Running the tools again is refused by the platform itself, not by us: the dataset exists.
    assert platform.project_exists(project_id) and platform.dataset_exists(project_id, dataset_id)


# -- what those clients can get wrong: clear 400/404s, nothing changed ---------------------------


def test_bad_uploads_and_puts_are_refused_and_change_nothing(client, make_account):
    from tests.support.phyloviz import Phylo, loci_of, unique

    alice, bob = Phylo(client, make_account()[1]), Phylo(client, make_account()[1])
    taxon, loci = unique("spy"), loci_of(PYOGENES)
    alice.catalogue(taxon, loci)
    project = secrets.token_hex(12)
    body = {"name": "p", "visibility": "private", "description": "", "users": []}
    assert alice.put(f"/projects/{project}", {**body, "id": project}).status_code == 201
    assert alice.put(f"/projects/{project}", {**body, "name": "q"}).status_code == 204  # update
    assert alice.put(f"/projects/{project}", {**body, "id": "other"}).status_code == 400
    assert alice.put("/projects/-bad-", body).status_code == 400
    assert bob.put(f"/projects/{project}", body).status_code == 404  # another's private project
    assert alice.get(f"/projects/{project}").get_json()["name"] == "q"

    dataset = secrets.token_hex(12)
    ds = {"taxon_id": taxon, "schema_id": "mlst7", "description": ""}
    assert alice.put(f"/projects/{project}/datasets/{dataset}", ds).status_code == 201
    other = alice.put(f"/projects/{alice.project()}/datasets/{dataset}", ds)  # the id is taken elsewhere
    assert other.status_code == 404
    assert alice.put(f"/projects/{project}/datasets/x1", {**ds, "schema_id": "nope"}).status_code == 400
    assert alice.get(f"/projects/{project}/datasets/x1").status_code == 404
    base = f"/projects/{project}/datasets/{dataset}"
    assert alice.upload(f"{base}/profiles/files", PYOGENES.read_bytes(), method="put").status_code == 200

    # Allele FASTA: bad lines are reported as phyloDB does; a file without alleles is a 400.
    fasta = f"/taxa/{taxon}/loci/{loci[0]}/alleles/files"
    r = alice.upload(fasta, b">x_1\nACGT\n>x_\nA\n>x_2\nAC#T\n>x_3\nGG\n", method="put")
    assert r.status_code == 200 and r.get_json()["invalid_lines"] == [3, 6] and r.get_json()["alleles"] == 2
    assert alice.upload(fasta, b">x_\nA\n", method="put").status_code == 400
    assert alice.upload(f"/taxa/{taxon}/loci/nope/alleles/files", b">x_1\nA\n").status_code == 404
    assert [a["id"] for a in alice.get(f"/taxa/{taxon}/loci/{loci[0]}/alleles").get_json()] == ["1", "3"]

    # Trees: Newick with unknown profiles, two parents, bad syntax or a bad format: 400.
    for text, fields in [(b"(1:1,99999:2)2;", {}), (b"(1:1)2;(1:1)3;", {}), (b"(1:1,(2:1)3;", {}),
                         (b"(1:x)2;", {}), (b"(1:1)2;", {"format": "phyloxml"}), (b"(1:1)2;", {"algorithm": "upgma"})]:
        data = {"file": (io.BytesIO(text), "t.nwk"), "algorithm": "goeburst", "format": "newick", **fields}
        r = client.post(alice.url(f"{base}/inferences"), headers=alice.headers, data=data,
                        content_type="multipart/form-data")
        assert r.status_code == 400 and r.get_json()["message"] == "bad-request", (text, r.get_json())
    assert alice.get(f"{base}/inferences").get_json() == []
    data = {"file": (io.BytesIO(b"BEGIN TREES;\n\tTree result = (1:1,3:2)2;\nEND;"), "t.nex"),
            "algorithm": "goeburst", "format": "nexus"}
    r = client.post(alice.url(f"{base}/inferences"), headers=alice.headers, data=data,
                    content_type="multipart/form-data")
    assert r.status_code == 201
    tree = alice.get(f"{base}/inferences/{r.get_json()['id']}", format="json").get_json()["tree"]
    assert tree["groups"] == [{"component": 1, "root": "2", "members": ["2", "1", "3"]}]


def test_project_list_is_phylodbs_own_and_public_by_id_length_then_id(client, make_account):
    from tests.support.phyloviz import Phylo

    alice, bob = Phylo(client, make_account()[1]), Phylo(client, make_account()[1])
    base = secrets.token_hex(4)
    body = {"name": "p", "visibility": "private", "description": "", "users": []}
    for pid in [base + "zz", base + "b", base + "a"]:
        assert alice.put(f"/projects/{pid}", body).status_code == 201
    assert bob.put(f"/projects/{base}c", {**body, "visibility": "public"}).status_code == 201
    assert bob.put(f"/projects/{base}d", body).status_code == 201
    mine = [p["id"] for p in alice.get("/projects").get_json() if p["id"].startswith(base)]
    assert mine == [base + "a", base + "b", base + "c", base + "zz"]  # bob's private one is not listed
