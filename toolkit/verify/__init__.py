"""Verify: proof that every exported artifact computes what the eager model computes.

- parity.py:  `verify(...)`: the matrix of every artifact x every runtime, verification.json
- inputs.py:  real, random and edge inputs in batches
- loaders.py: each artifact loaded in each runtime (shared with `tk bench`)
- compare.py: the exact rule, the task rule (fp16, int8), ONNX compatibility
- e2e.py:     model.e2e.onnx against the runtime's own preprocessing
- report.py:  the printed table and the one-line failure summary
- architecture.py: the eager model: the zoo's, or a user's rebuilt from its source (when allowed)
- own_model.py: `make_bundle(module, ...)`: a live module -> a verified bundle (toolkit.make_bundle)
"""

from toolkit.verify.parity import verify

__all__ = ["verify"]
