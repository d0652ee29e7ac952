"""What a report says about a bundle, read from its files: the manifest, verification.json, the training
history the manifest carries, and the latest `tk bench` figures for the model.

Everything here comes from files that may have been made elsewhere, so nothing is trusted: the manifest
goes through the runtime's validation, and every number taken from verification.json, the history or a
bench report must be a finite number (else that piece is reported missing, never an error).
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.runtime import bundle
from toolkit.runtime.schema import Manifest

VERIFICATION_NAME = "verification.json"
MAX_JSON_BYTES = 8 * 2**20  # a verification or bench report is a few KB; refuse to parse anything huge
ROW_NUMBERS = ("max_abs", "p99_abs", "max_rel", "argmax_agreement", "accuracy", "mae")


@dataclass
class Facts:
    bundle_dir: Path
    manifest: Manifest
    verification: dict | None  # {"passed", "atol", "rows": [...]} with checked numbers, or None
    history: list = field(default_factory=list)  # per-epoch dicts from manifest.training["history"]
    bench: dict = field(default_factory=dict)  # {"training": [...], "inference": [...], "source": path}
    missing: list = field(default_factory=list)  # what the page says it could not show, and why


def number(value):
    """A finite float, or None for anything else (strings, booleans, NaN, nested data)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def read_json(path: Path):
    """The parsed file, or None when it is absent, too large or not JSON."""
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_JSON_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None


def gather(bundle_dir, bench_dir) -> Facts:
    bundle_dir = Path(bundle_dir)
    facts = Facts(bundle_dir, bundle.read_manifest(bundle_dir), None)
    facts.verification = verification(bundle_dir / VERIFICATION_NAME)
    if facts.verification is None:
        facts.missing.append(f"no readable {VERIFICATION_NAME}: run 'tk verify --bundle {bundle_dir}'")
    facts.history = history(facts.manifest)
    if not facts.history:
        facts.missing.append("no training history in the manifest (trained elsewhere, or exported before tk kept it)")
    facts.bench = bench_rows(Path(bench_dir), facts.manifest.model)
    if not facts.bench:
        facts.missing.append(f"no tk bench figures for {facts.manifest.model} under {bench_dir}")
    return facts


def verification(path: Path) -> dict | None:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        return None
    rows = []
    for row in data["rows"]:
        if not isinstance(row, dict):
            continue
        clean = {k: str(row.get(k, "")) for k in ("artifact", "runtime", "rule", "status")}
        clean.update({k: number(row.get(k)) for k in ROW_NUMBERS})
        clean["passed"] = row.get("passed") if row.get("passed") in (True, False) else None
        clean["near_tie_splits"] = int(number(row.get("near_tie_splits")) or 0)
        rows.append(clean)
    return {"passed": data.get("passed") is True, "atol": number(data.get("atol")), "rows": rows}


def history(manifest: Manifest) -> list:
    entries = (manifest.training or {}).get("history")
    if not isinstance(entries, list):
        return []
    kept = []
    for entry in entries:
        if not isinstance(entry, dict):
            return []
        clean = {
            k: number(v)
            for k, v in entry.items()
            if k in ("epoch", "train_loss", "seconds", "test_accuracy", "test_mae")
        }
        if any(v is None for v in clean.values()) or not {"epoch", "train_loss", "seconds"} <= set(clean):
            return []
        kept.append(clean)
    metrics = [{k for k in ("test_accuracy", "test_mae") if k in e} for e in kept]
    return kept if all(len(m) == 1 and m == metrics[0] for m in metrics) else []  # one metric, every epoch


def bench_rows(bench_dir: Path, model: str) -> dict:
    """This model's rows from the newest `tk bench` JSON report in bench_dir that has any."""
    reports = (
        sorted(bench_dir.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True) if bench_dir.is_dir() else []
    )
    for path in reports:
        data = read_json(path)
        if not isinstance(data, dict):
            continue
        found = {
            part: [r for r in data.get(part) or [] if isinstance(r, dict) and r.get("model") == model]
            for part in ("training", "inference")
        }
        if found["training"] or found["inference"]:
            machine = data.get("machine") if isinstance(data.get("machine"), dict) else {}
            return dict(found, source=str(path), machine=machine)
    return {}
