"""Which model a name means once it has learnt a user's own data, in every command.

`tk train MODEL --data ...` fits MODEL to the data (`use_data`) and keeps what it learnt from in the
run folder's data.json; `tk export NAME` finds the model again there (`adopt_run`), without reading
the data; verify and report find it in the bundle's manifest (`from_manifest`). The data itself is
read again only where samples are needed, and only while it is what the model was trained on.
"""

import json
from dataclasses import replace
from pathlib import Path

from toolkit.atomic import write_text
from toolkit.errors import BundleError, UsageError
from toolkit.models.custom import NAME, RECIPES, TASK_OF_OUTPUT, ModelOptions, custom_spec, default_name, model_input
from toolkit.models.own_data import INPUT_KIND, TABLE_RECIPE, fitted
from toolkit.models.own_data import default_name as data_name
from toolkit.models.preprocessing import input_preprocessing
from toolkit.models.registry import get_spec, model_names, use
from toolkit.models.source import is_reference, load_symbol, parse_reference

RUN_RECORD = "data.json"
MAX_RECORD_BYTES = 16 << 20


def own_model_options(described: dict, input_shape=None, labels=None, features=()) -> ModelOptions:
    return ModelOptions(
        input_shape=input_shape,
        labels=list(labels) if labels else None,
        features=tuple(features),
        output=described.get("output"),
        mean=described.get("mean", ()),
        std=described.get("std", ()),
        background=described.get("background"),
        name=described.get("name"),
    )


def use_data(model: str, options, described: dict, args=None, log=print) -> str:
    """`model` fitted to the data `options` name, made known by its name (returned): the zoo's as
    <model>-<data> (or --name), a user's FILE.py:Symbol by its own name."""
    from toolkit.data.own import open_data
    from toolkit.data.own.peek import image_shape

    options.check()
    if not is_reference(model):
        base = get_spec(model)
        if base.input.kind != INPUT_KIND[options.kind]:  # said before the data is read
            raise UsageError(f"{model} takes {base.input.kind} input; --data {options.data} is {options.kind}")
        prep = input_preprocessing(base.input)
        data = open_data(options, prep, base.task, log)
        return use(fitted(base, data, described.get("name") or data_name(model, options.data), model)).name
    source = parse_reference(model, args)
    load_symbol(source)  # a missing file or symbol said first
    if options.kind == "text":
        raise UsageError("your own model on text lines: not supported; train review-sentiment on them")
    if options.kind == "table":
        output = described.get("output")
        data = open_data(options, None, TASK_OF_OUTPUT[output] if output in TASK_OF_OUTPUT else None, log)
        shape, features = (len(data.record["features"]),), data.record["features"]
    else:
        shape = described.get("input_shape") or image_shape(options)
        prep = input_preprocessing(model_input(own_model_options(described, shape), None))
        data, features = open_data(options, prep, None, log), ()
    base = custom_spec(source, own_model_options(described, shape, data.labels, features))
    recipes = {"default": TABLE_RECIPE} if options.kind == "table" else RECIPES
    return use(fitted(_trainable(base, recipes), data, base.name, None)).name


def _trainable(spec, recipes: dict):
    return replace(spec, recipes=recipes, dataset="own")


def write_record(run_dir: Path, spec) -> None:
    """data.json in the run folder: the architecture, the data's record and the model's own input."""
    from toolkit.data.own import remember

    remember(spec.data_record)
    record = {"name": spec.name, "data": spec.data_record, "input_shape": list(spec.input.shape)}
    if spec.input.kind == "image":
        record.update(mean=list(spec.input.mean), std=list(spec.input.std), background=spec.input.background)
    record["output"] = spec.output
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / RUN_RECORD, json.dumps(record, indent=2) + "\n")


def check_resumed(spec, before: dict | None, run_dir) -> None:
    """--resume continues a run only on the data it began with (`before`: the data record its checkpoint
    holds): the same options, split, labels and files."""
    now = spec.data_record
    if before is None:
        if now is not None:
            raise UsageError(f"{run_dir}: its run did not learn --data {now['path']}; train again without --resume")
        return
    if now is None:
        raise UsageError(f"{run_dir}: its run learnt {before.get('path')}; resume it with the same --data")
    then, given = before.get("options") or {}, now.get("options") or {}
    changed = [
        f"--{key.replace('_', '-')} {then.get(key)} then, {given.get(key)} now"
        for key in sorted(set(then) | set(given))
        if then.get(key) != given.get(key)
    ]
    changed += [f"its {key}" for key in ("split", "labels") if not changed and before.get(key) != now.get(key)]
    if changed:
        raise UsageError(
            f"{run_dir}: its run began with other data options ({'; '.join(changed)}); "
            "resume with the same ones, or train again with --force"
        )
    if before.get("digest") != now.get("digest"):
        raise UsageError(f"{run_dir}: {now['path']} changed since its run began; train again with --force")


