"""Origin: tk export --sign KEY, and --verify-signature KEY.pub on infer and verify."""

import json

import pytest

from toolkit.export import export
from toolkit.runtime import bundle

from conftest import CLASSIC_FORMATS, SAMPLES, quiet, rehash

SANDAL = SAMPLES / "sandal-8.png"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    from toolkit.runtime.signing import generate

    folder = tmp_path_factory.mktemp("keys")
    generate(folder / "ours")
    generate(folder / "theirs")
    return folder


@pytest.fixture
def signed(quick_run, keys, tmp_path):
    out = tmp_path / "signed"
    export(
        "fashion-mlp",
        formats=CLASSIC_FORMATS,
        out_dir=out,
        checkpoint_file=quick_run / "checkpoint.pt",
        sign_key=keys / "ours",
        log=quiet,
    )
    return out


def test_keygen_writes_a_private_and_a_public_key_and_never_overwrites(cli, tmp_path):
    result = cli("keygen", tmp_path / "key")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600 and b"PUBLIC KEY" in (tmp_path / "key.pub").read_bytes()
    result = cli("keygen", tmp_path / "key")
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert cli("keygen", tmp_path / "new" / ".tk" / "key").exit_code == 0  # a new machine has no ~/.tk
    assert (tmp_path / "new" / ".tk").stat().st_mode & 0o777 == 0o700
    (tmp_path / "plain").write_text("")
    result = cli("keygen", tmp_path / "plain" / "key")
    assert result.exit_code != 0 and "plain" in result.stderr and "Traceback" not in result.output


def test_a_signed_bundle_passes_with_its_key_and_stays_signed_after_verify(cli, signed, keys):
    assert (signed / "manifest.sig").is_file()
    result = cli("infer", SANDAL, "--model", signed, "--verify-signature", keys / "ours.pub")
    assert result.exit_code == 0 and result.stdout.startswith(f"{SANDAL}: ")
    result = cli("verify", "--bundle", signed, "--skip", "torch.compile", "--verify-signature", keys / "ours.pub")
    assert result.exit_code == 0, result.output
    assert bundle.read_manifest(signed).verification["passed"]  # verify rewrote the manifest's summary ...
    assert (
        cli("infer", SANDAL, "--model", signed, "--verify-signature", keys / "ours.pub").exit_code == 0
    )  # ... still signed


def test_another_key_is_refused(cli, signed, keys):
    result = cli("infer", SANDAL, "--model", signed, "--verify-signature", keys / "theirs.pub")
    assert result.exit_code == 1 and "manifest.sig: does not match" in result.stderr


def test_a_changed_artifact_with_its_hash_updated_is_refused(cli, signed, keys):
    (signed / "model.onnx").write_bytes((signed / "model.onnx").read_bytes() + b"\0")
    rehash(signed, "model.onnx")  # what an attacker would do too
    result = cli("infer", SANDAL, "--model", signed, "--verify-signature", keys / "ours.pub")
    assert result.exit_code == 1 and "does not match" in result.stderr and "Traceback" not in result.output


def test_a_changed_label_is_refused(cli, signed, keys):
    manifest = json.loads((signed / "manifest.json").read_text())
    manifest["labels"][5] = "Boot"
    (signed / "manifest.json").write_text(json.dumps(manifest))
    result = cli("verify", "--bundle", signed, "--skip", "torch.compile", "--verify-signature", keys / "ours.pub")
    assert result.exit_code == 1 and "does not match" in result.stderr


def test_an_unsigned_bundle_and_a_bad_key_are_one_line(cli, quick_bundle, keys, tmp_path):
    result = cli("infer", SANDAL, "--model", quick_bundle, "--verify-signature", keys / "ours.pub")
    assert result.exit_code == 1 and "not signed (no manifest.sig)" in result.stderr
    (tmp_path / "junk.pub").write_text("hello")
    result = cli("infer", SANDAL, "--model", quick_bundle, "--verify-signature", tmp_path / "junk.pub")
    assert result.exit_code == 2 and "not an unencrypted PEM public key" in result.stderr
    result = cli("export", "-f", "onnx", "--out", tmp_path / "b", "--sign", keys / "ours.pub")
    assert result.exit_code == 2 and "not an unencrypted PEM private key" in result.stderr
    assert not (tmp_path / "b").exists()  # refused before anything was built


def test_reexport_without_a_key_drops_the_old_signature(signed, quick_run):
    export("fashion-mlp", formats=["onnx"], out_dir=signed, checkpoint_file=quick_run / "checkpoint.pt", log=quiet)
    assert not (signed / "manifest.sig").exists()
