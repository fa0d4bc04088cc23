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
