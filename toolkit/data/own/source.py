"""What a user's own data is (`tk train MODEL --data ...`): the options as given, and the data as opened.

DataOptions are the command line's; OwnData is a model's `dataset` when it learns from them: its kind,
its labels, the record a run and a bundle keep of it (where it came from, its digest, the split: never
the data itself), and its samples, read when first needed.
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path

from toolkit.errors import UsageError

TASKS = ("classification", "regression")
TEXT_SUFFIXES = (".tsv", ".txt")


@dataclass(frozen=True)
class DataOptions:
    data: str  # a folder of images, labels.csv (with images), table.csv (with target) or lines.tsv
    images: str | None = None  # the folder an annotations CSV's file names are relative to
    target: str | None = None  # a table's column to predict
    task: str | None = None  # a table's: classification or regression (default: from the target and the model)
    labels: str | None = None  # class names for integer labels: a,b,c or a file, one a line
    test_split: float = 0.1  # held out when the data has no test part; 0: scored on the training samples
    seed: int = 0
    normalise: bool = True  # a table's features: standardised with the training split's mean and std

    @property
    def kind(self) -> str:
        path = Path(self.data)
        if path.is_dir():
            if self.target is not None:
                raise UsageError(f"--target names a table's column; --data {self.data} is a folder of images")
            return "images"
        if not path.is_file():
            raise UsageError(f"--data {self.data}: no such file or folder")
        if self.images is not None:
            return "images"
        if path.suffix.lower() in TEXT_SUFFIXES:
            return "text"
        if path.suffix.lower() == ".csv":
            return "table"
        raise UsageError(
            f"--data {self.data}: expected a folder of images, a .csv table (with --target), an annotations "
            f".csv (with --images DIR) or labelled text lines (.tsv or .txt: text, a tab, the label)"
        )

    def check(self) -> "DataOptions":
        from toolkit.data.own.split import check_fraction

        check_fraction(self.test_split)
        if self.task is not None and self.task not in TASKS:
            raise UsageError(f"--task must be classification or regression, got {self.task!r}")
        if self.images is not None and not Path(self.images).is_dir():
            raise UsageError(f"--images {self.images}: no such folder")
        if self.kind == "table" and self.target is None:
            raise UsageError(f"--data {self.data}: a table needs --target COLUMN (the column to predict)")
        if self.kind != "table" and (self.task is not None or not self.normalise):
            raise UsageError("--task and --no-normalise are a table's options (--data table.csv --target COLUMN)")
        return self

    def to_dict(self) -> dict:
        """As recorded: paths made absolute, so export, verify and report find the data from anywhere."""
        data = asdict(self)
        for key in ("data", "images"):
            data[key] = str(Path(data[key]).resolve()) if data[key] is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "DataOptions":
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass(eq=False)
class OwnData:
    """A model's own data: compared by identity (a spec holding it stays hashable)."""

    kind: str
    record: dict  # what the run and the bundle keep: options, path, digest, counts, split, labels, features...
    labels: tuple  # class names; () for regression
    load: object  # (float_targets) -> (train_x, train_y, test_x, test_y, to_input), read when first needed
    float_targets: bool = False  # targets as float [N, 1] (regression, a binary model's P(class 1))
    vocab: object = None  # text: () -> the vocabulary, id -> word
    files: tuple = ()  # images: (train files, test files), relative to the images folder, in sample order
    loaded: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"own-{self.kind}"

    def __str__(self) -> str:
        return self.name

    def samples(self) -> tuple:
        if not self.loaded:
            self.loaded["samples"] = self.load(self.float_targets)
        return self.loaded["samples"]


MAX_LABELS_FILE = 1 << 20


def label_file(value: str) -> tuple:
    """The names in --labels FILE, one a line (blank lines skipped); the file is bounded."""
    path = Path(value)
    if path.stat().st_size > MAX_LABELS_FILE:
        raise UsageError(f"--labels {value}: over {MAX_LABELS_FILE} bytes; one label a line is expected")
    return tuple(line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip())


def label_names(value: str) -> tuple:
    """--labels for integer labels: 'a,b,c', or a file with one name a line."""
    if Path(value).is_file():
        names = label_file(value)
    else:
        names = tuple(name.strip() for name in value.split(","))
    if len(names) < 2 or not all(names):
        raise UsageError(f"--labels {value!r}: expected a file (one name a line) or names a,b,c")
    return names
