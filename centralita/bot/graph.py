"""A flow as a Mermaid flowchart: the compiled state machine's transitions, drawn."""

from __future__ import annotations

import re

from centralita.bot.model import FALLBACK_HANDOFF, RETURN, CallFlow, Flow, Menu, Step

_SHAPES = {
    "say": ('["', '"]'),
    "ask": ('[/"', '"/]'),
    "menu": ('{{"', '"}}'),
    "branch": ('{"', '"}'),
    "set": ('["', '"]'),
    "lookup": ('[("', '")]'),
    "handoff": ('(["', '"])'),
    "flow": ('[["', '"]]'),
    "end": ('(("', '"))'),
}
_LABELS = {
    "next": "",
    "exhausted": "exhausted",
    "timeout": "silence",
    "else": "else",
    "found": "found",
    "not_found": "not found",
    "ambiguous": "ambiguous",
    "error": "error",
}


def _node_ids(step_ids: list[str]) -> dict[str, str]:
    """Mermaid-safe node ids, one per step. Step ids may contain `-`, which Mermaid would read
    as part of an arrow; replacing it with `_` could merge `pay-now` and `pay_now` into one
    node, so a clash gets a numeric suffix."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for step_id in step_ids:
        base = "s_" + re.sub(r"[^A-Za-z0-9_]", "_", step_id)
        node, n = base, 1
        while node in used:
            n += 1
            node = f"{base}_{n}"
        used.add(node)
        ids[step_id] = node
    return ids


def _escape(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")


def _label(step: Step) -> str:
    detail = f"{step.type}: {step.flow}" if isinstance(step, CallFlow) else step.type
    return _escape(f"{step.id}<br/><i>{detail}</i>")


def _edge_label(flow: Flow, source: str, trigger: str) -> str:
    step = flow.steps[source]
    if trigger.startswith("option_") and isinstance(step, Menu):
        index = int(trigger.removeprefix("option_"))
        option = step.options[index]
        label = option.label.variants.get(flow.language) or next(
            iter(option.label.variants.values())
        )
        return _escape(f"{index + 1}. {label.source}")
    if trigger.startswith("branch_"):
        return f"if #{int(trigger.removeprefix('branch_')) + 1}"
    return _LABELS.get(trigger, trigger)


def mermaid(flow: Flow) -> str:
    """`flowchart TD` text; paste it into any Mermaid renderer (GitHub, GitLab, mermaid.live)."""
    lines = ["flowchart TD", f"    %% {flow.id} ({flow.version[:12]})", "    start((start))"]
    edges = flow.edges()
    node = _node_ids([*flow.steps, RETURN])
    used = {FALLBACK_HANDOFF} & {dest for _, _, dest in edges}
    for step_id, step in flow.steps.items():
        if step_id == FALLBACK_HANDOFF and not used:
            continue
        left, right = _SHAPES.get(step.type, ('["', '"]'))
        lines.append(f"    {node[step_id]}{left}{_label(step)}{right}")
    if any(dest == RETURN for _, _, dest in edges):
        lines.append(f"    {node[RETURN]}((return))")
    lines.append(f"    start --> {node[flow.start]}")
    for source, trigger, dest in edges:
        label = _edge_label(flow, source, trigger)
        arrow = f"-->|{label}|" if label else "-->"
        if trigger in ("exhausted", "timeout"):
            arrow = f"-.->|{label}|"
        lines.append(f"    {node[source]} {arrow} {node[dest]}")
    return "\n".join(lines) + "\n"
