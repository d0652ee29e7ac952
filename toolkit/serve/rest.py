"""The protocol's REST surface as a Starlette app (uvicorn runs it), plus /metrics and the page at /.

Every error is `{"error": "..."}` with the protocol's status; no traceback ever reaches a client. With a
token, every route but the health probes and the page (static, it holds no model data) needs
`Authorization: Bearer <token>`.
"""

import logging
from importlib import resources

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Route

from toolkit.serve.requests import parse_rest, rest_answer
from toolkit.serve.service import InternalError
from toolkit.serve.tensors import ProtocolError, TooLarge

OPEN_PATHS = {"/", "/v2/health/live", "/v2/health/ready"}
HEADER_LENGTH = "inference-header-content-length"
log = logging.getLogger("tk.serve")


def json_response(body: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def error(message: str, status: int) -> Response:
    return json_response({"error": message}, status)


def answers_errors(handler):
    """An endpoint whose errors become the protocol's error form; unexpected ones are logged, not shown."""

    async def wrapped(request):
        try:
            return await handler(request)
        except ProtocolError as exc:
            return error(str(exc), exc.status)
        except InternalError as exc:
            log.error("%s", exc, exc_info=exc.__cause__)
            return error(str(exc), 500)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            return error("internal error (the server's log says more)", 500)

    return wrapped


class Endpoints:
    """One method per route, over the protocol-independent Service."""

    def __init__(self, service, max_body: int):
        self.service, self.max_body = service, max_body
        self.page = resources.files("toolkit.serve").joinpath("page.html").read_bytes()

    async def live(self, request):
        return json_response({"live": True})

    async def ready(self, request):
        return json_response({"ready": self.service.ready}, 200 if self.service.ready else 503)

    async def server_metadata(self, request):
        return json_response(self.service.server_metadata())

    async def model_metadata(self, request):
        return json_response(self._model(request).metadata())

    async def model_ready(self, request):
        ready = self.service.ready
        return json_response({"name": self._model(request).name, "ready": ready}, 200 if ready else 503)

    def _model(self, request):
        return self.service.model(request.path_params["name"], request.path_params.get("version"))

    async def repository_index(self, request):
        """Triton's model repository index (the page lists the models with it)."""
        return json_response([{"name": name, "version": "1", "state": "READY"} for name in sorted(self.service.models)])

    async def infer(self, request):
        with self.service.counted():
            return await self._infer(request)

    async def _infer(self, request):
        encoding = request.headers.get("content-encoding", "identity").lower()
        if encoding != "identity":
            raise ProtocolError(f"Content-Encoding {encoding!r} is not supported; send the body uncompressed")
        body = await read_body(request, self.max_body)
        header = request.headers.get(HEADER_LENGTH)
        name, version = request.path_params["name"], request.path_params.get("version")
        model, parsed, outputs = await self.service.infer(name, version, lambda: parse_rest(body, header), "rest")
        content, json_length = rest_answer(model.name, parsed.id, outputs)
        if json_length is None:
            return Response(content, media_type="application/json")
        return Response(content, media_type="application/octet-stream", headers={HEADER_LENGTH: str(json_length)})

    async def metrics(self, request):
        return Response(self.service.metrics.exposition(), media_type=self.service.metrics.content_type)

    async def index(self, request):
        return Response(self.page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def create_app(service, max_body: int):
    """The ASGI app: the protocol's routes (with and without /versions/{version}), /metrics, the page."""
    api = Endpoints(service, max_body)
    routes = [
        ("/", api.index, ["GET"]),
        ("/v2/health/live", api.live, ["GET"]),
        ("/v2/health/ready", api.ready, ["GET"]),
        ("/v2", api.server_metadata, ["GET"]),
        ("/v2/", api.server_metadata, ["GET"]),
        ("/v2/repository/index", api.repository_index, ["POST"]),
        ("/metrics", api.metrics, ["GET"]),
    ]
    for model_path in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        routes += [
            (model_path, api.model_metadata, ["GET"]),
            (model_path + "/ready", api.model_ready, ["GET"]),
            (model_path + "/infer", api.infer, ["POST"]),
        ]
    app = Starlette(
        routes=[Route(path, answers_errors(endpoint), methods=methods) for path, endpoint, methods in routes],
        exception_handlers={HTTPException: http_error},
    )
    return TokenCheck(app, service)


PAGE_POLICY = "default-src 'self'; img-src blob:; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
PAGE_HEADERS = {"Content-Security-Policy": PAGE_POLICY}


async def http_error(request, exc: HTTPException) -> Response:
    """Starlette's own 404 / 405 in the protocol's error form."""
    text = {404: f"no route {request.url.path!r}", 405: f"{request.method} is not allowed on {request.url.path!r}"}
    return error(text.get(exc.status_code, exc.detail), exc.status_code)


async def read_body(request, limit: int) -> bytes:
    """The whole body, or TooLarge as soon as it passes `limit` bytes (before reading it all)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body of {int(declared)} bytes is over this server's limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is over this server's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class TokenCheck:
    """ASGI middleware: 401 in the protocol's form for a request without the right bearer token."""

    def __init__(self, app, service):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            if not self.service.authorized(header):
                response = error("a valid 'Authorization: Bearer <token>' header is needed", 401)
                response.headers["WWW-Authenticate"] = "Bearer"
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)
