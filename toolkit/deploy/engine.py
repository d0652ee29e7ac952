"""The container engine tk image drives: podman (the default) or docker, as a command line, never a daemon API.

Every call goes through `Engine.run`, which turns a failing command into one ImageError line naming the
command and the engine's own last line of error, so a user sees why (a missing engine, a rootless
podman without subuids, a full disk) without a traceback.
"""

import shutil
import subprocess
from dataclasses import dataclass

from toolkit.errors import ImageError

ENGINES = ("podman", "docker")


@dataclass(frozen=True)
class Engine:
    name: str  # "podman" or "docker"

    @classmethod
    def find(cls, name: str) -> "Engine":
        if name not in ENGINES:
            raise ImageError(f"--engine {name}: tk image drives {' or '.join(ENGINES)}")
        if shutil.which(name) is None:
            raise ImageError(f"--engine {name}: '{name}' is not installed (Debian: apt-get install {name})")
        return cls(name)

    def run(self, *args, what: str, timeout: float = 1800) -> str:
        """`<engine> ARGS`; its stdout, or ImageError("<what>: <engine's last error line>")."""
        return run_tool([self.name, *args], what=what, timeout=timeout)

    def has_image(self, reference: str) -> bool:
        found = subprocess.run(
            [self.name, "image", "inspect", "--format", "{{.Id}}", reference], capture_output=True, text=True
        )
        return found.returncode == 0

    def image_id(self, reference: str) -> str:
        """The image's ID: the sha256 of its config, which names every layer's digest (so: its content)."""
        return self.run("image", "inspect", "--format", "{{.Id}}", reference, what=f"inspecting {reference}").strip()

    def image_size(self, reference: str) -> int:
        """Bytes the image takes unpacked (all its layers)."""
        size = self.run("image", "inspect", "--format", "{{.Size}}", reference, what=f"inspecting {reference}")
        return int(size.strip())

    def build_args(self, timestamp: int, pull: bool = False) -> list:
        """What makes a build local and reproducible: no registry (unless the base must be pulled), fixed file
        and history times, no cached steps (each build made whole), and the format that keeps HEALTHCHECK."""
        if self.name == "podman":
            policy = "--pull=missing" if pull else "--pull=never"
            return [policy, "--format", "docker", "--timestamp", str(timestamp), "--layers=false"]
        return ["--no-cache", "--build-arg", f"SOURCE_DATE_EPOCH={timestamp}"]  # docker pulls a missing base itself

    def save_args(self, tag: str, path) -> list:
        """`save` as each engine spells it: a docker-archive, which both engines load."""
        if self.name == "podman":
            return ["save", "--format", "docker-archive", "-o", str(path), tag]
        return ["save", "-o", str(path), tag]


def run_tool(command: list, what: str, timeout: float = 1800, env=None) -> str:
    """Run one external command; its stdout, or ImageError naming `what` and the command's last error line."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env
        )
    except FileNotFoundError:
        raise ImageError(f"{what}: '{command[0]}' is not installed") from None
    except subprocess.TimeoutExpired:
        raise ImageError(f"{what}: '{command[0]}' did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise ImageError(f"{what}: {command[0]} exited {done.returncode}: {lines[-1] if lines else 'no message'}")
    return done.stdout
