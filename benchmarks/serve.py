"""`seqrnn serve` under load: requests/s, latency, errors and memory of a real server process on 127.0.0.1.

    python benchmarks/serve.py                                  # models trained here, 1 and 2 workers
    python benchmarks/serve.py --sentiment DIR --charlm DIR     # your trained models
    python benchmarks/serve.py --requests 500 --workers 1       # shorter
    python benchmarks/serve.py --baseline-src OTHER/src         # against another version, ratios

The server is `seqrnn serve` in its own process (its default limits, access log on); this script is
the load generator (httpx on asyncio, keep-alive connections, one per concurrent client). Every
scenario is bounded by a number of requests and by seconds (whichever comes first):

- sentiment, 1 review a request, at concurrency 1, 8 and 32 (`--requests` each, default 2000);
- sentiment, 64 reviews a request, at concurrency 1, 8 and 32 (`--batch-requests` each, default 100);
- streaming generation, `--streams` at once (default 4), 4 each, `--stream-length` characters;
- mixed, at concurrency 32 (`--mixed-requests`, default 1000): single reviews, seeded generations
  of 100 characters and seeded streams of 300, side by side;
- 1 review at concurrency 8, and the mix, again while `--idle-sockets` connections (default 1000)
  are held open and silent: a thread opens them before the load and opens a new one for each the
  server closes (its header timeout), as a client holding the server's connections would. The row
  says how many were held at the end and how many the server closed meanwhile.

For each: requests/s, p50 and p99 latency (streams: time to the first characters and characters/s),
errors (5xx answers, and other failures: other statuses, broken connections), the CPU seconds of the
server and of this client, and the server's memory (RSS of the process and its workers) before and
after. Then the same with `--workers 2` (several uvicorn processes on one socket), to see whether
more processes help on this machine's cores. With `--baseline-src`, each server is preceded by one
running another source tree (same models, same load), and the ratios of this tree to it are printed.

No load here exceeds the server's limits, so any 5xx answer is a failure: it is printed with its
scenario and the script exits with status 1 (after writing the results).

Without --sentiment/--charlm, models with the `default` presets' architecture (bidirectional LSTM 128
over up to 400 words; LSTM 512 over characters) are trained for one epoch on a little synthetic data:
they predict nothing useful, but cost what real ones cost per request. Reviews are synthetic, 230
words each (about the IMDb mean). Results: benchmarks/results/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS  # noqa: E402

WORDS = ("the movie film plot story acting actor scene director and a of to was is it this that with for as "
         "but his her they one all great wonderful loved superb awful boring hated dull good bad best worst "
         "funny moving slow long short music ending character characters time really").split()
HAMLET = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
          "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles\n"
          "And by opposing end them. To die-to sleep,\nNo more; and by a sleep to say we end\n"
          "The heart-ache and the thousand natural shocks\nThat flesh is heir to: 'tis a consummation\n"
          "Devoutly to be wish'd. To die, to sleep;\nTo sleep, perchance to dream-ay, there's the rub:\n")


def reviews(n: int, words: int = 230, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, words)) for _ in range(n)]


def train_models(root: Path) -> tuple[Path, Path]:
    """The default presets' architectures, one epoch on a little synthetic data (a minute at most)."""
    from seqrnn.tasks.charlm import CharLanguageModel
    from seqrnn.tasks.classifier import SentimentClassifier

    texts = reviews(128, seed=1)
    labels = np.array([int(sum(w in ("great", "wonderful", "loved", "superb", "good", "best") for w in t.split())
                           > sum(w in ("awful", "boring", "hated", "dull", "bad", "worst") for w in t.split()))
                       for t in texts])
    SentimentClassifier(preset="default", epochs=1, min_count=1, embed_init="random", threads=1).fit(
        texts, labels, out_dir=root / "sentiment")
    CharLanguageModel(preset="default", epochs=1, batch_size=4, num_steps=50, threads=1).fit(
        HAMLET * 4, out_dir=root / "charlm")
    return root / "sentiment", root / "charlm"


