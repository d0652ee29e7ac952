"""The `tk` command line: each command parses its options, makes ONE library call, and prints.

- app.py:    the typer app, the options several commands share, and how errors become one line
- train.py:  tk train
- export.py: tk export, tk verify
- infer.py:  tk infer
- serve.py:  tk serve
- image.py:  tk image
- bench.py:  tk bench
- report.py: tk report
- models.py: tk models
- keygen.py: tk keygen

Library modules are imported inside the commands, so `tk infer` never pays for importing torch.
"""

from toolkit.cli import bench, export, image, infer, keygen, models, report, serve, train
from toolkit.cli.app import app, main, register

for command in (
    train.train,
    export.export,
    export.verify,
    infer.infer,
    serve.serve,
    image.image,
    bench.bench,
    report.report,
    models.models,
    keygen.keygen,
):
    register(command)  # in the order `tk --help` lists them

__all__ = ["app", "main"]
