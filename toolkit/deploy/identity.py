"""The last step to a reproducible image: podman's docker-format config (the format that keeps HEALTHCHECK)
names the random ID of the container the build ran in. Everything else is fixed by then (the layers, the
times), so this rewrites the config without that one field and stores the image again under its tag:
the same bundles, base and wheels then give the same image ID, whoever builds them.

skopeo copies the image to a folder (manifest.json, the config and the layers, each named by its digest)
and back; the layers are not changed, so storing it again adds none.
"""

import contextlib
import hashlib
import json
import tempfile
from pathlib import Path

from toolkit.deploy.engine import Engine, run_tool
from toolkit.errors import ImageError

BUILD_CONTAINER = "container"  # the docker-format config's field for the build container's ID


def drop_build_container(engine: Engine, tag: str) -> None:
    if engine.name != "podman":  # docker's builder writes no such field when SOURCE_DATE_EPOCH is set
        return
    old_id = engine.image_id(tag)
    with tempfile.TemporaryDirectory(prefix="tk-image-config-") as temporary:
        folder = Path(temporary)
        copy = ["skopeo", "copy", "--quiet"]
        run_tool(
            [*copy, f"containers-storage:{tag}", f"dir:{folder}"],
            what=f"copying {tag} out with skopeo (apt-get install skopeo)",
        )
        manifest = json.loads((folder / "manifest.json").read_text())
        old = folder / manifest["config"]["digest"].split(":", 1)[1]
        config = json.loads(old.read_bytes())
        if config.pop(BUILD_CONTAINER, None) is None:
            return
        data = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(data).hexdigest()
        old.unlink()
        (folder / digest).write_bytes(data)
        manifest["config"].update(digest=f"sha256:{digest}", size=len(data))
        (folder / "manifest.json").write_text(json.dumps(manifest, separators=(",", ":")))
        run_tool([*copy, f"dir:{folder}", f"containers-storage:{tag}"], what=f"storing {tag} again with skopeo")
    if engine.image_id(tag) != old_id:  # the build's own image, now untagged
        with contextlib.suppress(ImageError):
            engine.run("image", "rm", old_id, what="removing the image with the build container's ID")
