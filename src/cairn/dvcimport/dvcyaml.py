"""dvc.yaml -> cairn.yaml. cairn.yaml is DVC's format with fewer annotations, so a dvc.yaml that
uses nothing cairn lacks is copied byte for byte (comments and layout kept); otherwise the
converted document is written out, and each dropped annotation is named in a note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cairn.dvcimport.dvcfiles import load_yaml
from cairn.dvcimport.problems import Problems
from cairn.errors import shown

DVC_YAML = "dvc.yaml"
_TOP = {"stages", "vars", "params", "metrics", "plots", "artifacts"}
_STAGE = {"cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen", "always_changed", "desc", "meta"}
_OUT_KEEP = {"cache", "persist", "desc", "remote"}
_PLOT_KEEP = {"template", "x", "y", "x_label", "y_label", "title"}
_OUT_DROP = {"push": "cairn pushes every cached output", "type": "an annotation", "labels": "an annotation"}
_OUT_DROP |= {"meta": "an annotation", "header": "cairn reads CSV/TSV headers itself"}


class _Converter:
    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.changed = False

    def drop(self, where: str, key: str, why: str) -> None:
        self.changed = True
        self.problems.note(where, f"`{key}` was left out ({why})")

    def document(self, doc: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if key == "datasets":
                self.problems.add(DVC_YAML, "`datasets` (DVC's dataset registry) has no cairn equivalent")
            elif key not in _TOP:
                self.problems.add(DVC_YAML, f"unknown top-level key {shown(key)}")
            elif key == "stages":
                out[key] = self.stages(value)
            elif key == "plots":
                out[key] = self.top_plots(value)
            else:
                out[key] = value
        return out

    def stages(self, stages: Any) -> Any:
        if not isinstance(stages, dict):
            self.problems.add(DVC_YAML, "`stages` is not a mapping of stage names to stages")
            return stages
        out = {}
        for name, body in stages.items():
            where = f"{DVC_YAML} stage {name}"
            if isinstance(body, dict) and "foreach" in body:
                extra = set(body) - {"foreach", "do"}
                if extra:
                    self.problems.add(where, f"a foreach stage holds only `foreach` and `do`, not {sorted(extra)}")
                out[name] = {**body, "do": self.stage(body.get("do"), where)}
            elif isinstance(body, dict) and "matrix" in body:
                rest = self.stage({k: v for k, v in body.items() if k != "matrix"}, where)
                out[name] = {"matrix": body["matrix"], **rest} if isinstance(rest, dict) else body
            else:
                out[name] = self.stage(body, where)
        return out

    def stage(self, body: Any, where: str) -> Any:
        if not isinstance(body, dict):
            self.problems.add(where, "is not a mapping with a `cmd`")
            return body
        out = {}
        for key, value in body.items():
            if key == "vars":
                self.problems.add(where, "has stage-level `vars`; move them into the top-level `vars` list")
            elif key not in _STAGE:
                self.problems.add(where, f"has a key cairn does not know: {shown(key)}")
            elif key in ("outs", "metrics", "plots"):
                out[key] = self.outs(value, key, where)
            else:
                out[key] = value
        return out

    def outs(self, items: Any, kind: str, where: str) -> Any:
        if not isinstance(items, list):
            return items  # cairn's own validation names it
        out = []
        for item in items:
            if not isinstance(item, dict) or len(item) != 1:
                out.append(item)
                continue
            ((path, flags),) = item.items()
            if isinstance(flags, list):
                self.problems.add(where, f"{kind} entry {path} holds a list of plot definitions; use one")
                continue
            if not isinstance(flags, dict):
                out.append(item)
                continue
            kept = {}
            for key, value in flags.items():
                if key in _OUT_KEEP or (kind == "plots" and key in _PLOT_KEEP):
                    kept[key] = value
                elif key == "checkpoint":
                    self.problems.add(where, f"{path} is a checkpoint output, which DVC 3 dropped and cairn lacks")
                elif key in _OUT_DROP:
                    self.drop(f"{where} {kind} {path}", key, _OUT_DROP[key])
                else:
                    self.problems.add(where, f"{path} has a setting cairn does not know: {shown(key)}")
            out.append({path: kept} if kept else path)
        return out

    def top_plots(self, items: Any) -> Any:
        """Top-level plots: a path, or {id: {x, y, ...}} where y may map files to columns; cairn
        names each plot by its file, so a y of N files becomes N plots."""
        if not isinstance(items, list):
            return items
        out = []
        for item in items:
            if not isinstance(item, dict) or len(item) != 1:
                out.append(item)
                continue
            ((pid, props),) = item.items()
            props = dict(props or {})
            where = f"{DVC_YAML} plot {pid}"
            for key in [k for k in props if k not in _PLOT_KEEP]:
                self.drop(where, key, _OUT_DROP.get(key, "not a cairn plot setting"))
                del props[key]
            if isinstance(props.get("x"), dict):
                self.problems.add(where, "has `x` per file; give one `x` column")
                continue
            y = props.get("y")
            if isinstance(y, dict):
                self.changed = True
                if len(y) > 1:
                    self.problems.note(where, f"draws {len(y)} files; cairn makes one plot per file")
                for file, column in y.items():
                    one = {**props, "y": column}
                    if "title" not in one:
                        one["title"] = str(pid)
                    out.append({file: one})
                continue
            out.append({pid: props} if props else pid)
        return out


def convert(root: Path, problems: Problems) -> str | None:
    """cairn.yaml's text for the project's dvc.yaml; None when there is none."""
    path = root / DVC_YAML
    if not path.exists():
        return None
    doc = load_yaml(path, DVC_YAML, problems)
    if doc is None:
        return None
    if not isinstance(doc, dict):
        problems.add(DVC_YAML, "is not a mapping with `stages`")
        return None
    conv = _Converter(problems)
    data = conv.document(doc)
    if not conv.changed:
        return path.read_text()
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    head = "# converted from dvc.yaml by `cairn import-dvc`\n"
    return head + yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
