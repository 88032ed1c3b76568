"""The pipeline graph as an SVG: stages in levels (a stage one level below the deepest stage it
waits for), each box coloured by its state from `cairn status`. Drawn here rather than by a
layout library: pipelines are small, and the page must work offline."""

from __future__ import annotations

from html import escape

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 180, 44, 30, 50, 20
COLOURS = {"up to date": "#d9f2d9", "stale": "#ffe0b3", "frozen": "#dde6f5", "stage": "#e8e0f5"}


def levels(order: list[str], edges: dict[str, set[str]]) -> dict[str, int]:
    level: dict[str, int] = {}
    for name in order:  # a topological order: every stage after what it waits for
        level[name] = 1 + max((level[d] for d in edges.get(name, ()) if d in level), default=-1)
    return level


def dag_svg(
    order: list[str],
    edges: dict[str, set[str]],
    states: dict[str, str],
    labels: dict[str, str] | None = None,
    kind: str = "stage",
) -> str:
    """`edges[node]` = the nodes it comes after; `states[node]` = the second line ("up to date",
    "stale", ...); `labels[node]` the first (default: the node itself); `kind` names the nodes
    in the SVG's class and data attribute (`stage`: data-stage)."""
    labels = labels or {}
    level = levels(order, edges)
    rows: dict[int, list[str]] = {}
    for name in order:
        rows.setdefault(level[name], []).append(name)
    pos: dict[str, tuple[int, int]] = {}
    for lv, names in rows.items():
        for i, name in enumerate(names):
            pos[name] = (PAD + i * (BOX_W + GAP_X), PAD + lv * (BOX_H + GAP_Y))
    width = PAD * 2 + max((len(n) for n in rows.values()), default=0) * (BOX_W + GAP_X) - GAP_X
    height = PAD * 2 + len(rows) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="{max(width, 0)}" height="{max(height, 0)}"'
        f' viewBox="0 0 {max(width, 0)} {max(height, 0)}" role="img" aria-label="pipeline graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7"'
        ' orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    for name in order:
        x2, y2 = pos[name]
        for dep in sorted(edges.get(name, ())):
            if dep not in pos:
                continue
            x1, y1 = pos[dep]
            parts.append(
                f'<line x1="{x1 + BOX_W // 2}" y1="{y1 + BOX_H}" x2="{x2 + BOX_W // 2}" y2="{y2}"'
                ' stroke="#555" marker-end="url(#arrow)"/>'
            )
    for name in order:
        x, y = pos[name]
        state = states.get(name, "up to date")
        text = labels.get(name, name)
        label = text if len(text) <= 22 else "…" + text[-21:]  # a path's end says most
        parts.append(
            f'<g class="{kind}" data-{kind}="{escape(name)}" data-state="{escape(state)}">'
            f"<title>{escape(text)}: {escape(state)}</title>"
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{COLOURS.get(state, "#eee")}"'
            ' stroke="#333"/>'
            f'<text x="{x + BOX_W // 2}" y="{y + 19}" text-anchor="middle" font-size="13">{escape(label)}</text>'
            f'<text x="{x + BOX_W // 2}" y="{y + 35}" text-anchor="middle" font-size="11" fill="#444">'
            f"{escape(state)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
