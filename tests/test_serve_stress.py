"""`seqrnn serve` under concurrent load: a real server process on 127.0.0.1, 32 clients at once mixing
classification, generation and streamed generation. No request may fail because another one runs,
and every answer must be the one the same request gets alone. Bounded: a fixed number of requests
and a deadline."""

from __future__ import annotations

import collections
import concurrent.futures
import http.client
import json
import os
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")

from test_serve import running_server, train_tiny_models  # noqa: E402  (the same tiny models and server)

CLIENTS = 32  # concurrent clients, each with its own connection
REQUESTS = 2048  # in all, spread evenly over the clients
DEADLINE_S = 240  # the load must be over by then (it takes seconds)
REVIEWS = ["a wonderful and great movie", "boring and dull plot", "the story was superb and I loved it",
           "awful", "the movie was a movie", "hated the acting, dull and boring, but a great ending"]


def distinct_requests() -> list[tuple[str, dict]]:
    """Requests of every kind the server answers, each one different: (path, JSON body). Generations
    are seeded, so that each has one right answer."""
    out = [("/v1/sentiment", {"texts": [text]}) for text in REVIEWS]
    out += [("/v1/sentiment", {"texts": REVIEWS[i : i + 3]}) for i in range(0, len(REVIEWS), 2)]
    generations = [{"start": "To be", "length": 40, "seed": 1},
                   {"start": "The ", "length": 60, "seed": 2, "temperature": 0.8},
                   {"start": "Or to", "length": 30, "seed": 3, "top_n": 0, "top_p": 0.9},
                   {"start": "T", "length": 50, "seed": 4, "temperature": 0},
                   {"start": "And by", "length": 30, "seed": 5, "num_samples": 3, "top_n": 3, "ignore_unknown": True}]
    out += [("/v1/generate", body) for body in generations]
    out += [("/v1/generate", {**body, "stream": True}) for body in generations if body.get("num_samples", 1) == 1]
    out += [("/v1/generate", {"start": "Whether", "length": 300, "seed": 6, "stream": True})]  # several chunks
    return out


def ask(connection: http.client.HTTPConnection, path: str, body: dict) -> tuple[int, str]:
    """(status, body text) of one request on a keep-alive connection (a streamed body is chunked)."""
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, response.read().decode("utf-8")


def load(port: int, requests: list[tuple[str, dict]]) -> tuple[dict, list]:
    """Each distinct request once, alone (the expected answers); then `REQUESTS` of them from
    `CLIENTS` clients at once (threads, each with its own connection), every client cycling through
    them from its own offset, classifications twice as often. Returns the expected answers, and
    every (request index, status, body) or (request index, error) under load."""
    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    alone = connect()
    expected = {i: ask(alone, path, body) for i, (path, body) in enumerate(requests)}
    alone.close()
    start = threading.Barrier(CLIENTS)
    # classifications twice as often: two of them at once is where a model shared by threads breaks
    schedule = [i for i, (path, _) in enumerate(requests) for _ in range(2 if path == "/v1/sentiment" else 1)]

    def one_client(k: int) -> list:
        out, connection = [], connect()
        start.wait(30)  # every client connected: then all at once
        for n in range(REQUESTS // CLIENTS):
            i = schedule[(k * 7 + n) % len(schedule)]
            try:
                out.append((i, *ask(connection, *requests[i])))
            except (OSError, http.client.HTTPException) as exc:
                out.append((i, f"{type(exc).__name__}: {exc}"))
                connection.close()
                connection = connect()
        connection.close()
        return out

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(one_client, k) for k in range(CLIENTS)]
        _, late = concurrent.futures.wait(futures, timeout=DEADLINE_S)
        assert not late, f"{len(late)} clients were not done after {DEADLINE_S} s"
        return expected, [r for f in futures for r in f.result()]


@pytest.mark.slow
def test_concurrent_requests_never_fail_and_get_the_answers_they_get_alone(tmp_path):
    models = train_tiny_models(tmp_path)
    requests = distinct_requests()
    with running_server(models) as (port, process):
        began = time.monotonic()
        expected, results = load(port, requests)
        seconds = time.monotonic() - began
        assert process.poll() is None, "the server died under load"
    refused = {str(requests[i]): answer for i, answer in expected.items() if answer[0] != 200}
    assert not refused, f"requests refused even alone: {refused}"
    twins = 0
    for i, (path, body) in enumerate(requests):  # a stream is the text its request gets without streaming
        unstreamed = (path, {k: v for k, v in body.items() if k != "stream"})
        if body.get("stream") and unstreamed in requests:
            assert json.loads(expected[requests.index(unstreamed)][1])["texts"] == [expected[i][1]]
            twins += 1
    assert twins >= 4
    assert len(results) == REQUESTS
    failed = collections.Counter(r[1] if len(r) == 3 else r[1].split(":")[0] for r in results
                                 if len(r) == 2 or r[1] != 200)
    assert not failed, f"{sum(failed.values())} of {REQUESTS} requests failed under load: {dict(failed)}"
    wrong = [(requests[i], text, expected[i][1]) for i, _, text in results if text != expected[i][1]]
    assert not wrong, f"{len(wrong)} answers under load differ from the same request alone, e.g. {wrong[0]}"
    kinds = collections.Counter("stream" if requests[i][1].get("stream") else requests[i][0] for i, *_ in results)
    assert min(kinds.values()) >= REQUESTS // 10, kinds  # every kind was really mixed in
    print(f"{REQUESTS} requests from {CLIENTS} clients in {seconds:.1f} s: {dict(kinds)}")


