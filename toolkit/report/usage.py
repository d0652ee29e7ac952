"""The report's "how to call it" snippets, filled in with the bundle's own names and shapes."""

import json

from toolkit.runtime.bundle import service_name


def snippets(manifest, bundle_dir: str) -> list:
    """[(title, code)]: the tk command line, Python with toolkit.runtime, JavaScript with onnxruntime-node,
    tk serve with a client, and the container."""
    if manifest.input.kind == "text":
        return text_snippets(bundle_dir) + served(manifest, bundle_dir)
    image = manifest.input.kind == "image"
    shape = [1, *manifest.input.sample_shape]
    command = (
        f"tk infer --model {bundle_dir} picture.png --top-k 3"
        if image
        else f"tk infer --model {bundle_dir} --values {','.join('0' for _ in manifest.input.features)}"
    )
    python_call = (
        'print(predictor.predict_image("picture.png", top_k=3).top)'
        if image
        else f"print(next(predictor.answer(values=[{','.join('0' for _ in manifest.input.features)!r}])))"
    )
    python = "\n".join(
        [
            "from toolkit.runtime import Predictor  # numpy, onnxruntime and PIL; never torch",
            "",
            f"predictor = Predictor({bundle_dir!r})  # checks model.onnx against the manifest's sha256",
            python_call,
        ]
    )
    size = 1
    for side in shape:
        size *= side
    javascript = "\n".join(
        [
            "// npm install onnxruntime-node   (prepare the input as the manifest's preprocessing says)",
            'const ort = require("onnxruntime-node");',
            f'const session = await ort.InferenceSession.create("{bundle_dir}/model.onnx");',
            f'const input = new ort.Tensor("float32", new Float32Array({size}), {json.dumps(shape)});',
            f"const result = await session.run({{ {json.dumps(manifest.input.name)}: input }});",
            f"console.log(result[{json.dumps(manifest.output.name)}].data);",
        ]
    )
    found = [("command line", command), ("Python", python), ("JavaScript (Node)", javascript)]
    return found + served(manifest, bundle_dir)


def served(manifest, bundle_dir: str) -> list:
    """[(title, code)]: tk serve with a client call for this model's input, and tk image with its run line."""
    name, kind = service_name(manifest.model), manifest.input.kind
    serve = [f"tk serve {bundle_dir}   # the Open Inference Protocol (KServe v2): REST on :8000, gRPC on :8001"]
    if kind == "image":  # an encoded file as BYTES, prepared by the server as tk infer prepares it
        client = [
            "# pip install tritonclient[http]",
            "import numpy as np, tritonclient.http as http",
            'client = http.InferenceServerClient("localhost:8000")',
            f'image = http.InferInput("{manifest.input.name}", [1], "BYTES")',
            'image.set_data_from_numpy(np.array([open("picture.png", "rb").read()], dtype=object))',
            f'print(client.infer("{name}", [image]).as_numpy("{manifest.output.name}"))',
        ]
        title = "HTTP: tk serve and tritonclient"
    else:
        tensor = (
            {"name": manifest.input.name, "datatype": "BYTES", "shape": [1], "data": ["A gorgeous, moving film."]}
            if kind == "text"
            else {
                "name": manifest.input.name,
                "datatype": "FP32",
                "shape": [1, len(manifest.input.features)],
                "data": [0.0] * len(manifest.input.features),
            }
        )
        body = json.dumps({"inputs": [tensor]})
        client = [f"curl -s localhost:8000/v2/models/{name}/infer -H 'Content-Type: application/json' -d '{body}'"]
        title = "HTTP: tk serve and curl"
    image = [
        f"tk image {bundle_dir} --tag tk-{name}   # non-root, read-only; deploy/ holds its Kubernetes manifests",
        f"podman run --rm -p 8080:8080 -p 8081:8081 --read-only --cap-drop=ALL tk-{name}",
    ]
    return [(title, "\n".join(serve + client)), ("A container", "\n".join(image))]


def text_snippets(bundle_dir: str) -> list:
    python = "\n".join(
        [
            "from toolkit.runtime import Predictor  # numpy and onnxruntime; never torch",
            "",
            f"predictor = Predictor({bundle_dir!r})  # checks model.onnx and vocab.json against their sha256",
            'print(predictor.predict_text("A gorgeous, moving film.", top_k=2).top)',
        ]
    )
    javascript = "\n".join(
        [
            "// examples/node in tk's repository: tokenizer.js (the manifest's tokenizer rules) and classify.js",
            "// cd examples/node && npm install --ignore-scripts",
            f"// printf 'A gorgeous, moving film.\\n' | node classify.js {bundle_dir}",
        ]
    )
    command = f'tk infer --model {bundle_dir} --text "A gorgeous, moving film." --top-k 2'
    return [("command line", command), ("Python", python), ("JavaScript (Node)", javascript)]
