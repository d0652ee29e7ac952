"""Inputs as a hostile user would hand them over: CSV files, huge images, closed pipes, bad options."""

import json
import subprocess
import sys
import tracemalloc

import pytest
from PIL import Image

from toolkit.runtime import Predictor

from conftest import REFERENCE_BUNDLE, REPO, SAMPLES

QUIZ = REPO / "exported" / "multivariate-regression"  # three features: quiz1, quiz2, midterm


def tk(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True, cwd=REPO, **kwargs
    )


def answers(cli, *args):
    result = cli("infer", "--model", QUIZ, "--json", *args)
    return result, [json.loads(line) for line in result.stdout.splitlines()]


def test_a_first_row_with_a_typo_is_a_bad_row_not_a_header(cli, tmp_path):
    (tmp_path / "scores.csv").write_text("73,8O,75\n93,88,93\n")
    result, rows = answers(cli, tmp_path / "scores.csv")
    assert result.exit_code == 1
    assert rows[0]["error"].endswith("scores.csv:1: '8O' is not a number") and "value" in rows[1]


@pytest.mark.parametrize(
    "content", ["quiz1;quiz2;midterm\n73;80;75\n", '"quiz1","quiz2","midterm"\n"73","80","75"\n', "73\t80\t75\n"]
)
def test_semicolon_quoted_and_tab_separated_csv_are_read(cli, tmp_path, content):
    (tmp_path / "scores.csv").write_text(content)
    result, rows = answers(cli, tmp_path / "scores.csv")
    assert result.exit_code == 0, result.output
    assert rows[0]["input"] == [73.0, 80.0, 75.0] and len(rows) == 1


def test_values_beyond_float32_name_the_row(cli, tmp_path):
    (tmp_path / "scores.csv").write_text("1e39,80,75\n73,80,75\n")
    result, rows = answers(cli, tmp_path / "scores.csv", "--values", "1,2,-4e38")
    assert result.exit_code == 1
    assert rows[0]["error"] == "--values 1,2,-4e38: '-4e38' is beyond float32's range (+-3.4e38)"
    assert rows[1]["error"].endswith("scores.csv:1: '1e39' is beyond float32's range (+-3.4e38)")
    assert "Infinity" not in result.stdout and "value" in rows[2]


def test_a_large_csv_streams_in_bounded_memory(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("quiz1,quiz2,midterm\n" + "73,80,75\n" * 100_000)
    predictor = Predictor(QUIZ, device="cpu")
    tracemalloc.start()
    count = sum(1 for _ in predictor.answer([path]))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 100_000
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MiB for 100,000 rows"  # a list of them all would be ~100 MiB


def test_a_closed_pipe_ends_tk_quietly(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("73,80,75\n" * 50_000)
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "infer", "--model", QUIZ, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    assert process.stdout.readline().endswith(b":1: 73,80,75 -> 154.094\n")
    process.stdout.close()  # `| head -1`
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141 and stderr == ""


def test_a_huge_image_is_decoded_in_bounded_memory(tmp_path):
    image = Image.new("RGB", (7000, 7000), (255, 255, 255))
    image.paste((0, 0, 0), (2000, 1500, 5000, 5500))  # a dark item on white
    image.save(tmp_path / "huge.png")
    code = (
        "import resource, sys\n"
        "from toolkit.runtime import Predictor\n"
        f"p = Predictor({str(REFERENCE_BUNDLE)!r}, device='cpu')\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"x = p.preprocess({str(tmp_path / 'huge.png')!r})\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(x.shape, (after - before) // 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    shape, grown_mib = result.stdout.rsplit(" ", 1)
    # The decoded RGB pixels alone are 147 MiB; before reducing on load this took about 1.6 GB.
    assert shape == "(1, 28, 28)" and int(grown_mib) < 300, f"{grown_mib} MiB to prepare a 7000x7000 PNG"


def test_a_symlink_loop_says_so_and_the_other_images_are_answered(cli, tmp_path):
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    result = cli("infer", tmp_path / "loop.png", SAMPLES / "bag-18.png")
    assert result.exit_code == 1
    assert "loop.png: a symlink that leads nowhere (or in a loop)" in result.stderr and "Bag" in result.stdout


def test_version_and_one_line_option_errors():
    assert tk("--version").stdout.strip().startswith("tk ")
    for args, message in [
        (["infer", "--no-such-option"], "tk: error: No such option: --no-such-option (see 'tk infer --help')"),
        (["verify", "--atol", "x"], "tk: error: Invalid value for '--atol': 'x' is not a valid float."),
    ]:
        result = tk(*args)
        assert result.returncode == 2 and result.stderr.strip().startswith(message), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_train_refuses_to_overwrite_a_run_without_force(cli, quick_run, tmp_path):
    import shutil

    shutil.copytree(quick_run, tmp_path / "run")
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    result = cli("train", "--epochs", "1", "--limit", "512", "--run-dir", tmp_path / "run")
    assert result.exit_code == 2 and "already holds a run; --resume continues it, --force" in result.stderr
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before
    result = cli(
        "train", "--epochs", "1", "--limit", "512", "--run-dir", tmp_path / "run", "--force", "--device", "cpu"
    )
    assert result.exit_code == 0, result.output


def test_device_cuda_without_a_gpu_is_one_line():
    from toolkit.runtime.session import cuda_present

    if cuda_present():
        pytest.skip("a GPU is present")
    result = tk("infer", SAMPLES / "bag-18.png", "--device", "cuda")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "tk: error: --device cuda: no NVIDIA GPU with ONNX Runtime's CUDA provider here (use --device cpu or auto)"
    )


def test_a_missing_default_bundle_says_where_it_looked(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "toolkit", "infer", str(SAMPLES / "bag-18.png")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert f"(looked in {tmp_path / 'exported' / 'fashion-mlp'})" in result.stderr and "--model DIR" in result.stderr
