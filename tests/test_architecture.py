"""The seams, kept: adapters reach the connector only through the plugin contract, modules import each other
without circles (counting imports inside functions and for type checking only), the top level stays small,
and no module grows past ~500 formatted lines without saying why. docs/architecture.md describes what these protect."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("connector", "adapters")
#: what an adapter may import of the connector: the Host port and the adapter base live in adapters/
PLUGIN_CONTRACT = {
    "connector.errors",
    "connector.validation",
    "connector.clock",
    "connector.presence.model",
    "connector.version",
}


def _modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of ours that ``name`` imports, wherever the import statement is: at the top, inside a
    function, or under ``if TYPE_CHECKING`` (a circle closed through either is still a circle).

    ``from package import name`` is an import of ``package.name`` when that is a module, else of ``package``.
    """
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            submodules = {f"{base}.{a.name}" for a in node.names} & known
            found |= submodules or {base}
    return {m for m in found if m in known and m != name}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = _modules(root)
    graph = {name: imports_of(name, path, set(modules)) for name, path in modules.items()}
    # a package's __init__ importing its own submodules is how a package is made, not a circle
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def test_adapters_import_only_the_plugin_contract_of_the_connector():
    graph = import_graph()
    for name, imported in graph.items():
        if name.startswith("adapters"):
            beyond = {m for m in imported if m.startswith("connector")} - PLUGIN_CONTRACT
            assert not beyond, f"{name} imports {sorted(beyond)}: beyond the plugin contract {sorted(PLUGIN_CONTRACT)}"
    for path in (ROOT / "adapters").rglob("*.py"):
        text = path.read_text()
        assert "from flask" not in text and "import flask" not in text, path  # routes live in the API layer


def test_no_import_circles_in_connector_or_adapters():
    circle = find_circle(import_graph())
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_a_circle_closed_inside_a_function_is_found(tmp_path):
    """The check itself: a circle made through a function-local import (the kind that hid four) fails."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text('"""x"""\n')
    (tmp_path / "connector" / "one.py").write_text("from connector import two\n")
    (tmp_path / "connector" / "two.py").write_text("def late():\n    from connector.one import thing\n")
    assert find_circle(import_graph(tmp_path)) == ["connector.one", "connector.two", "connector.one"]
    (tmp_path / "connector" / "two.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from connector import one\n"
    )
    assert find_circle(import_graph(tmp_path)) == ["connector.one", "connector.two", "connector.one"]


def test_the_top_level_of_connector_stays_small_and_every_package_says_what_lives_there():
    top = sorted(p.stem for p in (ROOT / "connector").glob("*.py") if p.stem != "__init__")
    assert len(top) <= 10, f"connector/ has {len(top)} top-level modules: {top}; put new ones in a subpackage"
    for init in (ROOT / "connector").rglob("__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} has no docstring saying what lives there"


def test_modules_stay_small_or_say_why():
    for name, path in _modules().items():
        lines = path.read_text().count("\n")
        if lines > 500:  # ~400 lines before the formatter wrapped them
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert "on purpose" in doc, f"{name} has {lines} lines and its docstring does not say why"


def test_only_the_parts_accessor_reads_app_extensions():
    for path in (ROOT / "connector").rglob("*.py"):
        if path.name != "parts.py":
            assert "extensions[" not in path.read_text(), path


def test_comments_point_to_the_architecture_doc_not_to_issue_numbers():
    for name, path in _modules().items():
        text = path.read_text()
        assert "DESIGN.md" not in text, f"{name} points to DESIGN.md, which is not in the repository"
        for marker in (
            "issue 1",
            "issue 2",
            "issue 3",
            "issue 4",
            "issue 5",
            "issue 6",
            "issue 7",
            "issue 8",
            "issue 9",
        ):
            if marker in text.lower():
                pytest.fail(f"{name} says '{marker}...': say what the rule is, or point to docs/architecture.md")


def test_our_modules_are_imported_at_the_top_not_inside_functions():
    """A dependency is visible where a reader looks for it. The one exception: the package's lazy
    ``connector.create_app``, so that importing a leaf module (connector.errors from an adapter) stays cheap."""
    found = []
    for name, path in _modules().items():
        if name == "connector":
            continue
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and (
                        node.level or (node.module or "").split(".")[0] in PACKAGES
                    ):
                        found.append(f"{name}:{node.lineno} {fn.name}")
                    elif isinstance(node, ast.Import) and any(a.name.split(".")[0] in PACKAGES for a in node.names):
                        found.append(f"{name}:{node.lineno} {fn.name}")
    assert not found, f"imports of our modules inside functions: {sorted(set(found))}"
