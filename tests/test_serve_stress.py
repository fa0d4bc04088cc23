"""`seqrnn serve` under concurrent load: a real server process on 127.0.0.1, 32 clients at once mixing
classification, generation and streamed generation. No request may fail because another one runs,
and every answer must be the one the same request gets alone. Bounded: a fixed number of requests
and a deadline."""

from __future__ import annotations

import collections
import concurrent.futures
import http.client
import json
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
