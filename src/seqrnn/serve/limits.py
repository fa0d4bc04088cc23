"""What one request may ask for (`Limits`) and what a connection may hold (`ConnectionLimits`).

Connections are cheap, work is bounded. An open connection that has not sent a request costs a
file descriptor and a few kilobytes, never a place in a queue: only requests count toward the
bounds that refuse work (`seqrnn serve` flags; each server process counts its own):

- `--timeout-headers S` (10): a request's headers must arrive within S seconds of the connection
  opening or of the previous response, or the connection is closed (408 if part of a request came).
  uvicorn has no such bound; `GuardedH11Protocol`, its h11 protocol with a timer, adds it.
- `--timeout-body S` (30): a request body must arrive within S seconds of its headers, or 408 and
  the connection is closed (`BodyLimit`); a client that reads nothing of a response for S seconds
  while the server has more to send is disconnected (the protocol's timer on paused writing).
- `--timeout-keep-alive S` (5): an idle keep-alive connection is closed (uvicorn's own; the header
  timeout closes it too, so the smaller of the two applies).
- `--limit-concurrency N` (100): requests being answered at once (their body arrived); one more is
  answered 503 with Retry-After (`BodyLimit`). Open connections, idle or still sending, do not
  count: uvicorn's own `limit_concurrency`, which counts them, is left off. Model calls have their
  own, smaller bound (`Limits.max_concurrency` running, `Limits.max_queue` waiting).
- `--max-connections N` (default: what the file descriptors allow, `connection_budget`): at N open
  connections a new one takes the place of the connection idle the longest (one that has sent
  nothing since it opened or since its last response), which is closed; when none is idle, the new
  one is sent a 503 and closed before anything is read from it.
- `--workers N` (1): N server processes share the listening socket, each with its own models.
"""

import dataclasses
import json
import math
import time
from typing import Any

from seqrnn.errors import SeqrnnError


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how many model calls run at once."""

    max_body_bytes: int = 1_000_000  # larger request bodies: 413
    max_texts: int = 256  # texts per sentiment request
    max_text_chars: int = 100_000  # characters per text (longer: 422, not truncated)
    max_start_chars: int = 10_000  # characters of generation start text
    max_length: int = 5_000  # characters generated per sample
    max_num_samples: int = 16  # samples per generation request
    max_series: int = 256  # series per classification or forecast request (/v1/classify, /v1/forecast)
    max_series_values: int = 100_000  # values per series, every channel counted (more: 422, not truncated)
    max_horizon: int = 1_000  # steps per forecast (/v1/forecast; at most the model's trained horizon too)
    max_concurrency: int = 2  # model calls running at once (threads, each with a copy of the classifier)
    max_queue: int = 32  # calls of one model waiting beyond those running; more: 503

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            least = 0 if field.name == "max_queue" else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise SeqrnnError(f"Limits.{field.name} must be an integer >= {least}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take and how many connections a server process keeps (see the module doc)."""

    header_timeout: float = 10.0  # seconds for a request's headers, from connecting or the previous response
    body_timeout: float = 30.0  # seconds for a request's body after its headers; for a stalled response reader
    keep_alive_timeout: float = 5.0  # seconds an idle keep-alive connection stays open
    limit_concurrency: int = 100  # requests being answered at once (bodies arrived); one more gets 503
    max_connections: int | None = None  # open connections per process (None: `connection_budget()`)

    FLAGS = {"header_timeout": "--timeout-headers", "body_timeout": "--timeout-body",
             "keep_alive_timeout": "--timeout-keep-alive", "limit_concurrency": "--limit-concurrency",
             "max_connections": "--max-connections"}  # the `seqrnn serve` flag of each field

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value, name = getattr(self, field.name), f"{self.FLAGS[field.name]} ({field.name})"
            if value is None and field.name == "max_connections":
                continue
            if field.type in (int, "int", int | None, "int | None"):
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise SeqrnnError(f"{name} must be an integer >= 1, got {value!r}")
            elif (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
                  or value <= 0):
                raise SeqrnnError(f"{name} must be a number of seconds > 0, got {value!r}")


FD_RESERVE = 64  # file descriptors kept for what is not a connection: the models' files, logs, threads
MAX_OPEN_FILES = 65_536  # the soft limit is raised at most this far: connections beyond it cost memory (~7 KB each)


def connection_budget(reserve: int = FD_RESERVE) -> int:
    """How many connections one server process can hold: its limit on open files (`RLIMIT_NOFILE`),
    the soft limit raised toward the hard one first (up to `MAX_OPEN_FILES`), less a `reserve` and a
    tenth for everything else."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)
    if soft == resource.RLIM_INFINITY or soft > wanted:
        soft = max(wanted, MAX_OPEN_FILES if soft == resource.RLIM_INFINITY else min(soft, MAX_OPEN_FILES))
    elif soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError):
            pass
    return max(16, soft - reserve - soft // 10)


class BodyLimit:
    """ASGI middleware: read the whole request body before the app sees it, refusing bodies over
    `max_bytes` (413) and bodies that do not arrive within `timeout` seconds of the headers (408).
    Both answers close the connection: the rest of the body is never read. Once a body has arrived,
    at most `max_requests` requests are answered at once; one more gets a 503 with Retry-After (the
    body was read, so the connection stays usable). A request still arriving is not counted."""

    def __init__(self, app, max_bytes: int, timeout: float = ConnectionLimits.body_timeout,
                 max_requests: int = ConnectionLimits.limit_concurrency):
        self.app, self.max_bytes, self.timeout, self.max_requests = app, max_bytes, timeout, max_requests
        self.active = 0  # requests whose body arrived and whose answer is not done (one event loop: no lock)

    async def __call__(self, scope, receive, send):
        import anyio

        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                return await error_response(400, "invalid Content-Length header", close=True)(scope, receive, send)
            if size > self.max_bytes:
                return await self._too_large(scope, receive, send)
        chunks, total = [], 0  # chunked bodies (or a lying header): count while reading
        with anyio.move_on_after(self.timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                body = message.get("body", b"")
                total += len(body)
                if total > self.max_bytes:
                    return await self._too_large(scope, receive, send)
                chunks.append(body)
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            response = error_response(408, f"the request body did not arrive within {self.timeout:g} s", close=True)
            return await response(scope, receive, send)
        if self.active >= self.max_requests:
            response = error_response(503, f"the server is answering {self.max_requests} requests; try again "
                                           "shortly", headers={"Retry-After": "1"})
            return await response(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        self.active += 1
        try:
            return await self.app(scope, replay, send)
        finally:
            self.active -= 1

    async def _too_large(self, scope, receive, send):
        response = error_response(413, f"request body is larger than {self.max_bytes} bytes", close=True)
        return await response(scope, receive, send)


def raw_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 error response that closes the connection, for answers given outside any request."""
    body = json.dumps({"error": message, "detail": message}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n")
    return head.encode("ascii") + body


try:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol as H11Protocol
except ImportError:  # no uvicorn: serve_command says what to install
    H11Protocol = None

if H11Protocol is not None:

    class GuardedH11Protocol(H11Protocol):
        """uvicorn's h11 protocol, plus what it lacks against slow and idle clients (`ConnectionLimits`
        in `config.seqrnn_connection_limits`):

        - one timer per connection while it waits for request headers, armed when it opens and after
          each response: when it fires and no request has begun, the connection is closed (408 first
          if part of a request arrived). Bytes trickling in do not reset it.
        - a timer while writing is paused (the client reads nothing and the buffers are full): when it
          fires the connection is aborted.
        - at `max_connections` open connections, a new one replaces the connection idle the longest
          (nothing received since it opened or since its last response: closed without a word); with
          none idle, the new one gets a 503 and is closed at once.

        Idle keep-alive connections are closed by uvicorn's own timer; uvicorn's `limit_concurrency`
        (which counts idle connections) stays off: `BodyLimit`, in the app, bounds the requests being
        answered, and the body deadline.
        """

        _last_warning = 0.0  # shared: one warning a second at most while connections are refused

        def __init__(self, config, server_state, app_state, _loop=None):
            super().__init__(config, server_state, app_state, _loop)
            self.guard: ConnectionLimits = getattr(config, "seqrnn_connection_limits", None) or ConnectionLimits()
            self.max_connections = self.guard.max_connections or connection_budget()
            self._header_timer = self._write_timer = None
            if not hasattr(server_state, "seqrnn_idle"):  # the idle connections of this server, oldest first
                server_state.seqrnn_idle = {}
            self.idle: dict = server_state.seqrnn_idle

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > self.max_connections and not self._evict_idle():
                self.connections.discard(self)
                self._warn_once("%d connections open, none idle: refusing new ones (503)")
                transport.write(raw_response(503, "Service Unavailable",
                                              "the server has too many open connections; try again shortly"))
                transport.close()
                return
            self._arm_header_timer()

        def _evict_idle(self) -> bool:
            """Close the connection idle the longest, to make room; False if none is idle."""
            while self.idle:
                victim = next(iter(self.idle))
                del self.idle[victim]
                if victim is not self and not victim.transport.is_closing():
                    self.connections.discard(victim)  # at once: its connection_lost comes a loop later
                    victim._cancel_timers()
                    victim.transport.close()
                    self._warn_once("%d connections open: closing the ones idle the longest")
                    return True
            return False

        def _warn_once(self, message: str) -> None:
            now = time.monotonic()
            if now - GuardedH11Protocol._last_warning >= 1.0:
                GuardedH11Protocol._last_warning = now
                self.logger.warning(message, self.max_connections)

        def _cancel_timers(self) -> None:
            for timer in (self._header_timer, self._write_timer):
                if timer is not None:
                    timer.cancel()
            self._header_timer = self._write_timer = None

        def connection_lost(self, exc) -> None:
            self._cancel_timers()
            self.idle.pop(self, None)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            self.idle.pop(self, None)
            super().data_received(data)

        def handle_events(self) -> None:
            super().handle_events()
            if self._header_timer is not None and self.conn.their_state is not h11.IDLE:  # a request began
                self._header_timer.cancel()
                self._header_timer = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(self.guard.header_timeout, self._headers_timed_out)
            if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:  # nothing of a request yet
                self.idle.pop(self, None)
                self.idle[self] = None  # the newest idle one, last

        def _headers_timed_out(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self.conn.trailing_data[0]:  # part of a request: say why before closing
                message = f"the request headers did not arrive within {self.guard.header_timeout:g} s"
                self.transport.write(raw_response(408, "Request Timeout", message))
            self.transport.close()

        def pause_writing(self) -> None:
            super().pause_writing()
            if self._write_timer is None:
                self._write_timer = self.loop.call_later(self.guard.body_timeout, self._reader_stalled)

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._write_timer is not None:
                self._write_timer.cancel()
                self._write_timer = None

        def _reader_stalled(self) -> None:
            self._write_timer = None
            self.transport.abort()


def error_response(status: int, message: str, detail: Any = None, headers=None, close: bool = False):
    from fastapi.responses import JSONResponse

    if close:  # the request was not read to its end: the connection cannot carry another one
        headers = {**(headers or {}), "Connection": "close"}
    return JSONResponse({"error": message, "detail": message if detail is None else detail}, status_code=status,
                        headers=headers)
