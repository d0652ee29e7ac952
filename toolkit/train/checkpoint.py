"""Training checkpoints and plain state_dicts: atomic saves, weights_only loads.

A checkpoint is a dict {"format", "model_name", "config", "epoch", "history", "model", "optimizer"}
written after every epoch; `load_weights` also accepts a bare state_dict (the tutorial's
`torch.save(model.state_dict(), ...)`), so either kind of file can be exported. `resume_state`
reads a run's checkpoint back for `tk train --resume`.
"""

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


def load(path) -> dict:
    """Any torch file, loaded safely (weights_only=True); a one-line error for anything unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; the user needs one line
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: cannot load ({first_line})") from None


def load_training_checkpoint(path, model_name: str) -> dict:
    data = load(path)
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a tk training checkpoint")
    if data["model_name"] != model_name:
        raise CheckpointError(f"{path}: checkpoint is for {data['model_name']!r}, not {model_name!r}")
    return data


def load_weights(path, model_name: str | None = None) -> tuple:
    """(state_dict, checkpoint-or-None) from a tk checkpoint, a bare state_dict file or a .safetensors file."""
    if Path(path).suffix == ".safetensors":
        return load_safetensors(path), None
    data = load(path)
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
        raise CheckpointError(
            f"{path}: cannot load ({str(exc).strip().splitlines()[0] if str(exc).strip() else 'bad file'})"
        ) from None


def load_into(model: torch.nn.Module, state_dict: dict, source) -> None:
    """load_state_dict(strict=True), with the mismatch named in one line."""
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise CheckpointError(f"{source}: weights do not fit the model ({detail[:300]})") from None


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
