"""The report's sections about the model itself: what it is, how it was trained, how good it is, and
whether its exports are faithful. Each returns HTML; a piece it cannot show is said, not raised."""

from toolkit.models import get_spec, model_names
from toolkit.report import charts
from toolkit.report.page import esc, image, missing, percent, scientific, table
from toolkit.train.curves import curves_png


def overview(facts) -> str:
    m = facts.manifest
    source = m.source or {"kind": "zoo", "module": "toolkit.models", "symbol": m.model}
    where = ", ".join(f"{k} {v}" for k, v in source.items() if k != "sha256" and v not in (None, {}, ""))
    rows = [
        ["task", m.task],
        ["input", f"{m.input.kind} {list(m.input.sample_shape)}"],
        ["output", f"{m.output.kind}, {len(m.labels) or m.output.shape[-1]} {'classes' if m.labels else 'values'}"],
        ["dataset", own_data(m.data) if m.data else (m.dataset or "none named")],
        ["architecture from", where + (f" (sha256 {source['sha256'][:12]}…)" if source.get("sha256") else "")],
        ["weights", f"{m.weights.get('source', '?')}: {m.weights.get('path', '')}"],
        ["formats", ", ".join(sorted(m.formats))],
        ["exported with", ", ".join(f"{k} {v}" for k, v in sorted(m.versions.items()))],
    ]
    if m.failed_formats:
        rows.append(["not exported", "; ".join(f"{k}: {v}" for k, v in m.failed_formats.items())])
    warning = f'<p class="fail">{esc(m.warning)}</p>' if m.warning else ""
    return f"<h1>{esc(m.model)}</h1><p>{esc(m.description)}</p>{warning}" + table(["", ""], rows)


def own_data(record: dict) -> str:
    """A model that learnt your own data: where it was, how much of it, how it was split (the manifest's record)."""
    used = record.get("used", record.get("lines", "?"))
    split = record.get("split")
    how = split if isinstance(split, str) else f"{split.get('test_fraction')} held out, seed {split.get('seed')}"
    return (
        f"your own {record.get('kind')}: {record.get('path')} ({used} used; {record.get('train')} to train on, "
        f"{record.get('test')} to test on: {how}; digest {str(record.get('digest'))[:12]}…)"
    )


def training(facts) -> str:
    m, parts = facts.manifest, ["<h2>How it was trained</h2>"]
    if not m.training:
        return parts[0] + missing("the manifest records no training (untrained, or trained outside tk)")
    summary = {k: v for k, v in m.training.items() if k != "history"}
    parts.append(table(["", ""], [[k, v] for k, v in summary.items()]))
    if facts.history:
        metric = "test_accuracy" if "test_accuracy" in facts.history[0] else "test_mae"
        target = get_spec(m.model).reference_accuracy if m.source is None and m.model in model_names() else None
        parts.append(image(curves_png(facts.history, metric, target, m.model), "training curves"))
    else:
        parts.append(missing("no per-epoch history in this bundle, so no curves"))
    return "\n".join(parts)


def quality(facts, measured) -> str:
    parts = ["<h2>How good it is</h2>"]
    if isinstance(measured, str):
        return parts[0] + missing(f"not scored on a test split: {measured}")
    if measured.task == "regression":
        parts.append(f"<p>Mean absolute error on {measured.samples} test rows: <b>{measured.mae:.4g}</b></p>")
        parts.append(image(charts.residuals_png(measured.targets, measured.predictions), "residuals"))
        return "\n".join(parts)
    parts.append(f"<p>Accuracy of model.onnx on {measured.samples:,} test samples: <b>{measured.accuracy:.2%}</b></p>")
    per_class = zip(measured.labels, measured.precision, measured.recall, measured.support, strict=True)
    rows = [
        [label, ("num", percent(p)), ("num", percent(r)), ("num", n)]
        for label, p, r, n in per_class
        if n or p is not None  # classes neither in the test split nor ever predicted say nothing
    ]
    parts.append(table(["class", "precision", "recall", "test samples"], rows))
    if measured.confusion is None:
        parts.append(missing(f"no confusion matrix: {len(measured.labels):,} classes are too many to draw"))
    else:
        parts.append(image(charts.confusion_png(measured.confusion, measured.labels), "confusion matrix"))
    if not measured.mistakes:
        parts.append("<p>No mistakes on the test split.</p>")
    elif facts.manifest.input.kind == "image":
        parts.append(image(charts.mistakes_png(measured.mistakes, measured.inputs, measured.labels), "mistakes"))
    else:
        parts.append(_row_mistakes(facts.manifest, measured))
    return "\n".join(parts)


def _row_mistakes(manifest, measured) -> str:
    if manifest.input.kind == "text":
        rows = [
            [measured.labels[t], measured.labels[p], ("num", f"{q:.0%}"), measured.inputs[i]]
            for i, t, p, q in measured.mistakes
        ]
        return "<h3>Most confident mistakes</h3>" + table(["true", "predicted", "probability", "words"], rows)
    header = ["true", "predicted", "probability", *manifest.input.features]
    rows = [
        [measured.labels[t], measured.labels[p], ("num", f"{q:.0%}"), *(f"{v:g}" for v in measured.inputs[i])]
        for i, t, p, q in measured.mistakes
    ]
    return "<h3>Most confident mistakes</h3>" + table(header, rows)


def faithfulness(facts) -> str:
    parts = ["<h2>Are the exports faithful?</h2>"]
    v = facts.verification
    if v is None:
        return parts[0] + missing("not verified yet: run 'tk verify --bundle' on this folder")
    atol = "the tolerance" if v["atol"] is None else f"atol {v['atol']:g}"
    verdict = (
        f'<span class="pass">passed</span>: every exact artifact within {atol} of the reference'
        if v["passed"]
        else '<span class="fail">FAILED</span>: see the rows marked FAIL'
    )
    parts.append(f"<p>tk verify {verdict}.</p>")
    chart = charts.verification_png(v["rows"], v["atol"])
    if chart:
        parts.append(image(chart, "verification"))
    rows = [
        [
            r["artifact"],
            r["runtime"],
            r["rule"] or "—",
            ("num", scientific(r["max_abs"])),
            ("num", percent(r["argmax_agreement"])),
            ("num", percent(r["accuracy"]) if r["mae"] is None else f"{r['mae']:.4g}"),
            {True: "pass", False: "FAIL", None: r["status"] or "not run"}[r["passed"]],
        ]
        for r in v["rows"]
    ]
    parts.append(table(["artifact", "runtime", "rule", "max abs", "argmax", "accuracy / mae", "result"], rows))
    return "\n".join(parts)
