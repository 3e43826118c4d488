"""Measures of the code's layout (issue 12): module sizes, view sizes, local imports, inline predicates.

    python bench/layout.py [--list]

Prints one figure per line; `--list` also names the offenders.
"""

import ast
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "portal"
INLINE = re.compile(r"(ended_at|resolved_at)\.is_null\(")


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, path.read_text()


def is_view(node):
    return any(
        isinstance(d, ast.Call) and getattr(d.func, "attr", "") in {"route", "get", "post"}
        for d in node.decorator_list
    )


def local_imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    yield node.name, inner.lineno


def main(show):
    sizes, views, imports, inline, noqa = [], [], [], [], []
    for path, text in modules():
        rel = path.relative_to(ROOT)
        tree = ast.parse(text)
        sizes.append((len(text.splitlines()), rel))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and is_view(node):
                length = node.end_lineno - node.lineno + 1
                if length > 30:
                    views.append((length, f"{rel}:{node.lineno} {node.name}"))
        imports += [f"{rel}:{line} in {name}" for name, line in local_imports(tree)]
        if "models" not in path.relative_to(PACKAGE).parts[:1] and path.name != "models.py":
            inline += [f"{rel}:{n}" for n, line in enumerate(text.splitlines(), 1) if INLINE.search(line)]
        noqa += [f"{rel}:{n}" for n, line in enumerate(text.splitlines(), 1) if "noqa: E402" in line]
    sizes.sort(reverse=True)
    figures = [
        ("largest module", f"{sizes[0][0]} lines ({sizes[0][1]})", [f"{n} {p}" for n, p in sizes if n > 400]),
        ("modules over 400 lines", len([1 for n, _ in sizes if n > 400]), []),
        ("views over 30 lines", len(views), [f"{n} {where}" for n, where in sorted(views, reverse=True)]),
        ("function-local imports", len(imports), imports),
        ("inline ended_at/resolved_at.is_null() outside models", len(inline), inline),
        ("# noqa: E402", len(noqa), noqa),
    ]
    for name, value, detail in figures:
        print(f"{name}: {value}")
        if show:
            for line in detail:
                print(f"    {line}")


if __name__ == "__main__":
    main("--list" in sys.argv)
