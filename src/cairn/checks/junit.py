"""JUnit XML of a check run, so that CI systems (GitHub Actions test reporters, GitLab's
`artifacts:reports:junit`, Jenkins) show each check as a test: a failed check is a <failure>, a
check that could not be evaluated an <error>, a warning passes with its message in <system-out>."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from cairn.checks.evaluate import ERROR, FAIL, WARN, CheckReport

SUITE = "cairn check"


def document(report: CheckReport) -> bytes:
    results = report.results
    counts = report.counts()
    seconds = sum(r.seconds or 0.0 for r in results)
    attrs = {
        "name": SUITE,
        "tests": str(len(results)),
        "failures": str(counts[FAIL]),
        "errors": str(counts[ERROR]),
        "skipped": "0",
        "time": f"{seconds:.3f}",
    }
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(root, "testsuite", attrs)
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "rev", "value": report.rev.name})
    if report.rev.commit:
        ET.SubElement(props, "property", {"name": "commit", "value": report.rev.commit})
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": f"cairn.checks.{r.check.kind}", "name": r.check.name, "time": f"{r.seconds or 0.0:.3f}"},
        )
        detail = _detail(r)
        if r.verdict == FAIL:
            ET.SubElement(case, "failure", {"message": _xml_safe(r.message), "type": r.check.kind}).text = detail
        elif r.verdict == ERROR:
            ET.SubElement(case, "error", {"message": _xml_safe(r.message), "type": "check"}).text = detail
        out = (f"warning: {r.message}\n" if r.verdict == WARN else "") + (r.output or "")
        if out:
            ET.SubElement(case, "system-out").text = _xml_safe(out)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _detail(r) -> str:
    lines = [f"rule: {r.rule}", r.message]
    if r.value is not None:
        lines.append(f"value: {r.value}")
    if r.baseline_value is not None:
        lines.append(f"baseline: {r.baseline_value}")
    if r.hint:
        lines.append(f"hint: {r.hint}")
    return _xml_safe("\n".join(lines))


def _xml_safe(text: str) -> str:
    # XML 1.0 allows no control characters but tab, newline and carriage return; a test's
    # output (colour codes, a stray NUL) would make the whole file unreadable
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in text)


def write(report: CheckReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    tmp.write_bytes(document(report))
    os.replace(tmp, path)
    return path