def read_record(path: Path) -> dict:
    if path.stat().st_size > MAX_RECORD_BYTES:
        raise UsageError(f"{path}: over {MAX_RECORD_BYTES >> 20} MB; not a run's record")
    try:
        record = json.loads(path.read_text())
        if not NAME.fullmatch(record["name"]) or not isinstance(record["data"], dict):
            raise ValueError(record["name"])
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{path}: not a run's data record (delete it, or train again)") from None
    return record


def adopt_run(model: str, name=None, args=None, checkpoint_file=None, runs_dir=Path("runs")) -> str | None:
    """For export: the name of the model the run learnt own data with (made known here), or None when
    the run (runs/<name>, or the --checkpoint's folder) did not learn own data."""
    if not is_reference(model) and model in model_names():
        return None
    run_name = name or (default_name(model.rpartition(":")[2]) if is_reference(model) else model)
    folder = Path(checkpoint_file).parent if checkpoint_file is not None else Path(runs_dir) / run_name
    if not (folder / RUN_RECORD).is_file():
        return None
    record = read_record(folder / RUN_RECORD)
    data_record = checked(record["data"], str(folder / RUN_RECORD))
    architecture = data_record.get("architecture")
    if architecture is None and not is_reference(model):
        raise UsageError(
            f"{run_name} was trained from your own model's code; export it as FILE.py:Symbol --name {run_name}"
        )
    base = get_spec(architecture) if architecture else _reference_spec(model, args, record)
    return use(fitted(base, _recorded(data_record, base), record["name"], architecture)).name


def _reference_spec(model: str, args, record: dict):
    source = parse_reference(model, args)
    load_symbol(source)
    data = record["data"]
    described = {k: record.get(k) for k in ("output", "background")}
    described.update(mean=tuple(record.get("mean") or ()), std=tuple(record.get("std") or ()), name=record["name"])
    options = own_model_options(described, tuple(record["input_shape"]), data["labels"], data.get("features") or ())
    return _trainable(custom_spec(source, options), RECIPES)


def _recorded(data_record: dict, base):
    from toolkit.data.own import recorded

    return recorded(data_record, data_record["labels"], input_preprocessing(base.input))


def checked(record, where: str) -> dict:
    """A data record as tk writes it (a bundle from elsewhere may hold anything): the fields a spec is built from."""
    numbers = (int, float)
    kind, labels, features = record.get("kind"), record.get("labels"), record.get("features")
    norm, architecture = record.get("normalisation"), record.get("architecture")
    problem = None
    if kind not in INPUT_KIND or not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        problem = "kind or labels"
    elif features is not None and not (isinstance(features, list) and all(isinstance(f, str) for f in features)):
        problem = "features"
    elif norm is not None and not (
        isinstance(norm, dict)
        and all(isinstance(norm.get(k), list) and len(norm[k]) == len(features or ()) for k in ("mean", "std"))
        and all(isinstance(v, numbers) for v in norm["mean"] + norm["std"])
        and all(v > 0 for v in norm["std"])
        and _target_scale_or_none(norm.get("target"))
    ):
        problem = "normalisation"
    elif architecture is not None and not isinstance(architecture, str):
        problem = "architecture"
    if problem is not None:
        raise BundleError(f"{where}: its data record's {problem} is not what tk writes")
    return record


def _target_scale_or_none(target) -> bool:
    """A regression's target statistics as tk writes them: {"mean": number, "std": number > 0}, or none."""
    if target is None:
        return True
    numbers = (int, float)
    return (
        isinstance(target, dict)
        and set(target) == {"mean", "std"}
        and all(isinstance(target[k], numbers) and not isinstance(target[k], bool) for k in target)
        and target["std"] > 0
    )


def from_manifest(manifest, base):
    """verify's spec of a bundle that learnt own data: `base` (the architecture) fitted to its record."""
    record = checked(manifest.data, "manifest.json")
    return use(fitted(base, _recorded(record, base), manifest.model, record.get("architecture")))
