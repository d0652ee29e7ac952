"""tk infer: human and JSON output, top-k, exit codes, and bad inputs that never stop the others."""

import json
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import Image

from conftest import REFERENCE_BUNDLE, REPO, SAMPLES, written

SANDAL, BOOT = SAMPLES / "sandal-8.png", SAMPLES / "ankle-boot-0.png"


def test_human_output(cli):
    result = cli("infer", SANDAL, BOOT, "--model", REFERENCE_BUNDLE)
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"{SANDAL}: Sandal (") and lines[1].startswith(f"{BOOT}: Ankle boot (")


def test_json_lines_with_top_k(cli):
    result = cli("infer", BOOT, SANDAL, "--model", REFERENCE_BUNDLE, "--json", "--top-k", "3")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(BOOT), str(SANDAL)]
    assert set(rows[0]) == {"path", "label", "index", "probability", "top"}
    assert rows[0]["label"] == "Ankle boot" and rows[0]["index"] == 9
    assert len(rows[0]["top"]) == 3 and rows[0]["top"][0] == {k: rows[0][k] for k in ("label", "index", "probability")}


def huge_png(path):
    """A valid PNG header claiming 100000 x 100000 pixels: decoding it would need 10 GB."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )
    return path


def truncated_png(path):
    Image.open(BOOT).resize((300, 300)).save(path)
    path.write_bytes(path.read_bytes()[:400])
    return path


BAD_INPUTS = {
    "missing": (lambda p: p / "missing.png", "no such file"),
    "directory": (lambda p: p, "not a regular file"),
    "empty": (lambda p: written(p / "empty.png", b""), "empty file"),
    "truncated": (lambda p: truncated_png(p / "cut.png"), "truncated or corrupt image"),
    "not-an-image": (lambda p: written(p / "x.jpg", b"hello"), "not an image"),
    "bomb": (lambda p: huge_png(p / "bomb.png"), "too large to decode safely"),
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_is_one_line_and_others_still_answer(cli, tmp_path, kind):
    make, message = BAD_INPUTS[kind]
    bad = make(tmp_path)
    result = cli("infer", SANDAL, bad, BOOT, "--model", REFERENCE_BUNDLE)
    assert result.exit_code == 1
    assert "Sandal" in result.stdout and "Ankle boot" in result.stdout
    (error_line,) = result.stderr.strip().splitlines()
    assert error_line.startswith(f"tk: error: {bad}: ") and message in error_line
    as_json = cli("infer", SANDAL, bad, "--model", REFERENCE_BUNDLE, "--json")
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert rows[0]["label"] == "Sandal" and set(rows[1]) == {"path", "error"} and message in rows[1]["error"]


def test_usage_errors_exit_2(cli, tmp_path):
    assert cli("infer", SANDAL, "--model", tmp_path / "no-bundle").exit_code == 2
    assert cli("infer", SANDAL, "--no-such-option").exit_code == 2
    assert cli("infer").exit_code == 2


def test_real_process_is_torch_free(tmp_path):
    """`tk infer` as a whole process (its modules listed as it exits), and `python -m toolkit`."""
    code = (
        "import atexit, sys\n"
        "heavy = {'torch', 'torchvision', 'onnx'}\n"
        "atexit.register(lambda: print('HEAVY', *sorted(heavy & set(sys.modules)), file=sys.stderr))\n"
        "from toolkit.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "infer", str(SANDAL), "--json"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["label"] == "Sandal"
    assert result.stderr.strip() == "HEAVY"  # none of them was imported
    result = subprocess.run(
        [sys.executable, "-m", "toolkit", "infer", str(tmp_path / "nope.png")], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 1 and result.stderr.strip() == f"tk: error: {tmp_path / 'nope.png'}: no such file"
    assert "Traceback" not in result.stderr
