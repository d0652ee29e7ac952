"""Where a user's architecture comes from: `path/to/file.py:Symbol`, `package.module:factory`, or a live object.

A Source names the file (with its sha256) or the module, the class or factory in it, and the keyword
arguments to call it with. The manifest records it, so `tk verify` can rebuild the eager model later.
Importing a file runs its code: tk does that only for a reference the user typed, or for a source
this machine exported itself (see toolkit.runtime.trust).
"""

import hashlib
import importlib
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import ModelSourceError
from toolkit.runtime.bundle import sha256_file

KINDS = ("file", "module", "python")  # "python": an object handed to the Python API (a notebook's class)
SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class Source:
    kind: str
    location: str  # the file's path as given (posix) or the module's dotted name
    symbol: str  # a class or factory in it (dotted for nested objects)
    args: dict = field(default_factory=dict)  # keyword arguments for the call (JSON)
    sha256: str | None = None  # kind "file": the file's content

    @property
    def reference(self) -> str:
        return f"{self.location}:{self.symbol}"

    @property
    def rebuildable(self) -> bool:
        return self.kind in ("file", "module")

    @property
    def trust_key(self) -> str:
        """What the trust record holds for a source this machine exported: the whole record's sha256."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict:
        data = {"kind": self.kind, self.kind_key: self.location, "symbol": self.symbol, "args": dict(self.args)}
        if self.sha256 is not None:
            data["sha256"] = self.sha256
        return data

    @property
    def kind_key(self) -> str:
        return "file" if self.kind == "file" else "module"

    @classmethod
    def from_dict(cls, data: dict) -> "Source":
        """From a manifest's `source` (already type-checked by the runtime's schema)."""
        kind = data["kind"]
        location = data["file" if kind == "file" else "module"]
        return cls(kind, location, data["symbol"], dict(data.get("args") or {}), data.get("sha256"))


def is_reference(name: str) -> bool:
    """Registered names never hold a colon; references always do (file.py:Net, package.module:factory)."""
    return ":" in name


def parse_reference(text: str, args_json: str | None = None) -> Source:
    """`path/to/file.py:Symbol` or `package.module:symbol` (+ its arguments as a JSON object) -> Source."""
    location, _, symbol = text.rpartition(":")
    if not location or not SYMBOL.fullmatch(symbol):
        raise ModelSourceError(f"{text!r}: expected FILE.py:Symbol or package.module:symbol")
    args = parse_args(args_json)
    if location.endswith(".py") or "/" in location or "\\" in location:
        path = Path(location)
        if not path.is_file():
            raise ModelSourceError(f"{location}: no such file (from the model reference {text!r})")
        return Source("file", path.as_posix(), symbol, args, sha256_file(path))
    if not SYMBOL.fullmatch(location):
        raise ModelSourceError(f"{text!r}: {location!r} is neither a .py file nor a module name")
    return Source("module", location, symbol, args)


def parse_args(args_json: str | None) -> dict:
    if args_json is None:
        return {}
    try:
        args = json.loads(args_json)
    except ValueError as exc:
        raise ModelSourceError(f"--args: not JSON ({exc})") from None
    if not isinstance(args, dict):
        raise ModelSourceError("--args: must be a JSON object of keyword arguments, e.g. '{\"hidden\": 256}'")
    return args


def load_symbol(source: Source):
    """The class or factory the source names; importing the file or module runs its code."""
    module = load_module(source)
    found = module
    for part in source.symbol.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise ModelSourceError(f"{source.location} has no {source.symbol!r} (it defines: {defined_names(module)})")
    return found


def load_module(source: Source):
    """The file or module the source names, imported (a file once per process)."""
    if source.kind == "file":
        if not Path(source.location).is_file():
            raise ModelSourceError(f"{source.location}: no such file")
        module = import_file(Path(source.location))
    elif source.kind == "module":
        try:
            module = importlib.import_module(source.location)
        except (Exception, SystemExit) as exc:  # whatever the module raises, the user needs one line
            raise ModelSourceError(f"{source.location}: importing it raised {describe_exception(exc)}") from None
    else:
        raise ModelSourceError(f"{source.reference}: defined in a Python session; give its file (FILE.py:Symbol)")
    return module


_IMPORTED: dict = {}  # (resolved path, sha256) -> module: a file's code runs once per process


def import_file(path: Path):
    """Import a .py file as a module named after it (sibling files importable), as `python file.py` would see it."""
    digest = sha256_file(path)
    key = (str(path.resolve()), digest)
    if key not in _IMPORTED:
        _IMPORTED[key] = _run_file(path, digest)
    return _IMPORTED[key]


def _run_file(path: Path, digest: str):
    name = path.stem
    if not name.isidentifier() or name in sys.modules:  # a unique name: classes find their file through it
        name = re.sub(r"\W", "_", f"tk_source_{name}_{digest[:12]}")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # TorchScript and inspect find the class's source through it
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        raise ModelSourceError(f"{path}: importing it raised {describe_exception(exc)}") from None
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def build(source: Source):
    """A fresh module: the symbol called with the source's arguments; must be a torch.nn.Module."""
    import torch

    factory = load_symbol(source)
    try:
        module = factory(**source.args)
    except (Exception, SystemExit) as exc:
        raise ModelSourceError(f"{source.reference}: calling it raised {describe_exception(exc)}") from None
    if not isinstance(module, torch.nn.Module):
        raise ModelSourceError(f"{source.reference}: gave a {type(module).__name__}, not a torch.nn.Module")
    return module


def defined_names(module) -> str:
    names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
    own = [n for n in names if getattr(vars(module)[n], "__module__", None) == module.__name__]
    return ", ".join(sorted(own or names)[:12]) or "nothing callable"


def describe_exception(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
