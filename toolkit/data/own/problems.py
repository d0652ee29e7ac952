"""What was wrong with the data someone handed over: each kind of problem with its first few names and a count.

A folder of images from elsewhere is untrusted: every file tk skipped (or converted) is reported, by
kind, in one line each (`lines`), and the counts go into the run's record (`counts`).
"""

SHOWN = 5  # names shown per kind of problem; the rest are counted


class Problems:
    def __init__(self):
        self.found = {}  # kind (a phrase: "unreadable images, skipped") -> [name, ...]

    def add(self, kind: str, name: str) -> None:
        self.found.setdefault(kind, []).append(name)

    def count(self, kind: str) -> int:
        return len(self.found.get(kind, ()))

    def lines(self, where: str) -> list:
        """One line per kind: '<where>: 2 unreadable images, skipped: a.png (truncated), b.jpg (not an image)'."""
        shown = []
        for kind, names in self.found.items():
            more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
            shown.append(f"{where}: {len(names)} {kind}: {', '.join(names[:SHOWN])}{more}")
        return shown

    def counts(self) -> dict:
        return {kind: len(names) for kind, names in self.found.items()}


def printable(name: str) -> str:
    """A file name as it can be shown and recorded: names that are not UTF-8 as Python's ascii() writes them."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return ascii(name)


def held_out(record: dict) -> str:
    """'540 to train on, 60 held out (a seeded 10% split)': how a record's samples were split."""
    how = record["split"]
    if isinstance(how, str):
        return f"{record['train']:,} to train on, {record['test']:,} to test on ({how})"
    if how["test_fraction"] == 0:
        return f"{record['train']:,} to train on and score on (--test-split 0: nothing held out)"
    share = f"{how['test_fraction']:.0%}"
    return f"{record['train']:,} to train on, {record['test']:,} held out (a {share} split, seed {how['seed']})"
