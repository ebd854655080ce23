"""A flow's diagram as inline SVG, drawn on the server: the pages load nothing from elsewhere,
and a Mermaid renderer would be a large script to ship for one page.

The layout is deliberately simple: steps in rows by their distance from the start (breadth
first), in file order within a row; forward transitions are curves down to the next rows,
transitions back up (loops, retries) arc around the right side. Dashed arrows are the
"silence" and "exhausted" ways out, as in `centralita graph`. Readable for flows of a few
dozen steps, which is what people write; the page also lists every transition as a table.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from markupsafe import Markup, escape

from centralita.bot.model import RETURN, Flow

NODE_HEIGHT = 38
ROW_GAP = 56
COLUMN_GAP = 28
CHAR_WIDTH = 7.2  # px per character of 12px sans-serif, near enough for box widths
MARGIN = 20
DASHED = {"exhausted", "timeout"}
_FILL = {
    "say": "#e8f0fb", "ask": "#fff4d6", "menu": "#fff4d6", "branch": "#f1e8fb",
    "set": "#eef1f5", "lookup": "#e3f4ea", "handoff": "#fde8e7", "flow": "#e3f4ea",
    "end": "#eef1f5", "start": "#1d2430", "return": "#eef1f5",
}  # fmt: skip


@dataclass
class _Node:
    id: str
    label: str
    kind: str
    row: int
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0

    @property
    def center(self) -> float:
        return self.x + self.width / 2


def _rows(flow: Flow, edges: list[tuple[str, str, str]]) -> dict[str, int]:
    after: dict[str, list[str]] = {}
    for source, _trigger, dest in edges:
        after.setdefault(source, []).append(dest)
    rows = {"__start__": 0, flow.start: 1}
    todo = deque([flow.start])
    while todo:
        step = todo.popleft()
        for dest in after.get(step, ()):
            if dest not in rows:
                rows[dest] = rows[step] + 1
                todo.append(dest)
    last = max(rows.values()) + 1
    for step_id in flow.steps:  # unreachable steps (a fallback nobody uses) at the bottom
        rows.setdefault(step_id, last)
    return rows


def flow_diagram(flow: Flow) -> Markup:
    edges = [(s, t, d) for s, t, d in flow.edges() if s in flow.steps]
    rows = _rows(flow, edges)
    nodes: dict[str, _Node] = {"__start__": _Node("__start__", "start", "start", 0)}
    for step_id, step in flow.steps.items():
        nodes[step_id] = _Node(step_id, step_id, step.type, rows[step_id])
    if any(dest == RETURN for _, _, dest in edges):
        nodes[RETURN] = _Node(RETURN, "return", "return", rows.get(RETURN, max(rows.values())))
    by_row: dict[int, list[_Node]] = {}
    for node in nodes.values():
        node.width = max(len(node.label), len(node.kind) + 2) * CHAR_WIDTH + 20
        by_row.setdefault(node.row, []).append(node)
    widest = max(sum(n.width for n in row) + COLUMN_GAP * (len(row) - 1) for row in by_row.values())
    for row, members in by_row.items():
        used = sum(n.width for n in members) + COLUMN_GAP * (len(members) - 1)
        x = MARGIN + (widest - used) / 2
        for node in members:
            node.x, node.y = x, MARGIN + row * (NODE_HEIGHT + ROW_GAP)
            x += node.width + COLUMN_GAP
    width = widest + 2 * MARGIN + 120  # room on the right for arcs going back up
    height = MARGIN * 2 + (max(by_row) + 1) * (NODE_HEIGHT + ROW_GAP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" role="img" aria-labelledby="diagram-title" class="flow-diagram">',
        f'<title id="diagram-title">{escape(flow.id)}</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
        'fill="#5b6575"/></marker></defs>',
    ]
    start = nodes["__start__"]
    first = nodes[flow.start]
    parts.append(_edge(start, first, "", dashed=False, right=width - MARGIN))
    for source, trigger, dest in edges:
        if dest not in nodes:
            continue
        label = _edge_label(trigger)
        parts.append(
            _edge(nodes[source], nodes[dest], label, trigger in DASHED, right=width - MARGIN)
        )
    for node in nodes.values():
        parts.append(_box(node))
    parts.append("</svg>")
    return Markup("".join(parts))


def _edge_label(trigger: str) -> str:
    """Short: the full menu texts are in the table of transitions under the diagram."""
    kind, _, index = trigger.rpartition("_")
    if kind == "option" and index.isdigit():
        return str(int(index) + 1)
    if kind == "branch" and index.isdigit():
        return f"if #{int(index) + 1}"
    return {"next": "", "timeout": "silence", "not_found": "not found"}.get(trigger, trigger)


def _box(node: _Node) -> str:
    fill = _FILL.get(node.kind, "#fff")
    color = "#fff" if node.kind == "start" else "#1d2430"
    rx = NODE_HEIGHT / 2 if node.kind in ("start", "end", "return", "handoff") else 6
    title = escape(f"{node.label} ({node.kind})")
    return (
        f'<g class="step {escape(node.kind)}"><title>{title}</title>'
        f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.width:.1f}" '
        f'height="{NODE_HEIGHT}" rx="{rx:.0f}" fill="{fill}" stroke="#5b6575"/>'
        f'<text x="{node.center:.1f}" y="{node.y + 16:.1f}" text-anchor="middle" '
        f'font-size="12" font-weight="600" fill="{color}">{escape(node.label)}</text>'
        f'<text x="{node.center:.1f}" y="{node.y + 30:.1f}" text-anchor="middle" '
        f'font-size="10" fill="{color}" font-style="italic">'
        f"{escape(node.kind if node.kind not in ('start', 'return') else '')}</text></g>"
    )


def _edge(source: _Node, dest: _Node, label: str, dashed: bool, right: float) -> str:
    dash = ' stroke-dasharray="5,4"' if dashed else ""
    if dest.row > source.row:
        x1, y1 = source.center, source.y + NODE_HEIGHT
        x2, y2 = dest.center, dest.y
        middle = (y1 + y2) / 2
        path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{middle:.1f} {x2:.1f},{middle:.1f} {x2:.1f},{y2:.1f}"
        lx, ly = (x1 + x2) / 2, middle
    else:  # back up (or sideways): around the right-hand side
        x1, y1 = source.x + source.width, source.y + NODE_HEIGHT / 2
        x2, y2 = dest.x + dest.width, dest.y + NODE_HEIGHT / 2
        bulge = min(right, max(x1, x2) + 40 + 10 * abs(source.row - dest.row))
        path = f"M{x1:.1f},{y1:.1f} C{bulge:.1f},{y1:.1f} {bulge:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        lx, ly = bulge - 10, (y1 + y2) / 2
    text = ""
    if label:
        text = (
            f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="10" text-anchor="middle" '
            f'fill="#1d2430" stroke="#fff" stroke-width="3" paint-order="stroke">'
            f"{escape(label)}</text>"
        )
    return f'<path d="{path}" fill="none" stroke="#5b6575"{dash} marker-end="url(#arrow)"/>{text}'
