"""Radial layout of a goeBURST forest, as phyloDB's Radial.java computes it.

Each tree's root sits at (0, 0) with border 0. For each node p (parents before
children) and each child c of p in order, with ``border`` starting at p's own border:
``wedge = 2*pi*leaves(c)/leaves(root)``, ``angle = border + wedge/2``,
``length = 100*distance + 10``, ``c = p + length*(cos angle, sin angle)``; c's own
border is the value of ``border`` before ``border += wedge``. ``leaves`` counts the
leaves of a subtree (a childless node counts 1). Children come in the order of the
forest's directed edges. Profiles in no link get no coordinate.

The JSON keeps phyloDB's coordinates (every tree around the origin);
:func:`to_svg` alone shifts components side by side so they do not overlap.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from shared.phylo.goeburst import Edge, Forest

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
DISTANCE_MULTIPLIER = 100
ZERO_DISTANCE = 10


@dataclass
class Node:
    """A placed profile; ``component`` is the 1-based tree number."""

    profile_id: str
    component: int
    x: float
    y: float


@dataclass
class Layout:
    """Placed nodes (by component, then profile id, as phyloDB returns them) and the directed edges."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "algorithm": "radial",
            "nodes": [
                {"profile_id": n.profile_id, "component": n.component, "x": n.x, "y": n.y}
                for n in self.nodes
            ],
            "edges": [
                {"from": e.from_st, "to": e.to_st, "distance": e.distance} for e in self.edges
            ],
        }


def radial(
    forest: Forest,
    *,
    multiplier: float = DISTANCE_MULTIPLIER,
    zero_distance: float = ZERO_DISTANCE,
) -> Layout:
    """Lay every tree of ``forest`` out radially around the origin."""
    children: dict[str, list[tuple[str, int]]] = {}
    for e in forest.directed:
        children.setdefault(e.from_st, []).append((e.to_st, e.distance))
    layout = Layout(edges=list(forest.directed))
    for group in forest.groups:
        leaves: dict[str, int] = {}
        for v in reversed(group.members):  # depth-first order: children after parents
            kids = children.get(v, ())
            leaves[v] = sum(leaves[c] for c, _ in kids) if kids else 1
        total = leaves[group.root]
        where = {group.root: (0.0, 0.0, 0.0)}  # x, y, border
        for v in group.members:
            x, y, border = where[v]
            layout.nodes.append(Node(v, group.component, x, y))
            for c, distance in children.get(v, ()):
                wedge = 2 * math.pi * leaves[c] / total
                alpha = border + wedge / 2
                length = distance * multiplier + zero_distance
                where[c] = (x + math.cos(alpha) * length, y + math.sin(alpha) * length, border)
                border += wedge
    # phyloDB reads coordinates back ORDER BY component, profile id (VisualizationRepository).
    layout.nodes.sort(key=lambda n: (n.component, n.profile_id))
    return layout


def _text(value: str) -> str:
    """XML character data: escaped, characters XML 1.0 forbids dropped."""
    return escape(_NOT_XML.sub("", value))


def _boxes(layout: Layout, pad: float) -> dict[int, tuple[float, float, float, float]]:
    boxes: dict[int, tuple[float, float, float, float]] = {}
    for n in layout.nodes:
        x0, y0, x1, y1 = boxes.get(n.component, (n.x, n.y, n.x, n.y))
        boxes[n.component] = (min(x0, n.x), min(y0, n.y), max(x1, n.x), max(y1, n.y))
    return {c: (x0 - pad, y0 - pad, x1 + pad, y1 + pad) for c, (x0, y0, x1, y1) in boxes.items()}


def to_svg(layout: Layout, *, radius: float = 6, gap: float = 30, labels: bool = True) -> str:
    """SVG drawing: components packed in rows, left to right, without overlap."""
    boxes = _boxes(layout, pad=radius + (14 if labels else 2))
    area = sum((x1 - x0 + gap) * (y1 - y0 + gap) for x0, y0, x1, y1 in boxes.values())
    widest = max((x1 - x0 for x0, _, x1, _ in boxes.values()), default=0)
    row_limit = max(widest, 1.5 * math.sqrt(area))
    shift: dict[int, tuple[float, float]] = {}
    cx = cy = row_h = width = 0.0
    for c, (x0, y0, x1, y1) in boxes.items():
        w, h = x1 - x0, y1 - y0
        if cx > 0 and cx + w > row_limit:
            cx, cy, row_h = 0.0, cy + row_h + gap, 0.0
        shift[c] = (cx - x0, cy - y0)
        cx += w + gap
        row_h, width = max(row_h, h), max(width, cx - gap)
    height = cy + row_h
    at = {
        n.profile_id: (n.x + shift[n.component][0], n.y + shift[n.component][1])
        for n in layout.nodes
    }
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.2f} {height:.2f}" font-family="sans-serif" font-size="10">',
        '<g class="edges" stroke="#888" stroke-width="1.5">',
    ]
    for e in layout.edges:
        (x1, y1), (x2, y2) = at[e.from_st], at[e.to_st]
        out.append(
            f'<line x1="{x1:.2f}" y1="{y1:.2f}" x2="{x2:.2f}" y2="{y2:.2f}" '
            f'data-distance="{e.distance}"/>'
        )
    out.append('</g>\n<g class="nodes" fill="#3b7dd8" stroke="#1d3f6e">')
    for n in layout.nodes:
        x, y = at[n.profile_id]
        out.append(
            f'<circle cx="{x:.2f}" cy="{y:.2f}" r="{radius}" data-id={quoteattr(_NOT_XML.sub("", n.profile_id))} '
            f'data-component="{n.component}"><title>{_text(n.profile_id)}</title></circle>'
        )
    out.append("</g>")
    if labels:
        out.append('<g class="labels" fill="#222" text-anchor="middle">')
        for n in layout.nodes:
            x, y = at[n.profile_id]
            out.append(f'<text x="{x:.2f}" y="{y - radius - 3:.2f}">{_text(n.profile_id)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
