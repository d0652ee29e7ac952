"""The one weight lookup: which weights an export (or a benchmark) uses, and the eval-mode module holding them.

Order: --checkpoint/--weights FILE (a tk checkpoint, a state_dict .pth or a .safetensors file), the
model's latest run (runs/<model>/checkpoint.pt), the bundle's own model.safetensors (or state_dict.pth
in bundles made before it); for a model tk does not train, seeded random weights last, flagged as
untrained.
"""

from pathlib import Path

import torch

from toolkit.errors import CheckpointError
from toolkit.models import get_spec
from toolkit.runtime.bundle import FORMAT_FILES
from toolkit.train import checkpoint
from toolkit.train.prepare import RUNS

RANDOM_INIT_SEED = 0
UNTRAINED_WARNING = "UNTRAINED: seeded random weights, predictions are meaningless; export with --weights FILE"


def weight_candidates(model: str, checkpoint_file=None, bundle_dir=None, runs_dir=RUNS) -> list:
    """[(source, path)] in the order they are tried."""
    if checkpoint_file is not None:
        return [("checkpoint", Path(checkpoint_file))]
    found = [("run", Path(runs_dir) / model / checkpoint.CHECKPOINT_NAME)]
    if bundle_dir is not None:  # the bundle's own weights: safetensors (no code), else an older bundle's .pth
        found.append(("bundle", Path(bundle_dir) / FORMAT_FILES["safetensors"]))
        found.append(("bundle", Path(bundle_dir) / FORMAT_FILES["state-dict"]))
    return found


def find_weights(model: str, checkpoint_file=None, bundle_dir=None, runs_dir=RUNS):
    """(source, path) of the first weights file that exists (an explicit file always counts); else None."""
    for source, path in weight_candidates(model, checkpoint_file, bundle_dir, runs_dir):
        if source == "checkpoint" or path.is_file():
            return source, path
    return None


def resolve_weights(model: str, checkpoint_file=None, bundle_dir=None, runs_dir=RUNS, trust_pickle=False) -> tuple:
    """(state_dict or None, weights description, checkpoint-or-None): which weights to export, and from where."""
    found = find_weights(model, checkpoint_file, bundle_dir, runs_dir)
    if found is not None:
        source, path = found
        state_dict, ckpt = checkpoint.load_weights(
            path, model, trust_pickle, _users_module(model) if trust_pickle else None
        )
        return state_dict, {"source": source, "path": path.as_posix()}, ckpt
    if not get_spec(model).trainable:
        return None, {"source": "random-init", "path": None, "seed": RANDOM_INIT_SEED}, None
    tried = weight_candidates(model, checkpoint_file, bundle_dir, runs_dir)
    raise CheckpointError(
        f"no weights for {model!r}: no {tried[0][1]} and no {tried[-1][1]}; "
        f"run 'tk train {model}' or pass --checkpoint FILE"
    )


WRAPPERS = {"_orig_mod.": "saved from a torch.compile wrapper", "module.": "saved from DataParallel or DDP"}


def without_wrapper_prefixes(model: torch.nn.Module, state_dict: dict) -> tuple:
    """(state_dict, the prefix stripped or ''): a state_dict saved from a torch.compile or DataParallel wrapper
    has every key prefixed (`_orig_mod.`, `module.`, or both). Stripped only when the keys then are the
    model's own: a model may well have a submodule called `module`."""
    expected, stripped, found = set(model.state_dict()), "", state_dict
    while found and set(found) != expected:
        prefix = next((p for p in WRAPPERS if all(key.startswith(p) for key in found)), None)
        if prefix is None:
            break
        found = {key[len(prefix) :]: value for key, value in found.items()}
        stripped += prefix
    if not stripped or set(found) != expected:
        return state_dict, ""  # as it was: load_into names what does not fit
    return found, stripped


def wrapper_names(stripped: str) -> str:
    return " and ".join(WRAPPERS[p + "."] for p in stripped.rstrip(".").split("."))


def _users_module(model: str):
    """The module of a user's own model's file, where its classes pickled from `__main__` live."""
    spec = get_spec(model)
    if spec.source is None or not spec.source.rebuildable:
        return None
    from toolkit.models.source import load_module

    return load_module(spec.source)


def eager_module(module: torch.nn.Module) -> torch.nn.Module:
    """The module itself, never a torch.compile wrapper (whose state_dict keys carry a prefix)."""
    return getattr(module, "_orig_mod", module)


def load_model(spec, checkpoint_file=None, bundle_dir=None, runs_dir=RUNS, log=print, trust_pickle=False) -> tuple:
    """(eval-mode module, weights description, checkpoint-or-None) for the weights resolve_weights picks."""
    state_dict, weights, ckpt = resolve_weights(spec.name, checkpoint_file, bundle_dir, runs_dir, trust_pickle)
    torch.manual_seed(RANDOM_INIT_SEED)  # the random-init case: the same weights on every export
    net = spec.build().eval()  # built here, not handed over: no train-mode notice
    if state_dict is not None:
        state_dict, stripped = without_wrapper_prefixes(net, state_dict)
        if stripped:
            log(f"note: {weights['path']}: stripped the {stripped!r} prefix from every key ({wrapper_names(stripped)})")
        checkpoint.load_into(net, state_dict, weights["path"])
    else:
        log(f"{spec.name}: WARNING: {UNTRAINED_WARNING}")
    return net, weights, ckpt
