"""The site's examples as a user types them. Each test reads its block from the page as the page shows it
and runs it: shell lines with bash -e, Python with the venv's python, JavaScript with node; in a folder laid
out as the five-minute tour leaves one (copies of the committed bundles fashion-mlp and review-sentiment,
the samples, the examples, a trained runs/fashion-mlp), with the venv's tk first on PATH and a HOME of its
own. What a block says a command prints (the comment lines right below it; "..." where it varies) is what
the command prints. One liberty: servers listen on free ports, not on 8000 and 8001, so that the suite
never depends on what else this machine runs."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from toolkit.bench.serving_peers import free_port

from conftest import REPO
from page_blocks import block, says, stated_outputs

BIN = Path(sys.executable).parent  # the venv's tk, python and pip
RUNNERS = {
    "bash": ["bash", "-euo", "pipefail", "-c"],
    "python": [str(BIN / "python"), "-c"],
    "js": ["node", "--input-type=module", "-e"],  # an ES module: the page's fetch example awaits at top level
}


def on_free_ports(text: str, port: int, grpc_port: int) -> str:
    """The block with its server on PORT and GRPC_PORT instead of 8000 and 8001."""
    text = text.replace("localhost:8000", f"localhost:{port}")
    flags = f" --port {port} --grpc-port {grpc_port}"
    return re.sub(r"^(tk serve [^&#\n]*?)(\s*(?:&|#.*)?)$", rf"\g<1>{flags}\g<2>", text, flags=re.M)


class Shell:
    """Runs a block's lines in the tour folder; servers started in the background are stopped at the end."""

    def __init__(self, folder: Path):
        self.folder, self.servers = folder, []
        self.port, self.grpc_port = free_port(), free_port()
        self.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(folder / "home")}

    def run(self, code: str, language: str = "bash", timeout: float = 300) -> str:
        """stdout of CODE, which must exit 0 (files, not pipes: nothing waits on a child that keeps them)."""
        out, err = self.folder / ".stdout", self.folder / ".stderr"
        with out.open("w") as stdout, err.open("w") as stderr:
            command = [*RUNNERS[language], on_free_ports(code, self.port, self.grpc_port)]
            done = subprocess.run(command, cwd=self.folder, env=self.env, stdout=stdout, stderr=stderr, timeout=timeout)
        assert done.returncode == 0, f"{code.strip()}\nexited {done.returncode}: {err.read_text()[-3000:]}"
        return out.read_text()

    def start(self, line: str, timeout: float = 90):
        """A `tk serve` line, in the background as a user's terminal runs it; returns once the server is ready."""
        command = on_free_ports(line.rstrip(" &"), self.port, self.grpc_port)
        with (self.folder / ".server").open("w") as stderr:  # the server keeps its own copy of the file
            server = subprocess.Popen(
                ["bash", "-c", f"exec {command}"], cwd=self.folder, env=self.env, stdout=subprocess.DEVNULL,
                stderr=stderr,
            )  # fmt: skip
        self.servers.append(server)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/health/ready", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"{line}: not ready: {(self.folder / '.server').read_text()[-2000:]}")

    def stop(self):
        for server in self.servers:
            server.send_signal(signal.SIGTERM)
            try:
                assert server.wait(30) == 0, (self.folder / ".server").read_text()[-2000:]
            finally:
                server.kill()


@pytest.fixture
def shell(tmp_path, quick_run):
    folder = tmp_path / "tour"
    for name in ("fashion-mlp", "review-sentiment"):
        shutil.copytree(REPO / "exported" / name, folder / "exported" / name)
    shutil.copytree(quick_run, folder / "runs" / "fashion-mlp")
    for shared in ("samples", "examples"):
        (folder / shared).symlink_to(REPO / shared)
    (folder / "home").mkdir()
    shell = Shell(folder)
    try:
        yield shell
    finally:
        shell.stop()


