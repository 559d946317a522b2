"""The seams issue 9 drew, kept: adapters reach the connector only through the Host port, modules import
each other without circles, and no module grows past ~400 lines without saying why."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("connector", "adapters")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _top_level_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules imported when ``name`` is imported (not inside functions, not for type checking only)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ([node] if not isinstance(node, ast.If) else node.body):
            if isinstance(inner, ast.Import):
                found |= {a.name for a in inner.names}
            elif isinstance(inner, ast.ImportFrom):
                base = inner.module or ""
                if inner.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - (inner.level - 1)]
                    base = ".".join(anchor + ([inner.module] if inner.module else []))
                found.add(base)
                found |= {f"{base}.{a.name}" for a in inner.names}
    return {m for m in found if m in known and m != name}


def test_adapters_use_only_the_host_port():
    for path in (ROOT / "adapters").rglob("*.py"):
        text = path.read_text()
        assert "connector.store" not in text and "connector.api" not in text, path
        assert "from flask" not in text and "import flask" not in text, path  # routes live in the API layer


def test_no_import_circles_in_connector_or_adapters():
    modules = _modules()
    graph = {name: _top_level_imports(name, path, set(modules)) for name, path in modules.items()}
    # a package's __init__ importing its own submodules is how a package is made, not a circle
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_modules_stay_small_or_say_why():
    for name, path in _modules().items():
        lines = path.read_text().count("\n")
        if lines > 420:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert "on purpose" in doc, f"{name} has {lines} lines and its docstring does not say why"


def test_only_the_parts_accessor_reads_app_extensions():
    for path in (ROOT / "connector").rglob("*.py"):
        if path.name != "parts.py":
            assert "extensions[" not in path.read_text(), path
