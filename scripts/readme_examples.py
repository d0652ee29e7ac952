"""Regenerate the example outputs of the README and the docs/ pages from the commands themselves, so they cannot
go stale.

Each block follows a marker line `<!-- readme_examples: NAME -->`: command blocks are rerun (`$ tk ...`
lines, in a scratch folder that sees the repository's samples/ and exported/ and a small scores.csv),
and the verify table is drawn from the committed bundle's verification.json.

    python scripts/readme_examples.py           # rewrite README.md and docs/**/*.md
    python scripts/readme_examples.py --check   # exit 1, naming the page and the block, if one is stale
"""

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").rglob("*.md"))]
MARKER = re.compile(r"<!-- readme_examples: (?P<name>[\w-]+) -->\n```\n(?P<body>.*?)```\n", re.S)
SCORES_CSV = "quiz1,quiz2,midterm\n93,88,93\n73,80\n"  # the last row is short on purpose
COMMANDS = {
    "infer-images": [
        "tk infer samples/sneaker-9.png samples/photo-sneaker-9.jpg --top-k 2",
        "tk infer samples/bag-18.png --json",
    ],
    "infer-text": [
        'tk infer --model exported/review-sentiment --text "A gorgeous, moving film." '
        '--text "Dull and lifeless; a waste of two hours." --text "zzyzx qwxq"',
        "tk infer --model exported/review-sentiment --similar dull --top-k 5",
    ],
    "infer-rows": [
        "tk infer --model exported/linear-regression --values 4",
        "tk infer --model exported/multivariate-regression --values 73,80,75 scores.csv",
        "tk infer --model exported/logistic-regression --values 5,3 --json",
    ],
}


def run(command: str, folder: Path) -> str:
    """`$ command` and what it printed, stdout and stderr in the order printed (unbuffered)."""
    args = [sys.executable, "-m", "toolkit", *shlex.split(command)[1:]]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "100"}
    result = subprocess.run(args, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return f"$ {command}\n{result.stdout}"


def command_block(name: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for shared in ("samples", "exported"):
            (folder / shared).symlink_to(REPO / shared)
        (folder / "scores.csv").write_text(SCORES_CSV)
        return "".join(run(command, folder) for command in COMMANDS[name])


def verify_table() -> str:
    from toolkit.verify.report import format_table

    report = json.loads((REPO / "exported" / "fashion-mlp" / "verification.json").read_text())
    return format_table(report["rows"]) + "\n"


def block(name: str) -> str:
    return verify_table() if name == "verify-table" else command_block(name)


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for page in PAGES:
        text = page.read_text()
        name = page.relative_to(REPO)

        def regenerate(match):
            fresh = block(match["name"])
            if fresh != match["body"]:
                stale.append(f"{name}: {match['name']}")  # noqa: B023 (used at once, within this page's loop)
            return match.group(0).replace(match["body"], fresh, 1)

        updated = MARKER.sub(regenerate, text)
        if not check and updated != text:
            page.write_text(updated)
    if check and stale:
        print(f"stale examples: {', '.join(stale)}; run python scripts/readme_examples.py", file=sys.stderr)
        return 1
    print(
        f"{len(stale)} example block(s) {'stale' if check else 'rewritten'}"
        + (f" ({', '.join(stale)})" if stale else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
