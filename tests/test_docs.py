"""The documentation: the README stays a short front door, every page speaks of the product only,
links resolve, the settings tables cover every setting, and the site builds with warnings as errors."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seqrnn import config

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))

# How a project's development shows through in its documentation: issue and pull-request numbers,
# working sessions, which machines were lent, "this machine" for the one the figures came from.
DEV_TALK = [
    r"\bissues? #?\d+",
    r"(?:^|[\s(\[])#\d+\b",
    r"\bpull request\b|\bPR #?\d+",
    r"\b(?:this|previous|next|earlier|last|a later) session\b",
    r"\b(?:was|were|is|are) (?:not )?lent\b",
    r"\bdevelopment machine\b",
    r"\bon this machine\b|\bthis machine's\b",
    r"\b(?:on|of) this CPU\b",
    r"\bpreviously\b",
]


def _text_without_comments(path: Path) -> str:
    """The page as a reader sees it: HTML comments (notes for whoever edits the page) left out."""
    return re.sub(r"<!--.*?-->", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_is_a_short_front_door():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail into docs/"
    text = "\n".join(lines)
    for command in ("make demo", "make test", "seqrnn classify", "seqrnn charlm", "seqrnn lm", "seqrnn serve"):
        assert command in text


def test_there_are_pages_to_check():
    names = {p.name for p in PAGES}
    assert {"index.md", "classification.md", "api-estimators.md", "results.md", "experiment-log.md"} <= names


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda p: p.name)
def test_pages_speak_of_the_product_only(path):
    text = _text_without_comments(path)
    found = [(pattern, m.group(0).strip()) for pattern in DEV_TALK
             for m in re.finditer(pattern, text, flags=re.IGNORECASE | re.MULTILINE)]
    assert not found, f"{path.name}: development talk {found}"


@pytest.mark.parametrize("sample", ["see issue 12 for this", "fixed in #34 and", "(#7)",
                                    "measured in this session", "no GPU was lent to us",
                                    "on this machine", "previously the default"])
def test_dev_talk_patterns_catch_what_they_are_for(sample):
    assert any(re.search(p, sample, flags=re.IGNORECASE | re.MULTILINE) for p in DEV_TALK)


@pytest.mark.parametrize("sample", ["# Results", "[log](experiment-log.md#2026-11-28-first-measurements)",
                                    "`seqrnn data inspect`", "the issue of padding", "here is how"])
def test_dev_talk_patterns_leave_product_text_alone(sample):
    assert not any(re.search(p, sample, flags=re.IGNORECASE | re.MULTILINE) for p in DEV_TALK)


def test_readme_links_and_images_resolve():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert local, "the README links into docs/"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_every_page_image_exists():
    for page in PAGES:
        for image in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            assert (page.parent / image).is_file(), f"{page.name}: missing image {image}"


def _settings_hook():
    spec = importlib.util.spec_from_file_location("settings_tables", DOCS / "hooks" / "settings_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("task, config_class", [("classify", config.SentimentConfig),
                                                ("charlm", config.CharLMConfig), ("lm", config.LMConfig),
                                                ("forecast", config.ForecastConfig)])
def test_settings_tables_list_every_setting_with_each_preset(task, config_class):
    table = _settings_hook().table(task)
    rows = [line for line in table.splitlines()[2:]]
    assert len(rows) == len(config.flat_fields(config_class))
    for name in config.flat_fields(config_class):
        assert f"`--{name.replace('_', '-')}`" in table
    assert "`default`" in table.splitlines()[0]


def test_settings_page_has_a_table_for_every_task():
    hook = _settings_hook()
    page = (DOCS / "settings.md").read_text(encoding="utf-8")
    rendered = hook.on_page_markdown(page, page=None, config=None, files=None)
    assert "<!-- settings:" not in rendered
    assert "`--max-minutes` (`max_minutes`)" in rendered and "`--pooling` (`pooling`)" in rendered


@pytest.mark.slow
def test_site_builds_with_warnings_as_errors(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                             "-d", str(site)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "WARNING -" not in result.stderr
    api = (site / "api-estimators" / "index.html").read_text(encoding="utf-8")
    assert "CharLanguageModel" in api and "WordLanguageModel" in api
    settings = (site / "settings" / "index.html").read_text(encoding="utf-8")
    assert "--hidden-size" in settings
    for image in ("sentiment.png", "charlm-hamlet.png", "gradients.png", "serve.png"):
        assert (site / image).is_file()
    # each of the five estimators' constructor, with types and defaults; the internals on a page of their own
    assert api.count("<td><code>max_minutes</code></td>") == 5 and "<td><code>float</code> or <code>None</code></td>" in api
    assert "RunDir" not in api and "TrainerState" not in api
    assert "RunDir" in (site / "api-internals" / "index.html").read_text(encoding="utf-8")
    # the notebooks, rendered as they are kept (not executed while the site builds)
    for name in ("chapter", "own-texts"):
        assert "jupyter-wrapper" in (site / "notebooks" / name / "index.html").read_text(encoding="utf-8")
    assert (site / "getting-started" / "index.html").is_file()


# --- the pages' blocks run as written -------------------------------------------------------------
#
# A fenced block tagged `sh` (or `bash`) runs through bash, one tagged `python` runs in one namespace
# per page, all in the page's order, from a folder that stands for a fresh clone: `.venv` there is
# this Python's environment, and `../shared/data` holds small slices of the shared data (the same
# file names, so `imdb` and `hamlet` resolve to them). `<!-- no-run: why -->` on the line before a
# block keeps it from running (a block that needs hours, a GPU, or a server that never returns);
# `text` blocks are output and never run. Every block on a checked page declares its language.

GUIDE_PAGES = [README, DOCS / "index.md", DOCS / "getting-started.md", DOCS / "classification.md",
               DOCS / "charlm.md", DOCS / "word-lm.md", DOCS / "serving.md"]
# what `make test` runs; SEQRNN_DOC_PAGES=all runs every guide page's blocks (a few minutes more)
RUN_PAGES = [README, DOCS / "getting-started.md"]
if os.environ.get("SEQRNN_DOC_PAGES") == "all":
    RUN_PAGES += [p for p in GUIDE_PAGES if p not in RUN_PAGES and p.name != "serving.md"]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.MULTILINE | re.DOTALL)
NO_RUN = re.compile(r"<!--\s*no-run\b[^>]*-->\s*$")
RUNNABLE = {"sh": "sh", "bash": "sh", "python": "python"}


def doc_blocks(path: Path) -> list[tuple[int, str, str, bool]]:
    """(line, language, code, runs) for every fenced block of the page, in order."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").splitlines()
        marked = bool(before) and bool(NO_RUN.search(before[-1]))
        lang = m.group("lang")
        body = "\n".join(line[len(m.group("indent")):] for line in m.group("body").splitlines())
        blocks.append((text.count("\n", 0, m.start()) + 1, lang, body, lang in RUNNABLE and not marked))
    return blocks


