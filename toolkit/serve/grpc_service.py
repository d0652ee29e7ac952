"""The protocol's GRPCInferenceService (grpcio's asyncio server), from the protocol's own .proto.

The message classes come from proto/open_inference_grpc.desc, the descriptor set protoc compiles from
proto/open_inference_grpc.proto (scripts/protos.sh), loaded into a pool of this module's own: no
generated Python to drift, and no clash with a client library's copy of the same package in-process.
Errors are gRPC status codes with the same one-line messages REST sends.
"""

import logging
from importlib import resources

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from toolkit.serve.requests import parse_grpc
from toolkit.serve.service import InternalError
from toolkit.serve.tensors import ProtocolError, to_raw

SERVICE = "inference.GRPCInferenceService"
OPEN_METHODS = {"ServerLive", "ServerReady"}  # the health probes need no token
STATUS = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND}
STATUS |= {413: grpc.StatusCode.RESOURCE_EXHAUSTED, 503: grpc.StatusCode.UNAVAILABLE}
log = logging.getLogger("tk.serve")


def load_messages() -> dict:
    """Message classes by short name (ModelInferRequest, ...) from the compiled descriptor set."""
    data = resources.files("toolkit.serve").joinpath("proto/open_inference_grpc.desc").read_bytes()
    files = descriptor_pb2.FileDescriptorSet.FromString(data).file
    pool = descriptor_pool.DescriptorPool()
    for file in files:
        pool.Add(file)
    classes = message_factory.GetMessageClassesForFiles([file.name for file in files], pool)
    return {name.rsplit(".", 1)[-1]: cls for name, cls in classes.items()}


class InferenceService:
    """The protocol's six RPCs and the repository extension's three over a Service; each checks the token
    first where one is needed."""

    def __init__(self, service):
        self.service = service
        self.messages = load_messages()

    def handler(self) -> grpc.GenericRpcHandler:
        methods = ("ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer")
        methods += ("RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload")
        handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                self._guarded(name),
                request_deserializer=self.messages[f"{name}Request"].FromString,
                response_serializer=self.messages[f"{name}Response"].SerializeToString,
            )
            for name in methods
        }
        return grpc.method_handlers_generic_handler(SERVICE, handlers)

    def _guarded(self, name: str):
        method = getattr(self, name)

        async def call(request, context):
            if name not in OPEN_METHODS:
                header = dict(context.invocation_metadata()).get("authorization")
                if not self.service.authorized(header):
                    await context.abort(
                        grpc.StatusCode.UNAUTHENTICATED, "a valid 'authorization: Bearer <token>' is needed"
                    )
            try:
                return await method(request)
            except ProtocolError as exc:
                await context.abort(STATUS.get(exc.status, grpc.StatusCode.INVALID_ARGUMENT), str(exc))
            except InternalError as exc:
                log.error("%s", exc, exc_info=exc.__cause__)
                await context.abort(grpc.StatusCode.INTERNAL, str(exc))
            except Exception:  # a bug in tk: logged here, one line to the client
                log.exception("unexpected error in %s", name)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error (the server's log says more)")

        return call

    async def ServerLive(self, request):
        return self.messages["ServerLiveResponse"](live=True)

    async def ServerReady(self, request):
        return self.messages["ServerReadyResponse"](ready=self.service.ready)

    async def ModelReady(self, request):
        self.service.model(request.name, request.version)
        return self.messages["ModelReadyResponse"](ready=self.service.ready)

    async def ServerMetadata(self, request):
        return self.messages["ServerMetadataResponse"](**self.service.server_metadata())

    async def ModelMetadata(self, request):
        return self.messages["ModelMetadataResponse"](**self.service.model_metadata(request.name, request.version))

    async def ModelInfer(self, request):
        with self.service.counted():
            loaded, parsed, outputs = await self.service.infer(
                request.model_name, request.model_version, lambda: parse_grpc(request), "grpc"
            )
        response = self.messages["ModelInferResponse"](
            model_name=loaded.name, model_version=loaded.version, id=request.id
        )
        for output in outputs:
            response.outputs.add(name=output.name, datatype=output.datatype, shape=list(output.array.shape))
            response.raw_output_contents.append(to_raw(output.array, output.datatype))
        return response

    async def RepositoryIndex(self, request):
        response = self.messages["RepositoryIndexResponse"]()
        for entry in self.service.repository_index(request.ready):
            response.models.add(**entry)
        return response

    async def RepositoryModelLoad(self, request):
        no_parameters(request)
        await self.service.repository_load(request.model_name)
        return self.messages["RepositoryModelLoadResponse"]()

    async def RepositoryModelUnload(self, request):
        no_parameters(request)
        await self.service.repository_unload(request.model_name)
        return self.messages["RepositoryModelUnloadResponse"]()


def no_parameters(request):
    """tritonclient's unload sends unload_dependents=false; any other parameter is refused, as over REST."""
    given = {key for key in request.parameters if key != "unload_dependents"}
    if given:
        raise ProtocolError(f"tk takes no repository parameters (given: {', '.join(sorted(given))})")


def create_server(service, address: str, max_message: int) -> grpc.aio.Server:
    """An asyncio gRPC server for `service`, listening on `address`; started by the caller."""
    options = [("grpc.max_receive_message_length", max_message), ("grpc.max_send_message_length", max_message)]
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers((InferenceService(service).handler(),))
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address} for gRPC (in use?)")
    return server
