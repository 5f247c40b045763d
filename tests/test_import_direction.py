"""Import direction, the house's load-bearing walls (docs/design.md):

* ``shared/`` is the core: it never imports ``coordinator`` or ``worker``;
* ``coordinator/`` and ``worker/`` are two processes: they never import each other;
  what both need lives in ``shared/``;
* nothing imports ``scripts/``: scripts are thin command-line tools over the package.

Checked on the source with ``ast``, including imports inside functions and
``importlib.import_module``/``__import__`` with a literal name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_MODULES = tuple(sorted(p.stem for p in (ROOT / "scripts").glob("*.py")))

# package -> top-level packages it must never import
RULES = {
    "shared": ("coordinator", "worker", "scripts", *SCRIPT_MODULES),
    "coordinator": ("worker", "scripts", *SCRIPT_MODULES),
    "worker": ("coordinator", "scripts", *SCRIPT_MODULES),
    "scripts": ("scripts", *SCRIPT_MODULES),
    "tests": ("scripts", *SCRIPT_MODULES),
}


def forbidden_imports(source: str, forbidden: tuple[str, ...],
                      filename: str = "<string>") -> list[str]:
    """``file:line: module`` for every import of a forbidden top-level package.
    Relative imports stay inside their package and are allowed."""
    found: list[str] = []

    def check(module: str | None, lineno: int) -> None:
        if module and module.split(".")[0] in forbidden:
            found.append(f"{filename}:{lineno}: {module}")

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            check(node.module, node.lineno)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                check(node.args[0].value, node.lineno)
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_every_package_exists() -> None:
    for package in RULES:
        assert sources(package), f"no Python files under {package}/"
    assert (ROOT / "shared" / "cascade" / "_vm.py").is_file()


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_respects_the_import_direction(package: str) -> None:
    violations: list[str] = []
    for path in sources(package):
        violations += forbidden_imports(path.read_text(encoding="utf-8"), RULES[package],
                                        str(path.relative_to(ROOT)))
    assert violations == []


def test_no_sys_path_edits_in_scripts_or_tests() -> None:
    """Scripts and tests import the installed package; none edits ``sys.path``."""
    edits = []
    for package in ("scripts", "tests"):
        for path in sources(package):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and node.attr == "path"
                        and isinstance(node.value, ast.Name) and node.value.id == "sys"):
                    edits.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert edits == []


SHARED = RULES["shared"]


@pytest.mark.parametrize("source", [
    "import worker.x",
    "import worker",
    "import os, coordinator.cli as cli",
    "from worker import main",
    "from coordinator.quota import Lease",
    "def later():\n    import worker.x\n",
    "if TYPE_CHECKING:\n    from coordinator import cli\n",
    "import importlib\nimportlib.import_module('worker.main')\n",
    "__import__('coordinator')\n",
    "import scripts.gather_logs",
])
def test_the_checker_catches_a_violation(source: str) -> None:
    found = forbidden_imports(source, SHARED, "synthetic.py")
    assert len(found) == 1 and found[0].startswith("synthetic.py:")


def test_the_checker_catches_a_script_module_imported_by_name() -> None:
    assert SCRIPT_MODULES, "scripts/ has no modules"
    found = forbidden_imports(f"import {SCRIPT_MODULES[0]}", RULES["tests"], "t.py")
    assert found == [f"t.py:1: {SCRIPT_MODULES[0]}"]


def test_the_checker_lets_coordinator_and_worker_use_shared() -> None:
    source = "from shared import protocol\nimport shared.cascade as cs\n"
    assert forbidden_imports(source, RULES["coordinator"]) == []
    assert forbidden_imports(source, RULES["worker"]) == []
    assert forbidden_imports("from worker.agents import ShardAgents", RULES["coordinator"]) != []
    assert forbidden_imports("from coordinator.config import RunConfig", RULES["worker"]) != []


@pytest.mark.parametrize("source", [
    "import workerpool",
    "from coordinators import x",
    "from . import worker",
    "from .worker import x",
    "from shared.worker_types import W",
    "import shared.cascade as cs",
    "print('worker')",
])
def test_the_checker_allows_look_alikes_and_relative_imports(source: str) -> None:
    assert forbidden_imports(source, SHARED) == []