@pytest.mark.parametrize("path", GUIDE_PAGES, ids=lambda p: p.name)
def test_every_block_says_what_it_is(path):
    """Nothing escapes the run by leaving out its language: each block is `sh`, `python` (both run
    unless marked no-run) or `text` (output, a file's contents)."""
    blocks = doc_blocks(path)
    assert blocks, f"{path.name} has no blocks"
    unlabelled = [line for line, lang, _, _ in blocks if not lang]
    assert not unlabelled, f"{path.name}: blocks without a language at lines {unlabelled}"
    for line, lang, code, runs in blocks:
        if lang in RUNNABLE and runs and code.startswith("$ "):
            pytest.fail(f"{path.name}:{line}: a prompt in a block that runs")
    text = path.read_text(encoding="utf-8")
    reasonless = [m.group(0) for m in re.finditer(r"<!--\s*no-run\b[^>]*-->", text)
                  if not re.match(r"<!--\s*no-run:\s*\S", m.group(0))]
    assert not reasonless, f"{path.name}: a no-run marker says why: <!-- no-run: REASON -->"
    if path in RUN_PAGES:
        assert sum(runs for *_, runs in blocks) >= 3, f"{path.name}: most of its blocks should run"


def test_doc_blocks_are_read_with_their_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("a\n\n```sh\necho one\n```\n\n<!-- no-run: a GPU -->\n```sh\nnvidia-smi\n```\n\n"
                    "```text\nout\n```\n\n- item\n\n    ```python\n    x = 1\n    ```\n", encoding="utf-8")
    assert [(lang, code, runs) for _, lang, code, runs in doc_blocks(page)] == [
        ("sh", "echo one", True), ("sh", "nvidia-smi", False), ("text", "out", False), ("python", "x = 1", True)]