# --- the server process and its descendants (the workers) ----------------------------------------------------

def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += parents.get(p, [])
    return found


def server_rss_mb(pid: int) -> float:
    total = 0
    for p in _descendants(pid):
        try:
            found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text())
        except OSError:
            continue
        total += int(found.group(1)) if found else 0
    return total / 1024


def server_cpu_s(pid: int) -> float:
    total = 0
    for p in _descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


class Server:
    """`seqrnn serve --port 0` in its own process; its stdout (access log) and stderr go to files."""

    def __init__(self, sentiment: Path, charlm: Path, workers: int, logs: Path, src: Path | None = None):
        """`src`: the source tree (its `src` folder) the server runs from; None: the one importable here."""
        label = f"{workers}-{'baseline' if src else 'this'}"
        self.out, self.err = logs / f"serve-{label}.out", logs / f"serve-{label}.err"
        env = os.environ.copy()
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "seqrnn", "serve", "--sentiment", str(sentiment), "--charlm", str(charlm),
                 "--host", "127.0.0.1", "--port", "0", "--workers", str(workers)],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 180
        while not (found := re.search(r"on http://127\.0\.0\.1:(\d+)/", self.out.read_text())):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"seqrnn serve did not start: {self.err.read_text()[-2000:]}")
            time.sleep(0.1)
        self.url = f"http://127.0.0.1:{found.group(1)}"
        import httpx

        while True:  # every worker has loaded the models once uvicorn says so (one line each)
            started = self.err.read_text().count("Application startup complete")
            if started >= workers:
                try:
                    if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"seqrnn serve does not answer: {self.err.read_text()[-2000:]}")
            time.sleep(0.2)

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


# --- the load ------------------------------------------------------------------------------------------------

class IdleSockets:
    """`count` connections to the server held open and silent by a thread, each one the server closes
    replaced by a new one (checked every 0.2 s), until `stop`."""

    def __init__(self, url: str, count: int):
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.address, self.count, self.closed_by_server = (host, int(port)), count, 0
        self.sockets = [self._open() for _ in range(count)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)
        self._thread.start()

    def _open(self) -> socket.socket:
        return socket.create_connection(self.address, timeout=10)

    def _hold(self) -> None:
        while not self._stop.wait(0.2):
            poller = select.poll()
            for sock in self.sockets:
                poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
            gone = {fd for fd, _ in poller.poll(0)}  # readable: closed by the server (or answered)
            for i, sock in enumerate(self.sockets):
                if sock.fileno() in gone:
                    sock.close()
                    self.closed_by_server += 1
                    try:
                        self.sockets[i] = self._open()
                    except OSError:
                        pass

    def stop(self) -> int:
        """Close them all; how many were still open (held) at the end."""
        self._stop.set()
        self._thread.join(10)
        poller = select.poll()
        for sock in self.sockets:
            poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
        held = len(self.sockets) - len(poller.poll(0))
        for sock in self.sockets:
            sock.close()
        return held


