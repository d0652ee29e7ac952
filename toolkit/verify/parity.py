"""Verify: the parity matrix. Every artifact x every runtime that can run it, against eager.

The bundle's manifest names the model; the eager model is rebuilt from the bundle's state_dict.pth
and run on real, random and edge inputs (verify.inputs); every other artifact answers the same
inputs (verify.loaders) and is judged against it (verify.compare). Every failing row is reported at
once, and verification.json goes into the bundle, its summary into the manifest.
"""

from dataclasses import replace
from pathlib import Path

from toolkit.atomic import folder_lock, write_text
from toolkit.errors import ToolkitError, UsageError, VerificationError
from toolkit.runtime import bundle, signing
from toolkit.runtime.schema import verification_summary
from toolkit.verify import loaders
from toolkit.verify.architecture import spec_for
from toolkit.verify.compare import compare, onnx_compatibility, score
from toolkit.verify.e2e import e2e_row
from toolkit.verify.inputs import verification_batches
from toolkit.verify.report import failure_summary, format_table


def open_bundle(model: str | None, bundle_dir, public_key=None) -> tuple:
    """(bundle folder, manifest): --bundle, else exported/<model>; a model named beside it must be the manifest's,
    and with `public_key` the bundle must carry that key's signature."""
    bundle_dir = (
        Path(bundle_dir) if bundle_dir is not None else bundle.default_bundle_dir(model or bundle.DEFAULT_MODEL)
    )
    manifest = bundle.read_manifest(bundle_dir)
    if model is not None and model != manifest.model:
        raise UsageError(f"{bundle_dir} holds {manifest.model!r}, not {model!r} (name the bundle's own model or none)")
    if public_key is not None:
        signing.check(bundle_dir, manifest, public_key)
    return bundle_dir, manifest


def verify(
    model: str | None = None,
    *,
    bundle_dir=None,
    atol: float | None = None,
    data_dir=None,
    skip=(),
    trust_code: bool = False,
    public_key=None,
    source: str | None = None,
    module=None,
    log=print,
) -> dict:
    """Check every artifact of the bundle against the eager model; raises VerificationError on any failure.

    The bundle is `bundle_dir`, else exported/<model> (fashion-mlp when neither is given); the model
    verified is the one its manifest names, held to the manifest's tolerance unless `atol` is given.
    Artifacts that can carry code run only if this machine exported them, or with `trust_code`; with
    `public_key`, the bundle must carry that Ed25519 key's signature. A user's model is rebuilt from
    `source` (FILE.py:Symbol), a live `module`, or its recorded source (verify.architecture); without
    one, the formats are compared with each other."""
    bundle_dir, _ = open_bundle(model, bundle_dir)  # a missing bundle is refused before its lock file is made
    # Held throughout: an export swapping the folder mid-run would otherwise get this run's report,
    # and the manifest it read, written over its new bundle.
    with folder_lock(bundle_dir):
        bundle_dir, manifest = open_bundle(model, bundle_dir, public_key)
        spec, no_eager = spec_for(manifest, source, trust_code, module)
        spec = data_at_hand(spec, log)
        if no_eager:
            log(f"{manifest.model}: no eager model: {no_eager}; comparing the formats with each other only")
        atol = manifest.atol if atol is None else atol
        report = parity_report(bundle_dir, manifest, spec, atol, data_dir, skip, trust_code, no_eager)
        write_text(bundle_dir / bundle.VERIFICATION, bundle.dumps(report))
        manifest.verification = verification_summary(report)
        bundle.write_manifest(bundle_dir, manifest)
    log(format_table(report["rows"]))
    if not report["passed"]:
        raise VerificationError(f"{bundle_dir}: verification failed: {failure_summary(report)}", report=report)
    ran = sum(row["passed"] is not None for row in report["rows"])
    log(
        f"{manifest.model}: all {ran} rows that ran match {report['reference']} ({len(report['rows']) - ran} not run) "
        f"-> {bundle_dir / bundle.VERIFICATION}"
    )
    return report


