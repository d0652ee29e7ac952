"""The protocol's REST surface as a Starlette app (uvicorn runs it), plus /metrics and the page at /.

Every error is `{"error": "..."}` with the protocol's status; no traceback ever reaches a client. With a
token, every route but the health probes and the page (static, it holds no model data) needs
`Authorization: Bearer <token>`.
"""

import json
import logging
from importlib import resources

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
    return Response(json.dumps(body, separators=(",", ":")), status, media_type="application/json")


def error(message: str, status: int) -> Response:
    return json_response({"error": message}, status)


def create_app(service, max_body: int) -> Starlette:
    page = resources.files("toolkit.serve").joinpath("page.html").read_bytes()

    def answers_errors(handler):
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

    async def live(request):
        return json_response({"live": True})

    async def ready(request):
        return json_response({"ready": service.ready}, 200 if service.ready else 503)

    async def server_metadata(request):
        return json_response(service.server_metadata())

    async def model_metadata(request):
        p = request.path_params
        return json_response(service.model(p["name"], p.get("version")).metadata())

    async def model_ready(request):
        p = request.path_params
        model = service.model(p["name"], p.get("version"))
        return json_response({"name": model.name, "ready": service.ready}, 200 if service.ready else 503)

    async def repository_index(request):
        return json_response([{"name": name, "version": "1", "state": "READY"} for name in sorted(service.models)])

    async def infer(request):
        p = request.path_params
        encoding = request.headers.get("content-encoding", "identity").lower()
        if encoding != "identity":
            raise ProtocolError(f"Content-Encoding {encoding!r} is not supported; send the body uncompressed")
        body = await read_body(request, max_body)
        header = request.headers.get(HEADER_LENGTH)
        model, parsed, outputs = await service.infer(
            p["name"], p.get("version"), lambda: parse_rest(body, header), "rest"
        )
        content, json_length = rest_answer(model.name, parsed.id, outputs)
        if json_length is None:
            return Response(content, media_type="application/json")
        return Response(content, media_type="application/octet-stream", headers={HEADER_LENGTH: str(json_length)})

    async def metrics(request):
        return Response(service.metrics.exposition(), media_type=service.metrics.content_type)

    async def index(request):
        return Response(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    model_paths = ("/v2/models/{name}", "/v2/models/{name}/versions/{version}")
    routes = [
        Route("/", index),
        Route("/v2/health/live", live),
        Route("/v2/health/ready", ready),
        Route("/v2", server_metadata),
        Route("/v2/", server_metadata),
        Route("/v2/repository/index", repository_index, methods=["POST"]),
        Route("/metrics", metrics),
    ]
    for path in model_paths:
        routes += [
            Route(path, model_metadata),
            Route(path + "/ready", model_ready),
            Route(path + "/infer", infer, methods=["POST"]),
        ]
    routes = [Route(r.path, answers_errors(r.endpoint), methods=r.methods) for r in routes]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
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
