"""Export: the eval-mode *eager* module -> every deployment format, plus manifest.json.

state_dict.pth, TorchScript, ExportedProgram, AOTInductor, ONNX and its fp16/int8 variants. Weights
come from --checkpoint, else the model's latest run (runs/<model>/checkpoint.pt), else the bundle's
own state_dict.pth. Every artifact is built in memory first and written atomically, the manifest
last, so a failed export leaves the previous bundle whole.
"""

import hashlib
import json
from pathlib import Path

import torch

from toolkit import artifacts, bundle, checkpoint, e2e, lint, onnx_variants
from toolkit import manifest as manifest_module
from toolkit.atomic import write_bytes
from toolkit.errors import CheckpointError, ToolkitError, UsageError
from toolkit.models import get_spec
from toolkit.onnx_compat import LOWEST_EXPORTER_OPSET, limits_for

FORMATS = tuple(bundle.FORMAT_FILES)
RANDOM_INIT_SEED = 0
# torch 2.14 deprecates TorchScript; its warnings are silenced during export and said once, here.
TORCHSCRIPT_NOTE = "model.ts is TorchScript, which torch 2.14 deprecates; kept for older apps, prefer model.pt2"


def resolve_weights(model: str, checkpoint_file=None, out_dir=None, runs_dir="runs") -> tuple:
    """(state_dict or None, source description, checkpoint-or-None): which weights to export, and from where.

    Order: --checkpoint/--weights FILE, the model's latest run, the bundle's own state_dict.pth; for
    a model tk does not train, seeded random weights last (state_dict None), flagged as untrained.
    """
    candidates = []
    if checkpoint_file is not None:
        candidates.append(("checkpoint", Path(checkpoint_file)))
    else:
        candidates.append(("run", Path(runs_dir) / model / checkpoint.CHECKPOINT_NAME))
        if out_dir is not None:
            candidates.append(("bundle", Path(out_dir) / bundle.FORMAT_FILES["state-dict"]))
    for kind, path in candidates:
        if kind == "checkpoint" or path.is_file():
            state_dict, ckpt = checkpoint.load_weights(path, model)
            return _strip_compile_prefix(state_dict), {"source": kind, "path": path.as_posix()}, ckpt
    if not get_spec(model).trainable:
        return None, {"source": "random-init", "path": None, "seed": RANDOM_INIT_SEED}, None
    raise CheckpointError(
        f"no weights for {model!r}: no {candidates[0][1]} and no {candidates[-1][1]}; "
        f"run 'tk train {model}' or pass --checkpoint FILE"
    )


def _strip_compile_prefix(state_dict: dict) -> dict:
    """A state_dict saved from a torch.compile wrapper has `_orig_mod.` keys; the model's own do not."""
    prefix = "_orig_mod."
    if all(key.startswith(prefix) for key in state_dict):
        return {key[len(prefix) :]: value for key, value in state_dict.items()}
    return state_dict


def eager_module(module: torch.nn.Module) -> torch.nn.Module:
    """The module itself, never a torch.compile wrapper (whose state_dict keys carry a prefix)."""
    return getattr(module, "_orig_mod", module)


def export(model: str, *, formats=("all",), out_dir=None, checkpoint_file=None, runs_dir="runs",
           opset=None, min_ort=None, data_dir=None, log=print) -> dict:  # fmt: skip
    """Export `model`'s weights to the bundle at out_dir (default exported/<model>); returns the manifest."""
    spec = get_spec(model)
    if "triton" in formats:
        return _export_triton(spec, formats, out_dir, checkpoint_file, runs_dir, OnnxOptions(opset, min_ort, data_dir), log)
    formats = resolve_formats(spec, formats)
    out_dir = Path(out_dir) if out_dir is not None else Path("exported") / model
    net, weights, ckpt = load_model(spec, checkpoint_file, out_dir, runs_dir, log)
    return export_module(net, model, out_dir, formats, weights, ckpt, log, OnnxOptions(opset, min_ort, data_dir))


def load_model(spec, checkpoint_file, bundle_dir, runs_dir, log) -> tuple:
    """(eval-mode module, weights description, checkpoint-or-None) for the weights resolve_weights picks."""
    state_dict, weights, ckpt = resolve_weights(spec.name, checkpoint_file, bundle_dir, runs_dir)
    torch.manual_seed(RANDOM_INIT_SEED)  # the random-init case: the same weights on every export
    net = spec.build().eval()  # built here, not handed over: no train-mode notice
    if state_dict is not None:
        checkpoint.load_into(net, state_dict, weights["path"])
    else:
        log(f"{spec.name}: WARNING: {manifest_module.UNTRAINED_WARNING}")
    return net, weights, ckpt


