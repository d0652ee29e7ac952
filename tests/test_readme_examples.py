"""The README's and the docs' example outputs are what the commands print today (scripts/readme_examples.py)."""

import subprocess
import sys

from conftest import REPO


def test_readme_examples_are_current():
    result = subprocess.run(
        [sys.executable, "scripts/readme_examples.py", "--check"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
