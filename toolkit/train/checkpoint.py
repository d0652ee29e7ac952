"""Training checkpoints and plain state_dicts: atomic saves, weights_only loads.

A checkpoint is a dict {"format", "model_name", "config", "epoch", "history", "device", "model", "optimizer"}
written after every epoch; `load_weights` also accepts a bare state_dict (the tutorial's
`torch.save(model.state_dict(), ...)`), so either kind of file can be exported. `resume_state`
reads a run's checkpoint back for `tk train --resume`.
"""

import pickle
import types
from pathlib import Path

import torch

from toolkit.atomic import atomic_path
from toolkit.errors import CheckpointError
from toolkit.train.recipes import TrainConfig

CHECKPOINT_FORMAT = "tk-checkpoint-1"
CHECKPOINT_NAME = "checkpoint.pt"


def save(path, payload: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, tmp)


PICKLED_MODEL = (
    "a whole pickled model (torch.save(model)): loading it runs code from the file. Save the weights instead, "
    "torch.save(model.state_dict(), PATH), or pass --trust-pickle if this file is your own"
)


def load(path, trust_pickle: bool = False, main_module=None) -> dict:
    """Any torch file, loaded safely (weights_only=True); a one-line error for anything unusable.

    A whole pickled model is refused unless `trust_pickle`; then its classes pickled from `__main__` (a
    notebook's or script's) are looked up in `main_module` too, the user's own file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc):
            raise CheckpointError(f"{path}: cannot load ({_first_line(exc)})") from None
        if not trust_pickle:
            raise CheckpointError(f"{path}: {PICKLED_MODEL}") from None
    except Exception as exc:  # torch raises many types for a bad file; the user needs one line
        raise CheckpointError(f"{path}: cannot load ({_first_line(exc)})") from None
    return load_pickled_model(path, main_module)


def load_pickled_model(path: Path, main_module=None) -> dict:
    """The state_dict of a whole pickled model, the user having vouched for the file (--trust-pickle)."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_pickle_finding_in(main_module))
    except Exception as exc:  # the pickle names classes this process may not have: say which
        raise CheckpointError(f"{path}: cannot unpickle the model ({_first_line(exc)})") from None
    if isinstance(loaded, torch.nn.Module):
        return loaded.state_dict()
    return loaded


def _pickle_finding_in(main_module):
    """A pickle module whose Unpickler also looks for `__main__.X` in the user's own module."""

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "__main__" and main_module is not None and hasattr(main_module, name):
                return getattr(main_module, name)
            return super().find_class(module, name)

    return types.SimpleNamespace(Unpickler=Unpickler, load=pickle.load, __name__="pickle")


def _first_line(exc: Exception, fallback: str | None = None) -> str:
    """The exception's first line; `fallback` (default: its type's name) when it says nothing."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else fallback or type(exc).__name__


def load_training_checkpoint(path, model_name: str) -> dict:
    data = load(path)
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a tk training checkpoint")
    if data["model_name"] != model_name:
        raise CheckpointError(f"{path}: checkpoint is for {data['model_name']!r}, not {model_name!r}")
    return data


def load_weights(path, model_name: str | None = None, trust_pickle: bool = False, main_module=None) -> tuple:
    """(state_dict, checkpoint-or-None) from a tk checkpoint, a bare state_dict file or a .safetensors file
    (or, with `trust_pickle`, a whole pickled model)."""
    if Path(path).suffix == ".safetensors":
        return load_safetensors(path), None
    data = load(path, trust_pickle, main_module)
    if isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT:
        if model_name is not None and data["model_name"] != model_name:
            raise CheckpointError(f"{path}: checkpoint is for {data['model_name']!r}, not {model_name!r}")
        return data["model"], data
    if isinstance(data, dict) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
        return data, None
    raise CheckpointError(f"{path}: neither a tk checkpoint nor a state_dict")


def load_safetensors(path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot load ({_first_line(exc, 'bad file')})") from None


def load_into(model: torch.nn.Module, state_dict: dict, source) -> None:
    """load_state_dict(strict=True), with the mismatch named in one readable line."""
    mismatch = weights_mismatch(model, state_dict)
    if mismatch:
        raise CheckpointError(f"{source}: weights do not fit {type(model).__name__}: {mismatch}")
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:  # what the key and shape comparison cannot see (a module's own load hook)
        detail = " ".join(str(exc).split())
        raise CheckpointError(f"{source}: weights do not fit the model ({detail[:300]})") from None


def weights_mismatch(model: torch.nn.Module, state_dict: dict, shown: int = 3) -> str:
    """'' when the keys and shapes match; else the missing and unexpected keys and the shape mismatches,
    the first few of each and their counts."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f"{k} (file {list(state_dict[k].shape)}, model {list(v.shape)})"
        for k, v in expected.items()
        if k in state_dict and hasattr(state_dict[k], "shape") and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    parts = []
    for what, found in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
        if found:
            more = f" and {len(found) - shown} more" if len(found) > shown else ""
            parts.append(f"{len(found)} {what}: {', '.join(found[:shown])}{more}")
    return "; ".join(parts)


def resume_state(run_dir: Path, config: TrainConfig, options: dict) -> tuple:
    """(the run's checkpoint, its config); options given on the command line must match the run's own."""
    path = run_dir / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: nothing to resume (no {CHECKPOINT_NAME})")
    state = load_training_checkpoint(path, config.model)
    stored = TrainConfig(**state["config"])
    for name, value in options.items():
        if value is not None and getattr(stored, name) != value:
            raise CheckpointError(
                f"{run_dir}: run was started with {name}={getattr(stored, name)}, not {value}; "
                "resume with the same options or train again without --resume"
            )
    return state, stored
