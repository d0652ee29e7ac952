"""An inference request as REST (JSON, with Triton's binary tensor data extension) or gRPC brings it,
parsed into one form, and the answer in the form each protocol sends back.

REST body: JSON, or with the `Inference-Header-Content-Length: N` header N bytes of JSON followed by the
inputs whose `parameters.binary_data_size` says how many bytes of the rest are theirs, in input order.
An output is sent as binary when its `parameters.binary_data` is true, or by default when the request's
`parameters.binary_data_output` is; `parameters.classification: k` asks for the top k classes instead.
"""

from dataclasses import dataclass, field

import orjson

from toolkit.serve import tensors
from toolkit.serve.tensors import ProtocolError

MAX_CLASSES = 1 << 16


@dataclass
class RequestedOutput:
    name: str
    binary: bool = False
    classification: int = 0  # k > 0: the top k classes as "score:index:label" strings


@dataclass
class InferRequest:
    id: str | None
    inputs: list  # of Tensor
    outputs: list = field(default_factory=list)  # of RequestedOutput; empty: every output
    binary_default: bool = False  # how to send the outputs that were not named


@dataclass
class OutputTensor:
    name: str
    datatype: str
    array: object  # np.ndarray
    binary: bool = False


NON_FINITE = (b"-Infinity", b"Infinity", b"NaN")  # what Python's json writes for non-finite floats


def _non_finite_at(text: bytes, position: int) -> str | None:
    """The non-finite token where the JSON parser stopped, if that is what stopped it."""
    return next((t.decode() for t in NON_FINITE if t in text[max(0, position - 1) : position + len(t)]), None)


def parse_json(text: bytes) -> dict:
    """The request's JSON object (orjson: a tenth of the stdlib's time on a 784-number body)."""
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        found = _non_finite_at(text, exc.pos) or ("a number too large" if "infinity" in str(exc) else None)
        if found:
            raise ProtocolError(f"the request's JSON holds {found}: only finite numbers are allowed") from None
        raise ProtocolError(f"the request body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ProtocolError("the request body must be a JSON object")
    return body


def parameters(holder: dict, where: str) -> dict:
    found = holder.get("parameters", {})
    if not isinstance(found, dict):
        raise ProtocolError(f"{where}: parameters must be a JSON object")
    return found


def flag(params: dict, key: str, where: str) -> bool:
    value = params.get(key, False)
    if not isinstance(value, bool):
        raise ProtocolError(f"{where}: parameter {key!r} must be true or false")
    return value


def class_count(value, where: str) -> int:
    if value is None:
        return 0
    if type(value) is not int or not 0 < value <= MAX_CLASSES:
        raise ProtocolError(f"{where}: classification must be a positive integer, got {value!r}")
    return value


def parse_rest(body: bytes, header_length: str | None) -> InferRequest:
    """A REST infer body (and its Inference-Header-Content-Length header, if any) -> InferRequest."""
    binary = b""
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise ProtocolError(f"Inference-Header-Content-Length {header_length!r} does not fit the body")
        binary, body = body[int(header_length) :], body[: int(header_length)]
    request = parse_json(body)
    request_params = parameters(request, "the request")
    inputs, offset = [], 0
    raw_inputs = request.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise ProtocolError("the request needs 'inputs', a non-empty list")
    for item in raw_inputs:
        tensor, offset = _rest_input(item, binary, offset)
        inputs.append(tensor)
    if offset != len(binary):
        raise ProtocolError(f"{len(binary) - offset} bytes of binary data after the last input's")
    default_binary = flag(request_params, "binary_data_output", "the request")
    outputs = [_rest_output(item, default_binary) for item in _list(request, "outputs")]
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ProtocolError("the request's 'id' must be a string")
    return InferRequest(request_id, inputs, outputs, default_binary)


def _list(request: dict, key: str) -> list:
    found = request.get(key, [])
    if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
        raise ProtocolError(f"the request's {key!r} must be a list of objects")
    return found


def _rest_input(item, binary: bytes, offset: int) -> tuple:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ProtocolError("every input needs a 'name'")
    name = item["name"]
    datatype, shape = item.get("datatype"), item.get("shape")
    size = parameters(item, f"input {name!r}").get("binary_data_size")
    if size is None:
        if "data" not in item:
            raise ProtocolError(f"input {name!r} has neither 'data' nor parameters.binary_data_size")
        return tensors.from_json(name, datatype, shape, item["data"]), offset
    if type(size) is not int or size < 0 or offset + size > len(binary):
        raise ProtocolError(f"input {name!r}: binary_data_size {size!r} runs past the body")
    return tensors.from_raw(name, datatype, shape, binary[offset : offset + size]), offset + size


def _rest_output(item: dict, default_binary: bool) -> RequestedOutput:
    name = item.get("name")
    if not isinstance(name, str):
        raise ProtocolError("every requested output needs a 'name'")
    params = parameters(item, f"output {name!r}")
    binary = flag(params, "binary_data", f"output {name!r}") if "binary_data" in params else default_binary
    return RequestedOutput(name, binary, class_count(params.get("classification"), f"output {name!r}"))


def rest_answer(model: str, version: str, request_id, outputs: list) -> tuple:
    """(body bytes, JSON header length or None): binary outputs follow the JSON, in output order."""
    described, chunks = [], []
    for output in outputs:
        entry = {"name": output.name, "datatype": output.datatype, "shape": list(output.array.shape)}
        if output.binary:
            chunks.append(tensors.to_raw(output.array, output.datatype))
            entry["parameters"] = {"binary_data_size": len(chunks[-1])}
        else:
            entry["data"] = tensors.to_json_data(output.array, output.datatype)
        described.append(entry)
    answer = {"model_name": model, "model_version": version, "outputs": described}
    if request_id is not None:
        answer["id"] = request_id
    header = orjson.dumps(answer)
    return (header + b"".join(chunks), len(header)) if chunks else (header, None)


def parse_grpc(message) -> InferRequest:
    """A ModelInferRequest -> InferRequest; data from raw_input_contents (what tritonclient sends) or contents."""
    raw = list(message.raw_input_contents)
    if raw and len(raw) != len(message.inputs):
        raise ProtocolError(f"{len(raw)} raw_input_contents for {len(message.inputs)} inputs")
    if not message.inputs:
        raise ProtocolError("the request needs at least one input")
    inputs = []
    for index, item in enumerate(message.inputs):
        shape = list(item.shape)
        if raw:
            inputs.append(tensors.from_raw(item.name, item.datatype, shape, raw[index]))
        elif item.datatype == "BYTES":
            inputs.append(tensors.from_elements(item.name, shape, list(item.contents.bytes_contents)))
        else:
            inputs.append(tensors.from_json(item.name, item.datatype, shape, _contents(item)))
    outputs = [RequestedOutput(item.name, True, _grpc_class_count(item)) for item in message.outputs]
    return InferRequest(message.id or None, inputs, outputs, binary_default=True)


def _grpc_class_count(item) -> int:
    if "classification" not in item.parameters:
        return 0
    param = item.parameters["classification"]
    if param.WhichOneof("parameter_choice") != "int64_param":
        raise ProtocolError(f"output {item.name!r}: classification must be an int64 parameter")
    return class_count(param.int64_param, f"output {item.name!r}")


CONTENTS_FIELD = {"BOOL": "bool_contents", "FP32": "fp32_contents", "FP64": "fp64_contents"}
CONTENTS_FIELD |= {t: "int_contents" for t in ("INT8", "INT16", "INT32")}
CONTENTS_FIELD |= {t: "uint_contents" for t in ("UINT8", "UINT16", "UINT32")}
CONTENTS_FIELD |= {"INT64": "int64_contents", "UINT64": "uint64_contents"}


def _contents(item) -> list:
    if item.datatype not in CONTENTS_FIELD:
        raise ProtocolError(f"input {item.name!r}: datatype {item.datatype!r} has no typed contents field")
    return list(getattr(item.contents, CONTENTS_FIELD[item.datatype]))
