"""The house's floors: imports (deferred ones included) form no circle but the bias registry's, and
nothing below `lab/` or `report/` reaches up into them."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "crosstune"
REGISTRY = {"crosstune.suite.registry", "crosstune.suite.biases"}
"""The bias registry and the bias families register each other: the one circle by design."""
MAY_IMPORT = {"lab": {"cli", "__main__"}, "report": {"cli", "__main__", "lab", "probes"}}
"""A room and the only rooms above it that may import it (probe pages share the report's style)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, package: str, modules: set[str]) -> set[str]:
    """The crosstune modules a file imports at run time (type-checking blocks left out)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            submodules = {f"{base}.{a.name}" for a in node.names} & modules
            # `from pkg import submodule` needs the submodule; `from pkg import name` the package
            found.update(submodules or ({base} & modules))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        graph[name] = _imports(path, package, set(files)) - {name}
    return graph


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _in_registry(module: str) -> bool:
    return any(module == r or module.startswith(r + ".") for r in REGISTRY)


def test_imports_form_no_circle_but_the_bias_registry():
    graph = {m: {t for t in targets if not (_in_registry(m) and _in_registry(t))}
             for m, targets in import_graph().items()}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as err:
        raise AssertionError(f"an import circle: {' -> '.join(err.args[1])}") from None


def test_rooms_form_no_circle():
    rooms: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        rooms.setdefault(_room(module), set()).update(_room(t) for t in targets if _room(t) != _room(module))
    try:
        list(TopologicalSorter(rooms).static_order())
    except CycleError as err:
        raise AssertionError(f"rooms import each other: {' -> '.join(err.args[1])}") from None


def test_nothing_below_lab_or_report_reaches_up_into_them():
    upward = sorted(f"{module} -> {target}" for module, targets in import_graph().items()
                    for target in targets if _room(target) in MAY_IMPORT
                    and _room(module) != _room(target)
                    and _room(module) not in MAY_IMPORT[_room(target)])
    assert not upward, "imports from a lower floor:\n" + "\n".join(upward)
