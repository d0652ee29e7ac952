"""How good the bundle's model.onnx is on its dataset's test split, as the runtime answers it.

Classification: accuracy, per-class precision and recall, the confusion matrix and the most confident
mistakes. Regression: predictions against targets (the residuals). A model whose dataset tk does not
have (or cannot find here) gets a reason instead, which the page shows.
"""

from dataclasses import dataclass

import numpy as np

from toolkit.data import load_dataset, manifest_dataset
from toolkit.errors import ToolkitError
from toolkit.models import get_spec, image_input, model_names
from toolkit.models.custom import model_input, options_from_manifest
from toolkit.runtime.predictor import Predictor
from toolkit.runtime.text import PAD_ID

EVAL_BATCH = 1024
MISTAKES_SHOWN = 12
MAX_CONFUSION_CLASSES = 100  # a bundle may declare up to 65,536 labels; their square would not fit in memory


@dataclass
class Quality:
    task: str
    labels: list
    samples: int
    accuracy: float | None = None
    confusion: np.ndarray | None = None  # [true, predicted] counts; None above MAX_CONFUSION_CLASSES
    support: list | None = None  # test samples per true class
    precision: list | None = None
    recall: list | None = None
    mistakes: list | None = None  # [(index, true, predicted, probability)] most confident first
    inputs: object = None  # the stored test samples (uint8 images or rows), for showing the mistakes
    targets: np.ndarray | None = None  # regression: [N, outputs]
    predictions: np.ndarray | None = None
    mae: float | None = None


def dataset_for(manifest, data_dir):
    """The manifest's dataset (toolkit.data.Dataset), or a reason string."""
    if manifest.dataset is None:
        return "the bundle names no dataset, so there is no test split to score it on"
    try:
        if manifest.data is not None:  # your own data, read again (refused if it changed since)
            return load_dataset(manifest_dataset(manifest))
        if manifest.source is None and manifest.model in model_names():
            image = image_input(get_spec(manifest.model))
        else:  # a user's bundle, or one from elsewhere: its input as the manifest describes it
            described = model_input(options_from_manifest(manifest), manifest.dataset)
            image = described if described.kind == "image" else None
        data = load_dataset(manifest.dataset, data_dir, download=False, image=image)
    except ToolkitError as exc:
        return f"its dataset is not available here ({exc})"
    return data


def measure(bundle_dir, manifest, data_dir):
    """A Quality, or a reason string when there is nothing to measure on."""
    split = dataset_for(manifest, data_dir)
    if isinstance(split, str):
        return split
    predictor, stored, y = Predictor(bundle_dir, device="cpu"), split.test_x.numpy(), split.test_y.numpy()
    answer = predictor.run if manifest.task == "regression" else predictor.probabilities
    # Batch by batch: a model with large inputs never holds the whole split as float32 at once.
    batches = (split.to_input(split.test_x[i : i + EVAL_BATCH]).numpy() for i in range(0, len(stored), EVAL_BATCH))
    outputs = np.concatenate([answer(batch) for batch in batches])
    if manifest.task == "regression":
        targets = y.reshape(outputs.shape)
        mae = float(np.abs(outputs - targets).mean())
        return Quality("regression", [], len(stored), targets=targets, predictions=outputs, mae=mae, inputs=stored)
    truth = y.reshape(-1).astype(np.int64)  # outputs are class probabilities here
    if truth.max(initial=0) >= outputs.shape[1]:
        return f"the test split has {truth.max() + 1} classes, the model only {outputs.shape[1]} outputs"
    if predictor.tokenizer is not None:  # a text model's mistakes are shown as the words it saw
        stored = [seen_words(row, predictor.tokenizer.vocab) for row in stored]
    return classification(manifest, outputs, truth, stored)


def seen_words(ids, vocab: list) -> str:
    """A snippet's ids back as its words (word pairs and padding left out; unknown words as <unk>)."""
    words = (vocab[i] if i < len(vocab) else "<unk>" for i in ids if i != PAD_ID)
    return " ".join(w for w in words if " " not in w)


def classification(manifest, probabilities: np.ndarray, truth: np.ndarray, stored) -> Quality:
    classes = probabilities.shape[1]
    predicted = probabilities.argmax(1)
    hits = np.bincount(truth[predicted == truth], minlength=classes).astype(np.float64)
    support, chosen = np.bincount(truth, minlength=classes), np.bincount(predicted, minlength=classes)
    precision = [float(h / c) if c else None for h, c in zip(hits, chosen, strict=True)]
    recall = [float(h / c) if c else None for h, c in zip(hits, support, strict=True)]
    confusion = None  # classes x classes counts: only for as many classes as a picture can show
    if classes <= MAX_CONFUSION_CLASSES:
        confusion = np.zeros((classes, classes), dtype=np.int64)
        np.add.at(confusion, (truth, predicted), 1)
    wrong = np.flatnonzero(predicted != truth)
    confidence = probabilities[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:MISTAKES_SHOWN]
    mistakes = [(int(i), int(truth[i]), int(predicted[i]), float(probabilities[i, predicted[i]])) for i in order]
    return Quality(
        manifest.task,
        list(manifest.labels),
        len(truth),
        accuracy=float((predicted == truth).mean()),
        confusion=confusion,
        support=support.tolist(),
        precision=precision,
        recall=recall,
        mistakes=mistakes,
        inputs=stored,
    )
