"""Cell diagrams: an architecture's cells drawn left to right with matplotlib, no Graphviz needed.

Works from the graphs a space's `diagram_cells` gives (by default its `to_graph()`: nodes with a `kind` of
input/block/node/output and edges with an `op`), its `diagram_note` and its `registry_ops`, so a new space
gets pictures without code here. Edges are colour- and dash-coded by op with one legend instead of text on
each edge: text labels on a 5-block cell collide however they are nudged, a legend never does.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import networkx as nx
import numpy as np

import search_spaces
from nas.viz.figures import plt, save_figure

X_GAP = 2.0  # data units between layers; room for curved edges to pass between nodes
Y_GAP = 1.3  # data units between nodes of one layer
INCH_PER_UNIT = 0.85  # figure scale: node text stays ~11 pt at the default size

# Half extents (data units) of the node shapes; also what edge routing keeps clear of.
BOX_HALF = (0.5, 0.24)  # cell inputs and outputs
CIRCLE_R = 0.27  # blocks / intermediate nodes

NODE_STYLE = {
    "input": {"facecolor": "#dbe9f6", "edgecolor": "#3a6ea5"},
    "output": {"facecolor": "#dff2d8", "edgecolor": "#3f8a3a"},
    "block": {"facecolor": "#fff4cc", "edgecolor": "#a08020"},
}

# Fixed colours so an op looks the same in every picture; a space's own op names (NB201's skip_connect) take
# the colour of the registry op they stand for (SearchSpace.registry_ops).
OP_COLOURS = {
    "identity": "#2ca02c",
    "sep_conv_3x3": "#1f77b4",
    "sep_conv_5x5": "#9467bd",
    "sep_conv_7x7": "#17becf",
    "dil_conv_3x3": "#e377c2",
    "dil_conv_5x5": "#393b79",
    "conv_1x1": "#bcbd22",
    "conv_3x3": "#d62728",
    "max_pool_3x3": "#ff7f0e",
    "avg_pool_3x3": "#8c564b",
}
CONCAT_COLOUR = "#555555"
NONE_COLOUR = "#b0b0b0"
# Edges whose op never reaches the output (NB201 cells can have them) are drawn this faint.
DEAD_ALPHA = 0.3


def op_style(op: str, registry_ops: Mapping[str, str] = MappingProxyType({})) -> dict[str, Any]:
    """Colour, dash and width for an edge; dashes repeat the colour's message for grey-scale prints.
    `registry_ops` maps a space's own op names to the registry's."""
    if op == "concat":
        return {"color": CONCAT_COLOUR, "linestyle": "solid", "linewidth": 1.2}
    if op == "none":
        return {"color": NONE_COLOUR, "linestyle": (0, (1, 2)), "linewidth": 1.3}
    name = registry_ops.get(op, op)
    colour = OP_COLOURS.get(name)
    if colour is None:
        # An op added to the registry after this table: a stable colour from its name, not from draw order.
        colour = plt.get_cmap("tab20")(zlib.crc32(name.encode()) % 20)
    if "pool" in name:
        dash = (0, (4, 2))
    elif name == "identity":
        dash = (0, (1, 1.5))
    else:
        dash = "solid"
    return {"color": colour, "linestyle": dash, "linewidth": 2.2}


# -- layout --


def layered_layout(
    g: nx.DiGraph | nx.MultiDiGraph, x_gap: float = X_GAP, y_gap: float = Y_GAP
) -> dict[Hashable, tuple[float, float]]:
    """Left-to-right positions: a node's layer is its longest path from a node with no inputs, output nodes
    take a layer of their own at the right, and nodes of a layer are ordered to cut crossings (barycenter
    sweeps). Every node's x is strictly greater than all of its predecessors' x."""
    if not nx.is_directed_acyclic_graph(g):
        raise ValueError("a cell diagram needs an acyclic graph")
    layer: dict[Hashable, int] = {}
    for node in nx.topological_sort(g):
        preds = list(g.predecessors(node))
        layer[node] = 1 + max(layer[p] for p in preds) if preds else 0
    outputs = [n for n, kind in g.nodes(data="kind") if kind == "output"]
    others = [layer[n] for n in g if n not in outputs]
    if outputs and others:
        last = max(others) + 1
        for n in outputs:
            layer[n] = max(layer[n], last)

    layers: list[list[Hashable]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for node in g:  # graph order: the first layer keeps it (c_{k-2} above c_{k-1})
        layers[layer[node]].append(node)

    y: dict[Hashable, float] = {}

    def place(nodes: list[Hashable]) -> None:
        for i, node in enumerate(nodes):
            y[node] = ((len(nodes) - 1) / 2 - i) * y_gap

    for nodes in layers:
        place(nodes)

    def sweep(order: Iterable[int], neighbours) -> None:
        for idx in order:
            nodes = layers[idx]

            def centre(node, nodes=nodes):
                ys = [y[m] for m in neighbours(node)]
                return -(sum(ys) / len(ys)) if ys else -y[node]

            nodes.sort(key=centre)  # stable: ties keep their order
            place(nodes)

    for _ in range(3):
        sweep(range(1, len(layers)), g.predecessors)
        sweep(range(len(layers) - 2, 0, -1), g.successors)
    return {node: (layer[node] * x_gap, y[node]) for node in g}


def _half_extent(kind: str | None) -> tuple[float, float]:
    return BOX_HALF if kind in ("input", "output") else (CIRCLE_R, CIRCLE_R)


def _arc_points(p: np.ndarray, q: np.ndarray, rad: float, ts: np.ndarray) -> np.ndarray:
    """Points of matplotlib's `arc3` connection (a quadratic Bezier) between p and q, equal-aspect axes."""
    d = q - p
    control = (p + q) / 2 + rad * np.array([d[1], -d[0]])
    t = ts[:, None]
    return (1 - t) ** 2 * p + 2 * t * (1 - t) * control + t**2 * q


