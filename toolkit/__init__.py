"""tk: train the classic PyTorch tutorial models, export them, prove the exports, and serve them.

This package import stays light on purpose: `toolkit.runtime` and `toolkit.preprocess` must load
without torch so that `tk infer` and apps embedding a bundle start fast. Import submodules directly.
"""

__version__ = "0.1.0"
