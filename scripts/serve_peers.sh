#!/usr/bin/env bash
# The peers of `tk bench --serving`, each in its own venv under runs/peers/ (never in tk's .venv), and wrk:
#   kserve:   KServe's Python model server (kserve) + onnxruntime
#   mlserver: MLServer + onnxruntime
#   fastapi:  FastAPI + uvicorn + onnxruntime, the plain server a user writes first
# Then: .venv/bin/tk bench --serving. Names as arguments make only those peers (setup.sh makes kserve:
# the tests check tk image's kserve.yaml against the KServe SDK's own models).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="$ROOT/runs/peers"
PYTHON="${PYTHON:-python3}"

if ! command -v wrk >/dev/null 2>&1; then
    echo "serve_peers: installing the Debian package wrk (the load generator)" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
make_peer() {
    local name="$1"; shift
    [ -x "$PEERS/$name/bin/python" ] && "$PEERS/$name/bin/python" -c "import onnxruntime, PIL" 2>/dev/null && return 0
    echo "serve_peers: $name: $*" >&2
    "$PYTHON" -m venv "$PEERS/$name"
    "$PEERS/$name/bin/pip" install --quiet "$@" 2>&1 | grep -v "^WARNING: Location" >&2 || true
}
declare -A PACKAGES=(
    [kserve]="kserve onnxruntime pillow"
    [mlserver]="mlserver onnxruntime pillow"
    [fastapi]="fastapi uvicorn onnxruntime numpy pillow"
)
NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=(kserve mlserver fastapi)
for name in "${NAMES[@]}"; do
    [ -n "${PACKAGES[$name]:-}" ] || { echo "serve_peers: no peer named $name (kserve, mlserver, fastapi)" >&2; exit 2; }
    # shellcheck disable=SC2086  # the package list splits into words on purpose
    make_peer "$name" ${PACKAGES[$name]}
done
for name in "${NAMES[@]}"; do
    echo "serve_peers: $name: $("$PEERS/$name/bin/pip" list 2>/dev/null | grep -iE "^($name|onnxruntime) " | tr -s ' ' | tr '\n' ' ')" >&2
done
