"""A bench report as Markdown tables: printed, and kept in BENCHMARKS.md between markers per machine kind.

Each kind of run (cpu, cpu-quick, gpu, gpu-quick) owns one section of BENCHMARKS.md, delimited by
`<!-- tk bench KEY -->` and `<!-- /tk bench KEY -->`; a new run replaces its own section and leaves
the rest of the file (hand-written notes, other machines' sections) alone.
"""

import re
from pathlib import Path

from toolkit.atomic import write_text
from toolkit.bench.machine import one_line

MET = {True: "met", False: "**missed**", None: "not measured"}


def _seconds(value) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _table(header: list, rows: list) -> list:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(map(str, r)) + " |" for r in rows
    ]


def training_table(rows: list) -> list:
    tutorial = {r["model"]: r["epoch_seconds_median"] for r in rows if r["kind"] == "tutorial"}
    body = []
    for r in rows:
        speedup = f"{tutorial[r['model']] / r['epoch_seconds_median']:.1f}x" if r["model"] in tutorial else "—"
        compile_time = (
            "—"
            if r["compile_seconds_cold"] is None
            else f"{r['compile_seconds_cold']:.1f} s / {_seconds(r['compile_seconds_warm'])}"
        )
        accuracy = f"{r['final_accuracy']:.2%}" + (
            f" (mean of {r['seeds']}: {r['final_accuracy_mean']:.2%})" if r["seeds"] > 1 else ""
        )
        body.append(
            [
                r["model"],
                r["variant"],
                r["device"],
                f"{r['epoch_seconds_median']:.2f} s",
                speedup,
                _seconds(r["seconds_to_85"]),
                _seconds(r["seconds_to_target"]) + f" ({r['target_accuracy']:.1%})",
                f"{r['first_epoch_accuracy']:.2%}",
                accuracy,
                r["epochs"],
                f"{r['train_seconds']:.1f} s",
                _floor(r),
                compile_time,
                f"{r['peak_memory_mb']:.0f} MB",
            ]
        )
    header = [
        "model",
        "variant",
        "device",
        "s/epoch (median)",
        "epoch vs tutorial",
        "to 85%",
        "to target",
        "after epoch 1",
        "final accuracy",
        "epochs",
        "training total",
        "x matmul floor (to target)",
        "compile cold / warm",
        "peak memory",
    ]
    return _table(header, body)


def _floor(row: dict) -> str:
    """The epoch against its matmul floor, and the time to the target in floor-epochs."""
    if row.get("x_floor") is None:
        return "—"
    to_target = row["floor_epochs_to_target"]
    return f"{row['x_floor']:.2f}x of {row['floor_epoch_seconds']:.2f} s" + (
        f" ({to_target:.1f} floor-epochs)" if to_target is not None else ""
    )


def inference_table(rows: list) -> list:
    body = []
    for r in rows:
        if "reason" in r:
            body.append([r["model"], r["runtime"], r["artifact"], "—", f"not run: {r['reason']}", "", "", "", ""])
            continue
        body.append(
            [
                r["model"],
                r["runtime"],
                r["artifact"],
                r["device"],
                f"{r['batch1_p50_us']:.0f}",
                f"{r['batch1_p99_us']:.0f}",
                f"{r['batch512_samples_per_s']:,}",
                f"{r['batch4096_samples_per_s']:,}",
                _notes(r),
            ]
        )
    header = [
        "model",
        "runtime",
        "artifact",
        "device",
        "batch 1 p50 (us)",
        "p99 (us)",
        "batch 512 (samples/s)",
        "batch 4096 (samples/s)",
        "notes",
    ]
    return _table(header, body)


def _notes(row: dict) -> str:
    if "compile_seconds" in row:
        return f"compile {row['compile_seconds']:.1f} s"
    notes = row.get("notes") or {}
    if notes and set(notes.values()) == {"CUDA graph"}:
        return "CUDA graphs"
    return "; ".join(f"batch {batch}: {note}" for batch, note in notes.items()) or "—"


def render(report: dict) -> str:
    lines = [
        f"### `{report['command']}` — {one_line(report['machine'])}",
        "",
        f"The whole run took {report['seconds'] / 60:.1f} minutes.",
        "",
    ]
    if report["training"]:
        lines += ["Training (test accuracy after each epoch; times are training steps only):", ""]
        lines += training_table(report["training"]) + [""]
    if report["inference"]:
        lines += ["Inference (seeded random inputs; throughput from the median call):", ""]
        lines += inference_table(report["inference"]) + [""]
    cold = report.get("cold_start")
    if cold:
        lines += [
            f"Cold start, one image, median of {cold['runs']} whole processes: "
            f"`tk infer` {cold['tk_infer_seconds']:.3f} s, "
            f"a plain torch script {cold['torch_script_seconds']:.3f} s ({cold['speedup']:.1f}x).",
            "",
        ]
    lines += ["Targets:", ""] + _table(
        ["target", "measured", ""], [[t["target"], t["measured"], MET[t["met"]]] for t in report["targets"]]
    )
    return "\n".join(lines) + "\n"


def update_benchmarks(path: Path, key: str, section: str) -> None:
    """Replace (or append) the section for `key` in the Markdown file at `path`, atomically."""
    begin, end = f"<!-- tk bench {key} -->", f"<!-- /tk bench {key} -->"
    block = f"{begin}\n{section.rstrip()}\n{end}"
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block
    write_text(path, text.rstrip() + "\n")
