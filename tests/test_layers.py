"""The package layering, enforced: `ui`, `evals` -> `assistant` -> `dialogue`, `retrieval`.

`dialogue` talks to the catalog through a protocol that `assistant` wires up, so it never
imports `retrieval`; nothing below imports what sits above it. Imports inside functions count
too: a lazy upward import is still an upward dependency. A private module of another package
(`retrieval._search` from `assistant`) is counted and may not grow past today's figure while
issue 17 makes what other packages need public.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("assistant", "dialogue", "retrieval", "ui", "evals")
# What each package may import of ours (besides itself).
ALLOWED = {
    "dialogue": set(),
    "retrieval": set(),
    "assistant": {"dialogue", "retrieval"},
    "ui": {"assistant", "dialogue", "retrieval"},
    # `bench load` drives the web app, so the measurements may start it.
    "evals": {"assistant", "dialogue", "retrieval", "ui"},
}
# (module, imported private module) pairs in product code (not `evals`, which measures) on
# 2026-12-07; issue 17 brings this to zero, and it may only go down.
PRIVATE_IMPORTS_TODAY = 24


def imports(package: str) -> Iterator[tuple[Path, str]]:
    """(file, absolute module name) for every import in the package, lazy ones included."""
    for path in sorted((REPO / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield from ((path, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module
                yield from ((path, f"{node.module}.{alias.name}") for alias in node.names)


def ours(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in PACKAGES else None


class TestLayers:
    @pytest.mark.parametrize("package", PACKAGES)
    def test_a_package_imports_only_the_packages_below_it(self, package: str):
        wrong = sorted(
            {
                f"{path.relative_to(REPO)}: {module}"
                for path, module in imports(package)
                if (top := ours(module)) and top != package and top not in ALLOWED[package]
            }
        )
        assert not wrong, f"{package} may import only {sorted(ALLOWED[package])}: {wrong}"

    def test_private_modules_of_other_packages_are_not_imported_more_than_today(self):
        private = {
            (str(path.relative_to(REPO)), ".".join(module.split(".")[:2]))
            for package in PACKAGES
            if package != "evals"
            for path, module in imports(package)
            if (top := ours(module))
            and top != package
            and len(module.split(".")) > 1
            and module.split(".")[1].startswith("_")
        }
        assert len(private) <= PRIVATE_IMPORTS_TODAY, sorted(private)

    def test_the_checker_sees_an_upward_import(self, tmp_path: Path, monkeypatch):
        """The walk finds a lazy import inside a function, as a layering break would be."""
        package = tmp_path / "dialogue"
        package.mkdir()
        (package / "_bad.py").write_text(
            "def f():\n    from retrieval._search import SearchEngine\n", encoding="utf-8"
        )
        monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
        found = [module for _, module in imports("dialogue")]
        assert "retrieval._search" in found and ours(found[0]) == "retrieval"
