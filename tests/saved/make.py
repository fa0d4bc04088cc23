"""Writes the model directories in this folder: small models as seqrnn 0.1.0 saved them.

The test `test_saved_models.py` loads them with the current code and checks that they predict what
they predicted when saved (`expected.json`). Run once per release whose format must stay readable:
    python tests/saved/make.py tests/saved/0.1.0
"""

import json
import sys
from pathlib import Path

import numpy as np

from seqrnn import CharLanguageModel, TextClassifier, WordLanguageModel

TEXTS = ["a good film", "a bad film", "good acting and a good plot", "bad acting , bad plot",
         "truly good", "truly bad", "good good good", "bad bad bad", "the plot is good", "the plot is bad"] * 4
LABELS = ["pos", "neg"] * 20
PROBE = ["good plot", "bad film", "a film"]
TEXT = "To be, or not to be, that is the question. " * 30


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    small = dict(embed_size=8, hidden_size=8, epochs=2, batch_size=8, threads=1, quiet=True)
    clf = TextClassifier(**small, seq_len=16, bidirectional=True, pooling="maxmean").fit(TEXTS, LABELS, out_dir=out / "classifier")
    lm = CharLanguageModel(**small, num_steps=10).fit(TEXT, out_dir=out / "charlm")
    wlm = WordLanguageModel(**small, num_steps=5, direction="both").fit(TEXTS, out_dir=out / "wordlm")
    expected = {
        "classifier": np.round(clf.predict_proba(PROBE), 5).tolist(),
        "charlm": lm.sample(length=40, start="To ", seed=1),
        "charlm_evaluate": round(lm.evaluate(TEXT)["loss"], 5),
        "wordlm_evaluate": {k: round(v, 5) for k, v in wlm.evaluate(TEXTS).items() if isinstance(v, float)},
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    for run in ("classifier", "charlm", "wordlm"):  # keep what loads a model, not the run's history
        for name in ("checkpoint", "metrics.jsonl", "curves.png", ".lock"):
            path = out / run / name
            if path.is_dir():
                for f in path.iterdir():
                    f.unlink()
                path.rmdir()
            elif path.exists():
                path.unlink()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
