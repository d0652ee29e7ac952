"""`tk infer --ray ADDRESS INPUT... --out FILE`: batch scoring on Ray Data. The inputs (image files and
folders of them, CSV files, text files of one snippet a line) become a dataset of one row per input; an
actor pool, one Predictor per actor (built on its node from the bundle's files), answers them a batch at a
time with the very functions `tk infer` uses, so each result is the one `tk infer --json` prints for that
input, and a bad input gets its own error result. The results come back in input order and are written
as JSON Lines (.jsonl, the lines of `tk infer --json`) or Parquet (.parquet: order, input, error, result).

The driver lists the inputs (it reads CSV and text files into rows and lines; image files are read by the
actors), so image paths must be readable at the same path on every node: one machine, or a shared file
system.
"""

import json
import time
from pathlib import Path

from toolkit.atomic import atomic_path
from toolkit.deploy.ray_bundle import pack, unpack
from toolkit.deploy.ray_cluster import connect, node_count
from toolkit.errors import UsageError
from toolkit.runtime.rows import Row, rows_from_csv
from toolkit.runtime.text import snippets_from_file

BATCH = 256  # inputs per actor call: Predictor reads and answers them in chunks of its own
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}


def work_items(kind: str, features: list, inputs: list) -> list:
    """One dict per input, numbered in order: image paths, CSV rows or text lines."""
    if kind == "image":
        paths = [str(p) for given in inputs for p in (image_files(Path(given)) if Path(given).is_dir() else [given])]
        return [{"order": i, "path": path} for i, path in enumerate(paths)]
    if kind == "tabular":
        rows = (row for path in inputs for row in rows_from_csv(path, features))
        return [{"order": i, "source": r.source, "text": r.text, "values": json.dumps(r.values), "error": r.error or ""}
                for i, r in enumerate(rows)]  # fmt: skip
    lines = (item for path in inputs for item in snippets_from_file(path))
    return [{"order": i, "source": s, "text": t or "", "error": e or ""} for i, (s, t, e) in enumerate(lines)]


def image_files(folder: Path) -> list:
    """A folder's image files, every level down, in path order: hidden files and folders left out, and so is
    a link that leads out of the folder (nothing outside the folder named is read)."""
    root = folder.resolve()
    found = (p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    visible = (p for p in found if not any(part.startswith(".") for part in p.relative_to(folder).parts))
    return sorted(p for p in visible if p.resolve().is_relative_to(root))


class Scorer:
    """One actor: a Predictor of its own, answering batches of work items."""

    def __init__(self, packed: dict, top_k: int, invert):
        from toolkit.runtime import Predictor

        self.predictor = Predictor(unpack(packed), device="cpu", threads=1)
        self.top_k, self.invert = top_k, invert

    def __call__(self, batch: dict) -> dict:
        predictor, top_k = self.predictor, self.top_k
        if "path" in batch:
            results = predictor.predict_files(list(batch["path"]), top_k, self.invert)
        elif "values" in batch:
            rows = [
                Row(source, text, tuple(json.loads(values)) if values != "null" else None, error or None)
                for source, text, values, error in zip(
                    batch["source"], batch["text"], batch["values"], batch["error"], strict=True
                )
            ]
            results = predictor.predict_rows(rows, top_k)
        else:
            lines = zip(batch["source"], batch["text"], batch["error"], strict=True)
            results = predictor.predict_texts([(s, None if e else t, e or None) for s, t, e in lines], top_k)
        return {"order": batch["order"], "result": [json.dumps(r) for r in results]}


def score_on_ray(address: str, inputs: list, bundle, out: Path, options: dict, public_key=None, log=print) -> int:
    """Score every input on the cluster into `out`; returns how many inputs failed. options: top_k, invert, actors."""
    from toolkit.runtime import Predictor

    out = Path(out)
    if out.suffix not in (".jsonl", ".parquet"):
        raise UsageError(f"--out {out}: .jsonl (JSON Lines) or .parquet")
    if not inputs:
        raise UsageError("give the inputs to score: image files or folders, CSV files, or text files")
    predictor = Predictor(bundle, device="cpu", threads=1, public_key=public_key)
    items = work_items(predictor.kind, predictor.features, inputs)
    if not items:
        raise UsageError("the inputs hold nothing to score")
    packed = pack(bundle, public_key)
    ray = connect(address)
    try:
        started = time.perf_counter()
        ray.data.DataContext.get_current().execution_options.preserve_order = True
        blocks = min(len(items), max(4 * options["actors"], len(items) // BATCH))  # enough for every actor
        dataset = ray.data.from_items(items, override_num_blocks=blocks)
        scorer_args = (packed, options["top_k"], options["invert"])
        actors = options["actors"]
        scored = dataset.map_batches(Scorer, fn_constructor_args=scorer_args, batch_size=BATCH,
                                     concurrency=actors, num_cpus=1, batch_format="numpy")  # fmt: skip
        failed = write_results(scored.iter_rows(), out)
        seconds = time.perf_counter() - started
        log(f"tk infer: {len(items)} inputs ({failed} errors) in {seconds:.1f} s, {len(items) / seconds:.0f} "
            f"rows/s, {actors} actors on {node_count(ray)} node(s) -> {out}")  # fmt: skip
    finally:
        ray.shutdown()
    return failed


def write_results(rows, out: Path) -> int:
    """The results in input order into `out`, whole or not at all; returns the number of error results."""
    failed, expected = 0, 0
    with atomic_path(out) as tmp:
        if out.suffix == ".jsonl":
            with open(tmp, "w") as handle:
                for row in rows:
                    expected = check_order(row, expected)
                    failed += "error" in json.loads(row["result"])
                    handle.write(row["result"] + "\n")
        else:
            failed = write_parquet(rows, tmp)
    return failed


def check_order(row: dict, expected: int) -> int:
    if row["order"] != expected:  # preserve_order is Ray Data's promise; a broken one must not pass unseen
        raise RuntimeError(f"Ray Data returned input {row['order']} where {expected} was due")
    return expected + 1


def write_parquet(rows, path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = {"order": [], "input": [], "error": [], "result": []}
    expected = 0
    for row in rows:
        expected = check_order(row, expected)
        result = json.loads(row["result"])
        table["order"].append(row["order"])
        table["input"].append(result.get("path") or result.get("row") or result.get("source"))
        table["error"].append(result.get("error"))
        table["result"].append(row["result"])
    pq.write_table(pa.table(table), path)
    return sum(e is not None for e in table["error"])
