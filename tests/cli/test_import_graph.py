"""No import cycles in the package (issue 10 item 8), function-local imports included: a lazy
import inside a function must not hide a cycle between two modules."""

from __future__ import annotations

import ast

from test_public_surface import _sources


def _imported(tree: ast.AST, module: str, is_package: bool) -> "set[str]":
    """Every rollcheck module ``module`` imports, at any depth (function-local imports included)."""
    base = module if is_package else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("rollcheck")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                anchor = ".".join(parts[:len(parts) - node.level + 1])
                target = f"{anchor}.{node.module}" if node.module else anchor
            else:
                target = node.module or ""
            if target.startswith("rollcheck"):
                out.add(target)
                out |= {f"{target}.{a.name}" for a in node.names}
    return out


def test_no_import_cycles_even_through_function_local_imports():
    sources = _sources()
    graph = {}
    for name, path in sources.items():
        deps = _imported(ast.parse(path.read_text()), name, path.name == "__init__.py")
        # a package's __init__ is the facade (rollcheck) or a namespace: edges into it are not cycles
        graph[name] = {d for d in deps if d in sources and d != name and sources[d].name != "__init__.py"}
    cycles, state = [], {}

    def visit(node: str, stack: "list[str]") -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)
