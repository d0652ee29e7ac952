"""`toolkit.make_bundle`: a live nn.Module (a notebook's model) -> a complete, verified bundle, in one call."""

import copy

from toolkit.export import export_module
from toolkit.export.formats import OnnxOptions
from toolkit.models.custom import ModelOptions, custom_spec
from toolkit.models.registry import use
from toolkit.models.source import Source
from toolkit.verify.parity import verify


def make_bundle(
    module,
    out_dir,
    *,
    input_shape=None,
    example_input=None,
    labels=None,
    features=(),
    output=None,
    dataset=None,
    mean=(),
    std=(),
    background=None,
    name=None,
    formats=("all",),
    atol: float = 1e-4,
    data_dir=None,
    opset=None,
    min_ort=None,
    log=print,
) -> dict:
    """Export `module` with its current weights to every format into `out_dir`, then verify the bundle
    against the module itself; returns the verification report (verification.json's contents).

    Say what the runtime must know: `input_shape` of one sample (or an `example_input` batch), `labels`
    (a list, a file, or "fashion-mnist" / "imagenet"), for images `mean`, `std` and `background`
    ("dark": light items on black, inverted from light photos; "photo"), for rows `features`. Raises
    VerificationError when an artifact does not compute what the module computes; formats that could
    not be exported are listed in the report's "failed_formats" (the others are written and verified).
    """
    input_shape = tuple(example_input.shape[1:]) if input_shape is None and example_input is not None else input_shape
    kind = type(module)
    # tk cannot know the constructor's arguments of a live object: recorded for people, not rebuilt
    source = Source("python", kind.__module__, kind.__qualname__)
    described = ModelOptions(
        input_shape=tuple(input_shape) if input_shape is not None else None,
        labels=labels,
        features=tuple(features),
        output=output,
        dataset=dataset,
        mean=tuple(mean),
        std=tuple(std),
        background=background,
        name=name,
        atol=atol,
    )
    spec = use(custom_spec(source, described, builder=lambda: copy.deepcopy(module).cpu()))
    weights = {"source": "module", "path": f"the {kind.__name__} object handed to make_bundle"}
    export_module(module, spec.name, out_dir, formats, weights, None, log, OnnxOptions(opset, min_ort, data_dir))
    return verify(bundle_dir=out_dir, data_dir=data_dir, module=module, log=log)