# --- idle and slow connections do not delay ordinary requests ------------------------------------------------

IDLE_SOCKETS = 1000  # connections opened and left silent
SLOW_CLIENTS = 200  # half drip header lines, half drip a body, a piece every DRIP_S
DRIP_S = 0.5
ORDINARY = 500  # ordinary requests answered while they are held
ORDINARY_CLIENTS = 8
HELD_FLAGS = ("--timeout-headers", "60", "--timeout-body", "60")  # the slow ones stay for the whole test


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _still_open(sock) -> bool:
    """True while the server has neither closed the connection nor sent anything on it."""
    import select

    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
    return not poller.poll(0)  # readable: closed, or an answer came


def _raise_open_files(wanted: int) -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"needs {wanted} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the server's memory in /proc (Linux)")
def test_idle_and_slow_connections_do_not_delay_ordinary_requests(tmp_path):
    """1,000 silent sockets and 200 clients sending a header line or a body byte every 0.5 s, all held
    open for the whole test, while 8 clients make 500 ordinary requests: every one is answered 200 (no
    5xx, no 503), and none of the held connections is dropped. Prints p50/p99 and the server's memory."""
    _raise_open_files(IDLE_SOCKETS + SLOW_CLIENTS + 512)
    models = train_tiny_models(tmp_path)
    held: list = []
    with running_server(models, *HELD_FLAGS) as (port, process):
        began = time.monotonic()
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        assert ask(warm, "/v1/sentiment", {"texts": ["warm up"]})[0] == 200
        warm.close()
        rss_before = _rss_mb(process.pid)
        try:
            for _ in range(IDLE_SOCKETS):
                held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            slow = []
            for k in range(SLOW_CLIENTS):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                if k % 2:
                    sock.sendall(b"POST /v1/sentiment HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                else:
                    sock.sendall(b"POST /v1/sentiment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                                 b"\r\nContent-Length: 100000\r\n\r\n{\"texts\": [\"")
                slow.append((sock, b"X-Slow: 1\r\n" if k % 2 else b"a"))
            held += [sock for sock, _ in slow]
            stop = threading.Event()

            def drip():
                while not stop.wait(DRIP_S):
                    for sock, piece in slow:
                        try:
                            sock.send(piece, socket.MSG_DONTWAIT)
                        except OSError:
                            pass

            dripper = threading.Thread(target=drip, daemon=True)
            dripper.start()
            time.sleep(2 * DRIP_S)
            rss_held = _rss_mb(process.pid)
            requests = [("/v1/sentiment", {"texts": [REVIEWS[i % len(REVIEWS)]]}) if i % 4 else
                        ("/v1/generate", {"start": "To be", "length": 20, "seed": i}) for i in range(ORDINARY)]

            def one_client(k: int) -> list:
                out, connection = [], http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                for path, body in requests[k::ORDINARY_CLIENTS]:
                    t0 = time.perf_counter()
                    try:
                        status, _ = ask(connection, path, body)
                    except (OSError, http.client.HTTPException) as exc:
                        status = type(exc).__name__
                        connection.close()
                        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    out.append((status, time.perf_counter() - t0))
                connection.close()
                return out

            load_began = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(ORDINARY_CLIENTS) as pool:
                results = [r for rs in pool.map(one_client, range(ORDINARY_CLIENTS)) for r in rs]
            load_s = time.monotonic() - load_began
            stop.set()
            dripper.join(5)
            rss_after = _rss_mb(process.pid)
            dropped = sum(not _still_open(sock) for sock in held)
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.5)
        again = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        again.request("GET", "/healthz")
        assert again.getresponse().status == 200  # still answering once they are gone
        again.close()
        assert process.poll() is None, "the server died"
    statuses = collections.Counter(status for status, _ in results)
    latencies = sorted(seconds for _, seconds in results)
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
    print(f"{ORDINARY} requests from {ORDINARY_CLIENTS} clients in {load_s:.1f} s beside {IDLE_SOCKETS} idle sockets "
          f"and {SLOW_CLIENTS} slow clients: {dict(statuses)}; p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; "
          f"server memory {rss_before:.0f} MB, {rss_held:.0f} MB with them held "
          f"({(rss_held - rss_before) * 1024 / (IDLE_SOCKETS + SLOW_CLIENTS):.1f} KB a connection), "
          f"{rss_after:.0f} MB after the load; {dropped} held connections dropped; {time.monotonic() - began:.1f} s")
    assert len(results) == ORDINARY
    assert statuses == {200: ORDINARY}, f"ordinary requests not answered 200: {dict(statuses)}"
    assert dropped == 0, f"{dropped} of {len(held)} idle or slow connections were closed by the server"
    assert time.monotonic() - began < 120
