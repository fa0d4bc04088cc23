"""MkDocs hook: the settings tables of docs/settings.md, written from `seqrnn.config` at build time.

A page line `<!-- settings: TASK -->` (TASK: classify, charlm, lm, forecast or run) becomes a table of every
setting of that task: its flag, its part, each preset's value and its help text, so the page can
never disagree with the code. A line `<!-- parameters: TASK -->` becomes the table of the task's
estimator's constructor: every keyword parameter with its type, its default and what it is.
"""

from __future__ import annotations

import re
import sys
from dataclasses import fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from seqrnn import config  # noqa: E402

TASKS = {
    "classify": (config.ClassifierConfig, config.CLASSIFIER_PRESETS),
    "charlm": (config.CharLMConfig, config.CHARLM_PRESETS),
    "lm": (config.LMConfig, config.LM_PRESETS),
    "series": (config.SeriesConfig, config.SERIES_PRESETS),
    "forecast": (config.ForecastConfig, config.FORECAST_PRESETS),
}
MARKER = re.compile(r"^<!-- settings: (\w+) -->$", re.MULTILINE)
PARAMETERS = re.compile(r"^<!-- parameters: (\w+) -->$", re.MULTILINE)


def _value(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _allowed(rules) -> str:
    if rules.get("choices"):
        return ", ".join(f"`{c}`" for c in rules["choices"])
    parts = []
    if rules.get("at_least") is not None:
        parts.append(f"≥ {rules['at_least']:g}")
    if rules.get("above") is not None:
        parts.append(f"> {rules['above']:g}")
    if rules.get("below") is not None:
        parts.append(f"< {rules['below']:g}")
    return ", ".join(parts)


def _flag(f) -> str:
    flag = "--" + f.name.replace("_", "-")
    if f.type in ("bool", bool):  # argparse.BooleanOptionalAction
        return f"`{flag}`, `--no-{flag[2:]}` (`{f.name}`)"
    return f"`{flag}` (`{f.name}`)"


def table(task: str) -> str:
    if task == "run":
        rows = ["| flag (parameter) | default | allowed | what |", "| --- | --- | --- | --- |"]
        for f in fields(config.RunOptions):
            rows.append(f"| {_flag(f)} | {_value(f.default)} | "
                        f"{_allowed(f.metadata)} | {_cell(f.metadata['help'])} |")
        return "\n".join(rows)
    config_class, presets = TASKS[task]
    values = {name: preset.flat() for name, preset in presets.items()}
    head = " | ".join(f"`{name}`" for name in presets)
    rows = [f"| flag (parameter) | part | {head} | allowed | what |",
            "| --- | --- | " + "--- | " * len(presets) + "--- | --- |"]
    for name, (part, f) in config.flat_fields(config_class).items():
        shown = " | ".join(_value(values[preset][name]) for preset in presets)
        rows.append(f"| {_flag(f)} | {part} | {shown} | {_allowed(f.metadata)} | "
                    f"{_cell(f.metadata['help'])} |")
    return "\n".join(rows)


def _type(f, optional: bool = False) -> str:
    """The field's type, `X` or `None` when None is allowed (no `|`: it would split the table's cell)."""
    name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    parts = [part.strip() for part in name.split("|")]
    kinds = [part for part in parts if part != "None"]
    shown = " or ".join(f"`{kind}`" for kind in kinds)
    return shown + (" or `None`" if optional or "None" in parts else "")


def parameters(task: str) -> str:
    """The estimator's constructor: `preset`, every setting (default None: the preset's value, shown
    for each preset), then the run options with their defaults."""
    config_class, presets = TASKS[task]
    values = {name: preset.flat() for name, preset in presets.items()}
    choices = ", ".join(f"`{name!r}`" for name in presets)
    rows = ["| parameter | type | default | what |", "| --- | --- | --- | --- |",
            f"| `preset` | `str` | `'default'` | where every setting left at None starts: {choices} "
            "([Settings and presets](settings.md)) |"]
    for name, (part, f) in config.flat_fields(config_class).items():
        preset_values = ", ".join(f"{preset} `{values[preset][name]!r}`" for preset in presets)
        allowed = _allowed(f.metadata)
        rows.append(f"| `{name}` | {_type(f, optional=True)} | `None`: the preset's ({preset_values}) | "
                    f"{_cell(f.metadata['help'])}{'; ' + allowed if allowed else ''} ({part}) |")
    for f in fields(config.RunOptions):
        allowed = _allowed(f.metadata)
        rows.append(f"| `{f.name}` | {_type(f)} | `{f.default!r}` | "
                    f"{_cell(f.metadata['help'])}{'; ' + allowed if allowed else ''} (how a call runs; not saved) |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 (MkDocs' hook signature)
    def replace(match: re.Match) -> str:
        task = match.group(1)
        if task not in TASKS and task != "run":
            raise ValueError(f"{page.file.src_path}: unknown settings table {task!r}")
        return table(task)

    def replace_parameters(match: re.Match) -> str:
        task = match.group(1)
        if task not in TASKS:
            raise ValueError(f"{page.file.src_path}: unknown parameters table {task!r}")
        return parameters(task)

    return PARAMETERS.sub(replace_parameters, MARKER.sub(replace, markdown))
