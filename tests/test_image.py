"""tk image with the real engine and the real clients: the image is built once with podman (an image, a
tabular and the text bundle, signed, with a token), run on 127.0.0.1 locked down (read-only with no tmpfs,
no capabilities, no new privileges, 256 MB, 256 pids), and asked by the stock tritonclient over HTTP and
gRPC; its answers are Predictor's. Then: what the image holds, SIGTERM, a wrong key, a second build's ID,
the archive, and the manifests against Kubernetes' and KServe's own schemas."""

import json
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import yaml

from toolkit.bench.serving_peers import free_port
from toolkit.deploy import context, kubernetes
from toolkit.runtime import Predictor, bundle, signing
from toolkit.serve.server import DRAIN_SECONDS

from conftest import REPO, SAMPLES, rehash
from page_blocks import block

BUNDLES = ["fashion-mlp", "softmax-classifier", "review-sentiment"]
TOKEN_PATH = "/run/secrets/tk/token"
TOKEN = "s3cret-token-for-the-image-tests"
# As the image is meant to run, and not even podman's default tmpfs on /tmp and /run: nothing in tk serve writes.
LOCKED_DOWN = [*context.LOCKED_DOWN, "--read-only-tmpfs=false"]
SNIPPETS = ["A gorgeous, witty, seductive movie.", "Dull, lifeless and far too long."]
KSERVE_PYTHON = REPO / "runs" / "peers" / "kserve" / "bin" / "python"


def podman(*args, check=True, timeout=300) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(map(str, args))}: {done.stderr.strip()[-2000:]}")
    return done


def tk(*args, cwd=REPO) -> subprocess.CompletedProcess:
    command = [str(REPO / ".venv" / "bin" / "python"), "-m", "toolkit", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=1800)


