"""Each kvmesh package imports only what docs/architecture.md allows; `kvmesh/cli` never reaches server code.

The rules are the `May import:` (and, for the CLI, `Mounts by name:`) lines of docs/architecture.md.
Every import statement counts: module level, inside functions (the CLI imports lazily for a fast
start-up) and under `TYPE_CHECKING`; so do `"module:attr"` targets of lazy command tables and
`importlib.import_module("...")` calls with a literal name.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "kvmesh"
MAP = ROOT / "docs" / "architecture.md"
_LAZY_TARGET = re.compile(r"^(kvmesh(?:\.\w+)+):\w+$")


@dataclass(frozen=True)
class Rule:
    package: str
    may_import: tuple[str, ...]
    mounts: tuple[str, ...]


def _names(line: str) -> tuple[str, ...]:
    if line.strip().startswith("("):
        return ()
    return tuple(name.strip() for name in line.split(",") if name.strip())


def read_rules(text: str) -> dict[str, Rule]:
    """One rule per `## \\`kvmesh.x\\`` section of the architecture map."""
    rules: dict[str, Rule] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        heading = re.match(r"`(kvmesh\.\w+)`", section)
        allowed = re.search(r"^May import: (.+)$", section, flags=re.M)
        if heading is None or allowed is None:
            continue
        mounts = re.search(r"^Mounts by name: (.+)$", section, flags=re.M)
        name = heading.group(1)
        rules[name] = Rule(name, _names(allowed.group(1)), _names(mounts.group(1)) if mounts else ())
    return rules


def _package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _allowed(target: str, entries: tuple[str, ...]) -> bool:
    for entry in entries:
        if target == entry:
            return True
        if target.startswith(entry + "."):
            rest = target[len(entry) + 1 :].split(".")
            if not any(part.startswith("_") for part in rest):
                return True
    return False


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every kvmesh module `source` imports (statements anywhere, lazy table targets, import_module)."""
    found: list[tuple[int, str]] = []
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            found.append((node.lineno, name))
            # `from kvmesh.client import _x` names a private module as an attribute
            found += [
                (node.lineno, f"{name}.{a.name}")
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _LAZY_TARGET.match(node.value)
            if match:
                found.append((node.lineno, "mount:" + match.group(1)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return [(line, name) for line, name in found if name.split(":")[-1].startswith("kvmesh")]


def violations(source: str, module: str, is_package: bool, rule: Rule) -> list[str]:
    wrong = []
    for line, target in imported_modules(source, module, is_package):
        if target.startswith("mount:"):
            mounted = target.removeprefix("mount:")
            if not _allowed(mounted, rule.mounts) and _package_of(mounted) != rule.package:
                wrong.append(f"{module}:{line} mounts {mounted}")
            continue
        if target == "kvmesh" or _package_of(target) == rule.package:
            continue
        if not _allowed(target, rule.may_import):
            wrong.append(f"{module}:{line} imports {target}")
    return wrong


def _modules() -> list[tuple[str, Path]]:
    rows = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        rows.append((".".join(parts).removesuffix(".__init__"), path))
    return rows


RULES = read_rules(MAP.read_text(encoding="utf-8"))


def test_the_map_has_a_rule_for_every_package() -> None:
    entries = [p for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").is_file() or p.suffix == ".py"]
    packages = {f"kvmesh.{p.name.removesuffix('.py')}" for p in entries} - {
        "kvmesh.__init__",
        "kvmesh.__main__",
    }
    assert sorted(packages - set(RULES)) == []


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_only_what_the_map_allows(package: str) -> None:
    rule = RULES[package]
    wrong: list[str] = []
    for module, path in _modules():
        if _package_of(module) != package:
            continue
        wrong += violations(path.read_text(encoding="utf-8"), module, path.name == "__init__.py", rule)
    assert wrong == []


def test_cli_may_use_only_the_client_face_and_wire() -> None:
    """The house rule itself, independent of how the map is worded."""
    assert RULES["kvmesh.cli"].may_import == ("kvmesh.client", "kvmesh.wire")
    assert set(RULES["kvmesh.cli"].mounts) <= {"kvmesh.cli", "kvmesh.ops"}


@pytest.mark.parametrize(
    "source",
    [
        "def run():\n    from kvmesh.store.users import create_user\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kvmesh.engines import provider\n",
        "import kvmesh.controlplane.app\n",
        "from kvmesh.client._http import Transport\n",
        "from kvmesh.client import _http\n",
        "from ..local import stack\n",
        'COMMANDS = {"x": ("kvmesh.local.stack:up", "help")}\n',
        'import importlib\nimportlib.import_module("kvmesh.gateway.app")\n',
    ],
)
def test_a_forbidden_cli_import_is_caught_however_it_is_written(source: str) -> None:
    assert violations(source, "kvmesh.cli.example", False, RULES["kvmesh.cli"]) != []


def test_the_client_face_and_own_modules_pass() -> None:
    source = "from kvmesh.client import GatewayClient\nfrom kvmesh.wire import REQUEST_ID_HEADER\n"
    source += "from . import _render\n"
    assert violations(source, "kvmesh.cli.example", False, RULES["kvmesh.cli"]) == []
