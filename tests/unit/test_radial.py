"""Radial layout (shared.phylo.radial) and its SVG rendering."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.phylo.goeburst import Edge, Forest, Group, goeburst
from shared.phylo.mlst import ProfileSet, parse_profiles
from shared.phylo.radial import Layout, Node, radial, to_svg
from tests.support.data import mlst

SVG = "{http://www.w3.org/2000/svg}"


def tree(*trees: list[tuple[str, str, int]]) -> Forest:
    """A forest from parent -> child edge lists in depth-first order, one per tree."""
    forest = Forest(lvs=9, ids=[])
    for number, edges in enumerate(trees, start=1):
        members = [edges[0][0]] + [child for _, child, _ in edges]
        forest.ids += members
        forest.directed += [Edge(*e) for e in edges]
        forest.groups.append(Group(number, members[0], members))
    forest.edges = list(forest.directed)
    return forest


def coords(layout: Layout) -> dict[str, tuple[float, float]]:
    return {n.profile_id: (n.x, n.y) for n in layout.nodes}


def test_phylodb_radial_cases() -> None:
    # expected values are phyloDB's RadialTests.java (computed by the Java code)
    one = coords(radial(tree([("1", "2", 2)])))
    assert one == {"1": (0, 0), "2": (-210, pytest.approx(2.5717582782094416e-14, abs=1e-20))}
    chain = coords(radial(tree([("1", "2", 2), ("2", "3", 3)])))
    assert chain["3"] == pytest.approx((-520, 6.368163355566237e-14), rel=1e-12)
    layout = radial(
        tree([("1", "2", 2), ("2", "3", 3), ("1", "4", 5), ("4", "5", 1), ("4", "6", 1)])
    )
    expected = {
        "1": (0, 0),
        "2": (105.00000000000003, 181.8653347947321),
        "3": (260.00000000000006, 450.33320996790803),
        "4": (-255.00000000000023, -441.67295593006355),
        "5": (-365.0000000000002, -441.67295593006355),
        "6": (-200.00000000000028, -536.9357503463518),
    }
    for pid, (x, y) in coords(layout).items():
        assert (x, y) == pytest.approx(expected[pid], rel=1e-12, abs=1e-9)
    assert {n.component for n in layout.nodes} == {1}


def test_hand_computed_star_and_subtree() -> None:
    # root r: children a (d1, leaf), b (d2, two leaf children c, e at d1). leaves(r) = 3.
    layout = radial(tree([("r", "a", 1), ("r", "b", 2), ("b", "c", 1), ("b", "e", 1)]))
    got = coords(layout)
    third = 2 * math.pi / 3
    # a: wedge 2pi/3, angle pi/3, length 110. b: wedge 4pi/3 from border 2pi/3 -> angle 4pi/3
    assert got["a"] == pytest.approx((110 * math.cos(third / 2), 110 * math.sin(third / 2)))
    bx, by = 210 * math.cos(2 * third), 210 * math.sin(2 * third)
    assert got["b"] == pytest.approx((bx, by))
    # b's border is 2pi/3: c at angle 2pi/3 + pi/3 = pi, e at pi + 2pi/3
    assert got["c"] == pytest.approx((bx - 110, by))
    assert got["e"] == pytest.approx(
        (bx + 110 * math.cos(5 * math.pi / 3), by + 110 * math.sin(5 * math.pi / 3))
    )
    # phyloDB reads coordinates back ORDER BY component, profile id.
    assert [n.profile_id for n in layout.nodes] == ["a", "b", "c", "e", "r"]


def test_every_tree_at_the_origin_and_singletons_unplaced() -> None:
    ps = ProfileSet(
        ["1", "2", "3", "4", "5"], ["a", "b"], np.array([[1, 1], [1, 2], [7, 7], [7, 8], [50, 50]])
    )
    layout = radial(goeburst(ps, 1))
    assert [(n.profile_id, n.component) for n in layout.nodes] == [
        ("1", 1),
        ("2", 1),
        ("3", 2),
        ("4", 2),
    ]
    assert coords(layout)["1"] == coords(layout)["3"] == (0.0, 0.0)
    assert layout.to_json() == {
        "algorithm": "radial",
        "nodes": [
            {"profile_id": n.profile_id, "component": n.component, "x": n.x, "y": n.y}
            for n in layout.nodes
        ],
        "edges": [{"from": "1", "to": "2", "distance": 1}, {"from": "3", "to": "4", "distance": 1}],
    }
    assert layout.nodes[1] == Node("2", 1, -110.0, pytest.approx(0.0, abs=1e-9))


def test_svg_is_well_formed_escaped_and_components_do_not_overlap() -> None:
    forest = tree([("a&b", "<c>", 1), ("a&b", '"d"', 2)], [("e", "f", 1)], [("g", "h\x01", 3)])
    svg = to_svg(radial(forest))
    root = ET.fromstring(svg.encode())
    circles = root.iter(f"{SVG}circle")
    boxes: dict[str, list[float]] = {}
    ids = set()
    for c in circles:
        x, y, comp = float(c.get("cx")), float(c.get("cy")), c.get("data-component")
        ids.add(c.get("data-id"))
        b = boxes.setdefault(comp, [x, y, x, y])
        boxes[comp] = [min(b[0], x), min(b[1], y), max(b[2], x), max(b[3], y)]
        assert 0 <= x <= float(root.get("width")) and 0 <= y <= float(root.get("height")) + 1
    assert {"a&b", "<c>", '"d"', "h"} <= ids
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "a&b" in labels and "<c>" in labels
    assert len(list(root.iter(f"{SVG}line"))) == 4
    comps = list(boxes.values())
    for k, a in enumerate(comps):
        for b in comps[k + 1 :]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]


def test_empty_layout_svg() -> None:
    ET.fromstring(to_svg(radial(Forest(lvs=1, ids=["1"]))).encode())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=40),
    st.lists(st.integers(1, 3), min_size=40, max_size=40),
)
def test_edge_lengths_and_wedges(parents: list[int], dists: list[int]) -> None:
    # random rooted tree: node k+1 hangs under some earlier node
    edges = [(str(min(p, k)), str(k + 1), dists[k]) for k, p in enumerate(parents)]
    children: dict[str, list] = {}
    for e in edges:
        children.setdefault(e[0], []).append(e)
    dfs: list[tuple[str, str, int]] = []

    def walk(v: str) -> None:  # depth-first order, as goeburst emits directed edges
        for e in children.get(v, []):
            dfs.append(e)
            walk(e[1])

    walk("0")
    got = coords(radial(tree(dfs)))
    assert len(got) == len(edges) + 1
    for parent, child, d in edges:
        (px, py), (cx, cy) = got[parent], got[child]
        assert math.hypot(cx - px, cy - py) == pytest.approx(100 * d + 10)


def test_real_data_layout() -> None:
    ps = parse_profiles(mlst("pyogenesST_onlinephyloviz.tsv").read_bytes())
    forest = goeburst(ps, 1)
    layout = radial(forest)
    assert len(layout.nodes) == sum(len(g.members) for g in forest.groups)
    assert len(layout.nodes) + len(forest.unlinked) == len(ps.ids)
    ET.fromstring(to_svg(layout).encode())
