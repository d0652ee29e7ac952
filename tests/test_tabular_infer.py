"""tk infer on tabular bundles: --values rows, CSV files, and one-line errors naming the row."""

import json

import pytest

from toolkit.export import export
from toolkit.train import train

from conftest import quiet


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("tabular")
    for name in ("multivariate-regression", "logistic-regression"):
        train(name, run_dir=root / "runs" / name, device="cpu", log=quiet)
        export(
            name,
            formats=["onnx"],
            out_dir=root / name,
            checkpoint_file=root / "runs" / name / "checkpoint.pt",
            log=quiet,
        )
    return root


def test_values_regression(cli, bundles):
    result = cli("infer", "--model", bundles / "multivariate-regression", "--values", "73,80,75", "--json")
    assert result.exit_code == 0
    answer = json.loads(result.stdout)
    assert answer["input"] == [73.0, 80.0, 75.0] and abs(answer["value"][0] - 152) < 5
    human = cli("infer", "--model", bundles / "multivariate-regression", "--values", "73,80,75")
    assert human.stdout.startswith("73,80,75 -> 15")


def test_values_binary_classification(cli, bundles):
    result = cli("infer", "--model", bundles / "logistic-regression", "--values", "1,2", "--values", "6,2", "--json")
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["label"], second["label"]) == ("0", "1")
    assert set(first) == {"row", "input", "label", "index", "probability", "top"}
    assert first["top"][0]["probability"] == first["probability"] > 0.5


def test_csv_with_header_and_bad_rows(cli, bundles, tmp_path):
    csv = tmp_path / "scores.csv"
    csv.write_text("quiz1,quiz2,midterm\n73,80,75\n93,88\n96,abc,100\n\n89,91,90\n")
    result = cli("infer", "--model", bundles / "multivariate-regression", csv, "--json")
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["row"] for r in rows] == [f"{csv}:2", f"{csv}:3", f"{csv}:4", f"{csv}:6"]
    assert "value" in rows[0] and "value" in rows[3]
    assert rows[1]["error"] == f"{csv}:3: expected 3 values (quiz1, quiz2, midterm), got 2"
    assert rows[2]["error"] == f"{csv}:4: 'abc' is not a number"
    human = cli("infer", "--model", bundles / "multivariate-regression", csv)
    assert human.stderr.strip().splitlines() == [f"tk: error: {rows[1]['error']}", f"tk: error: {rows[2]['error']}"]


@pytest.mark.parametrize("content, message", [("", "no rows"), ("quiz1,quiz2,midterm\n", "no rows")])
def test_empty_csv(cli, bundles, tmp_path, content, message):
    csv = tmp_path / "empty.csv"
    csv.write_text(content)
    result = cli("infer", "--model", bundles / "multivariate-regression", csv, "--values", "73,80,75")
    assert result.exit_code == 1 and "->" in result.stdout
    assert result.stderr.strip() == f"tk: error: {csv}: {message}"


def test_wrong_kind_of_input_is_a_usage_error(cli, bundles):
    assert cli("infer", "--model", bundles / "logistic-regression").exit_code == 2
    result = cli("infer", "--model", "exported/fashion-mlp", "--values", "1,2")
    assert result.exit_code == 2 and "takes images" in result.stderr
