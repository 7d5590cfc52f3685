"""Import rules that keep the architecture honest (DESIGN.md principles 2, 3 and 5)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
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
    "bot.pipeline.fetch",
    "torch",
    "sentence_transformers",
}
PURE_STAGES = ["parse", "feedlinks", "dedupe", "match", "urls", "xmlsafe", "htmltext", "schedule"]


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def touches(names: set[str], forbidden: set[str]) -> set[str]:
    return {n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden)}


@pytest.mark.parametrize("stage", PURE_STAGES)
def test_pure_stages_do_no_io(stage: str) -> None:
    assert touches(imports(BOT / "pipeline" / f"{stage}.py"), IO_MODULES) == set()


def test_only_the_store_speaks_sql() -> None:
    offenders = [
        str(path.relative_to(BOT))
        for path in BOT.rglob("*.py")
        if "store" not in path.relative_to(BOT).parts
        and touches(imports(path), {"sqlite3", "sqlite_utils"})
    ]
    assert offenders == []


def test_nothing_heavy_is_imported_at_module_level_of_the_embedder() -> None:
    tree = ast.parse((BOT / "pipeline" / "embed.py").read_text())
    top_level = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    top_level |= {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    assert "sentence_transformers" not in top_level  # loaded on first use, off the event loop
