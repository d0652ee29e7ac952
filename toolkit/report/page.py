"""The report as one self-contained HTML page: pictures inlined as data: URIs, no script, no network.

Every string from the bundle (names, labels, descriptions) is escaped; a Content-Security-Policy
forbids loading anything but inline images and styles, so the page cannot reach out even if it
tried. The numbers the page shows are also kept in a JSON block (id "tk-report-data") for tools.
"""

import base64
import html
import json

from toolkit.bench.machine import one_line
from toolkit.report.facts import number
from toolkit.report.usage import snippets

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}.fail{color:#b00;font-weight:bold}
.pass{color:#070}.missing{color:#855;font-style:italic}pre{background:#f6f6f6;padding:.8em;overflow-x:auto}
img{max-width:100%;display:block;margin:.5em 0}.muted{color:#666}"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def image(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def table(header: list, rows: list) -> str:
    """Cells are escaped here; a cell given as ("num", text) is right-aligned."""

    def cell(value, tag):
        if isinstance(value, tuple):
            return f'<{tag} class="{esc(value[0])}">{esc(value[1])}</{tag}>'
        return f"<{tag}>{esc(value)}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(v, "td") for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def missing(text: str) -> str:
    return f'<p class="missing">{esc(text)}</p>'


def percent(value) -> str:
    return "—" if value is None else f"{value:.2%}"


def scientific(value) -> str:
    return "—" if value is None else f"{value:.2e}"


def data_block(data: dict) -> str:
    """Inert JSON (type application/json is never executed); '<' escaped so it cannot close the tag."""
    text = json.dumps(data, sort_keys=True).replace("<", "\\u003c")
    return f'<script type="application/json" id="tk-report-data">{text}</script>'


def document(title: str, sections: list, data: dict) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
            *sections,
            data_block(data),
            "</body></html>",
        ]
    )


def usage_section(manifest, bundle_dir: str) -> str:
    parts = ["<h2>How to call it</h2>"]
    for title, code in snippets(manifest, bundle_dir):
        parts.append(f"<h3>{esc(title)}</h3><pre>{esc(code)}</pre>")
    return "\n".join(parts)


def speed_section(bench: dict) -> str:
    parts = ["<h2>How fast it is</h2>"]
    if not bench:
        return parts[0] + missing("no tk bench figures for this model here (run 'tk bench --model NAME')")
    try:
        machine = one_line(bench["machine"])
    except (KeyError, TypeError):
        machine = "machine not recorded"
    parts.append(f'<p class="muted">From {esc(bench["source"])}: {esc(machine)}</p>')
    rows = [
        [
            r.get("runtime", ""),
            r.get("artifact", ""),
            r.get("device", ""),
            ("num", _figure(r.get("batch1_p50_us"), "{:.0f} us")),
            ("num", _figure(r.get("batch1_p99_us"), "{:.0f} us")),
            ("num", _figure(r.get("batch512_samples_per_s"), "{:,.0f}/s")),
        ]
        for r in bench["inference"]
        if "status" not in r
    ]
    if rows:
        parts.append(table(["runtime", "artifact", "device", "batch-1 p50", "p99", "batch 512"], rows))
    for r in bench["training"]:
        epoch = _figure(r.get("epoch_seconds_median"), "{:.2f} s")
        parts.append(f"<p>Training, {esc(r.get('variant', ''))}: {esc(epoch)} per epoch.</p>")
    return "\n".join(parts)


def _figure(value, form: str) -> str:
    """A bench report's number as `form` says, or a dash for anything but a finite number."""
    value = number(value)
    return "—" if value is None else form.format(value)
