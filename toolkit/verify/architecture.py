"""Which eager model verify compares a bundle with: the zoo's, or a user's rebuilt from its source.

A user's architecture is Python code. verify imports it only when the user names it again
(`--source FILE.py:Symbol`), says `--trust-code`, or when this machine exported the bundle from that
very source (its record is in the trust file); and a file is used only while its sha256 is the one the
manifest recorded. Otherwise there is no eager model: verify says so, and compares the formats with
each other (model.onnx on ONNX Runtime is the reference).
"""

import copy
from pathlib import Path

from toolkit.errors import BundleError
from toolkit.models import get_spec
from toolkit.models.custom import spec_from_manifest
from toolkit.models.own_runs import from_manifest
from toolkit.models.registry import use
from toolkit.models.source import Source, build, parse_reference
from toolkit.runtime import trust
from toolkit.runtime.bundle import sha256_file


def spec_for(manifest, source: str | None = None, trust_code: bool = False, module=None) -> tuple:
    """(spec, why there is no eager model or None). `source`: a reference the user typed again;
    `module`: a live module (the Python API's), whose copy takes the bundle's weights. A model that
    learnt own data is its architecture fitted to the manifest's record of that data."""
    spec, missing = _architecture(manifest, source, trust_code, module)
    if manifest.data is not None:
        return from_manifest(manifest, spec), missing
    return (spec if manifest.source is None else use(spec)), missing


def _architecture(manifest, source, trust_code, module) -> tuple:
    if manifest.source is None:
        architecture = manifest.data.get("architecture") if manifest.data else manifest.model
        if not isinstance(architecture, str):
            raise BundleError(f"manifest.json: {manifest.model!r} names neither a zoo model nor its source")
        return get_spec(architecture), None
    if module is not None:
        return spec_from_manifest(manifest, lambda: copy.deepcopy(module).cpu()), None
    if source is not None:
        given = parse_reference(source)
        return spec_from_manifest(manifest, lambda: build(given)), None
    recorded = Source.from_dict(manifest.source)
    missing = why_not_rebuilt(recorded, trust_code)
    builder = None if missing else (lambda: build(recorded))
    return spec_from_manifest(manifest, builder), missing


def why_not_rebuilt(recorded: Source, trust_code: bool) -> str | None:
    """None when the recorded source may be imported here; else the reason, with what the user can do."""
    hint = f"give it with --source {recorded.reference}" if recorded.kind == "file" else "give it with --source"
    if not recorded.rebuildable:
        symbol = recorded.symbol.rsplit(".", 1)[-1]
        return f"the architecture was defined in a Python session; name its file with --source FILE.py:{symbol}"
    if recorded.kind == "file":
        path = Path(recorded.location)
        if not path.is_file():
            return f"the architecture's file {recorded.location} is not at hand; {hint}"
        if sha256_file(path) != recorded.sha256:
            return f"{recorded.location} has changed since the export (sha256 differs); {hint}"
    if not (trust_code or trust.exported_here(recorded.trust_key)):
        return (
            f"{recorded.reference} was not exported on this machine and importing it runs its code; "
            f"{hint} or --trust-code"
        )
    return None
