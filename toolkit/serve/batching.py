"""Dynamic batching: concurrent requests for one model merged into one ONNX Runtime call, then split back.

One worker per model takes the requests waiting in arrival order, up to `max_batch` rows, and runs them
as one batch in its own thread (ONNX Runtime releases the GIL, so the event loop keeps reading requests
meanwhile; they form the next batch). With `max_delay` > 0 a batch that is not full waits up to that
long after its first request for more, like Triton's max_queue_delay; with 0 (the default) a lone
request runs at once, so batching never taxes a lone caller. A request that is the only one in flight
and finds a fast model idle (batch 1 under INLINE_SECONDS at warm-up) runs on the event loop itself:
handing it to the thread would cost more than the model does. Under load requests always queue, so
that they can be merged. Each request gets the rows at its own offsets of the output and
nothing else.
"""

import asyncio
import collections
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from toolkit.serve.tensors import Busy

MAX_WAITING = 4096  # requests queued for one model before the server answers 503 (busy)
INLINE_SECONDS = 0.001  # a model this fast answers a request that finds it idle on the event loop itself


@dataclass
class Waiting:
    batch: np.ndarray
    future: asyncio.Future
    arrived: float = field(default_factory=time.perf_counter)


class Batcher:
    def __init__(self, model, max_batch: int, max_delay: float, metrics, lone=lambda: False):
        self.model, self.max_batch, self.max_delay, self.metrics = model, max_batch, max_delay, metrics
        self.lone = lone  # True while only one request is in flight (the batch being run is its)
        self.waiting = collections.deque()
        self.arrived = asyncio.Event()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"tk-{model.name}")
        self.inline = model.batch1_seconds < INLINE_SECONDS and max_delay == 0
        self.running = False
        self.pending = 0  # requests handed in and not yet answered
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def infer(self, batch: np.ndarray) -> np.ndarray:
        """The model's output rows for this request's batch."""
        if len(self.waiting) >= MAX_WAITING:
            raise Busy(f"{self.model.name}: {MAX_WAITING} requests already waiting; try again shortly")
        item = Waiting(batch, asyncio.get_running_loop().create_future())
        self.waiting.append(item)
        self.arrived.set()
        self.pending += 1
        try:
            return await item.future
        finally:
            self.pending -= 1

    async def _work(self):
        while True:
            if not self.waiting:
                self.arrived.clear()
                await self.arrived.wait()
            items = await self._gather()
            await self._run(items)

    async def _gather(self) -> list:
        items = [self.waiting.popleft()]
        rows = len(items[0].batch)
        deadline = items[0].arrived + self.max_delay
        while rows < self.max_batch:
            if not self.waiting:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self.arrived.clear()
                try:
                    await asyncio.wait_for(self.arrived.wait(), left)
                except asyncio.TimeoutError:
                    break
                continue
            if rows + len(self.waiting[0].batch) > self.max_batch:
                break  # it opens the next batch
            items.append(self.waiting.popleft())
            rows += len(items[-1].batch)
        return items

    async def _run(self, items: list):
        started = time.perf_counter()
        items = [item for item in items if not item.future.done()]  # a caller that left is not answered
        if not items:
            return
        for item in items:
            self.metrics.queue_time(self.model.name, started - item.arrived)
        try:
            merged = self.model.merge([item.batch for item in items])
            self.metrics.batch_size(self.model.name, len(merged))
            self.running = True
            if self.inline and len(items) == 1 and self.lone():
                output = self.model.run(merged)
            else:
                output = await asyncio.get_running_loop().run_in_executor(self.executor, self.model.run, merged)
        except Exception as exc:  # the model failed on checked inputs: every caller of this batch hears it
            for item in items:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        finally:
            self.running = False
        offset = 0
        for item in items:
            rows = len(item.batch)
            if not item.future.done():
                item.future.set_result(output[offset : offset + rows])
            offset += rows

    async def close(self, patience: float = 60.0):
        """Answer every request already handed in (a retired version finishes what it started), then stop."""
        deadline = time.perf_counter() + patience
        while self.pending and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        self.worker.cancel()
        self.executor.shutdown(wait=True)