def _export_triton(spec, formats, repo_dir, checkpoint_file, runs_dir, options, log) -> dict:
    """--format triton: the model's ONNX graph as a Triton model repository entry, nothing else."""
    from toolkit import triton

    if list(formats) != ["triton"]:
        raise UsageError("--format triton writes a Triton model repository; export it on its own")
    if repo_dir is None:
        raise UsageError("--format triton needs --out REPO, the model repository folder")
    bundle_dir = Path("exported") / spec.name  # its state_dict is a fallback source of weights
    net, weights, _ = load_model(spec, checkpoint_file, bundle_dir, runs_dir, log)
    lint.check_module(net)
    with torch.no_grad():
        onnx_bytes = _build_artifacts(net, spec, ["onnx"], options)["model.onnx"][0]
    folder = triton.write_repository(repo_dir, spec.name, onnx_bytes, list(spec.labels))
    log(f"{spec.name}: Triton model repository entry -> {folder} (config.pbtxt, 1/model.onnx"
        f"{', labels.txt' if spec.labels else ''}; weights from {weights['source']})")  # fmt: skip
    return {"repository": str(Path(repo_dir)), "model": triton.repository_name(spec.name)}


class OnnxOptions:
    """Opset and IR version (from --opset / --min-ort), and where int8 calibration images come from."""

    def __init__(self, opset=None, min_ort=None, data_dir=None):
        if opset is not None and opset < LOWEST_EXPORTER_OPSET:
            raise UsageError(f"--opset {opset}: torch's exporter emits opset {LOWEST_EXPORTER_OPSET} at the lowest")
        self.max_opset, self.max_ir = limits_for(min_ort) if min_ort else (None, None)
        if opset is not None and self.max_opset is not None and opset > self.max_opset:
            raise UsageError(f"--opset {opset} is newer than ONNX Runtime {min_ort} loads (opset {self.max_opset} at most)")
        self.opset = opset if opset is not None else self.max_opset
        self.data_dir = data_dir


def export_module(module, model: str, out_dir, formats, weights: dict, ckpt=None, log=print, options=None) -> dict:
    """Write the bundle for an in-memory module; exports in eval mode and restores the module's mode.

    `ckpt` is the training checkpoint the weights came from, if any (for the manifest's training summary).
    """
    spec = get_spec(model)
    module = eager_module(module)
    lint.check_module(module)
    was_training = module.training
    if was_training:
        log(f"{model}: the module was in train mode; exporting it in eval mode (its mode is restored afterwards)")
    device = next(module.parameters(), torch.empty(0)).device
    module.eval()
    try:
        with torch.no_grad():
            built = _build_artifacts(module.cpu(), spec, formats, options or OnnxOptions())  # artifacts are CPU files
    finally:
        module.train(was_training)  # hand the module back as it came: its mode and its device
        module.to(device)

    out_dir = Path(out_dir)
    previous = _previous_manifest(out_dir)
    files = {name: {"sha256": _sha256(data), "bytes": len(data)} for name, (data, _) in built.items()}
    format_files = {fmt: name for name, (_, fmt) in built.items()}
    stale = _carry_over_still_valid_artifacts(out_dir, previous, files, format_files)
    verification = _still_valid_verification(out_dir, files)
    if verification is None:
        stale.append(out_dir / bundle.VERIFICATION)

    for name, (data, _) in built.items():
        write_bytes(out_dir / name, data)
    # Weights re-read from the bundle itself are as (un)trained as they were when it was made.
    inherited_untrained = weights["source"] == "bundle" and previous is not None and previous.get("trained") is False
    trained = weights["source"] != "random-init" and not inherited_untrained
    manifest = manifest_module.build(spec, files, format_files, weights, manifest_module.training_summary(ckpt, previous, weights),
                         built.get("model.onnx"), trained)  # fmt: skip
    manifest["verification"] = verification
    bundle.write_manifest(out_dir, manifest)
    # Only now, with the new manifest in place, remove what no longer belongs to the bundle.
    for path in stale:
        path.unlink(missing_ok=True)
    origin = "seeded random weights, UNTRAINED" if weights["path"] is None else f"weights from {weights['source']}: {weights['path']}"
    log(f"{model}: exported {', '.join(sorted(format_files))} -> {out_dir} ({origin})")
    if "torchscript" in formats:
        log(f"note: {TORCHSCRIPT_NOTE}")
    return manifest


