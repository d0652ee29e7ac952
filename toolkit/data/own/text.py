"""Labelled text lines (text, a tab, the label) -> OwnData for a review-sentiment-style model.

The words, the word pairs and the vocabulary are the review corpus's (toolkit.data.reviews), built from
the training split only; the bundle's vocab.json is that vocabulary. Lines without a tab, with no
words, or that are not UTF-8 are reported and skipped.
"""

from pathlib import Path

import numpy as np

from toolkit.data import ids_to_input
from toolkit.data.own.images import class_names, targets
from toolkit.data.own.problems import Problems, held_out
from toolkit.data.own.source import OwnData
from toolkit.data.own.split import split
from toolkit.data.reviews import Snippet, build_vocab, encode, words
from toolkit.errors import DataError
from toolkit.runtime.bundle import sha256_bytes

MAX_TEXT_BYTES = 256 << 20


def read_lines(path: Path, problems: Problems) -> tuple:
    """(file bytes, [(text, label)])."""
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise DataError(f"{path}: over {MAX_TEXT_BYTES >> 20} MB")
    raw, found = path.read_bytes(), []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            problems.add("lines that are not UTF-8, skipped", f"line {number}")
            continue
        body, tab, label = text.rpartition("\t")
        if not tab or not label.strip():
            problems.add("lines without a tab and a label, skipped", f"line {number}")
        elif not words(body):
            problems.add("lines with no words, skipped", f"line {number}")
        else:
            found.append((body, label.strip()))
    return raw, found


def open_text(options, log=print, expect_digest: str | None = None) -> OwnData:
    path, problems = Path(options.data), Problems()
    raw, lines = read_lines(path, problems)
    key = sha256_bytes(raw)
    if expect_digest is not None and key != expect_digest:
        raise DataError(f"{path} has changed since the model was trained (its sha256 differs)")
    for line in problems.lines(str(path)):
        log(line)
    if not lines:
        raise DataError(f"{path}: no usable lines (each line: the text, a tab, its label)")
    labels, classes = class_names([label for _, label in lines], options.labels)
    if len(labels) < 2:
        raise DataError(f"{path}: only one label ({labels[0]!r}); a classifier needs two or more")
    train, test = split(classes, options.test_split, options.seed)
    snippets = [Snippet(text, int(label), "") for (text, _), label in zip(lines, classes, strict=True)]
    vocab = build_vocab([snippets[i] for i in train])
    record = {
        "kind": "text",
        "path": str(path.resolve()),
        "lines": len(lines),
        "digest": key,
        "split": {"test_fraction": options.test_split, "seed": options.seed},
        "train": len(train),
        "test": len(test),
        "vocabulary": len(vocab),
        "problems": problems.counts(),
        "options": options.to_dict(),
    }
    log(f"{path}: {len(lines):,} lines in {len(labels)} classes, {len(vocab):,} words and pairs; {held_out(record)}")

    def load(float_targets: bool):
        index = {word: i for i, word in enumerate(vocab)}
        ids = [encode([snippets[i] for i in part], index) for part in (train, test)]
        ys = [targets(np.asarray(classes)[part], float_targets) for part in (train, test)]
        return ids[0], ys[0], ids[1], ys[1], ids_to_input

    return OwnData("text", record, labels, load, vocab=lambda: vocab)
