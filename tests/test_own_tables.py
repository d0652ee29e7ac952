"""tk train --data on CSV tables (--target) and on labelled text lines: the labs' tables as files, raw rows served."""

import csv
import json

import numpy as np
import pytest

from toolkit.data.tables import TABLES


def write_table(path, name: str):
    table = TABLES[name]
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow([*table["features"], "y"])
        for x, y in zip(table["x"], table["y"], strict=True):
            value = y[0] if isinstance(y, list) else y
            out.writerow([*x, int(value) if float(value).is_integer() else value])
    return path


LABS = {
    "lab2-linear": "linear-regression",
    "lab4-quiz-scores": "multivariate-regression",
    "lab5-binary": "logistic-regression",
    "lab6-softmax": "softmax-classifier",
}


@pytest.mark.parametrize("table", sorted(LABS))
def test_the_labs_tables_as_csv_files_train_to_the_same_results(cli, in_tmp, table):
    """As the labs do: every row trained on and scored on (--test-split 0), raw values (--no-normalise)."""
    model = LABS[table]
    write_table(in_tmp / f"{table}.csv", table)
    options = ["--data", f"{table}.csv", "--target", "y", "--test-split", "0", "--no-normalise", "--run-dir", "csv"]
    from_csv = cli("train", model, *options)
    assert from_csv.exit_code == 0, from_csv.output
    assert cli("train", model, "--run-dir", "built-in").exit_code == 0
    ours, theirs = (json.loads((in_tmp / d / "metrics.json").read_text()) for d in ("csv", "built-in"))
    metric = "test_mae" if "regression" in model and model != "logistic-regression" else "test_accuracy"
    assert ours[metric] == pytest.approx(theirs[metric], abs=1e-6)
    assert [e["train_loss"] for e in ours["epochs"]] == pytest.approx([e["train_loss"] for e in theirs["epochs"]])


def flowers(path, rng):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["petal_length", "petal_width", "height_cm", "species"])
        for i in range(600):
            c = i % 3
            row = [1 + 2 * c + rng.normal(0, 0.5), 0.2 + 0.8 * c + rng.normal(0, 0.2), 300 + 50 * rng.normal()]
            out.writerow([*np.round(row, 2), ("setosa", "versicolor", "virginica")[c]])
        out.writerow(["abc", "1", "2", "setosa"])
        out.writerow(["1", "", "2", "setosa"])
        out.writerow(["1", "2"])
    return path


def test_a_table_trains_and_its_bundle_takes_raw_rows(cli, in_tmp):
    flowers(in_tmp / "flowers.csv", np.random.default_rng(1))
    trained = cli("train", "softmax-classifier", "--data", "flowers.csv", "--target", "species")
    assert trained.exit_code == 0, trained.output
    assert "2 rows with a missing or non-numeric value, skipped: line 602, line 603" in trained.output
    assert "1 rows with the wrong number of columns, skipped: line 604" in trained.output
    assert (
        "600 rows, 3 features -> 'species' (classification, 3 classes); 540 to train on, 60 held out" in trained.output
    )
    assert cli("export", "softmax-classifier-flowers", "--format", "onnx").exit_code == 0
    assert cli("verify", "softmax-classifier-flowers", "--skip", "torch.compile").exit_code == 0
    manifest = json.loads((in_tmp / "exported" / "softmax-classifier-flowers" / "manifest.json").read_text())
    assert manifest["input"]["features"] == ["petal_length", "petal_width", "height_cm"]
    assert manifest["labels"] == ["setosa", "versicolor", "virginica"]
    norm = manifest["data"]["normalisation"]
    assert norm["mean"][2] == pytest.approx(300, abs=10) and norm["std"][2] == pytest.approx(50, rel=0.2)
    answer = cli("infer", "--model", "exported/softmax-classifier-flowers", "--values", "5.1,1.8,290", "--json")
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.output)["label"] == "virginica"  # a raw row: the model standardises it


def houses(path, rng):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["rooms", "area", "price"])
        for _ in range(400):
            rooms = int(rng.integers(1, 6))
            area = 30 * rooms + rng.normal(0, 10)
            out.writerow([rooms, round(area, 1), round(1000 * area + 5000 * rooms + rng.normal(0, 2000))])
    return path


def test_a_numeric_target_is_a_regression(cli, in_tmp):
    """Prices in the 100,000s (noise 2,000): learnt as z-scores, answered, verified and served in their units."""
    houses(in_tmp / "houses.csv", np.random.default_rng(2))
    result = cli("train", "multivariate-regression", "--data", "houses.csv", "--target", "price", "--lr", "0.1")
    assert result.exit_code == 0, result.output
    assert "-> 'price' (regression); 360 to train on, 40 held out" in result.output
    name = "multivariate-regression-houses"
    assert json.loads((in_tmp / "runs" / name / "metrics.json").read_text())["test_mae"] < 2500
    assert cli("export", name, "-f", "onnx", "-f", "torchscript").exit_code == 0  # TorchScript: scripted, not traced
    verified = cli("verify", name, "--skip", "torch.compile")  # float32 at 1e5: 1e-4 of the target's std
    assert verified.exit_code == 0, verified.output
    manifest = json.loads((in_tmp / "exported" / name / "manifest.json").read_text())
    assert "of the target's standard deviation" in manifest["tolerance"]["reason"]
    answer = cli("infer", "--model", f"exported/{name}", "--values", "3,90", "--json")
    assert json.loads(answer.output)["value"] == [pytest.approx(1000 * 90 + 5000 * 3, abs=3000)], answer.output


