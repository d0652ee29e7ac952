"""tk serve against Triton's own clients (tritonclient.http and .grpc, unmodified) on 127.0.0.1: every zoo
bundle's metadata and answers equal Predictor's, over JSON, binary and gRPC, with and without the
classification extension; encoded images and text as BYTES; the Triton repository agrees with the metadata."""

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from toolkit.runtime import Predictor
from toolkit.runtime.bundle import service_name

from conftest import REPO, SAMPLES
from serving import ZOO, start

DATATYPE = {"float32": "FP32", "int64": "INT64"}
SNIPPETS = ["A gorgeous, witty, seductive movie.", "Dull, lifeless and far too long.", "not bad at all"]
IMAGES = sorted(SAMPLES.glob("*.png"))


@pytest.fixture(scope="module")
def server():
    served = start(*ZOO, "--max-batch", "64")
    yield served
    assert served.stop() == 0


def model_input(predictor: Predictor) -> np.ndarray:
    """A batch of real inputs: test-split images, random rows, tokenized snippets."""
    if predictor.kind == "image":
        return np.stack([predictor.preprocess(path) for path in IMAGES[:4]])
    if predictor.kind == "text":
        return predictor.tokenizer.batch([predictor.tokenizer.encode(s).ids for s in SNIPPETS])
    return np.random.default_rng(0).uniform(-3, 3, (5, len(predictor.features))).astype(np.float32)


def infer(client, module, name, batch, datatype, binary=True, **output):
    tensor = module.InferInput("input", list(batch.shape), datatype)
    if module is httpclient:
        tensor.set_data_from_numpy(batch, binary_data=binary)
        wanted = module.InferRequestedOutput(output.pop("output", "logits"), binary_data=binary, **output)
    else:
        tensor.set_data_from_numpy(batch)
        wanted = module.InferRequestedOutput(output.pop("output", "logits"), **output)
    return client.infer(name, [tensor], outputs=[wanted], request_id="req-7")


def clients(served):
    return [
        (httpclient, httpclient.InferenceServerClient(served.http)),
        (grpcclient, grpcclient.InferenceServerClient(served.grpc)),
    ]


@pytest.mark.parametrize("bundle", ZOO, ids=[p.name for p in ZOO])
def test_every_zoo_bundle_answers_as_predictor_does(server, bundle):
    predictor = Predictor(bundle)
    manifest = predictor.manifest
    name, batch = service_name(manifest.model), model_input(predictor)
    expected = predictor.run(batch)
    shape = [-1, *(d if isinstance(d, int) else -1 for d in manifest.input.shape[1:])]
    for module, client in clients(server):
        assert client.is_model_ready(name)
        metadata = (
            client.get_model_metadata(name, as_json=True) if module is grpcclient else client.get_model_metadata(name)
        )
        assert metadata["inputs"] == [
            {
                "name": manifest.input.name,
                "datatype": DATATYPE[manifest.input.dtype],
                "shape": [str(d) for d in shape] if module is grpcclient else shape,
            }
        ]
        assert metadata["outputs"][0]["name"] == manifest.output.name and metadata["versions"] == ["1"]
        for binary in (True, False) if module is httpclient else (True,):
            result = infer(
                client, module, name, batch, DATATYPE[manifest.input.dtype], binary, output=manifest.output.name
            )
            np.testing.assert_allclose(result.as_numpy(manifest.output.name), expected, rtol=1e-5, atol=1e-6)
            response = result.get_response()
            assert (response["id"] if module is httpclient else response.id) == "req-7"
        if manifest.labels:
            check_classification(client, module, name, predictor, batch, expected)


def check_classification(client, module, name, predictor, batch, expected):
    """Triton's classification extension: per row the top k as "score:index:label", best first."""
    k = min(3, len(predictor.labels))
    result = infer(
        client,
        module,
        name,
        batch,
        DATATYPE[predictor.manifest.input.dtype],
        output=predictor.manifest.output.name,
        class_count=k,
    )
    classes = result.as_numpy(predictor.manifest.output.name)
    assert classes.shape == (len(batch), k)
    if predictor.manifest.output.kind == "probability":  # one P(class 1): scored as both classes' probabilities
        expected = predictor.probabilities(batch)
    for row, logits, prediction in zip(classes, expected, predictor.predict(batch, top_k=k), strict=True):
        parsed = [item.decode().split(":", 2) for item in row]
        assert [int(index) for _, index, _ in parsed] == [t["index"] for t in prediction.top]
        assert [label for _, _, label in parsed] == [t["label"] for t in prediction.top]
        np.testing.assert_allclose(
            [float(s) for s, _, _ in parsed], logits[[t["index"] for t in prediction.top]], atol=1e-5
        )


