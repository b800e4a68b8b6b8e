"""The layout's import rules (DESIGN.md, Layout), read from the source: imports run one way,
api/ -> routes/ -> features -> core. A feature's `__init__.py` says what it may import; this
test holds every module to it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

STORE = "store"
FEATURES = ("checks", "rules", "logs", "incidents", "webhooks", "channels", "archive")
# What each part of lib/ may import besides itself. "core" is lib/*.py.
ALLOWED: dict[str, set[str]] = {
    "core": {"core", STORE},
    STORE: {"core"},
    "webhooks": {"core"},              # inbound parsing: no channel, no store, no I/O
    "channels": {"core"},
    "rules": {"core", STORE},
    "logs": {"core", STORE},
    "incidents": {"core", STORE, "channels"},
    "checks": {"core", STORE, "incidents", "webhooks"},
    "archive": {"core", STORE, "checks"},
    "routes": {"core", STORE, *FEATURES},
}
# lib/config.py assembles the one Config from each feature's own config model.
EXCEPTIONS = {("lib.config", "lib.rules.config"), ("lib.config", "lib.logs.config"), ("lib.config", "lib.checks.config")}


def part_of(module: str, root: Path) -> str | None:
    """Which part of the layout a dotted module belongs to (None: outside lib/ and api/)."""
    bits = module.split(".")
    if bits[0] == "api":
        return "api"
    if bits[0] != "lib" or len(bits) == 1:
        return None
    if (root / "lib" / bits[1]).is_dir():
        return bits[1]
    return "core"


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for every absolute import of lib or api in a file;
    `from lib import clock` counts as lib.clock."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                candidate = f"{node.module}.{a.name}"
                is_module = (root / Path(*candidate.split("."))).is_dir() or \
                    (root / Path(*candidate.split("."))).with_suffix(".py").exists()
                out.append((node.lineno, candidate if is_module else node.module))
    return [(n, m) for n, m in out if m.split(".")[0] in ("lib", "api")]


def violations(root: Path) -> list[str]:
    found = []
    for path in sorted((root / "lib").rglob("*.py")):
        rel = path.relative_to(root)
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        mine = part_of(module, root) or "core"
        for line, target in imports_of(path, root):
            theirs = part_of(target, root)
            if theirs is None or theirs == mine or (module, target) in EXCEPTIONS:
                continue
            if theirs == "api" or (theirs == "routes" and mine != "routes") or theirs not in ALLOWED.get(mine, set()):
                found.append(f"{rel}:{line}: {mine} imports {target} ({theirs})")
    return found


def test_every_import_in_lib_runs_the_one_way_the_layout_allows() -> None:
    assert violations(ROOT) == []


def test_every_feature_folder_says_what_it_does_and_may_import() -> None:
    for feature in FEATURES:
        doc = ast.get_docstring(ast.parse((ROOT / "lib" / feature / "__init__.py").read_text())) or ""
        assert "Open first" in doc and "May import" in doc, feature


@pytest.mark.parametrize("where, line, part", [
    ("lib/clock.py", "from lib.incidents import engine", "core"),
    ("lib/store/redis_backend.py", "from lib.checks import state", "store"),
    ("lib/webhooks/sentry.py", "from lib.channels.slack import Slack", "webhooks"),
    ("lib/incidents/dispatch.py", "from lib.routes import require_cron", "incidents"),
    ("lib/channels/console.py", "import api.ack", "channels"),
])
def test_a_bad_import_is_reported_with_its_place(tmp_path: Path, where: str, line: str, part: str) -> None:
    """The rule can fail: copy lib/, add one forbidden import, and it is named."""
    import shutil
    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "api", tmp_path / "api", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / where
    target.write_text(target.read_text() + f"\n{line}\n")
    found = violations(tmp_path)
    assert len(found) == 1 and found[0].startswith(f"{where}:") and f"{part} imports" in found[0], found
