"""The protocol's REST surface but inference (asgi.py answers that) as a Starlette app: health, metadata,
the repository extension, /metrics and the page at /.

Every error is `{"error": "..."}` with the protocol's status; no traceback ever reaches a client. With a
token, every route but the health probes and the page (static, it holds no model data) needs
`Authorization: Bearer <token>` (asgi.Entry checks it).
"""

import logging
from importlib import resources

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Route

from toolkit.serve.asgi import Entry, read_body
from toolkit.serve.requests import parse_json
from toolkit.serve.service import InternalError
from toolkit.serve.tensors import ProtocolError

MAX_REPOSITORY_BODY = 1 << 16  # an index, load or unload request is a few bytes of JSON
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

    def __init__(self, service):
        self.service = service
        self.page = resources.files("toolkit.serve").joinpath("page.html").read_bytes()

    async def live(self, request):
        return json_response({"live": True})

    async def ready(self, request):
        return json_response({"ready": self.service.ready}, 200 if self.service.ready else 503)

    async def server_metadata(self, request):
        return json_response(self.service.server_metadata())

    async def model_metadata(self, request):
        params = request.path_params
        return json_response(self.service.model_metadata(params["name"], params.get("version")))

    async def model_ready(self, request):
        loaded = self.service.model(request.path_params["name"], request.path_params.get("version"))
        ready = self.service.ready
        return json_response({"name": loaded.name, "ready": ready}, 200 if ready else 503)

    async def repository_index(self, request):
        """Triton's model repository index: every version with its state (the page lists the models with it)."""
        body = await repository_body(request)
        ready_only = body.get("ready", False)
        if not isinstance(ready_only, bool):
            raise ProtocolError("the index request's 'ready' must be true or false")
        return json_response(self.service.repository_index(ready_only))

    async def repository_load(self, request):
        await repository_body(request)
        await self.service.repository_load(request.path_params["name"])
        return json_response({})

    async def repository_unload(self, request):
        await repository_body(request)
        await self.service.repository_unload(request.path_params["name"])
        return json_response({})

    async def metrics(self, request):
        return Response(self.service.metrics.exposition(), media_type=self.service.metrics.content_type)

    async def index(self, request):
        return Response(self.page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def create_app(service, max_body: int, access_log: bool = False):
    """The ASGI app: the protocol's routes (with and without /versions/{version}), /metrics, the page;
    inference goes straight to asgi.Entry, in front of them."""
    api = Endpoints(service)
    routes = [
        ("/", api.index, ["GET"]),
        ("/v2/health/live", api.live, ["GET"]),
        ("/v2/health/ready", api.ready, ["GET"]),
        ("/v2", api.server_metadata, ["GET"]),
        ("/v2/", api.server_metadata, ["GET"]),
        ("/v2/repository/index", api.repository_index, ["POST"]),
        ("/v2/repository/models/{name}/load", api.repository_load, ["POST"]),
        ("/v2/repository/models/{name}/unload", api.repository_unload, ["POST"]),
        ("/metrics", api.metrics, ["GET"]),
    ]
    for model_path in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        routes += [
            (model_path, api.model_metadata, ["GET"]),
            (model_path + "/ready", api.model_ready, ["GET"]),
        ]
    app = Starlette(
        routes=[Route(path, answers_errors(endpoint), methods=methods) for path, endpoint, methods in routes],
        exception_handlers={HTTPException: http_error},
    )
    return Entry(app, service, max_body, access_log)


PAGE_POLICY = "default-src 'self'; img-src blob:; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
PAGE_HEADERS = {"Content-Security-Policy": PAGE_POLICY}


async def http_error(request, exc: HTTPException) -> Response:
    """Starlette's own 404 / 405 in the protocol's error form."""
    text = {404: f"no route {request.url.path!r}", 405: f"{request.method} is not allowed on {request.url.path!r}"}
    return error(text.get(exc.status_code, exc.detail), exc.status_code)


async def repository_body(request) -> dict:
    """A repository request's JSON body ({} when empty); tk takes no load or unload parameters (a config or
    files sent with a load would be code and data from the network)."""
    body = await read_body(request.receive, dict(request.scope["headers"]), MAX_REPOSITORY_BODY)
    found = parse_json(body) if body.strip() else {}
    given = found.get("parameters") or {}
    if not isinstance(given, dict) or set(given) - {"unload_dependents"}:  # tk has no ensembles to unload
        raise ProtocolError("tk takes no repository parameters (a model is loaded from its folder as it is)")
    return found
