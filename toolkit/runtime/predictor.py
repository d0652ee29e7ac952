"""A bundle loaded for inference: manifest.json + model.onnx -> Predictor. No torch.

`Predictor.answer(...)` is what `tk infer` prints and what another app calls: image files, CSV files
or `--values` rows in, one result dict per input out, in order, a bad input spoiling nothing else.
The lower-level calls (`run`, `probabilities`, `predict`, `predict_image`) take arrays and single files.
"""

import itertools
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from toolkit.errors import BundleError, InputError, ToolkitError, UsageError
from toolkit.runtime import bundle, signing, text
from toolkit.runtime.preprocess import prepare_file
from toolkit.runtime.rows import rows_from_csv, rows_from_values
from toolkit.runtime.session import check_io, make_session

DEFAULT_BUNDLE = bundle.default_bundle_dir(bundle.DEFAULT_MODEL)
CHUNK = 256  # inputs prepared and answered per ONNX Runtime call


@dataclass(frozen=True)
class Prediction:
    label: str
    index: int
    probability: float
    top: list  # [{"label", "index", "probability"}], most probable first

    def to_dict(self) -> dict:
        return asdict(self)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class Predictor:
    """A bundle loaded for inference: checks model.onnx against the manifest's sha256 first."""

    def __init__(self, bundle_dir=DEFAULT_BUNDLE, device: str = "auto", threads: int = 0, public_key=None):
        """`public_key`: refuse the bundle unless its manifest.sig is this Ed25519 key's (runtime.signing)."""
        self.bundle_dir = Path(bundle_dir)
        self.manifest = bundle.read_manifest(self.bundle_dir)
        if public_key is not None:
            signing.check(self.bundle_dir, self.manifest, public_key)
        path, model_bytes = bundle.read_artifact(self.bundle_dir, self.manifest, "onnx")
        try:
            self.session = make_session(model_bytes, device, threads)
        except ToolkitError:
            raise
        except Exception as exc:
            raise BundleError(f"{path}: ONNX Runtime cannot load it ({str(exc).splitlines()[0]})") from None
        check_io(self.session, self.manifest, path)
        self.labels = list(self.manifest.labels)
        self.features = list(self.manifest.input.features)
        self.warning = self.manifest.warning  # e.g. an untrained model's bundle
        self.tokenizer = None
        if self.manifest.tokenizer is not None:
            spec = self.manifest.tokenizer
            vocab = bundle.read_data_file(self.bundle_dir, self.manifest, spec.vocab, text.MAX_VOCAB_BYTES)
            self.tokenizer = text.Tokenizer(spec, vocab, where=str(self.bundle_dir / spec.vocab))

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    @property
    def kind(self) -> str:
        """What the model takes: "image", "tabular" or "text"."""
        return self.manifest.input.kind

    @property
    def is_regression(self) -> bool:
        return self.manifest.output.kind == "value"

    def run(self, batch) -> np.ndarray:
        """The raw model output for a float32 batch [N, *sample_shape], or a text model's int64 ids
        [N, tokens] (a single sample is batched)."""
        if self.kind == "text":
            return self._run_ids(batch)
        shape = self.manifest.input.sample_shape
        batch = np.asarray(batch, dtype=np.float32)
        if batch.shape == shape:
            batch = batch[None]
        if batch.ndim != len(shape) + 1 or tuple(batch.shape[1:]) != shape:
            expected = ", ".join(map(str, shape))
            raise InputError(f"input shape {batch.shape} does not match the model's [batch, {expected}]")
        feeds = {self.manifest.input.name: np.ascontiguousarray(batch)}
        return self.session.run([self.manifest.output.name], feeds)[0]

    def _run_ids(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[None] if ids.ndim == 1 else ids
        rows = self.tokenizer.spec.rows
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise InputError(f"token ids of shape {ids.shape} do not match the model's [batch, tokens]")
        if ids.size and (ids.min() < 0 or ids.max() >= rows):
            raise InputError(f"token ids must be in 0..{rows - 1}")
        return self.session.run([self.manifest.output.name], {self.manifest.input.name: ids})[0]

    def probabilities(self, batch) -> np.ndarray:
        """Class probabilities [N, classes], whatever the graph outputs (logits, probabilities, P(class 1))."""
        output = self.run(batch)
        kind = self.manifest.output.kind
        if kind == "logits":
            return softmax(output)
        if kind == "probability":  # a binary classifier's P(class 1)
            return np.concatenate([1.0 - output, output], axis=1)
        if kind == "probabilities":
            return output
        raise InputError(f"{self.bundle_dir}: a {kind!r} model has no class probabilities")

    def predict(self, batch, top_k: int = 1) -> list:
        """One Prediction per sample in the batch (classification models)."""
        top_k = max(1, min(top_k, len(self.labels)))
        results = []
        for row in self.probabilities(batch):
            order = np.argsort(-row, kind="stable")[:top_k]
            top = [{"label": self.labels[i], "index": int(i), "probability": float(row[i])} for i in order]
            results.append(Prediction(top=top, **top[0]))
        return results

    def answer_batch(self, batch, top_k: int = 1) -> list:
        """One dict per sample: {"value": [...]} for regression, the Prediction's fields for classification."""
        if self.is_regression:
            return [{"value": [float(v) for v in row]} for row in self.run(batch)]
        return [p.to_dict() for p in self.predict(batch, top_k)]

    def predict_text(self, snippet: str, top_k: int = 1) -> Prediction:
        """One snippet's Prediction; InputError if it has no words."""
        return self.predict(self.encode_text(snippet, "the text").ids, top_k)[0]

    def encode_text(self, snippet: str, source: str):
        """The snippet's token ids and counts; InputError naming `source` if it has no words or is too long."""
        if self.tokenizer is None:
            raise UsageError(f"{self.bundle_dir}: this model takes {self.kind} input, not text")
        try:
            encoded = self.tokenizer.encode(snippet)
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None
        if not encoded.words:
            raise InputError(f"{source}: no words in it (a word is a run of letters or numbers)")
        return encoded

    def predict_texts(self, items, top_k: int = 1):
        """Yield {"source", "text", "words", "unknown", "cut", ...answer} or {"source", "error"} per
        (source, text, error) item (runtime.text.snippets_from_file makes them from a file), in order."""
        for chunk in chunks(items, CHUNK):
            results, inputs = [], []
            for source, snippet, error in chunk:
                try:
                    if error is not None:
                        raise InputError(error)
                    encoded = self.encode_text(snippet, source)
                    results.append({"source": source, "text": snippet, "words": encoded.words})
                    results[-1].update(unknown=encoded.unknown, cut=encoded.cut)
                    inputs.append(encoded.ids)
                except InputError as exc:
                    results.append({"source": source, "error": str(exc)})
            yield from self._fill(results, self.tokenizer.batch(inputs) if inputs else None, top_k)

    def preprocess(self, path, invert=None) -> np.ndarray:
        if self.kind != "image":
            raise UsageError(f"{self.bundle_dir}: this model takes {self.kind} input, not images")
        return prepare_file(path, self.manifest.preprocessing, invert=invert)

    def predict_image(self, path, top_k: int = 1, invert=None) -> Prediction:
        return self.predict(self.preprocess(path, invert), top_k)[0]

    def answer(self, paths=(), values=(), top_k: int = 1, invert=None, texts=()):
        """Yield one result per input, in order: image files for an image model; `values` rows, then the
        rows of CSV files in `paths`, for a tabular one; `texts`, then the lines of text files, for a text
        one. Each result is {"path"}, {"row", "input"} or {"source", "text", ...} plus the answer's fields,
        or plus "error" for an input that failed. Inputs are read and answered CHUNK at a time, so a
        million-row CSV needs no more memory than a few rows. UsageError for inputs the model cannot take."""
        paths, values, texts = list(paths), list(values), list(texts)
        if self.kind == "text":
            if values or not (paths or texts):
                raise UsageError(f"{self.bundle_dir}: give text with --text, or text files with one snippet a line")
            given = ((f"--text {i}", snippet, None) for i, snippet in enumerate(texts, start=1))
            from_files = (item for path in paths for item in text.snippets_from_file(path))
            return self.predict_texts(itertools.chain(given, from_files), top_k)
        if texts:
            raise UsageError(f"{self.bundle_dir}: this model takes {self.kind} input, not --text")
        if self.kind == "tabular":
            if not paths and not values:
                raise UsageError(
                    f"{self.bundle_dir}: give a row with --values ({','.join(self.features)}) or CSV files"
                )
            csv_rows = (row for path in paths for row in rows_from_csv(path, self.features))
            return self.predict_rows(itertools.chain(rows_from_values(values, self.features), csv_rows), top_k)
        if values:
            raise UsageError(f"{self.bundle_dir}: this model takes images, not --values")
        if not paths:
            raise UsageError("give one or more image files")
        return self.predict_files(paths, top_k, invert)

    def predict_files(self, paths, top_k: int = 1, invert=None):
        """Yield {"path", ...answer} or {"path", "error"} per image file, in order; one bad file spoils nothing."""
        for chunk in chunks(paths, CHUNK):
            inputs, results = [], []
            for path in chunk:
                try:
                    inputs.append(self.preprocess(path, invert))
                    results.append({"path": str(path)})
                except InputError as exc:
                    results.append({"path": str(path), "error": str(exc)})
            yield from self._fill(results, np.stack(inputs) if inputs else None, top_k)

    def predict_rows(self, rows, top_k: int = 1):
        """Yield {"row", "input", ...answer} or {"row", "input", "error"} per tabular Row, in order."""
        if self.kind != "tabular":
            raise UsageError(f"{self.bundle_dir}: this model takes images, not --values or CSV rows")
        for chunk in chunks(rows, CHUNK):
            results, inputs = [], []
            for row in chunk:
                if row.error is not None:
                    results.append({"row": row.source, "input": row.text, "error": row.error})
                else:
                    results.append({"row": row.source, "input": list(row.values)})
                    inputs.append(np.asarray(row.values, dtype=np.float32))
            yield from self._fill(results, np.stack(inputs) if inputs else None, top_k)

    def _fill(self, results: list, batch, top_k: int):
        """Answer `batch` (the inputs that were read, in order; None if none was) into the results without an error."""
        answers = iter(self.answer_batch(batch, top_k) if batch is not None else [])
        for result in results:
            if "error" not in result:
                result.update(next(answers))
            yield result


def chunks(items, size: int):
    """Lists of up to `size` items from any iterable, read lazily."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
