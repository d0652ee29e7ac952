#!/usr/bin/env bash
# Compile the Open Inference Protocol's gRPC definition into the descriptor set tk serve loads:
# toolkit/serve/proto/open_inference_grpc.proto -> open_inference_grpc.desc (tests/test_serve_grpc.py checks it is current).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROTO="$ROOT/toolkit/serve/proto"
"$ROOT/.venv/bin/python" -m grpc_tools.protoc -I"$PROTO" --descriptor_set_out="$PROTO/open_inference_grpc.desc" \
    "$PROTO/open_inference_grpc.proto"