def _edge_path(p, q, rad: float, half_p: tuple[float, float], half_q: tuple[float, float], gap: float = 0.03):
    """The arc from p to q cut where it leaves p's node shape and enters q's, as a quadratic Bezier path.
    Cutting here, in data units, is what matplotlib's patchA/patchB clipping does by bisection at draw time,
    which made a picture take seconds."""
    from matplotlib.path import Path as MplPath

    p, q = np.asarray(p, float), np.asarray(q, float)
    control = (p + q) / 2 + rad * np.array([q[1] - p[1], p[0] - q[0]])
    ts = np.linspace(0, 1, 401)
    pts = _arc_points(p, q, rad, ts)

    def inside(centre, half):
        if half[0] == half[1]:  # circle
            return np.linalg.norm(pts - centre, axis=1) < half[0] + gap
        return (np.abs(pts[:, 0] - centre[0]) < half[0] + gap) & (
            np.abs(pts[:, 1] - centre[1]) < half[1] + gap
        )

    out_p = np.flatnonzero(~inside(p, half_p))
    out_q = np.flatnonzero(~inside(q, half_q))
    a = ts[out_p[0]] if len(out_p) else 0.0
    b = ts[out_q[-1]] if len(out_q) else 1.0
    if b <= a:  # nodes touch: nothing to cut
        a, b = 0.0, 1.0
    # de Casteljau: the piece of a quadratic Bezier over [a, b] is the quadratic with these three points.
    start = (1 - a) ** 2 * p + 2 * a * (1 - a) * control + a**2 * q
    end = (1 - b) ** 2 * p + 2 * b * (1 - b) * control + b**2 * q
    middle = (1 - a) * (1 - b) * p + (a * (1 - b) + b * (1 - a)) * control + a * b * q
    return MplPath([start, middle, end], [MplPath.MOVETO, MplPath.CURVE3, MplPath.CURVE3])


def route_edges(g: nx.MultiDiGraph, pos: dict[Hashable, tuple[float, float]]) -> dict[tuple, float]:
    """An arc3 `rad` per edge (u, v, key): straight where the line is clear, bent around nodes that sit on it,
    and parallel edges between the same pair fanned out so each stays visible. Greedy: short edges first, each
    group takes the least-cost bend (cost: crossing a node >> running on top of an edge already placed)."""
    ts = np.linspace(0.12, 0.88, 25)
    shifts = [0.0, 0.22, -0.22, 0.36, -0.36, 0.5, -0.5, 0.65, -0.65]
    centres = {n: np.asarray(pos[n], float) for n in g}
    halves = {n: _half_extent(kind) for n, kind in g.nodes(data="kind")}
    placed: list[np.ndarray] = []
    rads: dict[tuple, float] = {}

    groups: dict[tuple, list[tuple]] = {}
    for u, v, key in g.edges(keys=True):
        groups.setdefault((u, v), []).append((u, v, key))
    by_length = sorted(groups, key=lambda uv: np.linalg.norm(centres[uv[1]] - centres[uv[0]]))

    for u, v in by_length:
        edges = groups[(u, v)]
        spread = 0.34
        pattern = [(i - (len(edges) - 1) / 2) * spread for i in range(len(edges))]
        others = [n for n in g if n not in (u, v)]
        best: tuple[float, float, list[np.ndarray]] | None = None
        for shift in shifts:
            curves = [_arc_points(centres[u], centres[v], r + shift, ts) for r in pattern]
            cost = abs(shift)
            for pts in curves:
                for n in others:
                    hx, hy = halves[n]
                    inside = (np.abs(pts[:, 0] - centres[n][0]) < hx + 0.12) & (
                        np.abs(pts[:, 1] - centres[n][1]) < hy + 0.12
                    )
                    cost += 100.0 * inside.sum()
                for other in placed:
                    dist = np.linalg.norm(pts[:, None, :] - other[None, :, :], axis=2).min(axis=1)
                    cost += 2.0 * (dist < 0.15).sum()
            if best is None or cost < best[0]:
                best = (cost, shift, curves)
        assert best is not None
        _, shift, curves = best
        placed.extend(curves)
        for edge, r in zip(edges, pattern):
            rads[edge] = r + shift
    return rads


