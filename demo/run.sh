#!/usr/bin/env bash
# The cairn demo: version a generated dataset next to git, change it, see and undo the change,
# share it through a local remote, run a two-stage pipeline and compare experiments.
# Runs in a temporary folder and removes it afterwards (keep it with KEEP=1).
set -euo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "demo folder kept: $work"; else trap 'rm -rf "$work"' EXIT; fi
cd "$work"

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }

mkdir project && cd project
git init -q -b main
git config user.email demo@example.invalid
git config user.name "cairn demo"
python3 - <<'PY'
import os, random
rng = random.Random(7)
for i in range(200):
    d = f"data/images/class{i % 4}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/img{i:04d}.bin", "wb") as f:
        f.write(rng.randbytes(rng.randint(512, 4096)))
with open("data/labels.csv", "w") as f:
    f.writelines(f"img{i:04d},{i % 4}\n" for i in range(200))
PY

say "1. Version data next to git"
step cairn init
step cairn add data/images data/labels.csv
step git add -A
step git commit -qm "Track the dataset with cairn"
echo "img9999,1" >> data/labels.csv
rm data/images/class0/img0000.bin
printf 'new' > data/images/class1/extra.bin
step cairn status
step cairn diff
step cairn add data/images data/labels.csv
step git commit -qam "Dataset v2"
step cairn diff HEAD~1 HEAD
step git checkout -q HEAD~1
step cairn checkout
step cairn status
step git checkout -q main
step cairn checkout

say "2. Share it through a remote (a local folder here; s3://bucket/path works the same)"
step cairn remote add -d store "$work/remote"
step git commit -qam "Add a remote"
step cairn push
step cairn push
git clone -q "$work/project" "$work/clone"
(cd "$work/clone" && step cairn pull && step cairn status)

say "3. A pipeline: only stale stages rerun"
cat > params.yaml <<'YAML'
train:
  threshold: 2
YAML
cat > count.py <<'PY'
import json, sys, yaml
t = yaml.safe_load(open("params.yaml"))["train"]["threshold"]
rows = [line.split(",") for line in open("data/labels.csv")]
hits = sum(1 for _, label in rows if int(label) >= t)
json.dump({"share": round(hits / len(rows), 4), "rows": len(rows)}, open("metrics.json", "w"))
PY
step cairn stage add -n prepare -d data/labels.csv -o prepared.csv "sort data/labels.csv > prepared.csv"
step cairn stage add -n train -d prepared.csv -d count.py -p train.threshold -m metrics.json "python3 count.py"
step cairn dag
step cairn repro
step cat metrics.json
step cairn repro
step git add -A
step git commit -qm "Pipeline"

say "4. Experiments: change a parameter, compare"
step cairn exp run -n low -S train.threshold=1
step cairn exp run -n high -S train.threshold=3
step cairn exp show
step cairn exp diff low high
git checkout -q -- params.yaml cairn.lock metrics.json

say "5. Clean up what nothing references"
step cairn gc
printf '\nThe demo ran in %s\n' "$work"