def test_encoded_images_as_bytes_are_prepared_as_tk_infer_prepares_them(server):
    predictor = Predictor(ZOO[[p.name for p in ZOO].index("fashion-mlp")])
    files = [*IMAGES, SAMPLES / "photo-sneaker-9.jpg"]
    expected = [r["top"] for r in predictor.answer(files, top_k=10)]
    encoded = np.array([path.read_bytes() for path in files] + [b""], dtype=object)[:-1]
    for module, client in clients(server):
        result = infer(client, module, "fashion-mlp", encoded, "BYTES", class_count=10)
        for row, top in zip(result.as_numpy("logits"), expected, strict=True):
            assert [item.decode().split(":", 2)[2] for item in row] == [t["label"] for t in top]
        logits = infer(client, module, "fashion-mlp", encoded, "BYTES").as_numpy("logits")
        np.testing.assert_allclose(logits, predictor.run(np.stack([predictor.preprocess(f) for f in files])), atol=1e-6)


def test_text_as_bytes_is_tokenized_as_tk_infer_tokenizes_it(server):
    predictor = Predictor(ZOO[[p.name for p in ZOO].index("review-sentiment")])
    snippets = np.array([s.encode() for s in SNIPPETS] + [b""], dtype=object)[:-1]
    for module, client in clients(server):
        for one in snippets:  # alone, and all together (padded to the longest, as tk infer pads)
            logits = infer(client, module, "review-sentiment", np.array([one], dtype=object), "BYTES").as_numpy(
                "logits"
            )
            np.testing.assert_allclose(
                logits[0], predictor.run(predictor.tokenizer.encode(one.decode()).ids)[0], atol=1e-6
            )
        together = infer(client, module, "review-sentiment", snippets, "BYTES", class_count=1).as_numpy("logits")
        assert [row[0].decode().rsplit(":", 1)[1] for row in together] == [
            predictor.predict_text(s).label for s in SNIPPETS
        ]


def test_the_triton_repository_declares_what_serve_reports(server, cli, tmp_path):
    """A client moves from tk serve to Triton fed by `tk export --format triton` without a change."""
    for model in ("fashion-mlp", "multivariate-regression"):
        result = cli("export", model, "--format", "triton", "--out", tmp_path / "repo")
        assert result.exit_code == 0, result.output
        config = text_format.Parse(
            (tmp_path / "repo" / model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
        )
        metadata = httpclient.InferenceServerClient(server.http).get_model_metadata(model)
        assert config.name == metadata["name"] == model
        for declared, reported in ((config.input, metadata["inputs"]), (config.output, metadata["outputs"])):
            assert [t.name for t in declared] == [t["name"] for t in reported]
            assert [model_config_pb2.DataType.Name(t.data_type) for t in declared] == [
                f"TYPE_{t['datatype']}" for t in reported
            ]
            assert [[-1, *t.dims] for t in declared] == [t["shape"] for t in reported]


def test_server_metadata_and_health(server):
    for module, client in clients(server):
        assert client.is_server_live() and client.is_server_ready()
        metadata = client.get_server_metadata(as_json=True) if module is grpcclient else client.get_server_metadata()
        assert metadata["name"] == "tk"
        assert {"binary_tensor_data", "classification"} <= set(metadata["extensions"])
    index = httpclient.InferenceServerClient(server.http).get_model_repository_index()
    assert sorted(m["name"] for m in index) == sorted(service_name(Predictor(p).manifest.model) for p in ZOO)


def test_the_descriptor_set_is_compiled_from_the_protocols_proto(tmp_path):
    from grpc_tools import protoc

    folder = REPO / "toolkit" / "serve" / "proto"
    compiled = tmp_path / "open_inference_grpc.desc"
    arguments = ["protoc", f"-I{folder}", f"--descriptor_set_out={compiled}", str(folder / "open_inference_grpc.proto")]
    assert protoc.main(arguments) == 0
    assert compiled.read_bytes() == (folder / "open_inference_grpc.desc").read_bytes(), "run scripts/protos.sh"
