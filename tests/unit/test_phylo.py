"""PHYLOViZ services' pure parts: profile storage, merging uploads, tree formats, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from shared.engine.errors import BadRequest, NotFound
from shared.phylo.analyses import _lvs, format_tree, job_type, newick, nexus, parse_uuid
from shared.phylo.goeburst import goeburst
from shared.phylo.mlst import MISSING, parse_profiles
from shared.phylo.projects import _project_fields, decode, encode, merge, new_id, parse_id
from shared.phylo.radial import radial
from tests.support.data import mlst
from workers.handlers.phylo import forest_from_json

PYOGENES = mlst("pyogenesST_onlinephyloviz.tsv")


def profiles(text: str):
    return parse_profiles("ST\ta\tb\tc\n" + text)


def test_blob_round_trip_keeps_missing_alleles_and_order():
    ps = profiles("7\t1\t-\t3\n2\t\t5\t2147483647\n")
    blob = encode(ps.matrix)
    assert len(blob) == 4 * ps.matrix.size
    back = decode(blob, 2, 3)
    assert back.dtype == np.int32 and (back == ps.matrix).all() and back[0, 1] == MISSING


def test_merge_appends_new_profiles_in_file_order_and_skips_or_replaces_known_ones():
    old = profiles("1\t1\t1\t1\n2\t2\t2\t2\n")
    new = profiles("3\t3\t3\t3\n2\t9\t9\t9\n0\t4\t4\t4\n")
    ids, m, counts = merge(old.ids, old.matrix, new, replace=False)
    assert ids == ["1", "2", "3", "0"] and m[1].tolist() == [2, 2, 2] and m[3].tolist() == [4, 4, 4]
    assert counts == {"added": 2, "updated": 0, "skipped": 1}
    ids, m, counts = merge(old.ids, old.matrix, new, replace=True)
    assert ids == ["1", "2", "3", "0"] and m[1].tolist() == [9, 9, 9]
    assert counts == {"added": 2, "updated": 1, "skipped": 0}
    assert (old.matrix[1] == 2).all()  # the caller's matrix is not modified
    ids, m, _ = merge([], np.empty((0, 3), np.int32), new, replace=False)
    assert ids == new.ids and (m == new.matrix).all()


def test_newick_and_nexus_follow_phylodb_formatter():
    tree = {"directed": [{"from": "A", "to": "B", "distance": 1}, {"from": "A", "to": "C", "distance": 2},
                         {"from": "C", "to": "D", "distance": 1}, {"from": "E", "to": "F", "distance": 3}],
            "groups": [{"component": 1, "root": "A", "members": ["A", "B", "C", "D"]},
                       {"component": 2, "root": "E", "members": ["E", "F"]}]}
    assert newick(tree) == "(B:1,(D:1)C:2)A;(F:3)E;"
    assert nexus(tree) == "BEGIN TREES;\n\tTree result = (B:1,(D:1)C:2)A;(F:3)E;\nEND;"
    assert format_tree(tree, "json") is tree
    with pytest.raises(BadRequest):
        format_tree(tree, "phyloxml")


def test_newick_of_a_long_chain_needs_no_recursion():
    n = 20000
    tree = {"directed": [{"from": str(k), "to": str(k + 1), "distance": 1} for k in range(n)],
            "groups": [{"component": 1, "root": "0", "members": [str(k) for k in range(n + 1)]}]}
    text = newick(tree)
    assert text.startswith("(" * n) and text.endswith(")0;") and text.count(":1") == n


def test_forest_from_stored_json_lays_out_as_the_original():
    forest = goeburst(parse_profiles(PYOGENES.read_bytes()), 3)
    again = forest_from_json(forest.to_json())
    assert again.to_json()["edges"] == forest.to_json()["edges"]
    assert radial(again).to_json() == radial(forest).to_json()


def test_phylodb_parameters_and_names():
    assert job_type("inference", "goeBURST") == "goeburst" and job_type("visualization", "radial") == "layout"
    with pytest.raises(NotFound):
        job_type("inference", "nj")
    with pytest.raises(BadRequest):
        job_type("clustering", "goeburst")
    assert _lvs(3) == 3 and _lvs(" 7 ") == 7
    for bad in [0, -1, True, 2.5, "x", None, 10**9]:
        with pytest.raises(BadRequest):
            _lvs(bad)
    with pytest.raises(NotFound):
        parse_uuid("dataset", "eb6e9c65")
    assert parse_uuid("inference", "EB6E9C65-8230-4B75-9ECF-D7D453B67102") == "eb6e9c65-8230-4b75-9ecf-d7d453b67102"
    # Project and dataset ids are the client's: the web platform's MongoDB ObjectIds.
    assert parse_id("project", "65a1f0c2e4b0a1b2c3d4e5f6") == "65a1f0c2e4b0a1b2c3d4e5f6"
    for bad in ["", "-x", "a/b", "x" * 101, 5, None]:
        with pytest.raises(NotFound):
            parse_id("dataset", bad)
        with pytest.raises(BadRequest):
            new_id("dataset", bad)


def test_project_fields_accept_phylodb_users_in_both_shapes():
    got = _project_fields({"name": "Test", "users": ["a@b.c", {"id": "x", "provider": "google"}]})
    assert got["users"] == [{"id": "a@b.c", "provider": ""}, {"id": "x", "provider": "google"}]
    assert got["members"] == ["a@b.c", "x"] and got["visibility"] == "private"
    for bad in [[], {"name": ""}, {"name": "x", "visibility": "hidden"}, {"name": "x", "users": [1]},
                {"name": "x", "description": 5}, {"name": "x", "users": [{"id": ""}]}]:
        with pytest.raises(BadRequest):
            _project_fields(bad)


def test_newick_parses_as_phylodb_and_builds_the_stored_tree():
    from shared.phylo.mlst import ProfileError
    from shared.phylo.trees import parse_newick, tree_json

    edges = parse_newick(b"((3:1,4:2)2:1,5:3)1;(7:1)6;\n(9:2)8;\n")
    assert edges == [("2", "3", 1), ("2", "4", 2), ("1", "2", 1), ("1", "5", 3), ("6", "7", 1), ("8", "9", 2)]
    rows = {p: k for k, p in enumerate(["8", "9", "1", "2", "3", "4", "5", "6", "7", "10"])}
    tree = tree_json(edges, rows, "goeburst")
    assert [(g["component"], g["root"]) for g in tree["groups"]] == [(1, "8"), (2, "1"), (3, "6")]
    assert tree["groups"][1]["members"] == ["1", "2", "3", "4", "5"] and tree["unlinked"] == ["10"]
    assert tree["lvs"] == 3 and [e["to"] for e in tree["directed"]] == ["9", "2", "3", "4", "5", "7"]
    # The round trip through our Newick writer gives the same tree.
    assert parse_newick(newick(tree).encode()) and tree_json(parse_newick(newick(tree).encode()), rows,
                                                             "goeburst")["groups"] == tree["groups"]
    for bad in [b"", b"(1:1,2:1);", b"(1:1)2", b"(1:1))2;", b"(1:1.5)2;", b"(2:1)2;", b"((1:1)2;", b"1;"]:
        with pytest.raises(ProfileError):
            parse_newick(bad)
    with pytest.raises(ValueError):
        tree_json([("1", "2", 1), ("2", "1", 1)], {"1": 0, "2": 1}, "goeburst")
