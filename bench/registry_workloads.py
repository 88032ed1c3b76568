"""W28-W30: the model registry, getting a model and serving it (issue 17), cairn alone.

W28 times `cairn model list --json` and `cairn model show m --json` over a registry of 200
versions (one commit each) and 50 stage assignments, written as annotated tags the way GTO and
cairn write them (target < 300 ms each). W29 times `cairn model get m@v0.0.1 -o model.bin` of a
100 MiB model whose only copy is on a local folder remote (the cache emptied), against `cp` of
the same file (target <= 1.3x). W30 times a probe that starts `cairn model serve m@prod --port
0`, waits for its ready line, makes 200 POST /predict round trips on one connection to a trivial
model and prints both figures (targets: ready < 1 s, median round trip < 5 ms).

cairn only: DVC has no model registry that reads GTO's tags by itself, and no serving. Standard
library only.
"""

from __future__ import annotations

import json
import random
import shutil
import sys

import fastimport
from datasets import SEED
from workloads import BASE, RunCtx, Target, Workload, commit, fresh_repo, local_remote

ALL_SCALES = frozenset({"full", "quick", "smoke"})
NOT_DVC = "cairn only: DVC has no model registry of its own (GTO is a separate tool) and no model serving."
VERSIONS, ASSIGNMENTS = 200, 50
T0 = 1_700_000_000
STAGES = ("dev", "staging", "prod", "canary", "shadow")
MODEL_MIB = {"full": 100, "quick": 100, "smoke": 4}
ARTIFACTS = "artifacts:\n  m:\n    path: model.bin\n    type: model\n    serve: serve_m:predict\n"
SERVE = "def predict(records):\n    return [0 for _ in records]\n"


