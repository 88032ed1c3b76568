#!/usr/bin/env bash
# The cairn demo: version a generated dataset next to git, change it, see and undo the change.
# Runs in a temporary folder and removes it afterwards (keep it with KEEP=1).
set -euo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo.XXXXXX")
[ "${KEEP:-0}" = 1 ] && echo "demo folder kept: $work" || trap 'rm -rf "$work"' EXIT
cd "$work"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

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
step cairn gc
printf '\nThe demo ran in %s\n' "$work"
