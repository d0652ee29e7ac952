"""The bare HTTP stack tk serve is built on, with no model: the same uvicorn + Starlette + orjson, one route
that parses the protocol's JSON body into a float32 array and answers 10 numbers. What a request costs
before any inference work; tk bench --serving states tk serve's requests/s as a share of it.

python bare_stack.py PORT
"""

import sys

import numpy as np
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

ANSWER = [0.0] * 10


async def infer(request):
    body = orjson.loads(await request.body())
    tensor = body["inputs"][0]
    np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    output = {"name": "logits", "datatype": "FP32", "shape": [1, 10], "data": ANSWER}
    return Response(orjson.dumps({"model_name": "bare", "outputs": [output]}), media_type="application/json")


async def ready(request):
    return Response(b'{"ready":true}', media_type="application/json")


app = Starlette(routes=[Route("/v2/models/{name}/infer", infer, methods=["POST"]), Route("/v2/health/ready", ready)])

if __name__ == "__main__":
    # loop="asyncio": the loop tk serve runs on (uvicorn would pick uvloop where Ray's extra installed it)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="asyncio",
    )