async def _requests(url: str, bodies: list[tuple[str, dict]], total: int, concurrency: int,
                    max_seconds: float) -> dict:
    """`total` requests (or `max_seconds`), `concurrency` at a time, cycling through `bodies` (path,
    JSON body); a body with "stream" is read as it streams. Latency: until the whole response."""
    import httpx

    latencies, errors, issued = [], collections.Counter(), 0
    by_kind = collections.defaultdict(list)  # latencies by endpoint (streams apart), for a mix
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def one(client: httpx.AsyncClient, path: str, body: dict) -> str | None:
        """None if the request succeeded, else what went wrong ('HTTP 503', 'ReadError', ...)."""
        try:
            async with client.stream("POST", url + path, json=body) as response:
                await response.aread()
                return None if response.status_code == 200 else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            return type(exc).__name__

    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        for path, body in bodies[:3]:  # warm-up, not counted
            await one(client, path, body)
        began = time.perf_counter()
        deadline = began + max_seconds

        async def one_client():
            nonlocal issued
            while issued < total and time.perf_counter() < deadline:
                path, body = bodies[issued % len(bodies)]
                issued += 1
                start = time.perf_counter()
                error = await one(client, path, body)
                latencies.append(time.perf_counter() - start)
                by_kind[path + (" stream" if body.get("stream") else "")].append(latencies[-1])
                if error:
                    errors[error] += 1

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        seconds = time.perf_counter() - began
    ms = np.array(latencies) * 1000
    kinds = {kind: {"requests": len(values), "p50_ms": float(np.percentile(np.array(values) * 1000, 50)),
                    "p99_ms": float(np.percentile(np.array(values) * 1000, 99))} for kind, values in by_kind.items()}
    return {"requests": len(latencies), "seconds": seconds, "requests_per_s": len(latencies) / seconds,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "errors": dict(errors), **_error_counts(errors), **({"by_kind": kinds} if len(kinds) > 1 else {})}


def _error_counts(errors: collections.Counter) -> dict:
    """5xx answers (never acceptable: the benchmark fails) and other failures (503 is 'busy', counted
    here as a 5xx too: a bounded load below the limits must not see it)."""
    server = sum(n for what, n in errors.items() if re.fullmatch(r"HTTP 5\d\d", what))
    return {"errors_5xx": server, "errors_other": sum(errors.values()) - server}


async def _streams(url: str, body: dict, total: int, concurrency: int, max_seconds: float) -> dict:
    import httpx

    first, rates, chars, errors, issued = [], [], 0, collections.Counter(), 0
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=concurrency)) as client:
        async with client.stream("POST", url, json=body) as response:  # warm-up, not counted
            await response.aread()
        began = time.perf_counter()
        deadline = began + max_seconds

        async def one_client():
            nonlocal issued, chars
            while issued < total and time.perf_counter() < deadline:
                issued += 1
                start, got, ttfb = time.perf_counter(), 0, None
                try:
                    async with client.stream("POST", url, json=body) as response:
                        if response.status_code != 200:
                            errors[f"HTTP {response.status_code}"] += 1
                            await response.aread()
                            continue
                        async for piece in response.aiter_text():
                            if piece and ttfb is None:
                                ttfb = time.perf_counter() - start
                            got += len(piece)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                    continue
                first.append(ttfb)
                rates.append(got / (time.perf_counter() - start))
                chars += got

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        seconds = time.perf_counter() - began
    ms = np.array(first or [float("nan")]) * 1000
    return {"requests": len(first), "seconds": seconds, "requests_per_s": len(first) / seconds,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "chars_per_s_per_stream": float(np.median(rates)) if rates else 0.0, "chars_per_s_total": chars / seconds,
            "errors": dict(errors), **_error_counts(errors)}