def data_at_hand(spec, log):
    """The spec; with no dataset when its own data cannot be read here (gone, changed since, or named by a
    bundle from elsewhere): then verify compares on random and edge inputs only, and says why."""
    if spec.data_record is None:
        return spec
    try:
        spec.dataset.samples()
    except ToolkitError as exc:
        log(f"{spec.name}: its data is not read: {exc}; comparing on random and edge inputs only")
        return replace(spec, dataset=None)
    return spec


def parity_report(bundle_dir: Path, manifest, spec, atol: float, data_dir, skip, trust_code, no_eager=None) -> dict:
    """The whole verification.json: every row, ONNX compatibility, the inputs, and the files it checked."""
    batches = verification_batches(spec, data_dir)
    if no_eager is None:
        net, state_path = loaders.eager_model(bundle_dir, manifest, spec)
        reference = loaders.torch_backend(net, state_path.name, "eager")
        backends = loaders.artifact_backends(bundle_dir, manifest, reference, skip, trust_code)
    else:
        reference, backends = loaders.formats_only_backends(bundle_dir, manifest, trust_code, no_eager)
    rows = parity_rows(spec, reference, backends, batches, atol)
    if "onnx-e2e" in manifest.formats and manifest.data is not None and spec.dataset is None:
        rows.append(
            {
                "artifact": manifest.formats["onnx-e2e"],
                "runtime": "onnxruntime-cpu",
                "passed": None,
                "status": "not run: it is judged on the test images, which are not read here",
            }
        )
    elif "onnx-e2e" in manifest.formats:
        rows.append(e2e_row(bundle_dir, manifest, data_dir))
    for fmt, reason in (manifest.failed_formats or {}).items():  # said in the matrix, where the rows are read
        rows.append(
            {"artifact": bundle.FORMAT_FILES[fmt], "runtime": "-", "passed": None, "status": f"not exported: {reason}"}
        )
    compatibility = onnx_compatibility(bundle_dir, manifest)
    return {
        "model": manifest.model,
        "passed": all(row["passed"] is not False for row in rows) and compatibility["passed"],
        "reference": "eager" if no_eager is None else f"{reference.artifact} on {reference.runtime}",
        "no_eager_model": no_eager,
        "atol": atol,
        "atol_reason": manifest.tolerance.get("reason", "tk's default"),
        "inputs": {
            "dataset": str(spec.dataset) if spec.dataset is not None else "none (seeded random inputs)",
            "kinds": ["real", "random", "edge"],
            "batch_sizes": sorted({b.size for b in batches if b.kind != "edge"}),
            "samples": sum(len(b.x) for b in batches),
        },
        "onnx_compatibility": compatibility,
        "failed_formats": dict(manifest.failed_formats or {}),
        "files": {name: entry["sha256"] for name, entry in manifest.files.items()},
        "rows": rows,
    }


def parity_rows(spec, reference, backends: list, batches, atol) -> list:
    """One row per artifact x runtime: the reference's against itself first, then every other backend's."""
    expected = [loaders.as_float32(reference.run(b.x)) for b in batches]
    reference_score = score(spec, expected, batches)
    rows = [
        {
            "artifact": reference.artifact,
            "runtime": reference.runtime,
            **compare(spec, expected, expected, batches, atol, loaders.EXACT, reference_score),
        }
    ]
    for backend in backends:
        if isinstance(backend, loaders.NotRun):
            rows.append(
                {
                    "artifact": backend.artifact,
                    "runtime": backend.runtime,
                    "passed": None,
                    "status": f"not run: {backend.reason}",
                }
            )
            continue
        outputs = [loaders.as_float32(backend.run(b.x)) for b in batches]
        row = {
            "artifact": backend.artifact,
            "runtime": backend.runtime,
            **compare(spec, expected, outputs, batches, atol, backend.rule, reference_score),
        }
        if backend.rule == loaders.TASK and backend.size_ratio is not None:
            row["size_ratio"] = backend.size_ratio
        rows.append(row)
    return rows