@pytest.fixture(scope="module")
def doc_data(tmp_path_factory, shared_data) -> Path:
    """Small slices of the shared data under the same names: IMDb's first 24 negative, 24 positive
    and 16 unlabelled training reviews, Hamlet's first 12,000 characters after the book's cut,
    tinyshakespeare's first 20,000, and two of the series sets and the airline series whole."""
    import io
    import tarfile

    folder = tmp_path_factory.mktemp("docs-data") / "shared" / "data"
    folder.mkdir(parents=True)
    wanted = {"neg": 24, "pos": 24, "unsup": 16}
    with tarfile.open(shared_data / "aclImdb_train.tar.gz", "r|gz") as src, \
            tarfile.open(folder / "aclImdb_train.tar.gz", "w:gz") as out:
        for member in src:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and wanted.get(parts[2], 0) > 0:
                wanted[parts[2]] -= 1
                out.addfile(member, io.BytesIO(src.extractfile(member).read()))
                if not any(wanted.values()):
                    break
    hamlet = (shared_data / "hamlet_pg2265.txt").read_text(encoding="utf-8")
    (folder / "hamlet_pg2265.txt").write_text(hamlet[:15858 + 12_000], encoding="utf-8")
    shakespeare = (shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")
    (folder / "tinyshakespeare.txt").write_text(shakespeare[:20_000], encoding="utf-8")
    (folder / "series").mkdir()
    for name in ("GunPoint_TRAIN.ts", "GunPoint_TEST.ts", "ItalyPowerDemand_TRAIN.ts", "ItalyPowerDemand_TEST.ts",
                 "Airline.csv"):  # small already
        (folder / "series" / name).write_bytes((shared_data / "series" / name).read_bytes())
    return folder


def run_page(path: Path, clone: Path, data: Path, monkeypatch, part: str = "") -> list[tuple[int, float]]:
    """Run the page's blocks in order from `clone`; (line, seconds) per block run. `part` names a
    section heading (`PARTS`): then only the page's opening blocks (those before its second `## `
    heading: getting `seqrnn` on PATH) and the blocks from that heading to the next part's run."""
    import time

    venv = Path(sys.prefix)
    (clone / ".venv").symlink_to(venv, target_is_directory=True)
    env = {**os.environ, "SEQRNN_DATA": str(data), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
           "PYTHONDONTWRITEBYTECODE": "1"}
    monkeypatch.chdir(clone)
    monkeypatch.setenv("SEQRNN_DATA", str(data))
    namespace: dict = {"__name__": "__doc__"}
    cwd, timings = clone, []
    state = clone.parent / "state"
    chosen = part_lines(path, part)
    for line, lang, code, runs in doc_blocks(path):
        if not runs or not chosen(line):
            continue
        began = time.perf_counter()
        where = f"{path.name}:{line}"
        if RUNNABLE[lang] == "sh":
            script = f"set -eo pipefail\n{code}\nenv -0 > {state}.env\npwd > {state}.pwd\n"
            result = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                                    timeout=240)
            assert result.returncode == 0, f"{where} failed ({result.returncode}):\n{code}\n{result.stderr[-3000:]}"
            env = dict(item.split("=", 1) for item in Path(f"{state}.env").read_text().split("\0") if "=" in item)
            cwd = Path(Path(f"{state}.pwd").read_text().strip())
        else:
            monkeypatch.chdir(cwd)
            for name in ("SEQRNN_DATA",):
                monkeypatch.setenv(name, env[name])
            try:
                exec(compile(code, where, "exec"), namespace)
            except Exception as exc:  # noqa: BLE001 - the block and the error, as one message
                pytest.fail(f"{where} failed: {type(exc).__name__}: {exc}\n{code}")
        timings.append((line, round(time.perf_counter() - began, 1)))
    return timings


# a long page runs as independent parts, each from a section heading (the test suite runs them side by
# side); the sections of one part never use what another part's sections made
PARTS = {README: ["", "## Character model"]}


def part_lines(path: Path, part: str):
    """Which lines of `path` the part `part` runs (every line for a page in one part)."""
    parts = PARTS.get(path, [""])
    if len(parts) == 1:
        return lambda line: True
    lines = path.read_text(encoding="utf-8").splitlines()
    heading = {name: (lines.index(name) + 1 if name else 0) for name in parts}
    opening = [n for n, text in enumerate(lines, 1) if text.startswith("## ")][1]
    start = heading[part]
    stop = min([heading[name] for name in parts if heading[name] > start], default=len(lines) + 1)
    return lambda line: line < opening or start <= line < stop


@pytest.mark.slow
@pytest.mark.parametrize("path, part", [(path, part) for path in RUN_PAGES for part in PARTS.get(path, [""])],
                         ids=lambda value: value.name if isinstance(value, Path) else (value.strip("# ").lower() or "first"))
def test_page_blocks_run_in_order_as_written(path, part, doc_data, tmp_path, monkeypatch):
    import warnings

    name = f"{path.stem}-{part.strip('# ').replace(' ', '-').lower()}".rstrip("-")
    clone = doc_data.parent.parent / f"clone-{name}"  # so that ../shared/data is the slices
    clone.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timings = run_page(path, clone, doc_data, monkeypatch, part)
    assert timings, f"{path.name} {part}: no block ran"
    print(path.name, part, timings)


def test_a_page_in_parts_runs_every_block_once():
    for path, parts in PARTS.items():
        runs = [line for line, _, _, run in doc_blocks(path) if run]
        covered = [sum(part_lines(path, part)(line) for part in parts) for line in runs]
        opening = [n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                   if text.startswith("## ")][1]
        assert all(c == (len(parts) if line < opening else 1) for line, c in zip(runs, covered)), path
