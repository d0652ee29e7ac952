"""Run by the LiteRT venv's own Python, never imported by tk: litert-torch needs torch < 2.15 and pins of its
own (typing_extensions, jax) that cannot share tk's venv, so export hands it the ExportedProgram tk made
(model.pt2, plain graph and weights) and reads back the .tflite files it writes.

    python litert_convert.py PROGRAM.pt2 OUT_FOLDER BATCH... (one model.b<BATCH>.tflite each)

Only a fixed batch converts: with a dynamic one, the reshape behind nn.Flatten fails, and resizing a fixed
model's input fails in the XNNPACK delegate.
"""

import sys
from pathlib import Path

import litert_torch
import torch


def main(program_path: str, out: str, batches: list) -> None:
    program = torch.export.load(program_path)
    module = program.module()
    sample = program.example_inputs[0][0]  # the example tk exported the program with
    for batch in batches:
        example = torch.zeros((batch, *sample.shape[1:]), dtype=sample.dtype)
        litert_torch.convert(module, (example,)).export(str(Path(out) / f"model.b{batch}.tflite"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [int(b) for b in sys.argv[3:]])
