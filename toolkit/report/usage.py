"""The report's "how to call it" snippets, filled in with the bundle's own names and shapes."""

import json


def snippets(manifest, bundle_dir: str) -> list:
    """[(title, code)]: the tk command line, Python with toolkit.runtime, and JavaScript with onnxruntime-node."""
    if manifest.input.kind == "text":
        return text_snippets(bundle_dir)
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
    return [("command line", command), ("Python", python), ("JavaScript (Node)", javascript)]


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
