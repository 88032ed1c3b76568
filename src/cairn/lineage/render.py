"""Lineage documents (upstream.py) as text: a human tree, Mermaid and Graphviz dot."""

from __future__ import annotations

from typing import Any

_TRACKED = {"stage_output": "stage output", "pointer": "pointer", "git": "git file", "untracked": "not tracked"}


def _size(n: int | None) -> str:
    if n is None:
        return "size ?"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""  # unreachable


def _when(info: dict[str, Any] | None) -> str:
    if not info:
        return "unknown"
    return f"{info['commit'][:7]} {info['date'][:16].replace('T', ' ')} {info['author']}: {info['message']}"


def to_text(doc: dict[str, Any]) -> str:
    nodes = {n["path"]: n for n in doc["nodes"]}
    stages = {s["name"]: s for s in doc["stages"]}
    lines: list[str] = []
    shown: set[str] = set()
    exp = doc.get("experiment")
    at = (
        f"experiment {exp['name']} (commit {doc['commit'][:7]})"
        if exp
        else f"{doc['rev']} (commit {doc['commit'][:7]})"
    )
    lines.append(f"lineage of {doc['target']} at {at}")

    def node(path: str, pad: str, lead: str, rest: str) -> None:
        n = nodes[path]
        oid = (n["git_blob"] or n["oid"] or "?")[:12]
        inside = f", in {n['within']}" if n.get("within") else ""
        how = "git folder" if n["tracked"] == "git" and n["kind"] == "tree" else _TRACKED[n["tracked"]]
        lines.append(f"{pad}{lead}{path}  [{how}{inside}, {n['kind']}, {_size(n['size'])}, {oid}]")
        sub = pad + rest
        lines.append(f"{sub}  version from {_when(n['introduced'])}")
        if n.get("note"):
            lines.append(f"{sub}  note: {n['note']}")
        if n["stage"] and n["tracked"] == "stage_output":
            stage(n["stage"], sub + "  ")
        for other in n.get("fed_by", []):
            lines.append(f"{sub}  holds outputs of stage {other}:")
            stage(other, sub + "    ")

    def stage(name: str, pad: str) -> None:
        if name in shown:
            lines.append(f"{pad}written by stage {name} (shown above)")
            return
        shown.add(name)
        s = stages[name]
        cmd = s["cmd"] if isinstance(s["cmd"], str) else " && ".join(s["cmd"])
        lines.append(f"{pad}written by stage {name}: {cmd}  (wdir {s['wdir']})")
        ran = s["ran"]
        who = (
            f"experiment {ran['experiment']}, created {ran['created'][:16].replace('T', ' ')}; "
            if "experiment" in ran
            else ""
        )
        lines.append(f"{pad}  ran: {who}{_when(ran)}")
        for file, values in s["params"].items():
            shown_values = ", ".join(f"{k}={v}" for k, v in values.items())
            lines.append(f"{pad}  params {file}: {shown_values}")
        for c in s["code"]:
            lines.append(f"{pad}  code: {c['path']} (git blob {c['git_blob'][:12]}, commit {s['code_commit'][:7]})")
        lines.append(f"{pad}  env: {s['env'] if s['env'] else 'not recorded'}")
        deps = s["deps"]
        for i, dep in enumerate(deps):
            last = i == len(deps) - 1
            node(dep, pad + "  ", "└─ " if last else "├─ ", "   " if last else "│  ")

    node(doc["target"], "", "", "")
    for gap in doc["gaps"]:
        lines.append(f"gap: {gap['path']}: {gap['problem']}")
    lines.append(f"rebuild: {doc['rebuild']}")
    return "\n".join(lines)


def downstream_text(doc: dict[str, Any]) -> str:
    version = f"version {doc['oid'][:12]}, {doc['kind']}"
    lines = [f"consumers of {doc['target']} at {doc['rev']} (commit {doc['commit'][:7]}, {version})"]
    for c in doc["consumers"]:
        labels = ([f"experiment {c['experiment']}"] if c["experiment"] else []) + c["refs"]
        lines.append(f"{_when(c)}" + (f"  [{', '.join(labels)}]" if labels else ""))
        for s in c["stages"]:
            outs = ", ".join(f"{o['path']} ({o['oid'][:12]})" for o in s["outs"]) or "no outputs"
            via = f" (written by {s['via']})" if s["via"] else ""
            lines.append(f"  {s['stage']} read {s['dep']}{via} -> {outs}")
    if not doc["consumers"]:
        lines.append("no commit or experiment consumed this version")
    for gap in doc["gaps"]:
        lines.append(f"gap: {gap['path']} at commit {gap['commit'][:7]}: {gap['problem']}")
    return "\n".join(lines)


def downstream_graph(doc: dict[str, Any]) -> dict[str, Any]:
    """The consumers as a graph (for to_mermaid / to_dot): version -> stages -> outputs."""
    nodes = {doc["target"]: {"path": doc["target"]}}
    stages: dict[str, dict] = {}
    edges: list[dict[str, str]] = []
    for c in doc["consumers"]:
        for s in c["stages"]:
            stages.setdefault(s["stage"], {"name": s["stage"]})
            for edge in [{"from": s["dep"], "to": f"stage:{s['stage']}"}] + [
                {"from": f"stage:{s['stage']}", "to": o["path"]} for o in s["outs"]
            ]:
                for end in (edge["from"], edge["to"]):
                    if not end.startswith("stage:"):
                        nodes.setdefault(end, {"path": end})
                if edge not in edges:
                    edges.append(edge)
    return {"nodes": list(nodes.values()), "stages": list(stages.values()), "edges": edges}


def _ids(doc: dict[str, Any]) -> dict[str, str]:
    ids = {n["path"]: f"n{i}" for i, n in enumerate(doc["nodes"])}
    ids.update({f"stage:{s['name']}": f"s{i}" for i, s in enumerate(doc["stages"])})
    return ids


def to_mermaid(doc: dict[str, Any]) -> str:
    ids = _ids(doc)
    lines = ["flowchart LR"]
    for n in doc["nodes"]:
        lines.append(f'  {ids[n["path"]]}["{_quote(n["path"])}"]')
    for s in doc["stages"]:
        lines.append(f'  {ids["stage:" + s["name"]]}{{{{"{_quote(s["name"])}"}}}}')
    lines += [f"  {ids[e['from']]} --> {ids[e['to']]}" for e in doc["edges"]]
    return "\n".join(lines)


def to_dot(doc: dict[str, Any]) -> str:
    ids = _ids(doc)
    lines = ["digraph lineage {", "  rankdir=LR;"]
    for n in doc["nodes"]:
        lines.append(f'  {ids[n["path"]]} [label="{_dot_quote(n["path"])}", shape=box];')
    for s in doc["stages"]:
        lines.append(f'  {ids["stage:" + s["name"]]} [label="{_dot_quote(s["name"])}", shape=ellipse];')
    lines += [f"  {ids[e['from']]} -> {ids[e['to']]};" for e in doc["edges"]]
    lines.append("}")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return text.replace('"', "#quot;")  # Mermaid's entity for a quote


def _dot_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
