"""The scaled-out Compose file: it extends the single-process one instead of repeating it, and
wires PostgreSQL (pgvector, health-checked), the one-shot migration and several bot replicas
in the order they need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from bot.cli.main import cli

REPO = Path(__file__).resolve().parents[2]


class ComposeLoader(yaml.SafeLoader):
    """Compose's !reset and !override tags, read as their plain value."""


ComposeLoader.add_multi_constructor(
    "!",
    lambda loader, _, node: (
        loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else None
    ),
)


def compose_file(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((REPO / name).read_text(), Loader=ComposeLoader)  # noqa: S506
    return loaded


def test_the_postgres_compose_file_extends_the_base_and_orders_the_start() -> None:
    base = compose_file("docker-compose.yml")["services"]["threatwatch"]
    services = compose_file("docker-compose.postgres.yml")["services"]
    db, migrate, bot = services["postgres"], services["migrate"], services["threatwatch"]
    assert db["image"].startswith("pgvector/pgvector:") and "pg_isready" in str(db["healthcheck"])
    assert migrate["extends"] == {"file": "docker-compose.yml", "service": "threatwatch"}
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    assert "migrate" in CliRunner().invoke(cli, ["--help"]).output
    url = bot["environment"]["THREATWATCH_DATABASE_URL"]
    assert url == migrate["environment"]["THREATWATCH_DATABASE_URL"] and "@postgres:5432/" in url
    assert bot["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert bot["deploy"]["replicas"] >= 2
    assert "build" not in bot and "image" not in bot and base["image"]  # not repeated
    assert migrate["ports"] == [] and bot["ports"] == ["127.0.0.1:9464-9473:9464"]