def test_serve_md_requests_from_curl_tritonclient_and_fetch(shell):
    """serve.md's server and the three clients it shows: curl, Triton's Python client, JavaScript's fetch."""
    code = block("commands/serve.md", "tk serve exported/fashion-mlp exported/review-sentiment")
    server, requests = code.split("\n", 1)
    shell.start(server)
    printed = shell.run(requests)
    assert '"inputs":[{"name":"input","datatype":"FP32","shape":[-1,1,28,28]}]' in printed  # the metadata call
    assert [says(stated, printed) for stated in stated_outputs(code)] == [True], printed

    code = block("commands/serve.md", "import numpy as np\nimport tritonclient.http")
    printed = shell.run(code, "python")
    assert [says(stated, printed) for stated in stated_outputs(code)] == [True], printed
    assert printed.splitlines()[-1] == re.search(r"# (\(1, 10\))$", code, re.M)[1]

    code = block("commands/serve.md", "const response = await fetch(")
    assert shell.run(code, "js").strip() == re.search(r"// (\[ '.*' \])$", code, re.M)[1]


def test_serve_md_rolls_a_new_version_out_by_poll(shell):
    """serve.md's repository: version 2 exported into the live repository is served within seconds."""
    code = block("commands/serve.md", "mkdir -p models/fashion-mlp")
    make, server, export, index = code.splitlines()[:4]
    shell.run(make)
    shell.start(server)
    shell.run(export)
    (stated,) = stated_outputs(code)
    deadline = time.monotonic() + 30  # the page says 5 s; a loaded 2-core machine gets some slack
    while not says(stated, printed := shell.run(index)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert says(stated, printed), printed


def test_serve_md_loads_and_unloads_with_tritonclient(shell):
    """serve.md's explicit model control from Triton's client, on the server and version 3 its text names."""
    shell.run("mkdir -p models/fashion-mlp && cp -r exported/fashion-mlp models/fashion-mlp/1")
    code = block("commands/serve.md", "import tritonclient.http as httpclient  # tk serve --repository")
    shell.start(re.search(r"# (tk serve .*)$", code, re.M)[1])
    shell.run("cp -r exported/fashion-mlp models/fashion-mlp/3")
    printed = shell.run(code, "python")
    assert "{'name': 'fashion-mlp', 'version': '3', 'state': 'READY', 'reason': ''}" in printed, printed
    assert urllib.request.urlopen(f"http://127.0.0.1:{shell.port}/v2/health/live").status == 200


def test_trust_md_signs_and_checks_a_bundle(shell):
    """trust.md's key, signed export, and checked infer and verify."""
    printed = shell.run(block("trust.md", "tk keygen"))
    assert (shell.folder / "home" / ".tk" / "release-key.pub").is_file()
    assert (shell.folder / "exported" / "fashion-mlp" / "manifest.sig").is_file()
    assert "samples/sneaker-9.png: " in printed and "rows that ran match eager" in printed, printed


def test_embedding_md_predictor_sketch(shell):
    """embedding.md's Predictor calls, from the tour's folder."""
    code = block("deploying/embedding.md", "import numpy as np\nfrom toolkit.runtime import Predictor")
    printed = shell.run(code, "python").splitlines()
    assert printed[0] == "Bag" and "nope.png" in printed[2] and printed[3] == "(4, 10)", printed


def test_node_examples_validate_a_manifest_and_classify_a_review(shell):
    """bundle.md's manifest check with ajv and embedding.md's classify.js, each with its npm install."""
    for page, first in [("bundle.md", "cd examples/node"), ("deploying/embedding.md", "cd examples/node")]:
        code = block(page, first)
        printed = shell.run(code)
        stated = stated_outputs(code) or [re.search(r"# (\S+: valid)$", code, re.M)[1]]
        assert all(says(line, printed) for line in stated), (page, printed)


def test_report_md_writes_the_page(shell):
    shell.run(block("commands/report.md", "tk report"))
    page = (shell.folder / "fashion-mlp.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "fashion-mlp" in page