def test_resume_goes_on_only_with_the_data_the_run_began_on(cli, in_tmp):
    houses(in_tmp / "houses.csv", np.random.default_rng(3))
    args = ["multivariate-regression", "--data", "houses.csv", "--target", "price", "--lr", "0.1", "--epochs", "2"]
    assert cli("train", *args).exit_code == 0
    again = cli("train", *args, "--resume")
    assert again.exit_code == 0 and "nothing to resume" in again.output, again.output
    other = cli("train", *args, "--test-split", "0.2", "--resume")
    assert other.exit_code == 2 and "its run began with other data options" in other.stderr, other.output
    with open(in_tmp / "houses.csv", "a") as f:
        f.write("3,95.5,120000\n")
    changed = cli("train", *args, "--resume")
    assert changed.exit_code == 2 and "houses.csv changed since its run began" in changed.stderr, changed.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["fashion-mlp", "--data", "t.csv", "--target", "y"], "fashion-mlp takes image input; --data"),
        (["softmax-classifier", "--data", "t.csv", "--target", "nope"], "--target 'nope': "),
        (["softmax-classifier", "--data", "t.csv"], "a table needs --target COLUMN"),
        (["linear-regression", "--data", "t.csv", "--target", "name"], "column 'name' is not numeric"),
        (["softmax-classifier", "--data", "t.csv", "--target", "y", "--task", "guess"], "--task must be"),
        (["softmax-classifier", "--data", "t.csv", "--target", "y", "--test-split", "1"], "--test-split must be"),
        (["softmax-classifier", "--target", "y"], "--target needs --data"),
        (["fashion-mlp", "--data", "nowhere"], "--data nowhere: no such file or folder"),
        (["softmax-classifier", "--data", "t.csv", "--target", "y", "--input-shape", "3"], "--input-shape describes"),
    ],
)
def test_table_mistakes_are_one_line(cli, in_tmp, args, message):
    (in_tmp / "t.csv").write_text("a,name,y\n1,x,0\n2,y,1\n3,z,0\n4,w,1\n")
    result = cli("train", *args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("tk: error: ")]
    assert len(errors) == 1 and message in errors[0], result.output


def test_labelled_text_lines_train_a_review_model(cli, in_tmp):
    from toolkit.data.reviews import LABELS, read_snippets

    lines = [f"{' '.join(s.text.split())}\t{LABELS[s.label]}" for s in read_snippets()[:3000]]
    raw = ("\n".join(lines) + "\nno tab on this line\n").encode() + b"\xff\xfe bad\tfresh\n"
    (in_tmp / "reviews.tsv").write_bytes(raw)
    trained = cli("train", "review-sentiment", "--data", "reviews.tsv")
    assert trained.exit_code == 0, trained.output
    assert "1 lines without a tab and a label, skipped: line 3001" in trained.output
    assert "1 lines that are not UTF-8, skipped: line 3002" in trained.output
    assert "3,000 lines in 2 classes" in trained.output
    assert (
        json.loads((in_tmp / "runs" / "review-sentiment-reviews" / "metrics.json").read_text())["test_accuracy"] > 0.65
    )
    assert cli("export", "review-sentiment-reviews", "--format", "onnx").exit_code == 0
    assert cli("verify", "review-sentiment-reviews", "--skip", "torch.compile").exit_code == 0
    vocab = json.loads((in_tmp / "exported" / "review-sentiment-reviews" / "vocab.json").read_text())
    assert vocab[:2] == ["<pad>", "<unk>"] and len(vocab) > 1000
    answer = cli(
        "infer", "--model", "exported/review-sentiment-reviews", "--text", "a moving, wonderful film", "--json"
    )
    assert answer.exit_code == 0 and json.loads(answer.output)["label"] in ("fresh", "rotten")


OWN_MODELS = """
import torch
from torch import nn


class Value(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x):
        return self.fc(x)


class Probabilities(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        return torch.softmax(self.fc(x), dim=1)


class Probability(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))
"""


@pytest.mark.parametrize(
    "symbol, classes, output, metric, good",
    [
        ("Value", 0, [], "test_mae", lambda mae: mae < 0.3),  # regression: mean squared error
        ("Probabilities", 3, ["--output", "probabilities"], "test_accuracy", lambda acc: acc > 0.95),  # NLL
        ("Probability", 2, ["--output", "probability"], "test_accuracy", lambda acc: acc > 0.95),  # BCE
    ],
)
def test_your_own_model_learns_with_the_loss_its_output_needs(cli, in_tmp, symbol, classes, output, metric, good):
    (in_tmp / "models.py").write_text(OWN_MODELS)
    rng = np.random.default_rng(4)
    with open(in_tmp / "rows.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["a", "b", "y"])
        for i in range(600):
            if classes:
                c = i % classes
                out.writerow([round(c + rng.normal(0, 0.2), 3), round(2 * c + rng.normal(0, 0.2), 3), f"c{c}"])
            else:
                a, b = rng.normal(0, 1, 2)
                out.writerow([round(a, 3), round(b, 3), round(3 * a - 2 * b + 1 + rng.normal(0, 0.1), 3)])
    trained = cli("train", f"models.py:{symbol}", "--data", "rows.csv", "--target", "y", "--lr", "0.1", *output)
    assert trained.exit_code == 0, trained.output
    metrics = json.loads((in_tmp / "runs" / symbol.lower() / "metrics.json").read_text())
    assert good(metrics[metric]), metrics[metric]