def applicable_formats(spec) -> list:
    """The formats that make sense for a model: reduced precision needs a classification test split to
    be judged on, and int8 calibration needs training images."""
    found = list(FORMATS)
    if spec.dataset != "fashion-mnist":
        found = [f for f in found if f not in ("onnx-fp16", "onnx-int8")]
    if spec.input.kind != "image" or spec.input.background != "dark":
        found.remove("onnx-e2e")  # the in-graph preprocessing is Fashion-MNIST's (gray, light on dark)
    return found


def resolve_formats(spec, formats) -> list:
    chosen = []
    for fmt in formats:
        if fmt == "all":
            chosen += applicable_formats(spec)
        elif fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)} or all")
        elif fmt not in applicable_formats(spec):
            raise UsageError(f"--format {fmt} does not apply to {spec.name} (it needs a Fashion-MNIST-style image classifier)")
        else:
            chosen.append(fmt)
    # The state_dict always travels: verify rebuilds the eager model from it.
    return ["state-dict"] + [f for f in dict.fromkeys(chosen) if f != "state-dict"]


def _build_artifacts(module, spec, formats, options: OnnxOptions) -> dict:
    """file name -> (bytes, format), all in memory before anything is written."""
    cache = {}

    def program():  # shared by exported-program and aoti
        if "program" not in cache:
            cache["program"] = artifacts.exported_program(module, spec.input.shape)
        return cache["program"]

    def onnx_model():  # shared by onnx and its reduced-precision variants
        if "onnx" not in cache:
            example = torch.zeros((1, *spec.input.shape), dtype=torch.float32)
            proto = artifacts.onnx_model(module, example, options.opset, options.max_ir)
            lint.check_onnx(proto)
            cache["onnx"] = (proto, artifacts.onnx_bytes(proto))
        return cache["onnx"]

    builders = {
        "state-dict": lambda: artifacts.state_dict_bytes(module),
        "torchscript": lambda: artifacts.torchscript_bytes(module),
        "exported-program": lambda: artifacts.exported_program_bytes(program()),
        "aoti": lambda: artifacts.aoti_package_bytes(program()),
        "onnx": lambda: onnx_model()[1],
        "onnx-fp16": lambda: onnx_variants.fp16_bytes(onnx_model()[0]),
        "onnx-int8": lambda: onnx_variants.int8_bytes(onnx_model()[1], artifacts.ONNX_INPUT, _calibration(spec, options)),
        "onnx-e2e": lambda: e2e.e2e_model(onnx_model()[0], spec.input.size, spec.output).SerializeToString(deterministic=True),
    }
    built = {bundle.FORMAT_FILES[fmt]: (builders[fmt](), fmt) for fmt in formats}
    if "onnx" in cache and "model.onnx" not in built:
        built["model.onnx"] = (cache["onnx"][1], "onnx")  # the variants' fp32 reference travels with them
    return built


def _calibration(spec, options):
    from toolkit.data import load_dataset

    data = load_dataset(spec.dataset, options.data_dir)
    return data.to_input(data.train_x[: onnx_variants.CALIBRATION_IMAGES]).numpy()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _previous_manifest(out_dir: Path):
    try:
        return bundle.read_manifest(out_dir)
    except ToolkitError:  # no bundle yet, or a broken one we are about to replace anyway
        return None


def _carry_over_still_valid_artifacts(out_dir, previous, files, format_files) -> list:
    """Artifacts of formats not re-exported stay listed if made from the same weights; the rest are stale."""
    stale = []
    if previous is None:
        return stale
    same_weights = previous["files"].get("state_dict.pth", {}).get("sha256") == files["state_dict.pth"]["sha256"]
    for fmt, name in previous["formats"].items():
        if fmt in format_files or not (out_dir / name).is_file():
            continue
        if same_weights and bundle.sha256_file(out_dir / name) == previous["files"][name]["sha256"]:
            files[name], format_files[fmt] = previous["files"][name], name
        else:
            stale.append(out_dir / name)  # made from other weights: must not linger beside the new ones
    return stale


def _still_valid_verification(out_dir: Path, files: dict):
    """The verification summary, when verification.json checked exactly these files; else None."""
    try:
        report = json.loads((out_dir / bundle.VERIFICATION).read_text())
    except (OSError, ValueError):
        return None
    if report.get("files") == {name: entry["sha256"] for name, entry in files.items()}:
        return manifest_module.verification_summary(report)
    return None
