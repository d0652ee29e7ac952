"""`tk report BUNDLE`: one self-contained HTML page that serves as the model's card.

- facts.py:    what the bundle's files say (manifest, verification.json, training history, tk bench)
- quality.py:  model.onnx scored on its dataset's test split (confusion, mistakes, residuals)
- charts.py:   the pictures, drawn with matplotlib (training curves come from train/curves.py)
- sections.py: what the model is, how it was trained, how good it is, whether the exports are faithful
- page.py:     the HTML page (escaped, inline pictures, no script, no network) and its speed section
- usage.py:    how to call it: tk infer, Python, JavaScript
"""

from pathlib import Path

from toolkit.atomic import write_text
from toolkit.report import facts as facts_module
from toolkit.report import page, quality, sections

DEFAULT_BENCH_DIR = Path("runs/bench")


def build_report(bundle_dir, bench_dir=DEFAULT_BENCH_DIR, data_dir=None) -> tuple:
    """(html, data): the page and the numbers it shows."""
    facts = facts_module.gather(bundle_dir, bench_dir)
    measured = quality.measure(facts.bundle_dir, facts.manifest, data_dir)
    body = [
        sections.overview(facts),
        sections.training(facts),
        sections.quality(facts, measured),
        sections.faithfulness(facts),
        page.speed_section(facts.bench),
        page.usage_section(facts.manifest, str(bundle_dir)),
    ]
    if facts.missing:
        body.append("<h2>Not shown</h2><ul>" + "".join(f"<li>{page.esc(m)}</li>" for m in facts.missing) + "</ul>")
    data = {
        "model": facts.manifest.model,
        "training": {k: v for k, v in (facts.manifest.training or {}).items() if k != "history"},
        "history": facts.history,
        "verification": facts.verification,
        "test_accuracy": None if isinstance(measured, str) else measured.accuracy,
        "test_mae": None if isinstance(measured, str) else measured.mae,
        "missing": facts.missing + ([measured] if isinstance(measured, str) else []),
    }
    return page.document(f"{facts.manifest.model}: tk report", body, data), data


def write_report(bundle_dir, out, bench_dir=DEFAULT_BENCH_DIR, data_dir=None) -> dict:
    """Write the page to `out` atomically; returns the numbers it shows."""
    text, data = build_report(bundle_dir, bench_dir, data_dir)
    write_text(Path(out), text)
    return data
