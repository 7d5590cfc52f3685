"""The architecture, stated as import rules and checked on the source (docs/ARCHITECTURE.md).

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``, because a
cycle or an upward arrow hidden in a function is still one a reader has to untangle.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"

# Each package of bot/ and the packages it may import. Arrows point down: a package never
# imports one that imports it, and nothing below the services calls up into them.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "relevance": {"core"},
    "ingest": {"core"},
    "store": {"core"},
    "messages": {"core"},
    "search": {"core", "relevance", "store"},
    "topics": {"core", "ingest", "relevance", "store"},
    "pipeline": {"core", "ingest", "relevance", "store", "topics"},
    "websub": {"core", "ingest", "store", "pipeline"},
    "deliver": {"core", "messages", "store"},
    "trends": {"core", "store"},
    "ops": {"core", "store", "deliver", "relevance", "messages"},
    "service": {"core", "ingest", "relevance", "store", "search", "topics", "messages", "trends"},
    "adapters": {"core", "messages", "service", "deliver"},
    "app": {
        "core",
        "ingest",
        "relevance",
        "store",
        "search",
        "topics",
        "pipeline",
        "websub",
        "deliver",
        "service",
        "adapters",
        "messages",
        "trends",
        "ops",
    },
    "cli": {"core", "app", "service", "topics", "relevance", "store", "demo", "ops", "trends"},
    "demo": {"core", "app"},
}
# Top-level modules of bot/ besides the packages: a newcomer reads the architecture from `ls bot/`.
LOOSE = {"__init__", "__main__"}

IO_MODULES = {
    "httpx",
    "httpcore",
    "sqlite3",
    "sqlite_utils",
    "asyncio",
    "socket",
    "urllib.request",
    "requests",
    "aiohttp",
    "bot.store",
    "bot.ingest.fetch",
    "torch",
    "sentence_transformers",
}
PURE = [
    "ingest/parse",
    "ingest/feedlinks",
    "ingest/dedupe",
    "ingest/urls",
    "ingest/xmlsafe",
    "ingest/htmltext",
    "ingest/schedule",
    "relevance/match",
    "relevance/facets",
    "relevance/scorer",
    "relevance/summary",
    "relevance/stories",
    "messages/replies",
    "messages/alerts",
    "core/models",
    "core/channels",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in BOT.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it; ``from pkg import mod`` names the module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in MODULES else node.module)
    return names


def package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else None


def touches(names: set[str], forbidden: set[str]) -> set[str]:
    return {n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden)}


def test_bot_holds_packages_and_few_loose_modules() -> None:
    loose = {p.stem for p in BOT.glob("*.py")}
    assert loose <= LOOSE
    packages = {p.name for p in BOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_package_imports_only_what_lies_below_it(module: str) -> None:
    own = package(module)
    if own is None:
        return
    wrong = {
        name
        for name in imports(MODULES[module])
        if name.startswith("bot.")
        and (other := package(name)) not in (own, None)
        and other not in ALLOWED[own]
    }
    assert wrong == set(), f"{module} may import only {sorted(ALLOWED[own])}"


def edges() -> Iterator[tuple[str, str]]:
    for module, path in MODULES.items():
        for name in imports(path):
            target = name
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != module and target != "bot":
                yield module, target


def test_no_import_cycles_between_modules() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for a, b in edges():
        graph[a].add(b)
    # Tarjan's strongly connected components: any component of two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


@pytest.mark.parametrize("stage", PURE)
def test_pure_modules_do_no_io(stage: str) -> None:
    assert touches(imports(BOT / f"{stage}.py"), IO_MODULES) == set()


def test_only_the_store_speaks_sql() -> None:
    offenders = [
        str(path.relative_to(BOT))
        for path in BOT.rglob("*.py")
        if "store" not in path.relative_to(BOT).parts
        and touches(imports(path), {"sqlite3", "sqlite_utils", "psycopg", "psycopg_pool"})
    ]
    assert offenders == []


def test_chat_adapters_never_touch_the_store_or_the_pipeline() -> None:
    offenders = {
        module: sorted(touches(imports(path), {"bot.store", "bot.pipeline"}))
        for module, path in MODULES.items()
        if module.startswith("bot.adapters.")
        and touches(imports(path), {"bot.store", "bot.pipeline"})
    }
    assert offenders == {}


def test_nothing_heavy_is_imported_at_module_level_of_the_embedder() -> None:
    tree = ast.parse((BOT / "relevance" / "embed.py").read_text())
    top_level = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    top_level |= {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    assert "sentence_transformers" not in top_level  # loaded on first use, off the event loop


def test_no_module_passes_400_lines() -> None:
    long = {
        module: n for module, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}


def test_the_test_kit_is_outside_the_package() -> None:
    offenders = [m for m, p in MODULES.items() if touches(imports(p), {"testkit", "tests"})]
    assert offenders == []
    assert not (BOT / "testing").exists()


def test_every_module_the_architecture_doc_names_exists() -> None:
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`(bot/[\w/]+\.py)`", doc))
    assert len(named) >= 30  # the walk through names the modules an article passes
    missing = sorted(path for path in named if not (ROOT / path).is_file())
    assert missing == []
    packages = set(re.findall(r"^\| `(\w+)/` \|", doc, re.M))
    assert packages == set(ALLOWED)
