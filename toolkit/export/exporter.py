"""Export: the eval-mode *eager* module -> every deployment format, plus manifest.json.

`export(model, ...)` finds the weights (export.weights) and exports the registered model;
`export_module(module, ...)` exports a module already in memory. Both put the module in eval mode
(and hand it back as it came), build every format in memory (export.formats), then write the bundle
(export.writer).
"""

from pathlib import Path

import torch

from toolkit.errors import UsageError
from toolkit.export import lint
from toolkit.export.formats import OnnxOptions, build_artifacts, data_files, resolve_formats
from toolkit.export.weights import eager_module, load_model
from toolkit.export.writer import write_bundle
from toolkit.models import get_spec
from toolkit.progress import ProgressBar
from toolkit.runtime import signing
from toolkit.runtime.bundle import default_bundle_dir
from toolkit.train.prepare import RUNS

# torch 2.14 deprecates TorchScript; its warnings are silenced during export and said once, here.
TORCHSCRIPT_NOTE = "model.ts is TorchScript, which torch 2.14 deprecates; kept for older apps, prefer model.pt2"


def export(
    model: str,
    *,
    formats=("all",),
    out_dir=None,
    checkpoint_file=None,
    runs_dir=RUNS,
    opset=None,
    min_ort=None,
    data_dir=None,
    sign_key=None,
    trust_pickle=False,
    log=print,
):
    """Export `model`'s weights to the bundle at out_dir (default exported/<model>); returns the Manifest.

    `sign_key`: an Ed25519 private key file; the bundle gets manifest.sig. `trust_pickle`: accept a whole
    pickled model as the weights file (loading it runs code from it). `--format triton` writes a
    Triton model repository entry into out_dir instead (see export.triton)."""
    spec = get_spec(model)
    options = OnnxOptions(opset, min_ort, data_dir)
    if sign_key is not None:
        signing.read_key(sign_key, private=True)  # a bad key fails now, not after the build
    if "triton" in formats:
        from toolkit.export.triton import export_triton

        if list(formats) != ["triton"]:
            raise UsageError("--format triton writes a Triton model repository; export it on its own")
        return export_triton(spec, out_dir, checkpoint_file, runs_dir, options, log)
    formats = resolve_formats(spec, formats)
    out_dir = Path(out_dir) if out_dir is not None else default_bundle_dir(model)
    net, weights, ckpt = load_model(spec, checkpoint_file, out_dir, runs_dir, log, trust_pickle)
    return export_module(net, model, out_dir, formats, weights, ckpt, log, options, sign_key)


def export_module(
    module, model: str, out_dir, formats, weights: dict, ckpt=None, log=print, options=None, sign_key=None
):
    """Write the bundle for an in-memory module; exports in eval mode and restores the module's mode.

    `ckpt` is the training checkpoint the weights came from, if any (for the manifest's training summary).
    A format that cannot be exported is left out and named in the manifest's `failed_formats`; the
    caller decides what that means (the CLI exits 3).
    """
    spec = get_spec(model)
    formats = resolve_formats(spec, formats)  # the weights files always travel
    failed = {}
    options = options or OnnxOptions()
    built = build_in_eval_mode(eager_module(module), spec, formats, options, log, failed)
    built.update(data_files(spec, options))
    manifest = write_bundle(out_dir, spec, built, weights, ckpt, sign_key, failed)
    for fmt, reason in failed.items():
        log(f"{model}: WARNING: {fmt} not exported: {reason}")
    origin = (
        "seeded random weights, UNTRAINED"
        if weights["path"] is None
        else f"weights from {weights['source']}: {weights['path']}"
    )
    log(f"{model}: exported {', '.join(sorted(manifest.formats))} -> {out_dir} ({origin})")
    if "torchscript" in manifest.formats and "torchscript" in formats:
        log(f"note: {TORCHSCRIPT_NOTE}")
    if sign_key is not None:
        log(f"{model}: signed with {sign_key} -> {Path(out_dir) / signing.SIGNATURE}")
    return manifest


def build_in_eval_mode(module, spec, formats, options: OnnxOptions, log=print, failed=None) -> dict:
    """Every artifact's bytes from the module in eval mode on the CPU; the module is handed back as it came."""
    lint.check_module(module)
    was_training = module.training
    if was_training:
        log(f"{spec.name}: the module was in train mode; exporting it in eval mode (its mode is restored afterwards)")
    device = next(module.parameters(), torch.empty(0)).device
    module.eval()
    bar = ProgressBar(len(formats), f"{spec.name}: export")  # drawn on a terminal only

    def progress(name):
        bar.update(1 if bar.postfix else 0, postfix=f"{name} ...")

    try:
        lint.check_forward(module.cpu(), spec)  # a wrong --input-shape or label count, said before any export
        with torch.no_grad():
            return build_artifacts(module.cpu(), spec, formats, options, progress, failed)  # artifacts are CPU files
    finally:
        bar.close()
        module.train(was_training)  # hand the module back as it came: its mode and its device
        module.to(device)
