"""The package's layers point one way.

Folders are the layers, lowest first (`LAYERS`); the modules at the package root are the base
every layer uses, except the front door (`import seqrnn`, `python -m seqrnn`). A module imports (at module level or inside a function) only modules of its own
layer or of a lower one, and no module imports one that imports it back.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "seqrnn"
LAYERS = ("", "text", "data", "nn", "training", "tasks", "serve", "cli")  # "" is the package root
MAX_LINES = 700
MAX_ROOT_MODULES = 12


def module_name(path: Path) -> str:
    """`seqrnn.tasks.base` for src/seqrnn/tasks/base.py; `seqrnn.tasks` for its __init__.py."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """The seqrnn modules that `path` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "seqrnn":
            for alias in node.names:  # `from seqrnn.tasks import base` imports a module, `... import X` a name
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("seqrnn."))
    return {name for name in found if name in MODULES} - {module_name(path), "seqrnn"}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


FRONT_DOOR = ("seqrnn", "seqrnn.__main__")  # `import seqrnn` (the estimators, lazily) and `python -m seqrnn`


def layer(name: str) -> int:
    """The layer's index in `LAYERS`; the front door stands above them all."""
    if name in FRONT_DOOR:
        return len(LAYERS)
    parts = name.split(".")
    folder = parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else ""
    return LAYERS.index(folder)


def test_every_folder_is_a_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(LAYERS) - {""}


def test_no_arrow_points_up():
    assert GRAPH["seqrnn.tasks.classifier"] and GRAPH["seqrnn.cli.commands"]  # the walk sees imports at all
    upward = [f"{a} -> {b}" for a, targets in GRAPH.items() for b in targets if layer(b) > layer(a)]
    assert upward == []


def test_no_import_cycles():
    def reaches(start: str, target: str, seen: set[str]) -> list[str] | None:
        for nxt in sorted(GRAPH.get(start, ())):
            if nxt == target:
                return [start, nxt]
            if nxt not in seen:
                seen.add(nxt)
                path = reaches(nxt, target, seen)
                if path:
                    return [start, *path]
        return None

    cycles = [" -> ".join(path) for module in GRAPH if (path := reaches(module, module, set()))]
    assert cycles == []


def test_the_shape():
    """Small modules, a small root, no module named like the standard library's."""
    import sys

    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
    root = [p.name for p in PACKAGE.glob("*.py")]
    assert len(root) <= MAX_ROOT_MODULES, root
    shadowing = [name for name in MODULES if name.rsplit(".", 1)[-1] in sys.stdlib_module_names]
    assert shadowing == []


def test_the_command_line_loads_no_library_to_show_its_help():
    """The parser and the commands import the library inside the commands, so `seqrnn --help` is instant."""
    for name in ("seqrnn.cli.main", "seqrnn.cli.commands"):
        tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
        top = {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        top |= {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
        heavy = {m for m in top if m in ("torch", "numpy") or m.startswith(("seqrnn.tasks", "seqrnn.training"))}
        assert not heavy, name