def wait_ready(address: str, running=lambda: True, logs=lambda: "", timeout=60):
    """Until /v2/health/ready answers 200; fails with the logs if the server stops or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running():
            raise AssertionError(f"the container stopped: {logs()}")
        try:
            with urllib.request.urlopen(f"http://{address}/v2/health/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise AssertionError(f"{address} not ready in {timeout} s: {logs()}")


class Container:
    """One container of the image on free ports of 127.0.0.1; removed by stop()."""

    def __init__(self, image: str, *extra, volumes=(), wait=True):
        if shutil.which("podman") is None:
            pytest.fail("podman is not installed (scripts/setup.sh installs it)")
        self.name = f"tk-test-{free_port()}"
        self.http_port, self.grpc_port = free_port(), free_port()
        ports = ["-p", f"127.0.0.1:{self.http_port}:8080", "-p", f"127.0.0.1:{self.grpc_port}:8081"]
        mounts = [arg for source, target in volumes for arg in ("-v", f"{source}:{target}:ro")]
        podman("run", "-d", "--pull=never", "--name", self.name, *ports, *LOCKED_DOWN, *mounts, *extra, image)
        if wait:
            self.wait_ready()

    @property
    def http(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def wait_ready(self):
        wait_ready(self.http, running=lambda: self.state() == "running", logs=self.logs)

    def state(self) -> str:
        return podman("inspect", "--format", "{{.State.Status}}", self.name).stdout.strip()

    def exit_code(self) -> int:
        return int(podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout)

    def logs(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def python(self, code: str) -> subprocess.CompletedProcess:
        return podman("exec", self.name, "python3", "-c", code, check=False)

    def stop(self):
        podman("rm", "-f", "-t", "0", self.name, check=False)


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    signing.generate(folder / "signer")
    signing.generate(folder / "other")
    return folder


@pytest.fixture(scope="session")
def signed_bundles(tmp_path_factory, keys):
    """Copies of the three zoo bundles, signed with the test key."""
    folder = tmp_path_factory.mktemp("bundles")
    copies = []
    for name in BUNDLES:
        copy = folder / name
        shutil.copytree(REPO / "exported" / name, copy)
        signing.sign(copy, bundle.read_manifest(copy), keys / "signer")
        copies.append(copy)
    return copies


@pytest.fixture(scope="session")
def token_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("secret") / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)  # the container's user (uid 10001) reads it through the mount
    return path


@pytest.fixture(scope="session")
def built(tmp_path_factory, signed_bundles, keys):
    """The image, built once: `tk image` as a user runs it, with the archive and deploy/ beside it."""
    out = tmp_path_factory.mktemp("out") / "tk-test.tar.gz"
    tag = f"localhost/tk-test:{free_port()}"
    args = [*signed_bundles, "--tag", tag, "--out", out, "--token-file", TOKEN_PATH]
    result = tk("image", *args, "--verify-signature", keys / "signer.pub")
    assert result.returncode == 0, result.stderr
    image_id = podman("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
    assert image_id[:19] in result.stdout
    yield {"tag": tag, "id": image_id, "out": out, "args": args, "stdout": result.stdout}
    podman("rmi", "-f", tag, check=False)


@pytest.fixture(scope="session")
def served(built, token_file):
    container = Container(built["tag"], volumes=[(token_file, TOKEN_PATH)])
    yield container
    container.stop()


def auth() -> dict:
    """A new dict each call: tritonclient.http adds its own headers to the one it is given."""
    return {"authorization": f"Bearer {TOKEN}"}


def model_input(predictor: Predictor) -> np.ndarray:
    if predictor.kind == "image":
        return np.stack([predictor.preprocess(path) for path in sorted(SAMPLES.glob("*.png"))[:4]])
    if predictor.kind == "text":
        return predictor.tokenizer.batch([predictor.tokenizer.encode(s).ids for s in SNIPPETS])
    return np.random.default_rng(0).uniform(-3, 3, (5, len(predictor.features))).astype(np.float32)


@pytest.mark.parametrize("name", BUNDLES)
def test_the_image_answers_tritonclient_over_http_and_grpc_as_predictor_does(served, signed_bundles, name):
    predictor = Predictor(signed_bundles[BUNDLES.index(name)], device="cpu")
    batch = model_input(predictor)
    datatype = "FP32" if batch.dtype == np.float32 else "INT64"
    expected = predictor.run(batch)
    for module, client in (
        (httpclient, httpclient.InferenceServerClient(served.http)),
        (grpcclient, grpcclient.InferenceServerClient(served.grpc)),
    ):
        metadata = client.get_model_metadata(name, headers=auth())
        inputs = metadata["inputs"] if module is httpclient else [{"name": i.name} for i in metadata.inputs]
        assert inputs[0]["name"] == predictor.manifest.input.name
        tensor = module.InferInput(predictor.manifest.input.name, list(batch.shape), datatype)
        tensor.set_data_from_numpy(batch)
        answer = client.infer(name, [tensor], headers=auth()).as_numpy(predictor.manifest.output.name)
        np.testing.assert_allclose(answer, expected, rtol=1e-5, atol=1e-6)


def test_encoded_images_and_text_go_in_as_bytes(served, signed_bundles):
    client = httpclient.InferenceServerClient(served.http)
    for name, items in (("fashion-mlp", [(SAMPLES / "bag-18.png").read_bytes()]), ("review-sentiment", SNIPPETS)):
        predictor = Predictor(signed_bundles[BUNDLES.index(name)], device="cpu")
        data = np.array([i if isinstance(i, bytes) else i.encode() for i in items], dtype=object)
        tensor = httpclient.InferInput(predictor.manifest.input.name, [len(items)], "BYTES")
        tensor.set_data_from_numpy(data)
        answer = client.infer(name, [tensor], headers=auth()).as_numpy(predictor.manifest.output.name)
        if name == "fashion-mlp":
            expected = predictor.run(predictor.preprocess(SAMPLES / "bag-18.png")[None])
        else:
            expected = predictor.run(predictor.tokenizer.batch([predictor.tokenizer.encode(s).ids for s in SNIPPETS]))
        np.testing.assert_allclose(answer, expected, rtol=1e-5, atol=1e-6)


def test_every_route_but_health_needs_the_mounted_token(served):
    with urllib.request.urlopen(f"http://{served.http}/v2/health/ready", timeout=5) as answer:
        assert answer.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://{served.http}/v2/models/fashion-mlp", timeout=5)
    assert refused.value.code == 401


def test_the_image_holds_only_python_and_runs_as_a_fixed_non_root_user(served, built):
    assert podman("image", "inspect", "--format", "{{.Config.User}}", built["tag"]).stdout.strip() == "10001:10001"
    found = served.python(
        "import importlib.util as u, os, json; print(json.dumps({"
        "'uid': os.getuid(), 'gid': os.getgid(), 'bin': sorted(os.listdir('/usr/bin')),"
        "'missing': [m for m in ('torch', 'pip', 'setuptools', 'rich', 'pygments') if u.find_spec(m) is None]}))"
    )
    assert found.returncode == 0, found.stderr
    facts = json.loads(found.stdout)
    assert (facts["uid"], facts["gid"]) == (10001, 10001)
    assert facts["missing"] == ["torch", "pip", "setuptools", "rich", "pygments"]
    assert all(name.startswith("python3") for name in facts["bin"]), facts["bin"]  # no shell, no tools
    shell = podman("exec", served.name, "sh", "-c", "true", check=False)
    assert shell.returncode != 0
    inspected = podman("image", "inspect", built["tag"]).stdout
    assert TOKEN_PATH in inspected and TOKEN not in inspected  # where the token is read from, never what it is


def test_the_healthcheck_probes_readiness(served, built):
    check = podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}", built["tag"]).stdout
    assert "/v2/health/ready" in check
    assert podman("healthcheck", "run", served.name, check=False).returncode == 0


def test_sigterm_drains_and_exits_0(built, token_file):
    container = Container(built["tag"], volumes=[(token_file, TOKEN_PATH)])
    try:
        started = time.monotonic()
        podman("stop", "-t", str(3 * DRAIN_SECONDS), container.name)
        assert time.monotonic() - started < 2 * DRAIN_SECONDS
        assert container.exit_code() == 0
        assert container.logs().strip().splitlines()[-1] == "tk serve: stopped"
    finally:
        container.stop()


def test_a_key_that_did_not_sign_the_bundles_stops_the_container_with_one_line(built, token_file, keys):
    volumes = [(token_file, TOKEN_PATH), (keys / "other.pub", "/etc/tk/signing.pub")]
    container = Container(built["tag"], volumes=volumes, wait=False)
    try:
        code = int(podman("wait", container.name, timeout=60).stdout.strip())
        assert code != 0
        errors = [line for line in container.logs().splitlines() if line.startswith("tk: error:")]
        assert len(errors) == 1 and "does not match /etc/tk/signing.pub" in errors[0], container.logs()
        assert "Traceback" not in container.logs()
    finally:
        container.stop()


def test_without_the_mounted_token_the_container_says_so_and_exits(built):
    container = Container(built["tag"], wait=False)
    try:
        assert int(podman("wait", container.name, timeout=60).stdout.strip()) == 2
        assert f"tk: error: --token-file {TOKEN_PATH}: not a file" in container.logs()
    finally:
        container.stop()


def test_a_second_build_of_the_same_bundles_has_the_same_image_id(built, keys, tmp_path):
    tag = f"localhost/tk-test-again:{free_port()}"
    args = [a if a != built["tag"] else tag for a in built["args"]]
    args[args.index("--out") + 1] = tmp_path / "again.tar"
    try:
        result = tk("image", *args, "--verify-signature", keys / "signer.pub")
        assert result.returncode == 0, result.stderr
        assert podman("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip() == built["id"]
    finally:
        podman("rmi", "-f", tag, check=False)


def test_the_saved_archive_loads_as_the_same_image(built):
    """podman 4 takes no gzip itself: the archive goes in through gunzip, as the README shows."""
    podman("untag", built["tag"], built["tag"])  # the name goes; the image stays for the containers using it
    unpacked = subprocess.run(["gunzip", "-c", built["out"]], capture_output=True, check=True).stdout
    loaded = subprocess.run(["podman", "load"], input=unpacked, capture_output=True, check=True)
    assert built["tag"] in loaded.stdout.decode()
    assert podman("image", "inspect", "--format", "{{.Id}}", built["tag"]).stdout.strip() == built["id"]


def test_the_saved_archive_runs_under_docker_too(built, token_file):
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker engine runs here (the docker client alone cannot load an image)")
    name = f"tk-test-docker-{free_port()}"
    port = free_port()
    subprocess.run(["docker", "load", "-i", built["out"]], check=True, capture_output=True)
    run = ["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", "--read-only", "--cap-drop=ALL"]
    subprocess.run([*run, "-v", f"{token_file}:{TOKEN_PATH}:ro", built["tag"]], check=True, capture_output=True)
    try:
        wait_ready(f"127.0.0.1:{port}")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_the_pages_build_line_then_its_run_line_serve_the_bundle(tmp_path):
    """The tk image page's build line and its `podman run` line, as written but for the ports (and -d)."""
    build = block("commands/image.md", "tk image exported/fashion-mlp --tag")
    (tmp_path / "exported").mkdir()
    (tmp_path / "exported" / "fashion-mlp").symlink_to(REPO / "exported" / "fashion-mlp")
    args = shlex.split(build.split("#", 1)[0])
    tag = f"localhost/{args[-1]}:latest"  # what podman names an image tagged without a registry or a version
    result = tk(*args[1:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    try:
        assert (tmp_path / "deploy" / "k8s.yaml").is_file()
        run = block("commands/image.md", "podman run ")
        args = shlex.split(run)
        assert args[-1] == "tk-fashion-mlp" and "--read-only" in args and "--cap-drop=ALL" in args
        http, grpc = free_port(), free_port()
        args = [
            a.replace("8080:8080", f"127.0.0.1:{http}:8080").replace("8081:8081", f"127.0.0.1:{grpc}:8081")
            for a in args
        ]
        name = f"tk-test-page-{http}"
        subprocess.run([*args[:2], "-d", "--pull=never", "--name", name, *args[2:]], check=True, capture_output=True)
        try:
            wait_ready(f"127.0.0.1:{http}")
            image = httpclient.InferInput("input", [1], "BYTES")
            image.set_data_from_numpy(np.array([(SAMPLES / "bag-18.png").read_bytes()], dtype=object))
            top = httpclient.InferRequestedOutput("logits", class_count=1)
            answer = httpclient.InferenceServerClient(f"127.0.0.1:{http}").infer("fashion-mlp", [image], outputs=[top])
            assert answer.as_numpy("logits")[0][0].decode().endswith(":8:Bag")
        finally:
            podman("rm", "-f", "-t", "0", name, check=False)
    finally:
        podman("rmi", "-f", tag, check=False)


def documents(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_k8s_yaml_is_valid_against_the_kubernetes_schemas(built):
    import kubernetes_validate

    docs = documents(built["out"].parent / "deploy" / "k8s.yaml")
    assert [d["kind"] for d in docs] == ["Deployment", "Service"]
    for doc in docs:
        kubernetes_validate.validate(doc, kubernetes_validate.utils.latest_version(), strict=True)
    pod = docs[0]["spec"]["template"]["spec"]
    serving = pod["containers"][0]
    assert serving["image"] == built["tag"]
    assert serving["securityContext"]["readOnlyRootFilesystem"] and serving["securityContext"]["runAsNonRoot"]
    assert serving["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert serving["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert serving["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert pod["terminationGracePeriodSeconds"] > DRAIN_SECONDS
    assert serving["volumeMounts"][0]["mountPath"] == "/run/secrets/tk"
    assert pod["volumes"][0]["secret"]["items"] == [{"key": "token", "path": "token"}]
    broken = json.loads(json.dumps(docs[0]))
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True  # a typo: unknown field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.utils.latest_version(), strict=True)


def kserve_check(path: Path) -> subprocess.CompletedProcess:
    if not KSERVE_PYTHON.exists():
        pytest.fail(f"no KServe SDK at {KSERVE_PYTHON} (scripts/setup.sh makes it with scripts/serve_peers.sh kserve)")
    script = REPO / "tests" / "data" / "kserve_check.py"
    return subprocess.run([KSERVE_PYTHON, script, path], capture_output=True, text=True, timeout=120)


def test_kserve_yaml_is_a_valid_inference_service_for_the_kserve_sdk(built, tmp_path):
    path = built["out"].parent / "deploy" / "kserve.yaml"
    checked = kserve_check(path)
    assert checked.returncode == 0, checked.stderr
    assert "V1beta1InferenceService" in checked.stdout
    doc = documents(path)[0]
    ports = doc["spec"]["predictor"]["containers"][0]["ports"]
    assert [(p["name"], p["containerPort"]) for p in ports] == [("http1", 8080), ("h2c", 8081)]
    doc["spec"]["predictor"]["containers"][0]["prots"] = []  # a typo: unknown field
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(doc))
    refused = kserve_check(tmp_path / "broken.yaml")
    assert refused.returncode != 0 and "prots" in refused.stderr


def test_the_yaml_writer_writes_what_yaml_reads_back():
    workload = kubernetes.Workload.for_image("registry.example.com/team/Tk_Fashion:2", "/run/secrets/tk/token")
    assert workload.name == "tk-fashion"
    for document in (kubernetes.deployment(workload), kubernetes.service(workload)):
        assert yaml.safe_load(kubernetes.to_yaml(document)) == document
    odd = {"a": ["x: y", "- z", "#", "true", "", 1, 2.5, False], "b": {}, "c": [], "d": [{"e": [{"f": "g"}]}]}
    assert yaml.safe_load(kubernetes.to_yaml(odd)) == odd


def test_a_tampered_bundle_is_refused_before_anything_is_built(tmp_path):
    copy = tmp_path / "fashion-mlp"
    shutil.copytree(REPO / "exported" / "fashion-mlp", copy)
    with open(copy / "model.onnx", "r+b") as model:
        model.seek(-8, 2)
        model.write(b"\x00" * 8)
    result = tk("image", copy, "--tag", "localhost/tk-never-built:1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"tk: error: {copy}/model.onnx: sha256 does not match the manifest (file changed or corrupt)"
    ]
    rehash(copy, "model.onnx")  # the hash made to fit: ONNX Runtime still refuses the broken graph
    result = tk("image", copy, "--tag", "localhost/tk-never-built:1")
    assert result.returncode == 1 and "ONNX Runtime cannot load it" in result.stderr, result.stderr
    assert podman("image", "exists", "localhost/tk-never-built:1", check=False).returncode != 0


def test_a_model_name_that_is_no_folder_name_is_refused(tmp_path):
    copy = tmp_path / "odd"
    shutil.copytree(REPO / "exported" / "fashion-mlp", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["model"] = ".."
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = tk("image", copy)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"tk: error: {copy}: model name '..' cannot be a folder of the image (letters, digits, . _ -)"
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "Missing argument 'bundles'"),
        (["exported/fashion-mlp", "--out", "image.zip"], "--out image.zip: the archive's name must end in .tar"),
        (["exported/fashion-mlp", "--token-file", "token"], "--token-file token: must be an absolute path"),
        (["exported/fashion-mlp", "--token-file", "/models/token"], "mount the secret outside /models"),
        (["exported/fashion-mlp", "--token-file", "/run/se crets/token"], "must be an absolute path"),
        (["exported/fashion-mlp", "--engine", "rkt"], "Invalid value for '--engine'"),
        (["exported/no-such-bundle"], "exported/no-such-bundle: no such bundle folder"),
        (["exported/fashion-mlp", "exported/fashion-mlp"], "a second bundle of model 'fashion-mlp'"),
    ],
)
def test_mistakes_are_one_line(args, message):
    result = tk("image", *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
