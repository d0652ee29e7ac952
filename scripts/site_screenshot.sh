#!/usr/bin/env bash
# The README's picture of the documentation site: build it (mkdocs build --strict) and screenshot the
# tk serve page in headless Chromium, with every host name unresolvable (the site needs none).
# Usage: scripts/site_screenshot.sh [OUT.png]   (default docs/site-serve.png)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
OUT="$(realpath -m "${1:-docs/site-serve.png}")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --quiet --site-dir "$WORK/site"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --host-resolver-rules="MAP * ~NOTFOUND" \
    --window-size=1280,900 --screenshot="$WORK/page.png" "file://$WORK/site/commands/serve.html" 2>/dev/null
"$VENV/bin/python" - "$WORK/page.png" "$OUT" <<'PY'
import sys

from PIL import Image

page = Image.open(sys.argv[1]).convert("RGB")
page = page.resize((960, round(page.height * 960 / page.width)), Image.LANCZOS)
page.quantize(256).save(sys.argv[2], optimize=True)  # a palette keeps the committed picture small
PY
echo "site screenshot -> $OUT"
