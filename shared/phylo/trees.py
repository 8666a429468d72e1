"""Trees uploaded in Newick (phyloDB's ``POST .../inferences``), as the stored tree JSON.

``parse_newick`` reads a file as phyloDB's NewickFormatter does: one or more trees per
line, each ``(child:distance, ...)parent`` nested and ending in ``;``, distances whole
numbers, every child named. ``tree_json`` turns the parent -> child edges into what a
goeBURST job stores (``Forest.to_json()``): trees numbered by the upload order of their
roots, each walked depth-first with children in file order.
"""

from __future__ import annotations

import re
from typing import Any

from shared.phylo.mlst import ProfileError

Edge = tuple[str, str, int]
_LABEL = re.compile(r"[^(),;]*")


def parse_newick(data: bytes) -> list[Edge]:
    """Parent -> child edges of every tree in the file; ``ProfileError`` on a bad line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProfileError("file is not UTF-8 text") from None
    edges: list[Edge] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if line:
            edges += _line(line, number)
    if not edges:
        raise ProfileError("no tree with an edge in the file", 1)
    return edges


def _line(line: str, number: int) -> list[Edge]:
    def bad(why: str) -> ProfileError:
        return ProfileError(f"not Newick: {why}", number)

    out: list[Edge] = []
    levels: list[list[tuple[str, int]]] = []
    pos = 0
    while pos < len(line):
        char = line[pos]
        if char == ";":
            if levels or not out:
                raise bad("';' before the tree is complete")
            pos += 1
        elif char == ",":
            pos += 1
        elif char == "(":
            levels.append([])
            pos += 1
        else:
            children = None
            if char == ")":
                if not levels:
                    raise bad("')' without '('")
                children = levels.pop()
                pos += 1
            label = _LABEL.match(line, pos).group()
            pos += len(label)
            name, _, distance = label.strip().partition(":")
            name = name.strip()
            if not name:
                raise bad("a node without a name")
            for child, weight in children or ():
                if child == name:
                    raise bad(f"{name!r} is its own child")
                out.append((name, child, weight))
            if distance:
                if not distance.strip().isdigit() or not levels:
                    raise bad(f"bad distance {distance!r} for {name!r}")
                levels[-1].append((name, int(distance)))
            elif not line.startswith(";", pos):
                raise bad(f"{name!r} has no distance and ends no tree")
    if levels:
        raise bad("unbalanced parentheses")
    return out


def tree_json(edges: list[Edge], rows: dict[str, int], algorithm: str) -> dict[str, Any]:
    """The stored tree for ``edges`` over profiles at upload ``rows``; ValueError if not a forest."""
    children: dict[str, list[Edge]] = {}
    parent: dict[str, str] = {}
    for edge in edges:
        if edge[1] in parent:
            raise ValueError(f"profile {edge[1]!r} has two parents")
        parent[edge[1]] = edge[0]
        children.setdefault(edge[0], []).append(edge)
    roots = sorted({e[0] for e in edges if e[0] not in parent}, key=rows.__getitem__)
    directed: list[Edge] = []
    groups = []
    seen = 0
    for component, root in enumerate(roots, start=1):
        members, stack = [root], [iter(children.get(root, ()))]
        while stack:
            edge = next(stack[-1], None)
            if edge is None:
                stack.pop()
                continue
            directed.append(edge)
            members.append(edge[1])
            stack.append(iter(children.get(edge[1], ())))
        groups.append({"component": component, "root": root, "members": members})
        seen += len(members)
    if seen != len(parent) + len(roots):
        raise ValueError("the edges contain a cycle")
    linked = {m for g in groups for m in g["members"]}

    def as_json(e: Edge) -> dict[str, Any]:
        return {"from": e[0], "to": e[1], "distance": e[2]}

    return {"algorithm": algorithm, "lvs": max(e[2] for e in edges), "profiles": len(rows),
            "edges": [as_json(e) for e in edges], "directed": [as_json(e) for e in directed],
            "groups": groups, "unlinked": [p for p in rows if p not in linked]}
