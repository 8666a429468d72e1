"""goeBURST (shared.phylo.goeburst) against hand-made cases and a literal reference.

``reference`` below is a straightforward port of phyloDB's GoeBURST.java (full n x n
distance matrix, comparator sort, Kruskal with cluster relabelling), of
InferenceRepository.direct (recursive orientation) and of VisualizationRepository.read
(trees in the upload order of their roots).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.phylo.goeburst import Edge, Forest, goeburst
from shared.phylo.mlst import MISSING, ProfileSet, parse_profiles
from tests.support.data import mlst


def profiles(rows: dict[str, list[int]]) -> ProfileSet:
    width = len(next(iter(rows.values())))
    return ProfileSet(list(rows), [f"l{k}" for k in range(width)], np.array(list(rows.values())))


def links(forest: Forest) -> set[frozenset[str]]:
    return {frozenset((e.from_st, e.to_st)) for e in forest.edges}


# ---------------------------------------------------------------- literal reference


def reference(ps: ProfileSet, lvs: int, isolates: dict[str, int] | None = None) -> dict:
    m, ids, n = ps.matrix, ps.ids, len(ps.ids)
    a, b = m[:, None, :], m[None, :, :]
    dist = ((a != b) | (a == MISSING) | (b == MISSING)).sum(axis=2)  # n x n x loci
    iso = [(isolates or {}).get(s, 0) for s in ids]
    lv = [[0] * lvs for _ in range(n)]
    cand = []
    for i in range(n):
        for j in range(i):
            d = int(dist[i, j])
            if 0 < d <= lvs:
                cand.append((j, i, d))
                lv[i][d - 1] += 1
                lv[j][d - 1] += 1

    def cmp_id(s1: str, s2: str) -> int:
        if len(s1) != len(s2):
            return len(s1) - len(s2)
        return (s1 > s2) - (s1 < s2)

    def cmp(e1: tuple, e2: tuple) -> int:
        if e1[2] != e2[2]:
            return e1[2] - e2[2]
        (f1, t1, _), (f2, t2, _) = e1, e2
        for k in range(lvs):
            for pick in (max, min):
                diff = pick(lv[f2][k], lv[t2][k]) - pick(lv[f1][k], lv[t1][k])
                if diff:
                    return diff
        for pick in (max, min):
            diff = pick(iso[f2], iso[t2]) - pick(iso[f1], iso[t1])
            if diff:
                return diff
        diff = min(f1, t1) - min(f2, t2)
        if diff:
            return diff
        big1 = ids[f1] if cmp_id(ids[f1], ids[t1]) > 0 else ids[t1]
        big2 = ids[f2] if cmp_id(ids[f2], ids[t2]) > 0 else ids[t2]
        return cmp_id(big1, big2)

    clusters = list(range(n))
    edges = []
    for e in sorted(cand, key=functools.cmp_to_key(cmp)):
        if len(edges) >= n - 1:
            break
        if clusters[e[0]] != clusters[e[1]]:
            ci, cj = clusters[e[0]], clusters[e[1]]
            clusters = [ci if c == cj else c for c in clusters]
            edges.append(e)

    def direct_edges(tree: list, root: int) -> list:
        mine = [e for e in tree if root in (e[0], e[1])]
        for e in mine:
            tree.remove(e)
        out = []
        for e in mine:
            if e[1] == root:
                e = (e[1], e[0], e[2])
            out.append(e)
            out += direct_edges(tree, e[1])
        return out

    trees, todo = [], list(edges)
    while todo:
        root = next(e[0] for e in todo if all(x[1] != e[0] for x in edges))
        trees.append((root, direct_edges(todo, root)))
    # Components: phyloDB's VisualizationRepository finds roots walking the dataset's
    # profiles in upload order, and Radial numbers trees in that order.
    trees.sort(key=lambda t: t[0])
    roots = [r for r, _ in trees]
    directed = [e for _, es in trees for e in es]
    name = lambda es: [Edge(ids[x], ids[y], d) for x, y, d in es]  # noqa: E731
    return {"edges": name(edges), "directed": name(directed), "roots": [ids[r] for r in roots]}


def assert_same(forest: Forest, ref: dict) -> None:
    assert forest.edges == ref["edges"]
    assert forest.directed == ref["directed"]
    assert [g.root for g in forest.groups] == ref["roots"]


# ---------------------------------------------------------------- phyloDB's own cases


def test_phylodb_cases() -> None:
    two = goeburst(profiles({"1": [1, 2], "2": [2, 1]}), 3)
    assert two.edges == [Edge("1", "2", 2)]
    three = goeburst(profiles({"1": [1, 2], "2": [1, 1], "3": [2, 1]}), 3)
    assert set(three.edges) == {Edge("1", "2", 1), Edge("2", "3", 1)}
    rows = [[1, 1, 1], [2, 2, 2], [4, 6, 3], [4, 3, 4], [3, 7, 5], [5, 4, 6], [2, 8, 7], [6, 5, 8]]
    eight = goeburst(profiles({str(k + 1): r for k, r in enumerate(rows)}), 3)
    pairs = [(0, 1, 3), (1, 2, 3), (1, 4, 3), (1, 5, 3), (1, 6, 2), (1, 7, 3), (2, 3, 2)]
    assert set(eight.edges) == {Edge(str(a + 1), str(b + 1), d) for a, b, d in pairs}
    # orientation per InferenceRepository.direct: edge (2,7) comes first but 2 is a 'to'
    assert [g.root for g in eight.groups] == ["1"]
    assert [(e.from_st, e.to_st) for e in eight.directed] == [
        ("1", "2"),
        ("2", "7"),
        ("2", "3"),
        ("3", "4"),
        ("2", "5"),
        ("2", "6"),
        ("2", "8"),
    ]


# ---------------------------------------------------------------- one rule decides each case


def square(extra: int = 0) -> dict[str, list[int]]:
    """S-R-Q-P-S, a 4-cycle of single-locus variants (diagonals at 2), rows S, R, Q, P."""
    base = {"S": [1, 2], "R": [2, 2], "Q": [2, 1], "P": [1, 1]}
    return {k: v + [0] * extra for k, v in base.items()}


def pendants(rows: dict[str, list[int]], host: str, count: int, diff: int, start: int) -> int:
    """Add ``count`` profiles at distance ``diff`` from ``host`` on fresh loci from ``start``."""
    for c in range(count):
        row = list(rows[host])
        for k in range(diff):
            row[start + k] = 9
        rows[f"{host}{c}x{diff}"] = row
        start += diff
    return start


def test_distance_first_even_against_better_lv_and_rows() -> None:
    # A-B at 2 has the lowest row and big LV2 counts, but A-C and C-B at 1 win.
    ps = profiles({"A": [1, 1, 0, 0], "B": [2, 2, 0, 0], "C": [1, 2, 0, 0], "D": [1, 1, 5, 5]})
    forest = goeburst(ps, 2)
    assert links(forest) == {frozenset("AC"), frozenset("BC"), frozenset("AD")}


def test_lv1_max_decides() -> None:
    # triangle X, Y, Z at 1 and W hanging on Y: Y has most SLVs, so X-Z (lowest row) loses
    ps = profiles({"X": [1, 1, 1], "Y": [2, 1, 1], "Z": [3, 1, 1], "W": [2, 2, 1]})
    forest = goeburst(ps, 1)
    assert links(forest) == {frozenset("XY"), frozenset("YZ"), frozenset("YW")}
    assert forest.edges[0] == Edge("X", "Y", 1)


def test_lv1_min_decides() -> None:
    # LV1: P 6, R 4, Q 3, S 2. Q-R and R-S tie on max (4); min 3 > 2 so R-S closes the
    # cycle and is dropped, though its smaller row (S) would put it first.
    rows = square(extra=7)
    start = pendants(rows, "P", 4, 1, 2)
    start = pendants(rows, "R", 2, 1, start)
    pendants(rows, "Q", 1, 1, start)
    forest = goeburst(profiles(rows), 1)
    got = links(forest)
    assert {frozenset("PQ"), frozenset("SP"), frozenset("QR")} <= got
    assert frozenset("RS") not in got


def test_lv2_decides_when_lv1_ties() -> None:
    # all square nodes have LV1 = 2; LV2 from pendants: R 3, Q 2, P 1, S 1 -> S-P dropped
    rows = square(extra=6)
    start = pendants(rows, "R", 2, 2, 2)
    pendants(rows, "Q", 1, 2, start)
    forest = goeburst(profiles(rows), 2)
    square_links = {s for s in links(forest) if s <= set("PQRS")}
    assert square_links == {frozenset("QR"), frozenset("RS"), frozenset("PQ")}
    # with lvs=1 LV2 is not looked at: rows decide and P-Q (highest min row) is dropped
    one = {s for s in links(goeburst(profiles(rows), 1)) if s <= set("PQRS")}
    assert one == {frozenset("SP"), frozenset("RS"), frozenset("QR")}


def test_lv_max_is_compared_before_lv_min() -> None:
    # 11 real S. pyogenes STs, shrunk from the full set: comparing the min LV before the
    # max would link 3-10 at distance 3 instead of 15-207.
    rows = {
        "3": [2, 2, 1, 2, 2, 2, 2],
        "4": [2, 2, 1, 2, 2, 3, 2],
        "9": [2, 2, 9, 3, 18, 14, 2],
        "10": [2, 2, 9, 13, 2, 14, 2],
        "11": [2, 6, 1, 2, 2, 2, 2],
        "12": [2, 6, 1, 5, 2, 2, 2],
        "15": [2, 6, 8, 5, 2, 3, 2],
        "16": [2, 6, 8, 15, 2, 3, 2],
        "17": [2, 13, 8, 5, 2, 3, 10],
        "18": [2, 27, 8, 5, 2, 3, 2],
        "207": [2, 2, 8, 13, 2, 14, 2],
    }
    forest = goeburst(profiles(rows), 3)
    assert forest.edges[-1] == Edge("15", "207", 3)
    assert frozenset(("3", "10")) not in links(forest)
    assert_same(forest, reference(profiles(rows), 3))


def test_isolate_frequency_decides_max_then_min() -> None:
    rows = square()
    iso = {"P": 9, "R": 4, "Q": 3, "S": 2}
    forest = goeburst(profiles(rows), 1, iso)
    assert links(forest) == {frozenset("PQ"), frozenset("SP"), frozenset("QR")}
    # only the max would tie Q-R / R-S and the row index would drop Q-R instead
    forest = goeburst(profiles(rows), 1, {"P": 9, "R": 4, "Q": 0, "S": 0})
    assert links(forest) == {frozenset("PQ"), frozenset("SP"), frozenset("RS")}


def test_isolates_unknown_sts_count_zero() -> None:
    plain = goeburst(profiles(square()), 1)
    assert goeburst(profiles(square()), 1, {"nope": 5}).edges == plain.edges


def test_smaller_row_index_decides() -> None:
    forest = goeburst(profiles(square()), 1)  # everything ties: rows S=0, R=1, Q=2, P=3
    assert links(forest) == {frozenset("SP"), frozenset("RS"), frozenset("QR")}
    assert forest.edges[-1] == Edge("R", "Q", 1)


@pytest.mark.parametrize(("b", "c", "kept"), [("10", "9", "9"), ("31", "22", "22")])
def test_larger_st_id_by_length_then_lexicographic(b: str, c: str, kept: str) -> None:
    # a (row 0) joins b and c; b and c are already joined through x (more SLVs). The
    # a-b / a-c tie goes to the link whose larger id is smaller (length first).
    rows = {"5": [1, 1, 0, 0], b: [2, 1, 0, 0], c: [1, 2, 0, 0], "x": [2, 2, 0, 0]}
    rows["p1"], rows["p2"] = [2, 2, 9, 0], [2, 2, 0, 9]
    forest = goeburst(profiles(rows), 1)
    got = links(forest)
    assert frozenset(("5", kept)) in got
    assert frozenset(("5", b if kept == c else c)) not in got


def test_generation_order_decides_last() -> None:
    # a has the largest id, so both a-b and a-c have a as larger id: the earlier row wins
    rows = {"99": [1, 1, 0, 0], "2": [1, 2, 0, 0], "1": [2, 1, 0, 0], "x": [2, 2, 0, 0]}
    rows["p1"], rows["p2"] = [2, 2, 9, 0], [2, 2, 0, 9]
    got = links(goeburst(profiles(rows), 1))
    assert frozenset(("99", "2")) in got and frozenset(("99", "1")) not in got


def test_missing_alleles_never_match_and_duplicates_are_not_linked() -> None:
    m = MISSING
    ps = profiles({"A": [1, 1, 1], "B": [1, 1, m], "C": [1, 1, m], "D": [1, 1, 1], "E": [m, m, m]})
    forest = goeburst(ps, 1)
    assert all(e.distance > 0 for e in forest.edges)
    assert frozenset("AD") not in links(forest)  # distance 0
    assert frozenset("BC") in links(forest) or len(forest.edges) == 3
    assert forest.unlinked == ["E"]  # all missing: distance 3 to everything
    assert sorted(m for g in forest.groups for m in g.members) == ["A", "B", "C", "D"]
    assert_same(forest, reference(ps, 1))


def test_orientation_flips_edges_towards_children() -> None:
    # accepted (B, C) first (more SLVs), then (A, C): root B, and C -> A is flipped
    ps = profiles({"A": [1, 1, 0], "B": [2, 2, 0], "C": [1, 2, 0], "Bx": [2, 2, 7]})
    forest = goeburst(ps, 1)
    assert [g.root for g in forest.groups] == ["B"]
    assert forest.directed[:2] == [Edge("B", "C", 1), Edge("C", "A", 1)]


def test_edge_cases_and_json_shape() -> None:
    assert goeburst(profiles({"1": [1]}), 1).edges == []
    with pytest.raises(ValueError):
        goeburst(profiles({"1": [1]}), 0)
    forest = goeburst(profiles({"1": [1, 1], "2": [1, 2], "3": [5, 5]}), 1)
    assert forest.to_json() == {
        "algorithm": "goeburst",
        "lvs": 1,
        "profiles": 3,
        "edges": [{"from": "1", "to": "2", "distance": 1}],
        "directed": [{"from": "1", "to": "2", "distance": 1}],
        "groups": [{"component": 1, "root": "1", "members": ["1", "2"]}],
        "unlinked": ["3"],
    }


# ---------------------------------------------------------------- properties


def naive_msf_weight(dist: np.ndarray, lvs: int) -> tuple[int, list[int]]:
    n = dist.shape[0]
    comp = list(range(n))
    total = 0
    pairs = sorted((int(dist[a, b]), a, b) for a in range(n) for b in range(a + 1, n))
    for d, i, j in pairs:
        if 0 < d <= lvs and comp[i] != comp[j]:
            old = comp[j]
            comp = [comp[i] if c == old else c for c in comp]
            total += d
    return total, comp


@st.composite
def datasets(draw: st.DrawFn) -> tuple[ProfileSet, int, dict[str, int]]:
    n = draw(st.integers(1, 24))
    loci = draw(st.integers(1, 5))
    cells = st.one_of(st.integers(0, 2), st.just(MISSING))
    rows = draw(st.lists(st.lists(cells, min_size=loci, max_size=loci), min_size=n, max_size=n))
    ids = draw(
        st.lists(
            st.text("0123456789ab", min_size=1, max_size=3), min_size=n, max_size=n, unique=True
        )
    )
    iso = draw(st.dictionaries(st.sampled_from(ids), st.integers(0, 3)))
    ps = ProfileSet(ids, [f"l{k}" for k in range(loci)], np.array(rows, dtype=np.int32))
    return ps, draw(st.integers(1, 3)), iso


@settings(max_examples=120, deadline=None)
@given(datasets(), st.integers(1, 50), st.integers(0, 30))
def test_matches_reference_and_is_a_minimum_spanning_forest(data, chunk: int, budget: int) -> None:
    ps, lvs, iso = data
    # A small pair budget sends the higher levels through the second, filtered pass.
    forest = goeburst(ps, lvs, iso, chunk_elements=chunk, pair_budget=budget)
    assert_same(forest, reference(ps, lvs, iso))
    m = ps.matrix
    a, b = m[:, None, :], m[None, :, :]
    dist = ((a != b) | (a == MISSING) | (b == MISSING)).sum(axis=2)
    weight, comp = naive_msf_weight(dist, lvs)
    assert sum(e.distance for e in forest.edges) == weight
    tree_of = {m: g.component for g in forest.groups for m in g.members}
    index = {s: k for k, s in enumerate(ps.ids)}
    for s in ps.ids:  # same partition as the naive forest: no link <= lvs joins two trees
        for t in ps.ids:
            same = comp[index[s]] == comp[index[t]]
            assert same == (s == t or tree_of.get(s, -1) == tree_of.get(t, -2))
    children = [e.to_st for e in forest.directed]
    assert len(children) == len(set(children)) == len(forest.edges)
    assert not set(children) & {g.root for g in forest.groups}


@pytest.mark.parametrize("lvs", [1, 3])
def test_real_pyogenes_matches_reference(lvs: int) -> None:
    ps = parse_profiles(mlst("pyogenesST_onlinephyloviz.tsv").read_bytes())
    iso = {s: (k * 7) % 5 for k, s in enumerate(ps.ids)}
    for isolates in (None, iso):
        forest = goeburst(ps, lvs, isolates)
        assert_same(forest, reference(ps, lvs, isolates))
    assert goeburst(ps, lvs, chunk_elements=5000).edges == goeburst(ps, lvs).edges


@pytest.mark.parametrize("budget", [0, 500, 20_000])
def test_full_tree_lvs_equal_to_loci_streams_higher_levels_and_matches_reference(budget: int) -> None:
    ps = parse_profiles(mlst("pyogenesST_onlinephyloviz.tsv").read_bytes())
    iso = {s: (k * 3) % 4 for k, s in enumerate(ps.ids)}
    seen: list[tuple[float, str]] = []
    forest = goeburst(ps, 7, iso, pair_budget=budget, progress=lambda f, m: seen.append((f, m)))
    assert_same(forest, reference(ps, 7, iso))
    assert len(forest.edges) == len(ps.ids) - 1  # one tree: every pair is within 7 loci
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and len(seen) >= 3
    assert any("between" in m for _, m in seen) == (budget < 647 * 646 // 2)