def scenarios(args) -> list[dict]:
    one, batch = {"texts": reviews(1, seed=2)}, {"texts": reviews(64, seed=3)}
    stream = {"start": "To be", "length": args.stream_length, "temperature": 0.8, "stream": True}
    # the mix: single reviews (several), a seeded generation, a seeded streamed generation
    mix = [("/v1/sentiment", {"texts": [text]}) for text in reviews(4, seed=4)]
    mix[1:1] = [("/v1/generate", {"start": "To be", "length": 100, "temperature": 0.8, "seed": 1})]
    mix[3:3] = [("/v1/generate", {"start": "The ", "length": 300, "temperature": 0.8, "seed": 2, "stream": True})]
    out = []
    for concurrency in (1, 8, 32):
        out.append({"name": f"sentiment x1, c={concurrency}", "kind": "requests",
                    "bodies": [("/v1/sentiment", one)], "total": args.requests, "concurrency": concurrency})
    for concurrency in (1, 8, 32):
        out.append({"name": f"sentiment x64, c={concurrency}", "kind": "requests",
                    "bodies": [("/v1/sentiment", batch)], "total": args.batch_requests, "concurrency": concurrency})
    out.append({"name": f"stream {args.stream_length} chars, c={args.streams}", "kind": "streams",
                "path": "/v1/generate", "body": stream, "total": 4 * args.streams, "concurrency": args.streams})
    out.append({"name": "mixed, c=32", "kind": "requests", "bodies": mix, "total": args.mixed_requests,
                "concurrency": 32})
    if args.idle_sockets:
        out.append({"name": f"sentiment x1, c=8, {args.idle_sockets} idle", "kind": "requests",
                    "bodies": [("/v1/sentiment", one)], "total": args.requests, "concurrency": 8,
                    "idle": args.idle_sockets})
        out.append({"name": f"mixed, c=32, {args.idle_sockets} idle", "kind": "requests", "bodies": mix,
                    "total": args.mixed_requests, "concurrency": 32, "idle": args.idle_sockets})
    return [s for s in out if not args.only or any(word in s["name"] for word in args.only)]


def run_server(args, models: tuple[Path, Path], workers: int, logs: Path, src: Path | None = None) -> dict:
    server = Server(*models, workers=workers, logs=logs, src=src)
    try:
        pid = server.process.pid
        report = {"workers": workers, "server": str(src) if src else "this tree",
                  "rss_mb_before": server_rss_mb(pid), "scenarios": []}
        for scenario in scenarios(args):
            idle = IdleSockets(server.url, scenario["idle"]) if scenario.get("idle") else None
            if idle is not None:
                time.sleep(1)  # all accepted
                rss_idle = server_rss_mb(pid)
            cpu_server, cpu_client = server_cpu_s(pid), time.process_time()
            if scenario["kind"] == "requests":
                load = _requests(server.url, scenario["bodies"], scenario["total"], scenario["concurrency"],
                                 args.max_seconds)
            else:
                load = _streams(server.url + scenario["path"], scenario["body"], scenario["total"],
                                scenario["concurrency"], args.max_seconds)
            result = asyncio.run(load)
            if idle is not None:
                closed = idle.closed_by_server
                result.update(idle_sockets=idle.count, idle_held_at_end=idle.stop(), idle_closed_by_server=closed,
                              rss_mb_idle_held=rss_idle)
            result.update(name=scenario["name"], concurrency=scenario["concurrency"],
                          server_cpu_s=server_cpu_s(pid) - cpu_server, client_cpu_s=time.process_time() - cpu_client)
            report["scenarios"].append(result)
            _print_row(result)
        report["rss_mb_after"] = server_rss_mb(pid)
        print(f"  server RSS: {report['rss_mb_before']:.0f} MB before, {report['rss_mb_after']:.0f} MB after")
        return report
    finally:
        server.stop()


HEADER = (f"  {'scenario':<28} {'reqs':>6} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} {'5xx':>5} {'other':>5} "
          f"{'srv cpu':>7} {'cli cpu':>7}")


def _print_row(r: dict) -> None:
    extra = f"  {r['chars_per_s_per_stream']:,.0f} chars/s a stream" if "chars_per_s_per_stream" in r else ""
    kinds = ", ".join(f"{k} {v}" for k, v in r["errors"].items())
    print(f"  {r['name']:<28} {r['requests']:>6} {r['requests_per_s']:>8.1f} {r['p50_ms']:>9.1f} {r['p99_ms']:>9.1f} "
          f"{r['errors_5xx']:>5} {r['errors_other']:>5} {r['server_cpu_s']:>7.1f} {r['client_cpu_s']:>7.1f}{extra}"
          + (f"  ({kinds})" if kinds else ""), flush=True)
    if "idle_sockets" in r:
        print(f"    {r['idle_held_at_end']} of {r['idle_sockets']} idle sockets held at the end, "
              f"{r['idle_closed_by_server']} closed by the server meanwhile (and reopened); "
              f"server RSS {r['rss_mb_idle_held']:.0f} MB with them open")
    for kind, k in r.get("by_kind", {}).items():
        print(f"    {kind:<26} {k['requests']:>6} {'':>8} {k['p50_ms']:>9.1f} {k['p99_ms']:>9.1f}")


