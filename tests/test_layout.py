"""The tree shows the stages: the README's layout block is the tree, imports never go back a stage,
and modules and functions stay small enough to read."""

import ast
import re
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "toolkit"
# The stages in the order data flows; a stage may import itself and the stages before it. runtime/ is
# the torch-free leaf that every stage may use; the top-level modules (errors, atomic, progress) too.
# serve/ stands on the runtime alone (torch-free as well), so it comes right after it; deploy/ wraps serve/.
STAGES = ["runtime", "serve", "deploy", "data", "models", "train", "export", "verify", "bench", "report", "cli"]
SHARED = {"errors", "atomic", "progress", "runtime"}
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 250, 50


def modules() -> list:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def readme_layout() -> set:
    """The paths the architecture page's layout block names, built from its indentation (two spaces a level)."""
    page = (REPO / "docs" / "architecture.md").read_text()
    block = re.search(r"# Layout\n.*?```\n(.*?)```", page, re.S).group(1)
    paths, parents = set(), []
    for line in block.splitlines():
        indent = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        parents = parents[:indent]
        path = "/".join([*parents, name.rstrip("/")])
        paths.add(path)
        if name.endswith("/"):
            parents.append(name.rstrip("/"))
    return paths


def test_readme_layout_is_the_tree():
    listed = {p for p in readme_layout() if p.startswith("toolkit/")}
    in_tree = {p.relative_to(REPO).as_posix() for p in modules() if p.name not in ("__init__.py", "__main__.py")}
    in_tree |= {p.parent.relative_to(REPO).as_posix() for p in modules() if p.parent != PACKAGE}
    assert listed - {"toolkit"} == in_tree, (sorted(listed - in_tree), sorted(in_tree - listed))
    for top in (p for p in readme_layout() if "/" not in p):
        assert (REPO / top).exists(), top


def stage_of(module: str):
    """'toolkit.export.writer' -> 'export'; 'toolkit.errors' -> 'errors'; None outside toolkit."""
    parts = module.split(".")
    return parts[1] if parts[0] == "toolkit" and len(parts) > 1 else None


def imported_modules(path: Path) -> set:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if stage_of(name)}


@pytest.mark.parametrize("stage", STAGES)
def test_no_stage_imports_a_later_one(stage):
    allowed = set(STAGES[: STAGES.index(stage) + 1]) | SHARED
    if stage == "runtime":
        allowed = {"runtime", "errors", "atomic"}
    for path in (PACKAGE / stage).rglob("*.py"):
        for name in imported_modules(path):
            imported = stage_of(name)
            if imported in STAGES or imported in SHARED:
                assert imported in allowed, f"{path.relative_to(REPO)} imports {name} (a later stage)"


def test_modules_and_functions_stay_small():
    too_long = []
    for path in modules():
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(REPO)}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(REPO)}: {node.name}() is {length} lines")
    assert not too_long, too_long
