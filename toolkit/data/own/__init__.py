"""A user's own data: a folder of labelled images (class folders, a train/ + test/ pair or an annotations
CSV), a CSV table with a target column, or labelled text lines. See toolkit.models.own_data for how a
model is fitted to it, and each module here for how its kind is read.
"""

import hashlib
import json

from toolkit.data.own.source import DataOptions, OwnData
from toolkit.errors import DataError
from toolkit.runtime import trust

__all__ = ["DataOptions", "OwnData", "open_data", "reopen"]


def open_data(options: DataOptions, prep=None, model_task=None, log=print, expect_digest=None) -> OwnData:
    """The data `options` names; `prep` (images): the model's preprocessing; `model_task` (tables): the model's."""
    kind = options.kind
    if kind == "images":
        from toolkit.data.own.images import open_images

        return open_images(options, prep, log, expect_digest)
    if kind == "table":
        from toolkit.data.own.table import open_table

        return open_table(options, model_task, log, expect_digest)
    from toolkit.data.own.text import open_text

    return open_text(options, log, expect_digest)


def trust_key(record: dict) -> str:
    """What this machine's trust record keeps of data it trained on: where it is, what it was."""
    kept = {"path": record.get("path"), "digest": record.get("digest"), "options": record.get("options")}
    return "data:" + hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def remember(record: dict) -> None:
    """Data this machine trains on may be read again from a run's or a bundle's record of it."""
    trust.record_exported([trust_key(record)])


def reopen(record: dict, prep=None, log=None) -> OwnData:
    """A model's data again, from its record (a run's, a bundle's): only data this machine trained on (a bundle
    from elsewhere could name any folder here), and refused when it has changed since."""
    if not trust.exported_here(trust_key(record)):
        raise DataError(f"{record.get('path')}: not read (a bundle's data is read only where it was trained)")
    try:
        options = DataOptions.from_dict(record["options"]).check()
        return open_data(options, prep, record.get("task"), log or (lambda _line: None), record["digest"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise DataError("the bundle's record of its data is not one tk wrote") from None


def recorded(record: dict, labels: tuple, prep=None) -> OwnData:
    """OwnData that reads its samples (and vocabulary) only when asked, and then once: export and verify
    need the data's facts at once, its samples maybe never."""
    opened = {}

    def data() -> OwnData:
        if not opened:
            opened["data"] = reopen(record, prep)
        return opened["data"]

    def load(float_targets: bool):
        data().float_targets = float_targets
        return data().samples()

    def vocab():
        return data().vocab()

    return OwnData(record["kind"], record, tuple(labels), load, vocab=vocab if record["kind"] == "text" else None)
