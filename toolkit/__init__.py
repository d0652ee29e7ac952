"""tk: train the classic PyTorch tutorial models, export them, prove the exports, and serve them.

This package import stays light on purpose: `toolkit.runtime` and `toolkit.preprocess` must load
without torch so that `tk infer` and apps embedding a bundle start fast. Import submodules directly;
`toolkit.make_bundle` (your own nn.Module -> a verified bundle) loads torch when first used.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "make_bundle":
        from toolkit.verify.own_model import make_bundle

        return make_bundle
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
