"""Work that grows: preparation, training and validation on corpora and labelled files of growing
size, with each process's peak memory.

Corpora of `--corpus-mb` MB are tiny-shakespeare, Hamlet and seqrnn's own source code, repeated;
labelled files of `--rows` rows are IMDb's training reviews with their star ranges, repeated, as
JSONL. For each corpus: the first preparation (encoding into the prepared-data cache, cold) and a
cached one, then `seqrnn charlm train --max-minutes M`; for each labelled file `seqrnn classify
train --max-minutes M`. Every figure is one process's: wall seconds, peak resident memory, and from
metrics.jsonl the steps, the training throughput and the seconds each validation took. With
`--interrupt`, SIGINT is sent to the largest corpus's cold preparation and to its training, and the
seconds until the process ended are reported.

For each labelled file also: its first reading (tokenizing into the cache, cold) and a cached one,
each a process of its own, and the seconds from the start of training to its first step.

`--compare REF` also trains the default character model for one epoch on Hamlet, and the default
classifier for one epoch on 2,000 IMDb reviews, with the code of the git revision REF and with this
code, one after the other: the same losses and the throughput of both show that nothing changed at
the book's size.

    python benchmarks/scale.py --corpus-mb 10,100,1000 --rows 25000,250000,1000000 --minutes 5 \
        --interrupt --compare HEAD~30
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, run_measured  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEQRNN_DATA", ROOT.parent / "shared" / "data"))
os.environ["SEQRNN_DATA"] = str(DATA)  # the processes below find the named datasets there


def build_corpus(path: Path, megabytes: int) -> None:
    """tiny-shakespeare, Hamlet and the package's source, repeated to `megabytes` MB."""
    seed = ((DATA / "tinyshakespeare.txt").read_bytes() + (DATA / "hamlet_pg2265.txt").read_bytes()
            + b"".join(p.read_bytes() for p in sorted((ROOT / "src" / "seqrnn").glob("*.py"))))
    target = megabytes * 1_000_000
    with open(path, "wb") as f:
        written = 0
        while written < target:
            piece = seed[: target - written]
            f.write(piece)
            written += len(piece)


def build_rows(path: Path, rows: int) -> None:
    """IMDb's labelled training reviews as JSONL rows {"text", "stars"} (star ranges), repeated."""
    sys.path.insert(0, str(ROOT / "src"))
    from seqrnn.data.imdb import read_imdb

    reviews = read_imdb(DATA / "aclImdb_train.tar.gz", splits=("train",))
    keep = reviews.labels >= 0
    texts = [t for t, k in zip(reviews.texts, keep) if k]
    stars = ["1-4" if label == 0 else "7-10" for label in reviews.labels[keep]]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            f.write(json.dumps({"text": texts[i % len(texts)], "stars": stars[i % len(texts)]}) + "\n")


def seqrnn(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqrnn", *args]


def prepare(path: Path) -> tuple[float, float]:
    """Seconds and peak MB of encoding the corpus into the cache (a process of its own)."""
    return _measured("from pathlib import Path; from seqrnn.data.corpus import TextSource, char_streams; "
                     "char_streams(TextSource(path=Path(sys.argv[1])), 0.1, quiet=True)", path)


def prepare_rows(path: Path) -> tuple[float, float]:
    """Seconds and peak MB of reading and tokenizing a labelled file into the cache (a process of its own)."""
    return _measured("from seqrnn.data.labelled import read_labelled_tokens; "
                     "read_labelled_tokens(sys.argv[1], label_column='stars', quiet=True)", path)


def _measured(code: str, path: Path) -> tuple[float, float]:
    started = time.perf_counter()
    status, _, err, peak = run_measured([sys.executable, "-c", f"import sys; {code}", str(path)])
    if status:
        raise SystemExit(err)
    return time.perf_counter() - started, peak


def first_step_s(out: Path, batch_size: int) -> float:
    """Seconds from the start of `fit` to the first training step: the first metrics record's clock
    less the time its steps took at its throughput."""
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    return round(first["elapsed_s"] - first["step"] * batch_size / first["examples_per_s"], 1)


def train(cmd: list[str], out: Path) -> dict:
    """Wall seconds, peak MB and what metrics.jsonl says of one `train` process."""
    started = time.perf_counter()
    status, stdout, err, peak = run_measured(cmd)
    wall = time.perf_counter() - started
    if status:
        raise SystemExit(f"{' '.join(cmd[3:])} failed: {err[-2000:]}")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if r["type"] == "train"]
    val = [r for r in records if r["type"] == "val"]
    return {"wall_s": round(wall, 1), "peak_mb": round(peak), "steps": train_records[-1]["step"],
            "examples_per_s": statistics.median(r["examples_per_s"] for r in train_records),
            "val_s_max": max(r["val_s"] for r in val), "val_s_mean": round(statistics.mean(r["val_s"] for r in val), 2),
            "validations": len(val), "summary": stdout.strip().splitlines()[-1]}


