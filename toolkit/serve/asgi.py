"""The ASGI entry of tk serve's REST side: the token check, the request id, the access log, and the
inference route answered directly; every other route goes on to the Starlette app (rest.py).

Inference is the one route whose cost per request matters: answered here, it skips Starlette's router,
its middleware layers and its Request/Response objects, about a third of what a small request cost. It
answers exactly as the Starlette routes do: the protocol's JSON, or Triton's binary tensor data.
"""

import logging
import re
import time
import zlib

import orjson

from toolkit.serve.requests import parse_rest, rest_answer
from toolkit.serve.service import InternalError
from toolkit.serve.tensors import ProtocolError, TooLarge

OPEN_PATHS = {"/", "/v2/health/live", "/v2/health/ready"}
INFER_PATH = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")
MODEL_PATH = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?(?:/.*)?")
HEADER_LENGTH = b"inference-header-content-length"
MAX_LOGGED_PATH = 256  # a client's path goes into the access log no longer than this
REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,128}")  # a visible-ASCII id is echoed; anything else is not
WINDOW_BITS = {b"gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS, b"identity": None}
log = logging.getLogger("tk.serve")
access = logging.getLogger("tk.access")


class ClientGone(Exception):
    """The client closed the connection before its body was read: nobody is left to answer."""


class Entry:
    """The outermost ASGI app: `app` (Starlette) answers what this does not."""

    def __init__(self, app, service, max_body: int, access_log: bool = False):
        self.app, self.service, self.max_body, self.access_log = app, service, max_body, access_log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id")
        echo = [(b"x-request-id", request_id)] if request_id and REQUEST_ID.fullmatch(request_id) else []
        path, method, version = scope["path"], scope["method"], None
        if path not in OPEN_PATHS and not self.service.authorized(headers.get(b"authorization", b"").decode("latin-1")):
            status = await respond(send, 401, error("a valid 'Authorization: Bearer <token>' header is needed"),
                                   [(b"www-authenticate", b"Bearer"), *echo])  # fmt: skip
        elif found := INFER_PATH.fullmatch(path):
            if method == "POST":
                status, version = await self.infer(found.group(1), found.group(2), headers, receive, send, echo)
            else:
                status = await respond(send, 405, error(f"{method} is not allowed on {path!r}"), echo)
        else:
            status = await self.pass_on(scope, receive, send, echo)
        if self.access_log:
            request_id = request_id.decode("ascii") if echo else None
            self.log_access(scope, request_id, status, version, time.perf_counter() - started)

    async def pass_on(self, scope, receive, send, echo: list) -> int:
        """The Starlette app answers; returns the status it sent."""
        status = [500]

        async def answer(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), *echo]
            await send(message)

        await self.app(scope, receive, answer)
        return status[0]

    async def infer(self, name, version, headers, receive, send, echo) -> tuple:
        """(status, the version that answered or None), once the answer is sent."""
        try:
            with self.service.counted():
                body = await read_body(receive, headers, self.max_body)
                header = headers.get(HEADER_LENGTH)
                header = None if header is None else header.decode("latin-1")
                served, parsed, outputs = await self.service.infer(
                    name, version, lambda: parse_rest(body, header), "rest"
                )
            content, json_length = rest_answer(served.name, served.version, parsed.id, outputs)
            if json_length is None:
                return await respond(send, 200, content, echo), served.version
            extra = [(HEADER_LENGTH, str(json_length).encode()), *echo]
            return await respond(send, 200, content, extra, b"application/octet-stream"), served.version
        except ClientGone:
            return 499, None  # nginx's number for it: only the access log ever shows it
        except ProtocolError as exc:
            return await respond(send, exc.status, error(str(exc)), echo), None
        except InternalError as exc:
            log.error("%s", exc, exc_info=exc.__cause__)
            return await respond(send, 500, error(str(exc)), echo), None
        except Exception:
            log.exception("unexpected error on POST /v2/models/%s/infer", name)
            return await respond(send, 500, error("internal error (the server's log says more)"), echo), None

    def log_access(self, scope, request_id, status: int, version, seconds: float):
        """One JSON line: no body, no header but the request id; the path's model name only if it is served."""
        found = MODEL_PATH.fullmatch(scope["path"])
        model = found.group(1) if found and found.group(1) in self.service.names() else None
        line = {"time": round(time.time(), 3), "request_id": request_id, "method": scope["method"]}
        path = scope["path"] if model or not found else "/v2/models/..."
        line |= {"path": path[:MAX_LOGGED_PATH], "model": model}
        line |= {"version": version, "status": status, "ms": round(seconds * 1000, 3)}
        access.info(orjson.dumps(line).decode())


def error(message: str) -> bytes:
    return orjson.dumps({"error": message})


async def respond(send, status: int, body: bytes, headers=(), media=b"application/json") -> int:
    head = [(b"content-type", media), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
    return status


async def read_body(receive, headers: dict, limit: int) -> bytes:
    """The whole body, inflated if it came compressed; TooLarge as soon as it (or what it inflates to) passes
    `limit` bytes, before reading or inflating the rest."""
    encoding = headers.get(b"content-encoding", b"identity").lower()
    if encoding not in WINDOW_BITS:
        raise ProtocolError(f"Content-Encoding {encoding.decode('latin-1')!r} is not supported (gzip, deflate)")
    declared = headers.get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body of {int(declared)} bytes is over this server's limit of {limit}")
    chunks, size = [], 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk, more = message.get("body", b""), message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is over this server's limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    return body if WINDOW_BITS[encoding] is None else inflate(body, WINDOW_BITS[encoding], limit)


def inflate(body: bytes, window_bits: int, limit: int) -> bytes:
    """A gzip or deflate body inflated, never past `limit` bytes (a zip bomb is refused, not inflated)."""
    inflater = zlib.decompressobj(window_bits)
    try:
        plain = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ProtocolError(f"the body is not valid {'gzip' if window_bits > 15 else 'deflate'} data ({exc})") from None
    if len(plain) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"the body inflates to over this server's limit of {limit} bytes")
    if not inflater.eof:
        raise ProtocolError("the compressed body ends before its compressed stream does")
    return plain
