#!/usr/bin/env bash
# The picture of `tk report` on its docs page: train fashion-mlp with its default recipe, export and verify it,
# write its report (with this checkout's runs/bench figures, if any) and screenshot the page in
# headless Chromium. Usage: scripts/report_screenshot.sh [OUT.png]   (default docs/report-fashion-mlp.png)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
OUT="$(realpath -m "${1:-docs/report-fashion-mlp.png}")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"  # so the page's paths read exported/fashion-mlp and runs/bench, as in a user's checkout
[ -d "$ROOT/runs/bench" ] && mkdir -p runs && cp -r "$ROOT/runs/bench" runs/bench
tk train fashion-mlp --run-dir runs/fashion-mlp
tk export fashion-mlp --checkpoint runs/fashion-mlp/checkpoint.pt --out exported/fashion-mlp
tk verify fashion-mlp --bundle exported/fashion-mlp --skip torch.compile
tk report exported/fashion-mlp --out report.html --bench-dir runs/bench
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --host-resolver-rules="MAP * ~NOTFOUND" \
    --window-size=1200,5600 --screenshot="$WORK/page.png" "file://$WORK/report.html" 2>/dev/null
mkdir -p "$(dirname "$OUT")"
python - "$WORK/page.png" "$OUT" <<'PY'
import sys

from PIL import Image, ImageOps

page = Image.open(sys.argv[1]).convert("RGB")
content = ImageOps.invert(page).getbbox()  # crop the empty space below the page
page = page.crop((0, 0, page.width, min(page.height, content[3] + 40)))
page = page.resize((800, round(page.height * 800 / page.width)), Image.LANCZOS)
page.quantize(256).save(sys.argv[2], optimize=True)  # a palette keeps the committed picture small
PY
echo "report screenshot -> $OUT"
