"""Shared helpers for the relevance tests: a small sample of real news texts and a small topic
built from them in a temporary config and seeds folder (the real files the bot reads)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from bot.core.facets import Facet
from bot.topics.config import load_topics_file

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "relevance"
SAMPLE = DATA / "dev_sample.jsonl"  # real articles of the development corpus
LATER = DATA / "later_reports.jsonl"  # two more, kept apart: reports that arrive after training
TOPIC = "militia-attacks-us-forces"


@cache
def _rows() -> tuple[dict, ...]:
    return tuple(json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines())


def sample(*, label: str | None = None) -> list[dict]:
    """Items copied from the development corpus (real articles): id, label, event, title, text."""
    return [dict(r) for r in _rows() if label is None or r["label"] == label]


def item(item_id: str) -> dict:
    later = [json.loads(line) for line in LATER.read_text(encoding="utf-8").splitlines()]
    return next(r for r in [*sample(), *later] if r["id"] == item_id)


def shipped_facets() -> tuple[Facet, ...]:
    (topic,) = [t for t in load_topics_file(REPO / "config" / "topics.toml") if t.name == TOPIC]
    return topic.facets


def seed_file_text(row: dict) -> str:
    return f"{row['title'] or row['id']}\n{row['text']}"


def write_topic(
    root: Path,
    *,
    positives: list[dict],
    counters: list[dict] = (),  # type: ignore[assignment]
    background: list[dict] = (),  # type: ignore[assignment]
    threshold: str = '"auto"',
) -> tuple[Path, Path]:
    """config/topics.toml (the shipped topic's definition and facets, with ``threshold``) and
    seeds/<topic>/, counter/ and _background/ holding the given items; returns the two folders."""
    config, seeds = root / "config", root / "seeds"
    config.mkdir(parents=True, exist_ok=True)
    shipped = (REPO / "config" / "topics.toml").read_text(encoding="utf-8")
    (config / "topics.toml").write_text(
        re.sub(r"(?m)^threshold = .*$", f"threshold = {threshold}", shipped), encoding="utf-8"
    )
    for folder, rows in (
        (seeds / TOPIC, positives),
        (seeds / TOPIC / "counter", counters),
        (seeds / "_background", background),
    ):
        folder.mkdir(parents=True, exist_ok=True)
        for row in rows:
            name = f"{row['event']}__{row['id']}.txt" if row.get("event") else f"{row['id']}.txt"
            (folder / name).write_text(seed_file_text(row), encoding="utf-8")
    return config, seeds
