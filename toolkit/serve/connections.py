"""What tk serve changes in uvicorn's httptools protocol: a response's head and body sent in one write
(uvicorn writes them apart: two sends, two packets, for every small answer), and bounds on what a
client's connection may hold, of which uvicorn has none:

- a deadline for the whole request, head and body, counted from its first byte (from the connection's
  opening for its first request), as nginx's client_header_timeout / client_body_timeout: a client that
  trickles a byte at a time gets 408 and is closed when it passes, however steadily it trickles;
- a size limit on the request head: 431 once it passes, before the rest is read;
- a limit on open connections: past it a new connection gets 503 and is closed at once, so that a flood
  costs a socket for a moment, not memory, and the connections already open go on being answered.
Between requests uvicorn's keep-alive timeout closes an idle connection.
"""

from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

SWEEP_SECONDS = 0.5  # how often request deadlines are checked (they are kept to within this)
LINGER_SECONDS = 2.0  # how long a refused connection's last bytes are read and dropped before it is closed


@dataclass(frozen=True)
class Limits:
    request_seconds: float = 60.0
    max_head_bytes: int = 32 * 1024
    max_connections: int = 1000


def refusal(status: int, reason: str, message: str) -> bytes:
    body = b'{"error":"' + message.encode() + b'"}'
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + b"connection: close\r\n\r\n" + body


class OneWrite:
    """A transport that holds a response's head until the next write (its body) and sends both as one; a
    head with no body after it goes at the event loop's next turn. Everything else is the transport's."""

    def __init__(self, transport, loop):
        self._transport, self._loop, self._held = transport, loop, None

    def write(self, data: bytes):
        if self._held is not None:
            data, self._held = self._held + data, None
        elif data[:5] == b"HTTP/":
            self._held = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def _flush(self):
        if self._held is not None:
            data, self._held = self._held, None
            self._transport.write(data)

    def close(self):
        self._flush()
        self._transport.close()

    def write_eof(self):
        self._flush()
        self._transport.write_eof()

    def __getattr__(self, name):
        return getattr(self._transport, name)


def limited_protocol(limits: Limits) -> type:
    """An HttpToolsProtocol class that holds its connections to `limits` (uvicorn's `http` setting)."""
    responses = {
        "too_many": refusal(503, "Service Unavailable", f"the server holds {limits.max_connections} connections"),
        "too_slow": refusal(408, "Request Timeout", f"the request took over {limits.request_seconds:g} s to arrive"),
        "too_big": refusal(431, "Request Header Fields Too Large", f"the head is over {limits.max_head_bytes} bytes"),
    }
    return type("LimitedProtocol", (LimitedProtocol,), {"limits": limits, **responses, "sweeping": False})


class LimitedProtocol(HttpToolsProtocol):
    limits: Limits
    too_many = too_slow = too_big = b""
    sweeping = False  # one timer looks at every connection twice a second: cheaper than a timer per request

    def connection_made(self, transport):
        self.started, self.head_bytes, self.reading_head, self.discarding = self.loop.time(), 0, True, False
        if len(self.connections) >= self.limits.max_connections:
            self.transport = transport  # connection_lost closes it
            transport.write(self.too_many)
            transport.close()
            return
        super().connection_made(transport)
        self.transport = OneWrite(transport, self.loop)
        if not type(self).sweeping:
            type(self).sweeping = True
            self.loop.call_later(SWEEP_SECONDS, sweep, self.loop, self.connections)

    def past_deadline(self, now: float) -> bool:
        return self.started is not None and now - self.started > self.limits.request_seconds

    def refuse(self, response: bytes):
        """Answer `response` and close, reading and dropping what the client still sends for LINGER_SECONDS
        (as nginx's lingering close): closing with its bytes unread would reset the connection, and the client
        might never see why."""
        self.started = None
        if self.transport.is_closing() or self.discarding:
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(response)
        self.discarding = True
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes):
        if self.discarding:
            return
        if self.started is None:  # a keep-alive connection's next request starts its clock here
            self.started = self.loop.time()
        in_head = self.reading_head
        super().data_received(data)
        if in_head and self.reading_head:  # this chunk did not finish the head: it is all head
            self.head_bytes += len(data)
            if self.head_bytes > self.limits.max_head_bytes:
                self.refuse(self.too_big)

    def on_headers_complete(self):
        self.reading_head, self.head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self):
        self.started = None  # all of it arrived in time
        super().on_message_complete()

    def on_response_complete(self):
        self.reading_head = True
        super().on_response_complete()


def sweep(loop, connections):
    """Every SWEEP_SECONDS: 408 for each request still arriving past its deadline."""
    now = loop.time()
    for connection in [c for c in connections if isinstance(c, LimitedProtocol) and c.past_deadline(now)]:
        connection.refuse(connection.too_slow)
    loop.call_later(SWEEP_SECONDS, sweep, loop, connections)
