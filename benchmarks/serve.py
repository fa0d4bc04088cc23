"""`seqrnn serve` under load: requests/s, latency and memory of a real server process on 127.0.0.1.

    python benchmarks/serve.py                                  # models trained here, 1 and 2 workers
    python benchmarks/serve.py --sentiment DIR --charlm DIR     # your trained models
    python benchmarks/serve.py --requests 500 --workers 1       # shorter

The server is `seqrnn serve` in its own process (its default limits, access log on); this script is
the load generator (httpx on asyncio, keep-alive connections, one per concurrent client). Every
scenario is bounded by a number of requests and by seconds (whichever comes first):

- sentiment, 1 review a request, at concurrency 1, 8 and 32 (`--requests` each, default 2000);
- sentiment, 64 reviews a request, at concurrency 1, 8 and 32 (`--batch-requests` each, default 100);
- streaming generation, `--streams` at once (default 4), 4 each, `--stream-length` characters.

For each: requests/s, p50 and p99 latency (streams: time to the first characters and characters/s),
errors by kind, the CPU seconds of the server and of this client, and the server's memory (RSS of the
process and its workers) before and after. Then the same with `--workers 2` (several uvicorn
processes on one socket), to see whether more processes help on this machine's cores.

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
import signal
import subprocess
import sys
import tempfile
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
    from seqrnn.charlm import CharLanguageModel
    from seqrnn.classifier import SentimentClassifier

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

    def __init__(self, sentiment: Path, charlm: Path, workers: int, logs: Path):
        self.out, self.err = logs / f"serve-{workers}.out", logs / f"serve-{workers}.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "seqrnn", "serve", "--sentiment", str(sentiment), "--charlm", str(charlm),
                 "--host", "127.0.0.1", "--port", "0", "--workers", str(workers)],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
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

async def _requests(url: str, body: dict, total: int, concurrency: int, max_seconds: float) -> dict:
    import httpx

    latencies, errors, issued = [], collections.Counter(), 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        for _ in range(3):  # warm-up, not counted
            await client.post(url, json=body)
        began = time.perf_counter()
        deadline = began + max_seconds

        async def one_client():
            nonlocal issued
            while issued < total and time.perf_counter() < deadline:
                issued += 1
                start = time.perf_counter()
                try:
                    response = await client.post(url, json=body)
                    if response.status_code != 200:
                        errors[f"HTTP {response.status_code}"] += 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        seconds = time.perf_counter() - began
    ms = np.array(latencies) * 1000
    return {"requests": len(latencies), "seconds": seconds, "requests_per_s": len(latencies) / seconds,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "errors": dict(errors)}


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
    ms = np.array(first) * 1000
    return {"requests": len(first), "seconds": seconds, "requests_per_s": len(first) / seconds,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "chars_per_s_per_stream": float(np.median(rates)), "chars_per_s_total": chars / seconds,
            "errors": dict(errors)}


def scenarios(args) -> list[dict]:
    one, batch = {"texts": reviews(1, seed=2)}, {"texts": reviews(64, seed=3)}
    stream = {"start": "To be", "length": args.stream_length, "temperature": 0.8, "stream": True}
    out = []
    for concurrency in (1, 8, 32):
        out.append({"name": f"sentiment x1, c={concurrency}", "kind": "requests", "path": "/v1/sentiment",
                    "body": one, "total": args.requests, "concurrency": concurrency})
    for concurrency in (1, 8, 32):
        out.append({"name": f"sentiment x64, c={concurrency}", "kind": "requests", "path": "/v1/sentiment",
                    "body": batch, "total": args.batch_requests, "concurrency": concurrency})
    out.append({"name": f"stream {args.stream_length} chars, c={args.streams}", "kind": "streams",
                "path": "/v1/generate", "body": stream, "total": 4 * args.streams, "concurrency": args.streams})
    return out


def run_server(args, models: tuple[Path, Path], workers: int, logs: Path) -> dict:
    server = Server(*models, workers=workers, logs=logs)
    try:
        pid = server.process.pid
        report = {"workers": workers, "rss_mb_before": server_rss_mb(pid), "scenarios": []}
        for scenario in scenarios(args):
            cpu_server, cpu_client = server_cpu_s(pid), time.process_time()
            run = _requests if scenario["kind"] == "requests" else _streams
            result = asyncio.run(run(server.url + scenario["path"], scenario["body"], scenario["total"],
                                     scenario["concurrency"], args.max_seconds))
            result.update(name=scenario["name"], concurrency=scenario["concurrency"],
                          server_cpu_s=server_cpu_s(pid) - cpu_server, client_cpu_s=time.process_time() - cpu_client)
            report["scenarios"].append(result)
            _print_row(result)
        report["rss_mb_after"] = server_rss_mb(pid)
        print(f"  server RSS: {report['rss_mb_before']:.0f} MB before, {report['rss_mb_after']:.0f} MB after")
        return report
    finally:
        server.stop()


def _print_row(r: dict) -> None:
    errors = ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "0"
    extra = f"  {r['chars_per_s_per_stream']:,.0f} chars/s a stream" if "chars_per_s_per_stream" in r else ""
    print(f"  {r['name']:<28} {r['requests']:>6} {r['requests_per_s']:>8.1f} {r['p50_ms']:>9.1f} {r['p99_ms']:>9.1f} "
          f"{errors:>7} {r['server_cpu_s']:>7.1f} {r['client_cpu_s']:>7.1f}{extra}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentiment", type=Path, help="a sentiment model directory (default: trained here)")
    parser.add_argument("--charlm", type=Path, help="a character model directory (default: trained here)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="server processes to try")
    parser.add_argument("--requests", type=int, default=2000, help="requests per 1-review scenario")
    parser.add_argument("--batch-requests", type=int, default=100, help="requests per 64-review scenario")
    parser.add_argument("--streams", type=int, default=4, help="concurrent streaming generations")
    parser.add_argument("--stream-length", type=int, default=1000, help="characters per generation")
    parser.add_argument("--max-seconds", type=float, default=30, help="longest a scenario runs")
    args = parser.parse_args()
    if (args.sentiment is None) != (args.charlm is None):
        parser.error("give both --sentiment and --charlm, or neither")

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
            print(f"\nseqrnn serve --workers {workers} ({os.cpu_count()} cores here)")
            print(f"  {'scenario':<28} {'reqs':>6} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} "
                  f"{'srv cpu':>7} {'cli cpu':>7}")
            runs.append(run_server(args, models, workers, Path(tmp)))

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


if __name__ == "__main__":
    main()
