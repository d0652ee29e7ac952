"""Export: an eval-mode eager module -> state_dict, TorchScript, ExportedProgram/AOTInductor, ONNX, manifest.

- exporter.py:     `export(model, ...)` and `export_module(module, ...)`, the entry points
- weights.py:      the one weight lookup (--checkpoint, the latest run, the bundle's own state_dict)
- formats.py:      which formats apply, and every artifact built in memory
- torch_formats.py / onnx_formats.py: the builders (reproducible bytes); e2e.py: preprocessing in ONNX
- lint.py:         what eval mode cannot fix, refused with a reason
- manifest.py:     the new bundle's manifest; writer.py: the bundle written, manifest last
- triton.py:       a Triton model repository entry instead of a bundle
"""

from toolkit.export.exporter import export, export_module

__all__ = ["export", "export_module"]
