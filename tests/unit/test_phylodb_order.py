"""Components, ordering and coordinates equal phyloDB's on the public MLST sets.

``phylodb_view`` is a literal port of what phyloDB does after goeBURST stored its edges:
VisualizationRepository.read (roots: the dataset's profiles walked in upload order, each
profile that starts a stored edge and ends none), Radial.compute (trees numbered by that
order, a stack of parents, wedges by leaf counts) and the read-back query's
``ORDER BY h.component, p.id``. Our pipeline (``goeburst`` then ``radial``) must give the
same list, element by element.
"""

from __future__ import annotations

import math

import pytest

from shared.phylo.goeburst import Edge, goeburst
from shared.phylo.mlst import parse_profiles
from shared.phylo.radial import radial
from tests.support.data import mlst, mlst_sets

SETS = mlst_sets()  # the shipped sets always; the large ones where this machine has them


def phylodb_view(ids: list[str], stored: list[Edge]) -> tuple[list[str], list[dict]]:
    """(roots in component order, coordinates as phyloDB returns them)."""
    outgoing: dict[str, list[Edge]] = {}
    for e in stored:
        outgoing.setdefault(e.from_st, []).append(e)
    ends = {e.to_st for e in stored}
    roots = [p for p in ids if p in outgoing and p not in ends]

    leafs: dict[str, int] = {}  # Radial.leafs, without recursion (10k-deep chains)
    for root in roots:
        order, todo = [], [root]
        while todo:
            node = todo.pop()
            order.append(node)
            todo += [e.to_st for e in outgoing.get(node, ())]
        for node in reversed(order):
            kids = outgoing.get(node, ())
            leafs[node] = sum(leafs[e.to_st] for e in kids) if kids else 1

    coordinates: dict[str, tuple[str, int, float, float, float]] = {}
    for i, root in enumerate(roots):
        nodes = [root]
        leaftotal = leafs[root]
        coordinates[root] = (root, i + 1, 0.0, 0.0, 0.0)
        while nodes:
            parent = nodes.pop()
            _, _, px, py, border = coordinates[parent]
            for child in outgoing.get(parent, ()):
                wedge = 2 * math.pi * leafs[child.to_st] / leaftotal
                alpha = border + wedge / 2
                distance = child.distance * 100 + 10
                nodes.append(child.to_st)
                x = px + math.cos(alpha) * distance
                y = py + math.sin(alpha) * distance
                coordinates[child.to_st] = (child.to_st, i + 1, x, y, border)
                border += wedge
    rows = sorted(coordinates.values(), key=lambda c: (c[1], c[0], c[2], c[3]))
    return roots, [{"profile_id": p, "component": c, "x": x, "y": y} for p, c, x, y, _ in rows]


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("lvs", [1, 3])
def test_components_order_and_coordinates_equal_phylodb(name: str, lvs: int) -> None:
    ps = parse_profiles(mlst(name).read_bytes())
    forest = goeburst(ps, lvs)
    roots, expected = phylodb_view(ps.ids, forest.directed)
    assert [g.root for g in forest.groups] == roots
    assert [g.component for g in forest.groups] == list(range(1, len(roots) + 1))
    assert radial(forest).to_json()["nodes"] == expected


def test_several_trees_are_numbered_by_their_roots_upload_order() -> None:
    # Rows: the tree of "9"/"8" is accepted first (distance 1) but its root comes later.
    ps = parse_profiles("ST\ta\tb\tc\n5\t1\t1\t1\n6\t1\t2\t2\n9\t7\t7\t7\n8\t7\t7\t8\n")
    forest = goeburst(ps, 2)
    assert forest.edges[0] == Edge("9", "8", 1)
    assert [(g.component, g.root) for g in forest.groups] == [(1, "5"), (2, "9")]
    nodes = radial(forest).nodes
    assert [(n.component, n.profile_id) for n in nodes] == [(1, "5"), (1, "6"), (2, "8"), (2, "9")]
