"""Human text of stats and comparison documents (the CLI prints it; --json is the stable form)."""

from __future__ import annotations

from typing import Any

from cairn.datastats.columns import TOP_SHOWN


def stats_text(doc: dict[str, Any], show_all: bool = False) -> str:
    rec = doc["stats"]
    where = doc["path"] if doc["rev"] is None else f"{doc['path']} at {doc['rev']}"
    source = "computed now" if doc["from"] == "computed" else f"from {doc['from']}"
    head = f"{where}  ({doc['oid'][:12]}, stats {source})"
    if rec["kind"] == "files":
        return "\n".join([head, *_files_lines(rec)])
    lines = [
        head,
        f"{rec['rows']:,} rows, {len(rec['columns'])} columns, {rec['files']} file(s), {_size(rec['bytes'])}",
    ]
    lines.append("")
    lines.append(f"{'column':<20} {'type':<10} {'nulls':>8} {'distinct':>9}  summary")
    for c in rec["columns"]:
        lines.append(
            f"{_cut(c['name'], 20):<20} {_cut(c['type'], 10):<10} {c['nulls']:>8,} {c['distinct']:>9,}  {_summary(c)}"
        )
    for c in rec["columns"]:
        lines += _detail(c, show_all)
    for w in rec.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _summary(c: dict[str, Any]) -> str:
    if c["kind"] == "numeric":
        if c.get("mean") is None:
            return "no finite values"
        q = c.get("quantiles", {})
        return (
            f"min {_num(c['min'])}  p50 {_num(q.get('50'))}  max {_num(c['max'])}  "
            f"mean {_num(c['mean'])}  std {_num(c.get('std'))}"
        )
    if c["kind"] in ("categorical", "boolean") and c.get("top"):
        return ", ".join(f"{_cut(str(v), 16)} ({n:,})" for v, n in c["top"][:3]) + (
            ", ..." if len(c["top"]) > 3 else ""
        )
    if c["kind"] == "temporal":
        return f"{c.get('min')} .. {c.get('max')}"
    return ""


def _detail(c: dict[str, Any], show_all: bool) -> list[str]:
    out: list[str] = []
    if not show_all:
        return out
    out.append("")
    out.append(f"{c['name']}:")
    if "quantiles" in c:
        # a stored record's keys are sorted as text ("25" before "5"): order them as numbers
        qs = sorted(c["quantiles"].items(), key=lambda kv: float(kv[0]))
        out.append("  quantiles  " + "  ".join(f"p{k} {_num(v)}" for k, v in qs))
    if "histogram" in c:
        h = c["histogram"]
        peak = max(h["counts"]) or 1
        for lo, n in zip(h["edges"], h["counts"], strict=False):
            out.append(f"  {_num(lo):>12}  {'#' * round(30 * n / peak):<30} {n:,}")
    if c.get("top"):
        for v, n in c["top"][:TOP_SHOWN]:
            out.append(f"  {_cut(str(v), 30):<30} {n:,}")
    return out


def _files_lines(rec: dict[str, Any]) -> list[str]:
    lines = [f"{rec['files']:,} files, {_size(rec['bytes'])}"]
    s = rec.get("sizes")
    if s:
        lines.append(f"sizes: min {_size(s['min'])}, median {_size(s['quantiles']['50'])}, max {_size(s['max'])}")
    for e in rec.get("extensions", []):
        lines.append(f"  {e['extension']:<12} {e['files']:>8,} files  {_size(e['bytes'])}")
    return lines


def diff_text(doc: dict[str, Any], show_stats: bool) -> str:
    a = doc["a"]["rev"] or "workspace"
    b = doc["b"]["rev"] or "workspace"
    lines = [f"{doc['path']}: {a} -> {b}"]
    if "files" in doc and "columns" not in doc:
        lines.append(
            f"files {doc['files'][0]:,} -> {doc['files'][1]:,}, {_size(doc['bytes'][0])} -> {_size(doc['bytes'][1])}"
        )
        for e in doc["extensions"]:
            if e["files"][0] != e["files"][1] or e["bytes"][0] != e["bytes"][1]:
                lines.append(f"  {e['extension']:<12} {e['files'][0]:,} -> {e['files'][1]:,} files")
        return "\n".join(lines)
    lines.append(f"rows {doc['rows'][0]:,} -> {doc['rows'][1]:,}")
    for c in doc["columns"]:
        if c["status"] == "added":
            lines.append(f"  + {c['name']} ({c['type'][1]})")
        elif c["status"] == "removed":
            lines.append(f"  - {c['name']} ({c['type'][0]})")
        elif c["status"] == "type changed":
            lines.append(f"  ~ {c['name']}: {c['type'][0]} -> {c['type'][1]}")
    if not show_stats:
        return "\n".join(lines)
    lines.append("")
    lines.append(f"{'column':<20} {'method':<14} {'score':>9} {'threshold':>9}  verdict   changes")
    for c in doc["columns"]:
        if "drift" not in c:
            continue
        d = c["drift"]
        if d.get("method") is None:
            lines.append(f"{_cut(c['name'], 20):<20} {'-':<14} {'':>9} {'':>9}  skipped: {d.get('skipped')}")
            continue
        score = d.get("pvalue") if "pvalue" in d else d.get("score")
        limit = d.get("alpha") if "pvalue" in d else d.get("threshold")
        verdict = "DRIFT" if d["drifted"] else "ok"
        label = d["method"] + (" (p)" if "pvalue" in d else "")
        lines.append(
            f"{_cut(c['name'], 20):<20} {label:<14} {_num(score):>9} {_num(limit):>9}  {verdict:<8}  {_changes(c)}"
        )
    ds = doc["dataset"]
    verdict = "DRIFT" if ds["drift"] else "no drift"
    lines.append("")
    lines.append(
        f"dataset: {verdict} ({ds['drifted']} of {ds['tested']} tested columns drifted; "
        f"the dataset drifts at {ds['drift_share']:.0%})"
    )
    return "\n".join(lines)


def _changes(c: dict[str, Any]) -> str:
    d = c.get("deltas", {})
    parts = []
    if "mean" in d:
        parts.append(f"mean {_num(d['mean'][0])} -> {_num(d['mean'][1])}")
    ns = d.get("null_share")
    if ns and ns[0] is not None and ns[1] is not None and ns[0] != ns[1]:
        parts.append(f"nulls {ns[0]:.1%} -> {ns[1]:.1%}")
    return ", ".join(parts)


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
