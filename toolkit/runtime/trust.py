"""Which artifacts may run code, and which of those this machine made itself.

TorchScript archives, ExportedProgram files (.pt2 weights may be pickles) and AOTInductor packages
(shared libraries) can execute code when loaded. tk loads them only if this machine exported them
(every export records their sha256 in a local file) or the user says --trust-code. A sha256 in the
bundle's own manifest proves nothing here: whoever edits the artifact edits the manifest too.
Standard library only.
"""

import os
from pathlib import Path

CODE_FORMATS = ("torchscript", "exported-program", "aoti")
NOT_TRUSTED = "may execute code (not exported on this machine; --trust-code runs it)"


def record_path() -> Path:
    """$TK_TRUST_FILE, else $XDG_DATA_HOME/toolkit/exported-artifacts.txt (~/.local/share by default)."""
    if os.environ.get("TK_TRUST_FILE"):
        return Path(os.environ["TK_TRUST_FILE"])
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "toolkit" / "exported-artifacts.txt"


def record_exported(sha256s) -> None:
    """Remember artifacts this machine just exported (one sha256 a line; appends are atomic at this size)."""
    lines = "".join(f"{digest}\n" for digest in sha256s)
    if not lines:
        return
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, lines.encode("ascii"))
    finally:
        os.close(fd)


def exported_here(sha256: str) -> bool:
    try:
        with open(record_path(), encoding="ascii", errors="replace") as record:
            return any(line.strip() == sha256 for line in record)
    except OSError:
        return False
