"""The documentation: the site builds with --strict, loads nothing from elsewhere, shows every option the CLI
has, and every example in it and in the README is run by a test or says why not."""

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer.main

from conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
MARKERS = re.compile(
    r"<!-- (runs in (?P<test>tests/\S+\.py)|not run: (?P<why>.+\S)|readme_examples: (?P<name>[\w-]+)) -->"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


class Loads(HTMLParser):
    """Every URL a page would fetch by itself: scripts, stylesheets, icons, images, frames."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio") and found.get("src"):
            self.urls.append(found["src"])
        if tag == "link" and found.get("href") and found.get("rel") not in ("canonical", "prev", "next", "search"):
            self.urls.append(found["href"])


def test_the_site_loads_nothing_from_elsewhere(site):
    external = re.compile(r"^(https?:)?//")
    for page in site.rglob("*.html"):
        parser = Loads()
        parser.feed(page.read_text())
        assert not [url for url in parser.urls if external.match(url)], page
        assert "fonts.googleapis" not in page.read_text() and "fonts.gstatic" not in page.read_text(), page
    for sheet in site.rglob("*.css"):
        imports = re.findall(r"(?:@import\s+|url\()\s*['\"]?((?:https?:)?//[^'\")\s]+)", sheet.read_text())
        assert not imports, (sheet, imports[:3])


def test_every_option_of_every_command_is_on_its_page_and_in_the_search(site):
    from toolkit.cli import app

    commands = typer.main.get_command(app).commands
    index = json.loads((site / "search" / "search_index.json").read_text())
    searchable = " ".join(doc["text"] for doc in index["docs"])
    for name, command in commands.items():
        page = (site / "commands" / f"{name}.html").read_text()
        for param in command.params:
            for flag in (*param.opts, *param.secondary_opts):
                if flag.startswith("-"):
                    assert f"<code>{flag}</code>" in page, (name, flag)
                    assert flag in searchable, (name, flag)


def fenced_blocks(page: Path):
    """(line number, the comment lines right above it) for every fenced block of a page."""
    lines, inside = page.read_text().splitlines(), False
    for number, line in enumerate(lines, start=1):
        if line.startswith("```"):
            if not inside:
                above, i = [], number - 2
                while i >= 0 and lines[i].startswith("<!--"):
                    above.append(lines[i])
                    i -= 1
                yield number, "\n".join(above)
            inside = not inside


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_example_runs_in_a_test_or_says_why_not(page):
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_examples", REPO / "scripts" / "readme_examples.py")
    examples = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(examples)
    where = page.relative_to(REPO).as_posix()
    for number, above in fenced_blocks(page):
        marker = MARKERS.search(above)
        assert marker, (
            f"{where}:{number}: a block with no '<!-- runs in tests/... -->' or '<!-- not run: why -->' above"
        )
        if marker["test"]:
            test = REPO / marker["test"]
            assert test.is_file(), f"{where}:{number}: {marker['test']} does not exist"
            assert where.rsplit("/", 1)[-1] in test.read_text(), (
                f"{where}:{number}: {marker['test']} never reads {where}"
            )
        if marker["name"]:
            assert marker["name"] in (*examples.COMMANDS, "verify-table"), (
                f"{where}:{number}: unknown block {marker['name']}"
            )


def test_the_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / link).is_file(), link
    assert "mkdocs serve" in readme
