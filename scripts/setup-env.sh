# Sourced by scripts/demo.sh and scripts/test.sh: the tools a fresh machine may lack.
# npm builds the vendored Vega scripts (the hatch build hook runs `npm ci` in js/).
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "npm is missing; installing Debian's nodejs and npm" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null
    else
        echo "error: npm is needed to build cairn's offline plot pages; install Node.js (with npm) and run again" >&2
        exit 1
    fi
fi
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
