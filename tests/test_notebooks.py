"""The notebooks in docs/notebooks run top to bottom (nbclient, a real kernel: marked slow) on small
slices of the shared data, at the size the test suite asks of them (SEQRNN_NOTEBOOK_SIZE=tiny); and
they are kept without outputs, so the repository holds what a reader runs, not one run's results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from test_docs import doc_data  # noqa: F401  (the fixture: small slices of the shared data)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"chapter.ipynb", "own-texts.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_kept_without_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs (clear them: jupyter nbconvert --clear-output --inplace)"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, doc_data, tmp_path, monkeypatch):  # noqa: F811
    nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat and nbclient (pip install 'seqrnn[test]')")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    monkeypatch.setenv("SEQRNN_DATA", str(doc_data))
    monkeypatch.setenv("SEQRNN_NOTEBOOK_SIZE", "tiny")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # "python3" is this Python (jupyter_client runs ipykernel with sys.executable)
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors

