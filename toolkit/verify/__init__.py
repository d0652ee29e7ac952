"""Verify: proof that every exported artifact computes what the eager model computes.

- parity.py:  `verify(...)`: the matrix of every artifact x every runtime, verification.json
- inputs.py:  real, random and edge inputs in batches
- loaders.py: each artifact loaded in each runtime (shared with `tk bench`)
- compare.py: the exact rule, the task rule (fp16, int8), ONNX compatibility
- e2e.py:     model.e2e.onnx against the runtime's own preprocessing
- report.py:  the printed table and the one-line failure summary
"""

from toolkit.verify.parity import verify

__all__ = ["verify"]
