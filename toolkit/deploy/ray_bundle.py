"""A bundle as it travels to Ray's replicas and actors: its serving files as bytes (manifest.json, the ONNX
model, a text model's vocabulary, the signature), never a pickled session. Each replica writes them into
a folder of its own and loads them exactly as tk serve loads a bundle: hashes (and the signature) checked
there, on the node that will run it. So the nodes need tk installed, not the bundle's folder.
"""

import tempfile
from pathlib import Path

from toolkit.deploy.context import copy_bundle


def pack(folder, public_key=None) -> dict:
    """{"name": model name, "files": {file name: bytes}}: the files tk image would copy, checked here first."""
    with tempfile.TemporaryDirectory(prefix="tk-ray-pack-") as scratch:
        name = copy_bundle(Path(folder), Path(scratch), public_key)
        files = {path.name: path.read_bytes() for path in (Path(scratch) / name).iterdir()}
    return {"name": name, "files": files}


def unpack(packed: dict) -> Path:
    """The packed files in a fresh folder of this process's (removed with the process's temp files)."""
    folder = Path(tempfile.mkdtemp(prefix="tk-ray-")) / packed["name"]
    folder.mkdir()
    for name, data in packed["files"].items():
        (folder / Path(name).name).write_bytes(data)  # a plain name: nothing outside the folder
    return folder
