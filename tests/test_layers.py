"""The package layering, enforced: `ui`, `evals` -> `assistant` -> `dialogue`, `retrieval`, with
no import cycle between modules.

`dialogue` talks to the catalog through a protocol that `assistant` wires up, so it never
imports `retrieval`; nothing below imports what sits above it. Imports inside functions count
too: a lazy upward import is still an upward dependency. A private module (a leading
underscore) is imported only from inside the package that holds it, in product code: none of
`retrieval._search` from `assistant`, `assistant.integrations._rasa` from `ui` or
`assistant.speech._transcribe` from `assistant._assistant`, and the test allows none. What
another package or subpackage needs is public, re-exported from its `__init__` (issue 17).
"""

from __future__ import annotations

import ast
import subprocess
import sys
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


def imports(package: str) -> Iterator[tuple[Path, str]]:
    """(file, absolute module name) for every import in the package, lazy ones included."""
    for path in sorted((REPO / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield from ((path, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module
                yield from ((path, f"{node.module}.{alias.name}") for alias in node.names)


def module_name(path: Path) -> str:
    """`assistant/speech/_transcribe.py` -> `assistant.speech._transcribe`; a package's
    `__init__.py` is the package."""
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def ours(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in PACKAGES else None


def private_part(module: str) -> str | None:
    """The private module an import reaches into, or None: `assistant._sessions`, and inside a
    subpackage `assistant.integrations._rasa` (its first part with a leading underscore)."""
    parts = module.split(".")
    first = next((i for i, part in enumerate(parts[1:], 1) if part.startswith("_")), None)
    return ".".join(parts[: first + 1]) if first else None


def outside(importer: str, private: str) -> bool:
    """Whether the importing module stands outside the package holding the private module:
    `assistant.cli._doctor` may import `assistant._retrieval` (both in `assistant`), but
    `assistant._assistant` may not import `assistant.speech._transcribe`."""
    holder = private.rpartition(".")[0]
    return importer != holder and not importer.startswith(holder + ".")


def module_graph() -> dict[str, set[str]]:
    """Our module -> our modules it imports at its top level (`if TYPE_CHECKING:` included:
    a type-only cycle is still two modules that cannot be read apart)."""
    files = {
        module_name(path): path for package in PACKAGES for path in (REPO / package).rglob("*.py")
    }

    def top_level(nodes: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
        for node in nodes:
            if isinstance(node, ast.If):
                yield from top_level(node.body)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                yield node

    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for node in top_level(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
        # a package's __init__ re-exporting its own modules is no cycle
        graph[name] = {
            t for t in targets & files.keys() if t != name and not t.startswith(name + ".")
        }
    return graph


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules around it, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            found = visit(target, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    return next((c for m in sorted(graph) if (c := visit(m, []))), None)


class TestLayers:
    def test_no_module_imports_itself_round_a_cycle(self):
        assert cycle_in(module_graph()) is None
        assert cycle_in({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]

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

    def test_no_private_module_is_imported_from_outside_its_package(self):
        """Zero allowed, in every package (the evaluations read what they measure through the
        public surface too)."""
        private = sorted(
            {
                (str(path.relative_to(REPO)), name)
                for package in PACKAGES
                for path, module in imports(package)
                if ours(module)
                and (name := private_part(module))
                and outside(module_name(path), name)
            }
        )
        assert not private, private
        assert private_part("assistant.integrations._rasa.serve") == "assistant.integrations._rasa"
        assert private_part("assistant._sessions") == "assistant._sessions"
        assert private_part("assistant.integrations.http_api") is None
        assert outside("ui.app", "assistant.integrations._rasa")
        assert outside("assistant._assistant", "assistant.speech._transcribe")
        assert not outside("assistant.cli._doctor", "assistant._retrieval")
        assert not outside("assistant.speech", "assistant.speech._transcribe")
        assert not outside("retrieval", "retrieval._sources")

    def test_a_subpackage_loads_what_it_keeps_apart_only_when_asked(self):
        """`assistant.speech` re-exports the transcriber and `assistant.integrations` the Rasa
        action server without importing them (`assistant/_lazy.py`): a fresh process that
        imports both has neither until one of their names is asked for."""
        code = (
            "import sys\n"
            "import assistant.integrations as integrations, assistant.speech as speech\n"
            "apart = ('assistant.speech._transcribe', 'assistant.integrations._rasa', 'rasa_sdk')\n"
            "print(*(name in sys.modules for name in apart))\n"
            "assert speech.build_transcriber and integrations.serve_actions\n"
            "print(*(name in sys.modules for name in apart))\n"
        )
        run = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
        )
        assert run.stdout.splitlines() == ["False False False", "True True True"]

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
