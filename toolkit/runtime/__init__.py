"""The torch-free runtime: what `tk infer`, `tk serve` and other apps import to use a bundle.

Nothing in this package imports torch, directly or through a package import; a test imports every
module here in a fresh interpreter and checks. `Predictor` is loaded on first use, so that reading a
manifest (`toolkit.runtime.bundle`) does not pay for importing ONNX Runtime:

    from toolkit.runtime import Predictor
    predictor = Predictor("exported/fashion-mlp")
    print(predictor.predict_image("shoe.png").label)
"""

__all__ = ["Prediction", "Predictor"]


def __getattr__(name):
    if name in __all__:
        from toolkit.runtime import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
