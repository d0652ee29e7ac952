"""Text -> token ids, as the manifest's `tokenizer` says. No torch; simple enough to rewrite in any language.

The rules (docs/deploying/embedding.md shows them in 30 lines of JavaScript):
  1. Replace the typographic apostrophes ’ and ‘ by ', then lowercase (Unicode's full lowercasing).
  2. Words are maximal runs of letters and numbers (Unicode categories L* and N*), where a single
     apostrophe between two such characters joins them ("isn't", "director's"). Everything else separates.
  3. Keep the first `max_words` words.
  4. Ids: each word's id, or `unk_id` if vocab.json does not list it; then, if `bigrams`, the id of each
     pair of neighbouring words written "word word", for the pairs vocab.json lists (the others are left out).
  5. A batch is padded with `pad_id` after each snippet's ids, to the longest; the model ignores padding.
vocab.json is a JSON list of strings: the id of a word is its position. Entries 0 and 1 are "<pad>" and
"<unk>", which no text can produce.
"""

import json
import unicodedata
from dataclasses import dataclass, fields

import numpy as np

from toolkit.errors import BundleError, InputError
from toolkit.runtime.validation import MAX_DIM, Reader, invalid

VOCAB_FILE = "vocab.json"
APOSTROPHES = ("\u2019", "\u2018")
PAD_ID, UNK_ID = 0, 1
MAX_ROWS = 1 << 22  # the largest vocabulary a manifest may declare
MAX_VOCAB_BYTES = 256 * 2**20
MAX_TEXT_CHARS = 1 << 20  # one snippet; longer text is refused before it is scanned


@dataclass(frozen=True)
class TokenizerSpec:
    """The manifest's `tokenizer`: the rules' parameters; vocab.json's sha256 is in the manifest's files."""

    rows: int  # the embedding's rows: every id is below this
    max_words: int
    bigrams: bool
    vocab: str = VOCAB_FILE
    pad_id: int = PAD_ID
    unk_id: int = UNK_ID
    lowercase: bool = True
    apostrophes: tuple = APOSTROPHES
    vectors: str = "embedding.weight"  # the tensor in model.safetensors whose row i is id i's vector

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["apostrophes"] = list(self.apostrophes)
        return data

    @classmethod
    def from_dict(cls, reader: Reader) -> "TokenizerSpec":
        reader.only({f.name for f in fields(cls)})
        spec = cls(
            rows=reader.integer("rows", 2, MAX_ROWS),
            max_words=reader.integer("max_words", 1, MAX_DIM),
            bigrams=reader.get("bigrams", bool),
            vocab=reader.choice("vocab", (VOCAB_FILE,)),
            pad_id=reader.integer("pad_id", PAD_ID, PAD_ID),
            unk_id=reader.integer("unk_id", UNK_ID, UNK_ID),
            lowercase=reader.get("lowercase", bool),
            apostrophes=tuple(reader.strings("apostrophes", 8)),
            vectors=reader.get("vectors", str),
        )
        if not all(len(a) == 1 for a in spec.apostrophes):
            raise invalid(reader.path("apostrophes"), "must be single characters")
        return spec


def is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


def split_words(text: str, spec: TokenizerSpec) -> list:
    """Rules 1-2 (all the words; rule 3 cuts them)."""
    for mark in spec.apostrophes:
        text = text.replace(mark, "'")
    if spec.lowercase:
        text = text.lower()
    found, start, n = [], None, len(text)
    for i, char in enumerate(text):
        if is_word_char(char):
            start = i if start is None else start
        elif char == "'" and start is not None and i + 1 < n and is_word_char(text[i + 1]):
            continue  # an apostrophe inside a word
        elif start is not None:
            found.append(text[start:i])
            start = None
    if start is not None:
        found.append(text[start:])
    return found


@dataclass(frozen=True)
class Encoded:
    ids: list
    words: int  # words kept
    unknown: int  # of those, not in the vocabulary
    cut: int  # words left out beyond max_words


class Tokenizer:
    """A bundle's tokenizer: its spec and vocabulary (checked: unique strings, fewer than `rows`)."""

    def __init__(self, spec: TokenizerSpec, vocab_bytes: bytes, where: str = VOCAB_FILE):
        if len(vocab_bytes) > MAX_VOCAB_BYTES:
            raise BundleError(f"{where}: larger than {MAX_VOCAB_BYTES >> 20} MiB")
        try:
            vocab = json.loads(vocab_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise BundleError(f"{where}: not a JSON list of strings ({type(exc).__name__})") from None
        if not isinstance(vocab, list) or not all(isinstance(w, str) for w in vocab):
            raise BundleError(f"{where}: not a JSON list of strings")
        if len(vocab) > spec.rows or len(set(vocab)) != len(vocab) or vocab[:2] != ["<pad>", "<unk>"]:
            raise BundleError(f'{where}: needs "<pad>", "<unk>", then unique entries, at most {spec.rows} in all')
        self.spec, self.vocab = spec, vocab
        self.index = {word: i for i, word in enumerate(vocab)}

    def encode(self, text: str) -> Encoded:
        if len(text) > MAX_TEXT_CHARS:
            raise InputError(f"text of {len(text):,} characters is longer than {MAX_TEXT_CHARS:,}")
        found = split_words(text, self.spec)
        kept = found[: self.spec.max_words]
        ids = [self.index.get(w, self.spec.unk_id) for w in kept]
        unknown = ids.count(self.spec.unk_id)  # "<unk>" itself is no word, so only unknown words get its id
        if self.spec.bigrams:
            pairs = (self.index.get(f"{a} {b}") for a, b in zip(kept, kept[1:], strict=False))
            ids += [i for i in pairs if i is not None]
        return Encoded(ids, len(kept), unknown, len(found) - len(kept))

    def batch(self, id_lists: list) -> np.ndarray:
        """int64 [len(id_lists), longest], padded with pad_id."""
        out = np.full((len(id_lists), max(map(len, id_lists), default=1)), self.spec.pad_id, dtype=np.int64)
        for row, ids in zip(out, id_lists, strict=True):
            row[: len(ids)] = ids
        return out


def snippets_from_file(path):
    """Yield (source, text, error) per line of a UTF-8 text file, one snippet a line; a line that is not
    valid UTF-8 or is too long gets an error and the others are still read. Blank lines are skipped."""
    try:
        handle = open(path, "rb")
    except OSError as exc:
        yield str(path), None, f"{path}: cannot read it ({exc.strerror or exc})"
        return
    limit = MAX_TEXT_CHARS * 4  # bytes: UTF-8 takes at most 4 per character
    with handle:
        for number, raw in enumerate(iter(lambda: handle.readline(limit + 1), b""), start=1):
            source = f"{path}:{number}"
            if len(raw) > limit:
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line, a bounded piece at a time
                    raw = handle.readline(limit)
                yield source, None, f"{source}: line longer than {limit:,} bytes"
                continue
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                yield source, None, f"{source}: not valid UTF-8 (byte {exc.start + 1} of the line)"
                continue
            if text.strip():
                yield source, text, None
