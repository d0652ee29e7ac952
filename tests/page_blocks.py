"""The fenced examples of the site's pages, as the tests that run them read them."""

import re

from conftest import REPO


def block(page: str, first: str) -> str:
    """The fenced block of docs/PAGE whose first line starts with FIRST."""
    text = (REPO / "docs" / page).read_text()
    for code in re.findall(r"^```\w*\n(.*?)^```$", text, re.S | re.M):
        if code.startswith(first):
            return code
    raise AssertionError(f"docs/{page}: no example starts with {first!r}")


def stated_outputs(code: str) -> list:
    """What a block says its commands print: each run of '# ' lines right below a command, joined."""
    outputs, current, after_command = [], None, False
    for line in code.splitlines():
        comment = line.startswith("# ")
        if comment and (after_command or current is not None):
            current = (current or "") + line[2:]
        elif current is not None:
            outputs.append(current)
            current = None
        after_command = bool(line.strip()) and not comment
    return outputs + ([current] if current is not None else [])


def says(stated: str, printed: str) -> bool:
    """Whether PRINTED holds STATED, whitespace aside, '...' standing for anything."""
    squeezed = re.sub(r"\s+", "", stated)
    return re.search(".*?".join(map(re.escape, squeezed.split("..."))), re.sub(r"\s+", "", printed)) is not None
