"""The package's layers point one way: no module imports, even inside a function, a module that
imports it back (directly or through others)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "seqrnn"


def imports_of(path: Path) -> set[str]:
    """The seqrnn modules that `path` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "seqrnn":
            parts = node.module.split(".")
            names = [parts[1]] if len(parts) > 1 else [a.name for a in node.names]
            found.update(name for name in names if (PACKAGE / f"{name}.py").exists())
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("seqrnn."))
    return found - {path.stem}


def test_no_import_cycles():
    graph = {path.stem: imports_of(path) for path in PACKAGE.glob("*.py")}
    assert graph["lm"] and graph["classifier"]  # the walk sees imports at all

    def reaches(start: str, target: str, seen: set[str]) -> list[str] | None:
        for nxt in sorted(graph.get(start, ())):
            if nxt == target:
                return [start, nxt]
            if nxt not in seen:
                seen.add(nxt)
                path = reaches(nxt, target, seen)
                if path:
                    return [start, *path]
        return None

    cycles = [" -> ".join(path) for module in graph if (path := reaches(module, module, set()))]
    assert cycles == []


def test_the_command_line_loads_no_library_to_show_its_help():
    """cli.py and commands.py import the library inside the commands, so `seqrnn --help` is instant."""
    for name in ("cli", "commands"):
        tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
        top = {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        top |= {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
        assert not top & {"torch", "numpy", "seqrnn.classifier", "seqrnn.charlm", "seqrnn.lm", "seqrnn.train"}, name