# -- drawing --


def _live_edges(g: nx.MultiDiGraph) -> set[tuple]:
    """Edges on some path from an input node to an output node through edges that are not 'none'."""
    real = nx.MultiDiGraph()
    real.add_nodes_from(g)
    real.add_edges_from((u, v, k) for u, v, k, op in g.edges(keys=True, data="op") if op != "none")
    inputs = [n for n, kind in g.nodes(data="kind") if kind == "input"]
    outputs = [n for n, kind in g.nodes(data="kind") if kind == "output"]
    reached = set(inputs).union(*(nx.descendants(real, n) for n in inputs))
    reaching = set(outputs).union(*(nx.ancestors(real, n) for n in outputs))
    return {(u, v, k) for u, v, k in real.edges(keys=True) if u in reached and v in reaching}


def _node_text(label: str) -> str:
    # to_graph labels such as c_{k-2} are TeX subscripts.
    return f"${label}$" if "_{" in label else label


@dataclass(frozen=True)
class CellPlan:
    """Where everything of one cell goes, in data units: known before any figure exists, so the figure can be
    sized to fit it."""

    graph: nx.MultiDiGraph
    pos: dict[Hashable, tuple[float, float]]
    rads: dict[tuple, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    registry_ops: Mapping[str, str] = field(default_factory=dict)  # the space's op names -> the registry's

    @classmethod
    def of(cls, g: nx.MultiDiGraph, registry_ops: Mapping[str, str] = MappingProxyType({})) -> CellPlan:
        pos = layered_layout(g)
        rads = route_edges(g, pos)
        pts = [np.asarray(p, float) for p in pos.values()]
        for u, v, key in g.edges(keys=True):
            pts.extend(
                _arc_points(
                    np.asarray(pos[u], float),
                    np.asarray(pos[v], float),
                    rads[(u, v, key)],
                    np.linspace(0, 1, 9),
                )
            )
        pts = np.array(pts)
        margin_x, margin_y = BOX_HALF[0] + 0.15, BOX_HALF[1] + 0.25
        return cls(
            g,
            pos,
            rads,
            (pts[:, 0].min() - margin_x, pts[:, 0].max() + margin_x),
            (pts[:, 1].min() - margin_y, pts[:, 1].max() + margin_y),
            registry_ops,
        )


def draw_cell(ax, plan: CellPlan, title: str = "", xlim: tuple[float, float] | None = None) -> set[str]:
    """Draw one planned cell on `ax`; returns the ops it drew (for the legend). Give panels that should share
    a scale the same `xlim`."""
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    g, pos = plan.graph, plan.pos
    live = _live_edges(g)
    patches = {}
    for node, data in g.nodes(data=True):
        kind = data.get("kind")
        x, y = pos[node]
        style = NODE_STYLE.get(kind, NODE_STYLE["block"])
        if kind in ("input", "output"):
            hx, hy = BOX_HALF
            patch = FancyBboxPatch(
                (x - hx, y - hy),
                2 * hx,
                2 * hy,
                boxstyle="round,pad=0,rounding_size=0.12",
                linewidth=1.5,
                zorder=3,
                **style,
            )
        else:
            patch = Circle((x, y), CIRCLE_R, linewidth=1.5, zorder=3, **style)
        ax.add_patch(patch)
        patches[node] = patch
        ax.text(
            x, y, _node_text(str(data.get("label", node))), ha="center", va="center", fontsize=11, zorder=4
        )

    ops = set()
    for u, v, key, op in g.edges(keys=True, data="op"):
        ops.add(op)
        style = op_style(op, plan.registry_ops)
        path = _edge_path(
            pos[u],
            pos[v],
            plan.rads[(u, v, key)],
            _half_extent(g.nodes[u].get("kind")),
            _half_extent(g.nodes[v].get("kind")),
        )
        common = {
            "path": path,
            "mutation_scale": 17,
            "color": style["color"],
            "zorder": 2 if op != "none" else 1,
            "alpha": 1.0 if (u, v, key) in live or op == "none" else DEAD_ALPHA,
        }
        # The dashed shaft and a solid head are two patches: a dashed head is unreadable.
        ax.add_patch(
            FancyArrowPatch(
                arrowstyle="-", linestyle=style["linestyle"], linewidth=style["linewidth"], **common
            )
        )
        ax.add_patch(FancyArrowPatch(arrowstyle="-|>", linewidth=0, **common))

    ax.set_xlim(*(xlim or plan.xlim))
    ax.set_ylim(*plan.ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=12, loc="left")
    return ops


def _legend_order(ops: set[str], registry_ops: Mapping[str, str]) -> list[str]:
    known = list(OP_COLOURS)
    rank = {name: i for i, name in enumerate(known)}
    named = sorted(
        (op for op in ops if op not in ("concat", "none")),
        key=lambda op: (rank.get(registry_ops.get(op, op), len(known)), op),
    )
    return named + [op for op in ("concat", "none") if op in ops]


def cell_figure(arch, title: str = "", caption: str = ""):
    """A figure of all of `arch`'s cells, stacked at one scale, with one op legend and the notes below
    them."""
    from matplotlib.lines import Line2D

    space = search_spaces.SPACES[arch.space]
    graphs = space.diagram_cells(arch)
    plans = {name: CellPlan.of(g, space.registry_ops) for name, g in graphs.items()}
    xlim = (min(p.xlim[0] for p in plans.values()), max(p.xlim[1] for p in plans.values()))

    ops: set[str] = set()
    dead = False
    for g in graphs.values():
        real = [(u, v, k) for u, v, k, op in g.edges(keys=True, data="op") if op != "none"]
        dead |= len(_live_edges(g)) < len(real)
        ops |= {op for *_, op in g.edges(data="op")}
    order = _legend_order(ops, space.registry_ops)
    notes = [n for n in (space.diagram_note, caption) if n] + (
        ["Faded edges lie on no path from the cell input to the output."] if dead else []
    )

    # Lay the figure out in inches, top to bottom, so text keeps its point size whatever the cells' shapes.
    panel_width = (xlim[1] - xlim[0]) * INCH_PER_UNIT
    width = max(6.0, panel_width)
    columns = 3 if width < 8 else 4
    rows = -(-len(order) // columns)
    title_h = 0.45 if title else 0.1
    panel_title_h = 0.3 if len(plans) > 1 else 0.0
    panel_hs = [(p.ylim[1] - p.ylim[0]) * INCH_PER_UNIT for p in plans.values()]
    legend_h = 0.27 * rows + 0.15
    notes_h = 0.19 * sum(n.count("\n") + 1 for n in notes) + 0.1
    height = title_h + sum(panel_title_h + h for h in panel_hs) + legend_h + notes_h
    fig = plt.figure(figsize=(width, height))

    top = height - title_h
    for (name, plan), h in zip(plans.items(), panel_hs):
        top -= panel_title_h + h
        ax = fig.add_axes(((width - panel_width) / 2 / width, top / height, panel_width / width, h / height))
        draw_cell(ax, plan, title=name if len(plans) > 1 else "", xlim=xlim)
    labels = {"concat": "concat into the cell output", "none": "none (no connection; computes nothing)"}
    fig.legend(
        [Line2D([], [], **op_style(op, space.registry_ops)) for op in order],
        [labels.get(op, op) for op in order],
        loc="upper center",
        bbox_to_anchor=(0.5, top / height),
        ncol=columns,
        fontsize=10,
        frameon=False,
        handlelength=3,
        borderaxespad=0.2,
    )
    if notes:
        fig.text(0.5, notes_h / height, "\n".join(notes), ha="center", va="top", fontsize=9, color="#444444")
    if title:
        fig.suptitle(title, fontsize=12, y=1 - 0.08 / height, va="top")
    return fig


def save_cell_diagram(arch, path: str | os.PathLike, title: str = "", caption: str = "") -> Path:
    """Draw `arch` to a PNG or SVG (by suffix), written atomically."""
    save_figure(cell_figure(arch, title=title, caption=caption), path)
    return Path(path)
