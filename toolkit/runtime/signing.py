"""Who made a bundle: an Ed25519 signature over its manifest, which names every file with its sha256.

`tk export --sign KEY` writes manifest.sig; `--verify-signature KEY.pub` on infer and verify refuses
a bundle whose signature does not match that public key. The signature covers the whole manifest but
its `verification` summary, which `tk verify` rewrites: a verified bundle stays signed. Keys are PEM
files (`tk keygen KEY` writes KEY and KEY.pub; `openssl genpkey -algorithm ed25519` works too).
Offline: no transparency log, no network. Uses the `cryptography` package, imported only when used.
"""

import base64
import json
import os
from pathlib import Path

from toolkit.errors import BundleError, UsageError
from toolkit.runtime import bundle

SIGNATURE = "manifest.sig"
MAX_KEY_BYTES = 16 * 1024


def signed_bytes(manifest) -> bytes:
    """What the signature covers: the manifest as written, less the verification summary."""
    data = manifest.to_dict()
    data.pop("verification", None)
    return bundle.dumps(data).encode("utf-8")  # the manifest's own stable serialisation


def read_key(path, private: bool):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such key file")
    if path.stat().st_size > MAX_KEY_BYTES:
        raise UsageError(f"{path}: too large to be a PEM key")
    data = path.read_bytes()
    try:
        if private:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        kind = "private" if private else "public"
        raise UsageError(f"{path}: not an unencrypted PEM {kind} key ({str(exc).splitlines()[0]})") from None
    wanted = Ed25519PrivateKey if private else Ed25519PublicKey
    if not isinstance(key, wanted):
        raise UsageError(f"{path}: not an Ed25519 key (tk signs with Ed25519; 'tk keygen' makes a pair)")
    return key


def sign(bundle_dir, manifest, key_path) -> None:
    """Write manifest.sig for this manifest into bundle_dir (a staging folder, during export)."""
    from cryptography.hazmat.primitives import serialization

    key = read_key(key_path, private=True)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    record = {
        "algorithm": "ed25519",
        "public_key": base64.b64encode(public).decode(),  # which key signed, for people; never trusted as such
        "signature": base64.b64encode(key.sign(signed_bytes(manifest))).decode(),
    }
    (Path(bundle_dir) / SIGNATURE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def check(bundle_dir, manifest, public_key_path) -> None:
    """Refuse the bundle unless manifest.sig is this public key's signature of this manifest."""
    from cryptography.exceptions import InvalidSignature

    key = read_key(public_key_path, private=False)
    path = Path(bundle_dir) / SIGNATURE
    if path.is_symlink() or not path.is_file():
        raise BundleError(f"{bundle_dir}: not signed (no {SIGNATURE}); it cannot be checked against {public_key_path}")
    try:
        record = json.loads(path.read_bytes()[:MAX_KEY_BYTES])
        signature = base64.b64decode(record["signature"], validate=True)
    except (ValueError, KeyError, TypeError, RecursionError):
        raise BundleError(f"{path}: not a signature tk wrote") from None
    try:
        key.verify(signature, signed_bytes(manifest))
    except InvalidSignature:
        raise BundleError(
            f"{path}: does not match {public_key_path}: the bundle was changed or signed by another key"
        ) from None


def generate(private_path) -> Path:
    """A new Ed25519 key pair: PRIVATE (mode 600) and PRIVATE.pub, its folder made (mode 700) if missing;
    never overwrites a file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_path = Path(private_path)
    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise UsageError(f"{path}: already exists; tk keygen never overwrites a key")
    if private_path.parent.exists() and not private_path.parent.is_dir():
        raise UsageError(f"{private_path.parent}: not a folder, so it cannot hold {private_path.name}")
    private_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # ~/.tk/release-key on a new machine
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public_path.write_bytes(public_pem)
    return public_path
