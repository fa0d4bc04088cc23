"""Running the app: the listening socket, uvicorn with the connection guards, several worker
processes (`seqrnn serve`).

uvicorn's own `limit_concurrency` stays off: it counts open connections, so idle sockets would take
the places of requests. The requests being answered are bounded in the app (`limits.BodyLimit`),
the connections by the file descriptors the process may open (`limits.connection_budget`, the soft
limit raised to the hard one), the idle ones giving way to new ones (`limits.GuardedH11Protocol`).
"""

import dataclasses
import functools
import inspect
import ipaddress
import socket
import sys

from seqrnn.errors import SeqrnnError, SeqrnnRuntimeError
from seqrnn.serve import limits as guards
from seqrnn.serve.app import MODELS, create_app
from seqrnn.serve.limits import ConnectionLimits, Limits, connection_budget


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket, or a one-line error (address in use, unknown host)."""
    if not 0 <= port <= 65535:
        raise SeqrnnError(f"--port must be in 0..65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise SeqrnnError(f"cannot resolve --host {host}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(4096)  # a burst of new connections waits here, not refused
    except OSError as exc:
        sock.close()
        raise SeqrnnRuntimeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _run_workers(config, sock: socket.socket) -> None:
    """uvicorn's supervisor: `config.workers` processes serving `sock` (its signature changed in 0.30)."""
    from uvicorn.supervisors import Multiprocess

    if "target" in inspect.signature(Multiprocess).parameters:
        import uvicorn

        Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
    else:
        Multiprocess(config, sockets=[sock]).run()


def _worker_app(threads: int, *args, **kwargs):
    """The app of one server process, with `threads` threads per model call: torch's, and those of the
    BLAS that NumPy's sampler calls (threadpoolctl, which scikit-learn brings)."""
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)  # for the rest of the process
    except ImportError:
        pass
    return create_app(*args, **kwargs)


def _connection_limits(args) -> ConnectionLimits:
    given = {"header_timeout": getattr(args, "timeout_headers", None),
             "body_timeout": getattr(args, "timeout_body", None),
             "keep_alive_timeout": getattr(args, "timeout_keep_alive", None),
             "limit_concurrency": getattr(args, "limit_concurrency", None),
             "max_connections": getattr(args, "max_connections", None)}
    limits = ConnectionLimits(**{name: value for name, value in given.items() if value is not None})
    budget = connection_budget()  # raises the soft limit on open files to the hard one, for every worker
    if limits.max_connections is None or limits.max_connections > budget:
        if limits.max_connections is not None:
            print(f"seqrnn: warning: --max-connections {limits.max_connections} is more than the {budget} "
                  "connections the limit on open files allows: using that", file=sys.stderr)
        limits = dataclasses.replace(limits, max_connections=budget)
    return limits


def serve_command(args) -> int:
    host = getattr(args, "host", None) or "127.0.0.1"
    port = getattr(args, "port", None)
    port = 8000 if port is None else port
    workers, threads = getattr(args, "workers", None) or 1, getattr(args, "threads", None) or 1
    connection_limits = _connection_limits(args)
    sentiment_dir, charlm_dir = getattr(args, "sentiment", None), getattr(args, "charlm", None)
    series_dir, forecast_dir = getattr(args, "series", None), getattr(args, "forecast", None)
    app = _worker_app(threads, sentiment_dir, charlm_dir, connection_limits=connection_limits,
                      series_dir=series_dir, forecast_dir=forecast_dir)  # one-line errors
    import uvicorn

    sock = _listen(host, port)
    port = sock.getsockname()[1]
    models = [name for name in MODELS if getattr(app.state, name) is not None]
    if not _is_loopback(host):
        print(f"seqrnn: warning: listening on {host}, reachable from other machines, with no authentication",
              file=sys.stderr)
    processes = f" with {workers} worker processes" if workers > 1 else ""
    print(f"seqrnn: serving {' and '.join(models)} on http://{_url_host(host)}:{port}/{processes} (Ctrl+C to stop)",
          flush=True)
    if workers > 1:  # each worker builds its own app: a picklable factory, not this process's app
        del app
        app = functools.partial(_worker_app, threads, sentiment_dir and str(sentiment_dir),
                                charlm_dir and str(charlm_dir), Limits(), connection_limits,
                                series_dir=series_dir and str(series_dir),
                                forecast_dir=forecast_dir and str(forecast_dir))
    config = uvicorn.Config(app, host=host, port=port, log_level="info", http=guards.GuardedH11Protocol,
                            factory=workers > 1, workers=workers,
                            timeout_keep_alive=connection_limits.keep_alive_timeout,
                            limit_concurrency=None)  # it counts idle connections: BodyLimit counts requests
    config.seqrnn_connection_limits = connection_limits  # read by GuardedH11Protocol (in every worker)
    try:
        if workers > 1:
            _run_workers(config, sock)
        else:
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0
