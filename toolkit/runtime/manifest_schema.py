"""manifest.json as a JSON Schema (2020-12), for apps in other languages: built from the reader's own constants.

`schema/manifest.schema.json` is this schema, written by `python -m toolkit.runtime.manifest_schema --write`;
a test checks the committed file is what this builds, that its fields are the dataclasses' fields, that
every committed manifest passes it, and that manifests the reader refuses fail it too. What a schema
cannot say (the labels as many as the output is wide, the input shape as the preprocessing says) the
reader checks besides (validation.check_consistency). Standard library only.
"""

import json
import sys
from pathlib import Path

from toolkit.runtime.schema import (
    BATCH,
    FORMAT_FILES,
    INVERT_MODES,
    OUTPUT_KINDS,
    RESAMPLE_MODES,
    RESIZE_MODES,
    SCHEMA_VERSION,
    TASKS,
    TOKENS,
    companion_files,
)
from toolkit.runtime.text import MAX_ROWS, PAD_ID, UNK_ID, VOCAB_FILE
from toolkit.runtime.validation import MAX_DIM, MAX_IMAGE_SIDE, MAX_LABELS, MAX_RESIZE_TO, MAX_TEXT

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "manifest.schema.json"
TEXT = {"type": "string", "maxLength": MAX_TEXT}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def strict(properties: dict, required=None) -> dict:
    """An object with exactly these properties (as the reader's `only`), `required` of them (default: all)."""
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties if required is None else required),
        "additionalProperties": False,
    }


def nullable(schema: dict) -> dict:
    """An optional field: the reader takes null as absent."""
    return {"anyOf": [schema, {"type": "null"}]}


def numbers(most: int, positive: bool = False) -> dict:
    item = {"type": "number", "exclusiveMinimum": 0} if positive else {"type": "number"}
    return {"type": "array", "items": item, "maxItems": most}


def input_schema() -> dict:
    dim = {"type": "integer", "minimum": 1, "maximum": MAX_DIM}
    shape = {"type": "array", "prefixItems": [{"const": BATCH}], "items": {"anyOf": [dim, {"const": TOKENS}]}}
    properties = {
        "name": TEXT,
        "kind": {"enum": ["image", "tabular", "text"]},
        "dtype": {"enum": ["float32", "int64"]},
        "shape": {**shape, "minItems": 2, "maxItems": 4},
        "features": {"type": "array", "items": TEXT, "maxItems": MAX_DIM},
        "range": numbers(2),
    }
    return strict(properties, ["name", "kind", "dtype", "shape"])


def output_schema() -> dict:
    dim = {"type": "integer", "minimum": 1, "maximum": MAX_DIM}
    shape = {"type": "array", "prefixItems": [{"const": BATCH}, dim], "minItems": 2, "maxItems": 2}
    return strict({"name": TEXT, "kind": {"enum": list(OUTPUT_KINDS)}, "dtype": {"const": "float32"}, "shape": shape})


def preprocessing_schema() -> dict:
    properties = {
        "size": {"type": "integer", "minimum": 1, "maximum": MAX_IMAGE_SIDE},
        "channels": {"enum": [1, 3]},
        "scale": {"type": "number", "minimum": 1e-6, "maximum": 1.0},
        "background": {"enum": ["dark", None]},
        "invert": {"enum": list(INVERT_MODES)},
        "trim": {"type": "boolean"},
        "resize": {"enum": list(RESIZE_MODES)},
        "resample": {"enum": list(RESAMPLE_MODES)},
        "mean": numbers(3),
        "std": numbers(3, positive=True),
        "resize_to": {"type": "integer", "minimum": 1, "maximum": MAX_RESIZE_TO},
    }
    return strict(properties, [name for name in properties if name not in ("background", "resize_to")])


def tokenizer_schema() -> dict:
    return strict(
        {
            "rows": {"type": "integer", "minimum": 2, "maximum": MAX_ROWS},
            "max_words": {"type": "integer", "minimum": 1, "maximum": MAX_DIM},
            "bigrams": {"type": "boolean"},
            "vocab": {"const": VOCAB_FILE},
            "pad_id": {"const": PAD_ID},
            "unk_id": {"const": UNK_ID},
            "lowercase": {"type": "boolean"},
            "apostrophes": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 1},
                "maxItems": 8,
            },
            "vectors": TEXT,
        }
    )


def source_schema() -> dict:
    schema = strict(
        {
            "kind": {"enum": ["file", "module", "python"]},
            "file": TEXT,
            "module": TEXT,
            "symbol": TEXT,
            "args": {"type": "object"},
            "sha256": SHA256,
        },
        ["kind", "symbol", "args"],
    )
    schema["if"] = {"properties": {"kind": {"const": "file"}}}
    schema["then"] = {"required": ["file", "sha256"]}
    schema["else"] = {"required": ["module"]}
    return schema


def files_schema() -> dict:
    names = sorted({*FORMAT_FILES.values(), *companion_files(), VOCAB_FILE})
    entry = strict({"sha256": SHA256, "bytes": {"type": "integer", "minimum": 0, "maximum": 1 << 40}})
    return {"type": "object", "propertyNames": {"enum": names}, "additionalProperties": entry}


def manifest_schema() -> dict:
    formats = {"type": "object", "properties": {f: {"const": n} for f, n in FORMAT_FILES.items()}}
    formats["additionalProperties"] = False
    failed = {"type": "object", "propertyNames": {"enum": list(FORMAT_FILES)}, "additionalProperties": TEXT}
    properties = {
        "schema_version": {"const": SCHEMA_VERSION},
        "model": TEXT,
        "task": {"enum": list(TASKS)},
        "description": TEXT,
        "dataset": nullable(TEXT),
        "input": input_schema(),
        "output": output_schema(),
        "labels": {"type": "array", "items": TEXT, "maxItems": MAX_LABELS},
        "preprocessing": nullable(preprocessing_schema()),
        "files": files_schema(),
        "formats": formats,
        "onnx": nullable({"type": "object"}),
        "versions": {"type": "object"},
        "weights": {"type": "object"},
        "trained": {"type": "boolean"},
        "training": nullable({"type": "object"}),
        "tolerance": {"type": "object", "properties": {"atol": {"type": "number", "minimum": 0}}, "required": ["atol"]},
        "verification": nullable({"type": "object"}),
        "warning": nullable(TEXT),
        "source": nullable(source_schema()),
        "failed_formats": nullable(failed),
        "tokenizer": nullable(tokenizer_schema()),
        "data": nullable({"type": "object"}),
    }
    required = ["schema_version", "model", "task", "description", "input", "output", "labels", "files", "formats"]
    required += ["versions", "weights", "trained", "tolerance"]
    needs = [needed_by("image", "preprocessing"), needed_by("text", "tokenizer")]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:tk:bundle:manifest:1",
        "title": "tk bundle manifest (manifest.json)",
        "description": "What a tk bundle holds and how to run it; see docs/bundle.md.",
        **strict(properties, required),
        "allOf": needs,
    }


def needed_by(kind: str, field: str) -> dict:
    """An image input needs its preprocessing, a text input its tokenizer (check_consistency says so too)."""
    input_kind = {"properties": {"input": {"type": "object", "properties": {"kind": {"const": kind}}}}}
    return {"if": input_kind, "then": {"required": [field], "properties": {field: {"type": "object"}}}}


def dumps() -> str:
    return json.dumps(manifest_schema(), indent=2) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        SCHEMA_FILE.parent.mkdir(exist_ok=True)
        SCHEMA_FILE.write_text(dumps())
        print(f"wrote {SCHEMA_FILE}")
    else:
        sys.stdout.write(dumps())