def _print_ratios(baseline: dict, this: dict) -> None:
    print(f"  this tree / baseline:  {'req/s':>8} {'p50':>7} {'p99':>7}")
    for old, new in zip(baseline["scenarios"], this["scenarios"]):
        ratios = [new[key] / old[key] if old[key] else float("nan") for key in ("requests_per_s", "p50_ms", "p99_ms")]
        print(f"  {new['name']:<28} " + " ".join(f"{r:>6.2f}x" for r in ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentiment", type=Path, help="a sentiment model directory (default: trained here)")
    parser.add_argument("--charlm", type=Path, help="a character model directory (default: trained here)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="server processes to try")
    parser.add_argument("--requests", type=int, default=2000, help="requests per 1-review scenario")
    parser.add_argument("--batch-requests", type=int, default=100, help="requests per 64-review scenario")
    parser.add_argument("--streams", type=int, default=4, help="concurrent streaming generations")
    parser.add_argument("--stream-length", type=int, default=1000, help="characters per generation")
    parser.add_argument("--mixed-requests", type=int, default=1000,
                        help="requests of the mixed scenario (reviews, generations, streams at concurrency 32)")
    parser.add_argument("--max-seconds", type=float, default=30, help="longest a scenario runs")
    parser.add_argument("--idle-sockets", type=int, default=1000,
                        help="silent connections held open during the idle scenarios (0: skip them)")
    parser.add_argument("--only", nargs="+", metavar="WORD",
                        help="only the scenarios whose name contains one of these (e.g. 'x1,' mixed)")
    parser.add_argument("--baseline-src", type=Path, metavar="DIR",
                        help="also run, just before each, a server from another source tree's src folder "
                             "(e.g. a checkout of an earlier version), and print this tree's ratios to it")
    args = parser.parse_args()
    if (args.sentiment is None) != (args.charlm is None):
        parser.error("give both --sentiment and --charlm, or neither")

    try:  # this process holds the idle sockets: as many open files as allowed
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, OSError, ValueError):
        pass
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="seqrnn-bench-serve-") as tmp:
        if args.sentiment is None:
            began = time.perf_counter()
            models = train_models(Path(tmp))
            print(f"trained the models in {time.perf_counter() - began:.0f} s")
        else:
            models = (args.sentiment, args.charlm)
        runs = []
        for workers in args.workers:
            for src in ([args.baseline_src.resolve()] if args.baseline_src else []) + [None]:
                print(f"\nseqrnn serve --workers {workers} from {src or 'this tree'} ({os.cpu_count()} cores here)")
                print(HEADER)
                runs.append(run_server(args, models, workers, Path(tmp), src))
            if args.baseline_src:
                _print_ratios(runs[-2], runs[-1])

    import fastapi
    import uvicorn

    from seqrnn import __version__

    report = {"cores": os.cpu_count(), "python": platform.python_version(), "seqrnn": __version__,
              "fastapi": fastapi.__version__, "uvicorn": uvicorn.__version__,
              "models": "trained here (default presets' architectures)" if args.sentiment is None else
              {"sentiment": str(args.sentiment), "charlm": str(args.charlm)},
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "settings": {k: v for k, v in vars(args).items() if k not in ("sentiment", "charlm")},
              "runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "serve.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {out}")
    failed = [(run, r) for run in runs for r in run["scenarios"] if r["errors_5xx"]]
    for run, r in failed:
        print(f"FAILED: {r['errors_5xx']} of {r['requests']} responses were 5xx in '{r['name']}' "
              f"(--workers {run['workers']}, {run['server']}): {r['errors']}", file=sys.stderr)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
