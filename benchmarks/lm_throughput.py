"""Word language model training speed: adaptive vs full softmax, model size, batch, bf16 autocast.

    python benchmarks/lm_throughput.py [--steps 12]

Each variant trains `WordLM` (one direction) for a few AdamW steps on a Zipf-distributed stream over
a 30,002-word vocabulary (the default classifier's), 70-word windows, and reports words/s, its
ratio to the default (adaptive softmax, LSTM 128, batch 64) measured in the same run, and the
recurrent layers' GFLOP/s (forward + backward multiply-adds of the LSTM per word x words/s) as a
fraction of this machine's matrix-multiply rate, measured in the same run. bf16 autocast keeps
float32 master weights; a variant PyTorch cannot run on this CPU is reported as failed with the
reason. Results go to benchmarks/results/lm_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS  # noqa: E402
from pretrain import lm_flops_per_word  # noqa: E402
from sentiment import matmul_gflops  # noqa: E402

VOCAB = 30002
EMBED = 128


def words_per_s(hidden: int, softmax: str, bf16: bool, steps: int, batch: int, window: int = 70) -> float:
    from seqrnn.nn.networks import WordLM

    torch.manual_seed(0)
    model = WordLM(VOCAB, embed_size=EMBED, hidden_size=hidden, direction="forward", softmax=softmax)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    zipf = 1.0 / torch.arange(1, VOCAB + 1, dtype=torch.float)
    stream = torch.multinomial(zipf / zipf.sum(), steps * batch * (window + 1), replacement=True)
    stream = stream.view(steps, batch, window + 1)
    state, started = None, 0.0
    for step in range(steps):
        if step == 2:  # the first steps warm up the kernels and the allocator
            started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, state = model(stream[step, :, :-1], stream[step, :, 1:], "forward", state)
        state = tuple(s.detach() for s in state)
        optimizer.zero_grad()
        loss.float().backward()
        optimizer.step()
    return batch * window * (steps - 2) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    variants = [("adaptive", 128, 64, False), ("full", 128, 64, False), ("adaptive", 128, 256, False),
                ("adaptive", 256, 64, False), ("full", 256, 64, False), ("adaptive", 512, 64, False),
                ("adaptive", 1024, 64, False), ("adaptive", 128, 64, True)]
    machine = matmul_gflops()
    rows = []
    for softmax, hidden, batch, bf16 in variants:
        row = {"softmax": softmax, "hidden_size": hidden, "batch_size": batch, "bf16": bf16}
        try:
            row["words_per_s"] = words_per_s(hidden, softmax, bf16, args.steps, batch)
        except RuntimeError as exc:
            row["failed"] = str(exc).splitlines()[0]
        rows.append(row)
    base = rows[0]["words_per_s"]
    print(f"\nWord LM training, one direction, 70-word windows, vocabulary {VOCAB}, {torch.get_num_threads()} "
          f"threads, matmul {machine:.1f} GFLOP/s")
    print(f"  {'softmax':<9} {'hidden':>6} {'batch':>5} {'bf16':>5} {'words/s':>9} {'vs default':>10} "
          f"{'recurrent GFLOP/s':>17} {'of matmul':>9}")
    for r in rows:
        if "failed" in r:
            print(f"  {r['softmax']:<9} {r['hidden_size']:>6} {r['batch_size']:>5} {str(r['bf16']):>5}   "
                  f"failed: {r['failed'][:70]}")
            continue
        model = {"cell": "lstm", "num_layers": 1, "hidden_size": r["hidden_size"], "embed_size": EMBED}
        r["ratio"] = r["words_per_s"] / base
        r["recurrent_gflops"] = lm_flops_per_word(model) * r["words_per_s"] / 1e9
        r["fraction_of_matmul"] = r["recurrent_gflops"] / machine
        print(f"  {r['softmax']:<9} {r['hidden_size']:>6} {r['batch_size']:>5} {str(r['bf16']):>5} "
              f"{r['words_per_s']:>9,.0f} {r['ratio']:>10.2f} {r['recurrent_gflops']:>17.1f} "
              f"{r['fraction_of_matmul']:>9.0%}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lm_throughput.json").write_text(json.dumps({"machine_matmul_gflops": machine, "variants": rows},
                                                           indent=2))
    print(f"\nwrote {RESULTS / 'lm_throughput.json'}")


if __name__ == "__main__":
    main()