# -- W28 ----------------------------------------------------------------------------------------
def registry_repo(ctx: RunCtx) -> None:
    """200 commits, each registered as a version (NAME@vX.Y.Z), and 50 assignments (NAME#STAGE#N),
    written in one `git fast-import` (fastimport.py) with the tags a second apart, as GTO orders them."""
    fresh_repo(ctx)
    ref, parent = fastimport.head(ctx.repo)
    when = T0
    stream = [
        fastimport.commit(
            ref,
            1,
            when,
            "artifact m",
            parent,
            [
                fastimport.blob("cairn.yaml", "metrics:\n  - metrics.json\n" + ARTIFACTS),
                fastimport.blob("metrics.json", '{"acc": 0.5}\n'),
            ],
        )
    ]
    counter = 0
    for i in range(VERSIONS):
        mark, when = i + 2, when + 60
        metrics = json.dumps({"acc": round(0.5 + i / 1000, 4)}) + "\n"
        stream.append(
            fastimport.commit(ref, mark, when, f"model {i}", f":{mark - 1}", [fastimport.blob("metrics.json", metrics)])
        )
        version = f"v0.{i // 100}.{i % 100}"
        stream.append(fastimport.tag(f"m@{version}", f":{mark}", when + 1, f"Registering artifact m version {version}"))
        if i % (VERSIONS // ASSIGNMENTS) == 0:
            counter += 1
            stage = STAGES[counter % len(STAGES)]
            msg = f"Assigning stage {stage} to artifact m version {version}"
            stream.append(fastimport.tag(f"m#{stage}#{counter}", f":{mark}", when + 2, msg))
    fastimport.run(ctx.repo, stream, ref)


def registry_read(ctx: RunCtx) -> str | None:
    doc = json.loads(ctx.stdout.read_text())
    if isinstance(doc, list):  # list
        row = doc[0] if doc else {}
        if row.get("versions") != VERSIONS or row.get("latest") != f"v0.1.{VERSIONS - 101}":
            return f"list says {row}, expected {VERSIONS} versions"
        return None
    versions = doc.get("versions_detail") or []
    if len(versions) != VERSIONS or len(doc.get("stages") or {}) != len(STAGES):
        return f"show lists {len(versions)} versions and stages {doc.get('stages')}"
    if any("acc" not in (v.get("metrics") or {}).get("metrics.json", {}) for v in versions):
        return "show lacks the metrics of some version"
    return None


# -- W29 ----------------------------------------------------------------------------------------
def _model_bytes(ctx: RunCtx) -> bytes:
    return random.Random(f"{SEED}:model").randbytes(MODEL_MIB[ctx.data.scale.name] * 2**20)


def model_on_remote(ctx: RunCtx) -> None:
    """A registered 100 MiB model, pushed to a local folder remote; the cache emptied."""
    fresh_repo(ctx)
    data = _model_bytes(ctx)
    (ctx.repo / "model.bin").write_bytes(data)
    (ctx.repo / "cairn.yaml").write_text(ARTIFACTS)
    ctx.tool_sh("add", "model.bin")
    local_remote(ctx)
    commit("model")(ctx)
    ctx.tool_sh("push")
    ctx.tool_sh("model", "register", "m")
    shutil.rmtree(ctx.repo / ".cairn" / "cache")
    (ctx.run_dir / "deploy").mkdir()


def floor_model(ctx: RunCtx) -> None:
    ctx.repo.mkdir()
    (ctx.repo / "model.bin").write_bytes(_model_bytes(ctx))
    ctx.cwd = ctx.repo


def model_written(ctx: RunCtx) -> str | None:
    out = ctx.run_dir / "deploy" / "model.bin"
    if not out.exists():
        return "model.bin was not written"
    if out.stat().st_size != MODEL_MIB[ctx.data.scale.name] * 2**20 or out.read_bytes() != _model_bytes(ctx):
        return "model.bin differs from the registered model"
    return None


# -- W30 ----------------------------------------------------------------------------------------
PROBE = r"""
import http.client, json, statistics, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen([sys.argv[1], "model", "serve", "m@prod", "--port", "0"], stdout=subprocess.PIPE, text=True)
line = proc.stdout.readline()
ready = time.perf_counter() - t0
host, port = line.strip().rsplit("/", 1)[1].split(":")
conn = http.client.HTTPConnection(host, int(port))
body = json.dumps([{"x": 1.0}])
times = []
for _ in range(200):
    t = time.perf_counter()
    conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    times.append(time.perf_counter() - t)
proc.terminate()
proc.wait()
print(json.dumps({"ready_s": ready, "predict_median_ms": statistics.median(times) * 1000, "answer": answer}))
"""


def served_model(ctx: RunCtx) -> None:
    fresh_repo(ctx)
    (ctx.repo / "model.bin").write_bytes(b"trivial\n")
    (ctx.repo / "serve_m.py").write_text(SERVE)
    (ctx.repo / "cairn.yaml").write_text(ARTIFACTS)
    ctx.tool_sh("add", "model.bin")
    commit("model")(ctx)
    ctx.tool_sh("model", "register", "m")
    ctx.tool_sh("model", "assign", "m", "--stage", "prod")


def probe_figures(ctx: RunCtx) -> str | None:
    try:
        doc = json.loads(ctx.stdout.read_text().strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        return f"the probe printed no figures ({exc})"
    if doc.get("answer") != {"predictions": [0]}:
        return f"/predict answered {doc.get('answer')}"
    print(f"[bench]   ready {doc['ready_s']:.3f} s, predict round trip median {doc['predict_median_ms']:.2f} ms")
    ctx.state.setdefault("probe", []).append(doc)  # type: ignore[union-attr]
    return None


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W28-list",
        "model list: 200 versions, 50 assignments",
        registry_repo,
        lambda c: c.tool.argv("model", "list", "--json"),
        (*BASE, "model list"),
        registry_read,
        target=Target(0.3, "`cairn model list` over 200 versions and 50 assignments", ALL_SCALES),
        dvc_skipped=ALL_SCALES,
        notes=f"{VERSIONS} commits each tagged `m@vX.Y.Z` and {ASSIGNMENTS} `m#STAGE#N` (annotated, as GTO "
        "writes them). Checked: 200 versions, the latest right. " + NOT_DVC,
    ),
    Workload(
        "W28-show",
        "model show: 200 versions with their metrics",
        registry_repo,
        lambda c: c.tool.argv("model", "show", "m", "--json"),
        (*BASE, "model show"),
        registry_read,
        target=Target(0.3, "`cairn model show` over 200 versions and 50 assignments", ALL_SCALES),
        dvc_skipped=ALL_SCALES,
        notes="W28-list's registry; show reads each version's commit, tagger and stages, and the metrics "
        "files declared at each of the 200 commits. Checked: 200 versions and 5 stages. " + NOT_DVC,
    ),
    Workload(
        "W29",
        "model get of a 100 MiB model from a local remote",
        model_on_remote,
        lambda c: c.tool.argv("-q", "model", "get", "m@v0.0.1", "-o", str(c.run_dir / "deploy" / "model.bin")),
        (*BASE, "add", "remote add", "push", "model get"),
        model_written,
        floor_setup=floor_model,
        floor_command=lambda c: ["cp", "--reflink=never", "model.bin", "model.copy"],
        floor_name="`cp model.bin` (floor)",
        floor_target=1.3,
        dvc_skipped=ALL_SCALES,
        notes="A registered model (100 MiB of random bytes at full and quick scale) pushed to a local folder "
        "remote, the cache deleted; timed: `cairn model get m@v0.0.1 -o ../deploy/model.bin` "
        "(the registry read, the pointer at the commit, the object downloaded and verified). Checked: the "
        "same bytes. Target: <= 1.3x `cp` of the file. " + NOT_DVC,
    ),
    Workload(
        "W30",
        "model serve: ready, then 200 predict round trips",
        served_model,
        lambda c: [sys.executable, "-c", PROBE, *c.tool.argv()],
        (*BASE, "add", "model serve"),
        probe_figures,
        dvc_skipped=ALL_SCALES,
        notes="A trivial model (`predict` returns 0 per record) registered and in prod. Timed: a probe that "
        "starts `cairn model serve m@prod --port 0`, reads its ready line, then makes 200 POST /predict "
        "round trips on one keep-alive connection and stops the server; it prints the time to ready "
        "(target < 1 s) and the median round trip (target < 5 ms), reported in the notes. " + NOT_DVC,
    ),
)