def interrupt_after(cmd: list[str], seconds: float, env: dict) -> float:
    """Seconds from SIGINT (sent `seconds` after the start) until the process ended."""
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    time.sleep(seconds)
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    process.wait(120)
    return round(time.perf_counter() - sent, 2)


def compare(ref: str, work: Path, minutes_cap: float) -> list[dict]:
    """One epoch of the default character model on Hamlet, and of the default classifier on 2,000
    IMDb reviews, with REF's code and with this code."""
    old = work / "old"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), ref], check=True,
                   capture_output=True)
    tasks = {"Hamlet, charlm": ("charlm", "train", "--text", "hamlet"),
             "IMDb 2,000 reviews, classify": ("sentiment", "train", "--data", "imdb", "--limit", "2000")}
    try:
        rows = []
        for task, args in tasks.items():
            for label, src in ((ref, old / "src"), ("this code", ROOT / "src")):
                out = work / f"compare-{len(rows)}"
                subprocess.run(["rm", "-rf", str(out)])
                env = {**os.environ, "PYTHONPATH": str(src)}
                cmd = seqrnn(*args, "--out", str(out), "--epochs", "1", "--threads", "2", "--max-minutes",
                             str(minutes_cap))
                started = time.perf_counter()
                result = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if result.returncode:
                    raise SystemExit(result.stderr)
                records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
                val = [r for r in records if r["type"] == "val"][-1]
                rates = [r["examples_per_s"] for r in records if r["type"] == "train"]
                rows.append({"task": task, "code": label, "wall_s": round(time.perf_counter() - started, 1),
                             "examples_per_s": statistics.median(rates), "val_loss": val["loss"],
                             "val_accuracy": val.get("accuracy")})
        return rows
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus-mb", default="10,100", help="corpus sizes in MB, comma-separated ('' for none)")
    parser.add_argument("--rows", default="25000", help="labelled file sizes in rows, comma-separated ('' for none)")
    parser.add_argument("--minutes", type=float, default=2.0, help="--max-minutes of every training")
    parser.add_argument("--interrupt", action="store_true", help="measure how fast SIGINT ends the largest corpus")
    parser.add_argument("--compare", metavar="REF", help="also train Hamlet one epoch with REF's code and this code")
    parser.add_argument("--work", type=Path, help="where to build the files (default: a temporary folder)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="seqrnn-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"minutes": args.minutes, "corpora": [], "labelled": [], "interrupt": {}, "compare": []}
    sizes = [int(s) for s in args.corpus_mb.split(",") if s]
    for mb in sizes:
        path = work / f"corpus-{mb}mb.txt"
        if not path.exists():
            build_corpus(path, mb)
        cache = work / f"cache-{mb}"
        os.environ["SEQRNN_CACHE"] = str(cache)
        subprocess.run(["rm", "-rf", str(cache)])
        first_s, first_mb = prepare(path)
        cached_s, cached_mb = prepare(path)
        out = work / f"charlm-{mb}"
        subprocess.run(["rm", "-rf", str(out)])
        row = train(seqrnn("charlm", "train", "--text", str(path), "--out", str(out), "--max-minutes",
                           str(args.minutes), "--threads", "2"), out)
        results["corpora"].append({"mb": mb, "prepare_first_s": round(first_s, 1), "prepare_first_peak_mb": round(first_mb),
                                   "prepare_cached_s": round(cached_s, 2), **row})
        print(json.dumps(results["corpora"][-1]), flush=True)
    for rows in [int(r) for r in args.rows.split(",") if r]:
        path = work / f"rows-{rows}.jsonl"
        if not path.exists():
            build_rows(path, rows)
        os.environ["SEQRNN_CACHE"] = cache = str(work / f"cache-rows-{rows}")
        subprocess.run(["rm", "-rf", cache])
        first_s, first_mb = prepare_rows(path)
        cached_s, _ = prepare_rows(path)
        out = work / f"classify-{rows}"
        subprocess.run(["rm", "-rf", str(out)])
        row = train(seqrnn("classify", "train", "--data", str(path), "--label-column", "stars", "--out", str(out),
                           "--max-minutes", str(args.minutes), "--threads", "2"), out)
        row.update(prepare_first_s=round(first_s, 1), prepare_first_peak_mb=round(first_mb),
                   prepare_cached_s=round(cached_s, 2), first_step_s=first_step_s(out, 64))
        results["labelled"].append({"rows": rows, "mb": round(path.stat().st_size / 1e6), **row})
        print(json.dumps(results["labelled"][-1]), flush=True)
    if args.interrupt and sizes:
        path, cache = work / f"corpus-{max(sizes)}mb.txt", work / "cache-interrupt"
        env = {**os.environ, "SEQRNN_CACHE": str(cache)}
        subprocess.run(["rm", "-rf", str(cache), str(work / "interrupted")])
        cmd = seqrnn("charlm", "train", "--text", str(path), "--out", str(work / "interrupted"), "--threads", "2")
        results["interrupt"]["while_preparing_s"] = interrupt_after(cmd, 5, env)
        env["SEQRNN_CACHE"] = str(work / f"cache-{max(sizes)}")  # prepared: straight into training
        subprocess.run(["rm", "-rf", str(work / "interrupted")])
        results["interrupt"]["while_training_s"] = interrupt_after(cmd, 45, env)
    if args.compare:
        results["compare"] = compare(args.compare, work, max(args.minutes, 10))

    print(f"\nCorpora (charlm train --max-minutes {args.minutes:g} --threads 2; default preset)")
    print(f"{'MB':>6} {'prepare s':>10} {'cached s':>9} {'prep MB':>8} {'train wall s':>13} {'steps':>6} "
          f"{'chars/s':>8} {'val s max':>10} {'peak MB':>8}")
    for r in results["corpora"]:
        print(f"{r['mb']:>6} {r['prepare_first_s']:>10} {r['prepare_cached_s']:>9} {r['prepare_first_peak_mb']:>8} "
              f"{r['wall_s']:>13} {r['steps']:>6} {r['examples_per_s']:>8,.0f} {r['val_s_max']:>10} {r['peak_mb']:>8}")
    if results["labelled"]:
        print(f"\nLabelled files (classify train --max-minutes {args.minutes:g} --threads 2; default preset)")
        print(f"{'rows':>9} {'MB':>6} {'prepare s':>10} {'cached s':>9} {'prep MB':>8} {'1st step s':>11} "
              f"{'wall s':>7} {'steps':>6} {'texts/s':>8} {'val s max':>10} {'peak MB':>8}")
        for r in results["labelled"]:
            print(f"{r['rows']:>9,} {r['mb']:>6} {r['prepare_first_s']:>10} {r['prepare_cached_s']:>9} "
                  f"{r['prepare_first_peak_mb']:>8} {r['first_step_s']:>11} {r['wall_s']:>7} {r['steps']:>6} "
                  f"{r['examples_per_s']:>8,.0f} {r['val_s_max']:>10} {r['peak_mb']:>8}")
    if results["interrupt"]:
        print(f"\nSIGINT to the {max(sizes)} MB corpus: {results['interrupt']}")
    for r in results["compare"]:
        accuracy = "" if r["val_accuracy"] is None else f", val accuracy {r['val_accuracy']:.4f}"
        print(f"{r['task']}, 1 epoch, {r['code']}: {r['wall_s']} s, {r['examples_per_s']:,.0f} examples/s, val loss "
              f"{r['val_loss']:.6f}{accuracy}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {RESULTS / 'scale.json'}")


if __name__ == "__main__":
    main()
