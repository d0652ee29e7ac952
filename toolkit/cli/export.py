"""`tk export` and `tk verify`: the deployment formats, and the proof that they equal the eager model."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from toolkit.cli import own_model as own
from toolkit.cli.app import DataDirOption, ModelArg, PublicKeyOption
from toolkit.errors import PartialExportError, VerificationError
from toolkit.runtime.bundle import DEFAULT_MODEL, FORMAT_FILES, dumps

ExportFormat = Enum(
    "ExportFormat", {name: name for name in ("all", *FORMAT_FILES, "triton")}, type=str
)  # the library's

FORMAT_HELP = "Format to write; repeat for several ('all': every format that applies)."
OUT_HELP = "Bundle folder (default exported/<model>); with --format triton, the model repository."
WEIGHTS_HELP = (
    "Weights: a tk checkpoint or a state_dict file (default: runs/<model>/checkpoint.pt, else the bundle's own "
    "state_dict.pth; for models tk does not train, seeded random weights flagged as untrained)."
)
OPSET_HELP = "ONNX opset to emit (default: torch's, or the newest --min-ort loads)."
MIN_ORT_HELP = "Oldest ONNX Runtime that must load the ONNX files, e.g. 1.17."
CALIBRATION_HELP = "Folder with the Fashion-MNIST idx .gz files (int8 calibration)."
TRUST_PICKLE_HELP = (
    "Accept a whole pickled model (torch.save(model)) as --weights: loading it runs code from the file, "
    "so only for your own files."
)
SIGN_HELP = "Sign the bundle with this Ed25519 private key (PEM; 'tk keygen KEY' makes a pair): writes manifest.sig."


def export(
    model: ModelArg = DEFAULT_MODEL,
    format: Annotated[list[ExportFormat], typer.Option("--format", "-f", help=FORMAT_HELP)] = [ExportFormat.all],  # noqa: B006
    out: Annotated[Optional[Path], typer.Option(help=OUT_HELP)] = None,
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", "--weights", help=WEIGHTS_HELP)] = None,
    opset: Annotated[Optional[int], typer.Option(help=OPSET_HELP)] = None,
    min_ort: Annotated[Optional[str], typer.Option("--min-ort", help=MIN_ORT_HELP)] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help=CALIBRATION_HELP)] = None,
    sign: Annotated[Optional[Path], typer.Option("--sign", help=SIGN_HELP, show_default=False)] = None,
    trust_pickle: Annotated[bool, typer.Option("--trust-pickle", help=TRUST_PICKLE_HELP)] = False,
    then_verify: Annotated[bool, typer.Option("--verify", help="Run 'tk verify' on the bundle just written.")] = False,
    name: own.NameOption = None,
    args: own.ArgsOption = None,
    input_shape: own.InputShapeOption = None,
    labels: own.LabelsOption = None,
    features: own.FeaturesOption = None,
    output: own.OutputOption = None,
    dataset: own.DatasetOption = None,
    mean: own.MeanOption = None,
    std: own.StdOption = None,
    background: own.BackgroundOption = None,
):
    """Export the eager model in eval mode to every deployment format, with manifest.json.

    Exit 3 when some format could not be exported (the others were written; the manifest says why)."""
    from toolkit.export import export as run_export

    described = dict(name=name, input_shape=input_shape, labels=labels, features=features, output=output)
    described.update(dataset=dataset, mean=mean, std=std, background=background)
    model = own.use_trained(model, checkpoint, args=args, **described)
    formats = [f.value for f in format]
    exported = run_export(
        model,
        formats=formats,
        out_dir=out,
        checkpoint_file=checkpoint,
        opset=opset,
        min_ort=min_ort,
        data_dir=data_dir,
        sign_key=sign,
        trust_pickle=trust_pickle,
    )
    if then_verify and "triton" not in formats:
        from toolkit.verify import verify as run_verify

        run_verify(model, bundle_dir=out, data_dir=data_dir, log=typer.echo)
    failed = getattr(exported, "failed_formats", None) or {}
    if failed:
        raise PartialExportError(f"{model}: not exported: {'; '.join(f'{f} ({why})' for f, why in failed.items())}")


VERIFY_MODEL_HELP = (
    "Verify exported/<MODEL> (default fashion-mlp); with --bundle, a check that the bundle holds this model."
)
BUNDLE_HELP = "Bundle folder (default exported/<model>); the model verified is the one its manifest names."
ATOL_HELP = (
    "Largest allowed absolute difference from the eager model (default: the bundle's own tolerance, 1e-4 for most)."
)
SKIP_HELP = "Leave a runtime out of the matrix (listed as not run), e.g. torch.compile."
TRUST_HELP = (
    "Also load TorchScript, ExportedProgram and AOTInductor files this machine did not export "
    "(they can execute code when loaded; without this their rows say 'not run')."
)
SOURCE_HELP = (
    "Your own model's architecture, FILE.py:Symbol, to rebuild the eager model from (default: the file the "
    "manifest names, if this machine exported the bundle from it)."
)


def verify(
    model: Annotated[Optional[str], typer.Argument(help=VERIFY_MODEL_HELP, show_default=False)] = None,
    bundle: Annotated[Optional[Path], typer.Option(help=BUNDLE_HELP)] = None,
    atol: Annotated[Optional[float], typer.Option(help=ATOL_HELP, show_default=False)] = None,
    data_dir: DataDirOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print this run's verification.json instead of the table.")
    ] = False,
    skip: Annotated[Optional[list[str]], typer.Option(help=SKIP_HELP, show_default=False)] = None,
    trust_code: Annotated[bool, typer.Option("--trust-code", help=TRUST_HELP)] = False,
    public_key: PublicKeyOption = None,
    source: Annotated[Optional[str], typer.Option("--source", help=SOURCE_HELP, show_default=False)] = None,
):
    """The parity matrix: every artifact on every runtime against eager; exit 1 listing every failing row."""
    from toolkit.verify import verify as run_verify

    log = (lambda _line: None) if json_output else typer.echo
    try:
        report = run_verify(
            model,
            bundle_dir=bundle,
            atol=atol,
            data_dir=data_dir,
            skip=tuple(skip or ()),
            trust_code=trust_code,
            public_key=public_key,
            source=source,
            log=log,
        )
    except VerificationError as exc:
        if json_output and exc.report is not None:  # this run's failing report; never an earlier one
            typer.echo(dumps(exc.report), nl=False)
        raise
    if json_output:
        typer.echo(dumps(report), nl=False)
