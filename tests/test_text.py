"""review-sentiment: text through every stage, on the real Rotten Tomatoes corpus and the committed bundle."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from toolkit.data import reviews
from toolkit.errors import BundleError, InputError
from toolkit.export import export
from toolkit.runtime import Predictor, bundle
from toolkit.runtime.text import split_words
from toolkit.train import train
from toolkit.verify import verify

from conftest import quiet, rehash

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "exported" / "review-sentiment"
NODE_EXAMPLE = REPO / "examples" / "node"


@pytest.fixture(scope="module")
def snippets():
    return reviews.read_snippets()


@pytest.fixture(scope="module")
def predictor():
    return Predictor(COMMITTED, device="cpu")


def test_split_is_by_movie_and_fixed(snippets):
    train_part, test_part = reviews.split_by_movie(snippets)
    assert (len(snippets), len(train_part), len(test_part)) == (12_808, 10_162, 2_646)  # the README's numbers
    assert not {s.movie for s in train_part} & {s.movie for s in test_part}
    assert reviews.split_by_movie(snippets) == (train_part, test_part)


def test_runtime_tokenizer_equals_the_training_side_on_every_snippet(snippets, predictor):
    spec = predictor.tokenizer.spec
    for snippet in snippets:
        assert split_words(snippet.text, spec)[: spec.max_words] == reviews.words(snippet.text), snippet.text
    vocab = reviews.build_vocab(reviews.split_by_movie(snippets)[0])
    assert predictor.tokenizer.vocab == vocab  # the committed vocab.json is the training split's
    index = {w: i for i, w in enumerate(vocab)}
    expected = reviews.encode(snippets[:500], index).numpy()
    got = predictor.tokenizer.batch([predictor.tokenizer.encode(s.text).ids for s in snippets[:500]])
    assert np.array_equal(got, expected[:, : got.shape[1]]) and not expected[:, got.shape[1] :].any()


def test_tokenizer_rules():
    spec = reviews.tokenizer_spec()
    assert split_words("It’s NOT the director's best -- 2 stars!", spec) == [
        "it's", "not", "the", "director's", "best", "2", "stars",
    ]  # fmt: skip
    assert split_words("rock 'n' roll ''quoted'' don't'", spec) == ["rock", "n", "roll", "quoted", "don't"]
    assert split_words("Café Ünïcode 東京 ٣", spec) == ["café", "ünïcode", "東京", "٣"]
    assert split_words("___ ... ---", spec) == []


def test_padding_does_not_change_the_answer(predictor):
    ids = predictor.tokenizer.encode("A sly, funny and touching film about growing up.").ids
    outputs = []
    for width in (len(ids), len(ids) + 1, 64, 300):
        batch = np.zeros((1, width), dtype=np.int64)
        batch[0, : len(ids)] = ids
        outputs.append(predictor.run(batch)[0])
    for output in outputs[1:]:
        np.testing.assert_allclose(output, outputs[0], rtol=0, atol=1e-6)
    batched = predictor.tokenizer.batch([ids, [5], ids[:3]])  # beside shorter and longer snippets
    np.testing.assert_allclose(predictor.run(batched)[0], outputs[0], rtol=0, atol=1e-6)


def test_infer_text_answers_and_explains(cli):
    result = cli(
        "infer", "--model", COMMITTED, "--text", "A gorgeous, moving film.", "--text", "Dull and lifeless.",
        "--text", "zzyzx qwxq", "--text", " ".join(["great"] * 70),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("--text 1: fresh") and lines[1].startswith("--text 2: rotten")
    assert "(2 of 2 words unknown)" in lines[2]
    assert "6 words past the first 64 left out" in lines[3]


def test_infer_text_json_matches_predictor(cli, predictor):
    text = "Not as clever as it thinks it is, but the cast is game."
    result = cli("infer", "--model", COMMITTED, "--text", text, "--json", "--top-k", "2")
    answer = json.loads(result.stdout)
    expected = predictor.predict_text(text, top_k=2)
    assert answer["label"] == expected.label and answer["top"] == expected.top
    assert answer["words"] == 13 and answer["unknown"] == 0 and answer["text"] == text


def test_infer_text_errors_are_one_line_and_spoil_nothing(cli, tmp_path):
    lines = tmp_path / "snippets.txt"
    lines.write_bytes(b"A triumph.\n\n!!! ...\nbad \xff\xfe bytes\nA mess.\n")
    result = cli("infer", "--model", COMMITTED, lines, "--text", "")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "tk: error: --text 1: no words in it (a word is a run of letters or numbers)",
        f"tk: error: {lines}:3: no words in it (a word is a run of letters or numbers)",
        f"tk: error: {lines}:4: not valid UTF-8 (byte 5 of the line)",
    ]
    assert [line.split(":")[1] for line in result.stdout.splitlines()] == ["1", "5"]  # the good lines answered
    missing = cli("infer", "--model", COMMITTED, tmp_path / "absent.txt")
    assert missing.exit_code == 1 and "absent.txt: cannot read it" in missing.stderr
    images = cli("infer", "--model", COMMITTED, "--values", "1,2")
    assert images.exit_code != 0 and "give text with --text" in images.stderr
    wrong = cli("infer", "--text", "hello")  # the default bundle takes images
    assert wrong.exit_code != 0 and "not --text" in wrong.stderr


def test_similar_words_come_from_the_exported_vectors(cli, predictor):
    result = cli("infer", "--model", COMMITTED, "--similar", "Dull", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["nearest"]
    assert len(found) == 10 and all(" " not in f["word"] and f["word"] != "dull" for f in found)
    assert all(a["cosine"] >= b["cosine"] for a, b in zip(found, found[1:], strict=False))
    from safetensors.numpy import load_file

    vectors = load_file(COMMITTED / "model.safetensors")["embedding.weight"]
    vocab = predictor.tokenizer.vocab
    a, b = vectors[vocab.index("dull")], vectors[vocab.index(found[0]["word"])]
    assert found[0]["cosine"] == pytest.approx(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)), abs=1e-5)
    unknown = cli("infer", "--model", COMMITTED, "--similar", "xyzzyq")
    assert unknown.exit_code == 1 and "'xyzzyq' is not in the vocabulary" in unknown.stderr


def test_a_tampered_vocabulary_is_refused(tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(COMMITTED, copy)
    (copy / "vocab.json").write_text('["<pad>", "<unk>", "great"]')
    with pytest.raises(BundleError, match="sha256 does not match"):
        Predictor(copy)
    rehash(copy, "vocab.json")
    assert Predictor(copy).tokenizer.encode("great").ids == [2]
    for bad in ('{"a": 1}', '["<pad>", "<unk>", "x", "x"]', "[" * 100_000):
        (copy / "vocab.json").write_text(bad)
        rehash(copy, "vocab.json")
        with pytest.raises(BundleError, match="vocab.json"):
            Predictor(copy)


def test_ids_outside_the_vocabulary_are_refused(predictor):
    with pytest.raises(InputError, match="token ids must be in 0..29999"):
        predictor.run(np.array([[30_000]]))


def test_train_export_verify_every_format(tmp_path):
    """The default recipe reaches the target, and every format exports and verifies."""
    result = train("review-sentiment", run_dir=tmp_path / "run", device="cpu", log=quiet)
    assert result["test_accuracy"] >= 0.76
    out = tmp_path / "bundle"
    manifest = export("review-sentiment", formats=["all"], out_dir=out, checkpoint_file=tmp_path / "run/checkpoint.pt")
    assert set(manifest.formats) >= {"torchscript", "exported-program", "aoti", "onnx", "onnx-fp16", "onnx-int8"}
    assert manifest.files["vocab.json"]["sha256"] == bundle.sha256_file(out / "vocab.json")
    report = verify("review-sentiment", bundle_dir=out, log=quiet)
    assert report["passed"], report
    rows = {(r["artifact"], r["runtime"]): r for r in report["rows"] if r.get("passed") is not None}
    assert rows[("model.onnx", "onnxruntime-cpu")]["accuracy"] >= 0.76


def test_node_runs_the_bundle_with_the_readme_tokenizer(snippets, predictor):
    if shutil.which("node") is None or not (NODE_EXAMPLE / "node_modules" / "onnxruntime-node").is_dir():
        pytest.skip("node or examples/node/node_modules missing (scripts/setup.sh installs them)")
    page = (REPO / "docs" / "deploying" / "embedding.md").read_text()
    assert (NODE_EXAMPLE / "tokenizer.js").read_text().strip() in page  # the page shows the very file
    texts = [s.text.replace("\n", " ") for s in snippets if s.text.strip()]
    done = subprocess.run(
        ["node", "classify.js", str(COMMITTED)], cwd=NODE_EXAMPLE, input="\n".join(texts), capture_output=True,
        text=True, timeout=300, check=True,
    )  # fmt: skip
    answers = [json.loads(line) for line in done.stdout.split("\n") if line]  # not splitlines: U+2028 is text
    assert len(answers) == len(texts)
    tokenizer = predictor.tokenizer
    for answer, text in zip(answers, texts, strict=True):
        assert answer["ids"] == tokenizer.encode(text).ids, text
    scores = predictor.probabilities(tokenizer.batch([a["ids"] for a in answers]))
    np.testing.assert_allclose(np.array([a["probabilities"] for a in answers]), scores, rtol=0, atol=1e-5)
