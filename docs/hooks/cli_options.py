"""MkDocs hook: each command page's options, generated from the typer app itself (never typed by hand).

A page docs/commands/<command>.md holds the line `<!-- tk options -->`; the build replaces it with the
command's usage line and a table of its arguments and options (flags, default, help), read from the
click command typer builds. A command without its page, or a page without the line, fails the build.
"""

import html

import click
import typer.main
from mkdocs.exceptions import PluginError

MARKER = "<!-- tk options -->"


def commands() -> dict:
    from toolkit.cli import app

    group = typer.main.get_command(app)
    return {name: group.commands[name] for name in sorted(group.commands)}


def cell(text) -> str:
    return html.escape(" ".join(str(text).split())).replace("|", "&#124;")


def default_of(param) -> str:
    if param.required:
        return "required"
    if isinstance(param, click.Option) and param.secondary_opts and isinstance(param.default, bool):
        return f"`{param.opts[0] if param.default else param.secondary_opts[0]}`"
    if param.default in (None, (), []):
        return ""
    value = param.default.value if hasattr(param.default, "value") else param.default
    return f"`{value}`"


def options_markdown(name: str, command) -> str:
    context = click.Context(command, info_name=f"tk {name}")
    usage = command.get_usage(context).removeprefix("Usage: ")
    rows = ["| argument / option | default | what it does |", "|---|---|---|"]
    for param in command.params:
        if isinstance(param, click.Option) and param.hidden:
            continue
        flags = " / ".join(f"`{flag}`" for flag in (*param.opts, *param.secondary_opts))
        if isinstance(param, click.Argument):
            flags = f"`{param.human_readable_name}`"
        choices = getattr(param.type, "choices", None)
        help_text = getattr(param, "help", None) or ""
        if choices:
            help_text += f" One of: {', '.join(f'`{c}`' for c in choices)}."
        rows.append(f"| {flags} | {default_of(param)} | {cell(help_text)} |")
    return "\n".join(["## Options", "", f"`{usage}`", "", *rows, ""])


def on_files(files, config):
    known = {f.src_uri for f in files}
    missing = [name for name in commands() if f"commands/{name}.md" not in known]
    if missing:
        raise PluginError(f"no docs/commands/{missing[0]}.md for the command tk {missing[0]}")
    return files


def on_page_markdown(markdown, page, config, files):
    uri = page.file.src_uri
    if not uri.startswith("commands/") or uri == "commands/index.md":
        return markdown
    name = uri.removeprefix("commands/").removesuffix(".md")
    if MARKER not in markdown:
        raise PluginError(f"docs/{uri} has no '{MARKER}' line for its generated options")
    return markdown.replace(MARKER, options_markdown(name, commands()[name]))
