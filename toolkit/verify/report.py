"""The parity matrix as people read it: the printed table and the failure summary."""


def _percent(value) -> str:
    return "-" if value is None else f"{value:.2%}"


def format_table(rows: list) -> str:
    quality = "mae" if rows and rows[0].get("mae") is not None else "accuracy"
    header = (
        f"{'artifact':<17} {'runtime':<17} {'max abs':>9} {'p99 abs':>9} {'max rel':>9} "
        f"{'argmax':>8} {quality:>9}  result"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        if r["passed"] is None:
            lines.append(f"{r['artifact']:<17} {r['runtime']:<17} {r['status']}")
            continue
        value = f"{r['mae']:.4g}" if quality == "mae" else _percent(r["accuracy"])
        verdict = ("pass" if r["passed"] else "FAIL") + {
            "task": " (task rule)",
            "e2e": " (vs Python preprocessing)",
        }.get(r["rule"], "")
        if r.get("near_tie_splits"):
            verdict += f" ({r['near_tie_splits']} near-tie argmax split{'s' if r['near_tie_splits'] > 1 else ''})"
        p99, rel = (f"{r[k]:>9.2e}" if r[k] is not None else f"{'-':>9}" for k in ("p99_abs", "max_rel"))
        lines.append(
            f"{r['artifact']:<17} {r['runtime']:<17} {r['max_abs']:>9.2e} {p99} {rel} "
            f"{_percent(r['argmax_agreement']):>8} {value:>9}  {verdict}"
        )
    return "\n".join(lines)


def failure_summary(report: dict) -> str:
    """Every failing row, and the ONNX compatibility check if it failed, in one line."""
    failing = [
        f"{r['artifact']} on {r['runtime']} ({', '.join(r['failures'])})"
        for r in report["rows"]
        if r["passed"] is False
    ]
    compatibility = report["onnx_compatibility"]
    if not compatibility["passed"]:
        failing.append(f"ONNX compatibility ({', '.join(compatibility['failures'])})")
    return "; ".join(failing)
