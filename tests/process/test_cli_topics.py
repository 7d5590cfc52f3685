"""`threatwatch feedback` and `topics train/versions/rollback/threshold/preview` as a user runs
them: subprocesses on a real SQLite file, alerts from the recorded demo feeds (hashing embedder
for speed; the scorer is trained on it all the same)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli import tw

from testkit.feedserver import FeedServer

TOPIC = "militia-attacks-us-forces"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def polled_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database that polled the demo feeds once; each test gets its own copy."""
    tmp = tmp_path_factory.mktemp("polled")
    root = tmp / "www"
    shutil.copytree(REPO / "bot" / "demo" / "data", root)
    db = tmp / "t.db"
    with FeedServer(root) as server:
        for name in ("defense-wire.xml", "mideast-desk.atom", "world-briefing.xml"):
            tw(db, "feeds", "add", server.url(name))
        tw(db, "poll", "--once")
    return db


@pytest.fixture
def db_with_alerts(polled_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "t.db"
    shutil.copyfile(polled_db, db)  # WAL is checkpointed when the CLI closes the database
    return db


def alert_ids(db: Path) -> list[int]:
    return [m["id"] for m in json.loads(tw(db, "latest", "--limit", "50", "--json").stdout)]


def versions(db: Path) -> list[dict]:
    return json.loads(tw(db, "topics", "versions", TOPIC, "--json").stdout)


def test_feedback_train_apply_versions_and_rollback(db_with_alerts: Path) -> None:
    db = db_with_alerts
    ids = alert_ids(db)
    assert len(ids) >= 2, "the demo feeds should give alerts to vote on"
    first = versions(db)
    assert [v["version"] for v in first] == [1] and first[0]["reason"] == "first version"
    assert first[0]["cv"]["ap"] > 0.5  # trained, with cross-validated figures

    assert "👍 0 · 👎 1" in tw(db, "feedback", str(ids[0]), "down", "--user", "ana").stdout
    assert "👍 1 · 👎 0" in tw(db, "feedback", str(ids[1]), "up", "--user", "ana").stdout
    # a second vote by the same user replaces the first
    assert "👍 1 · 👎 0" in tw(db, "feedback", str(ids[0]), "up", "--user", "ana").stdout
    tw(db, "feedback", str(ids[0]), "down", "--user", "ana")

    report = tw(db, "topics", "train", TOPIC).stdout
    assert "2 pending feedback" in report and "apply with:" in report
    assert versions(db) == first, "train without --apply changes nothing"

    applied = tw(db, "topics", "train", TOPIC, "--apply").stdout
    assert "applied: v2" in applied and "+2 feedback" in applied
    after = versions(db)
    assert [v["version"] for v in after] == [2, 1] and after[0]["feedback"] == 2
    again = tw(db, "topics", "train", TOPIC, "--apply", check=False)
    assert again.returncode == 1 and "no pending feedback" in again.stderr

    rolled = tw(db, "topics", "rollback", TOPIC, "1").stdout
    assert "rolled back: v3" in rolled and "rolled back to v1" in rolled
    newest = versions(db)[0]
    assert newest["version"] == 3 and newest["feedback"] == 0
    assert newest["threshold"] == first[0]["threshold"]
    same = tw(db, "topics", "rollback", TOPIC, "3", check=False)
    assert same.returncode == 1 and "already the active one" in same.stderr


def test_threshold_manual_then_auto_is_versioned(db_with_alerts: Path) -> None:
    db = db_with_alerts
    auto = versions(db)[0]["threshold"]
    out = tw(db, "topics", "threshold", TOPIC, "0.9").stdout
    assert "→ 0.90 (manual)" in out
    top = versions(db)[0]
    assert top["threshold"] == 0.9 and top["threshold_mode"] == "manual"
    assert "(manual)" in top["reason"]
    back = tw(db, "topics", "threshold", TOPIC, "auto").stdout
    assert "(auto)" in back.split("→")[1]
    assert versions(db)[0]["threshold"] == auto
    for bad in ("1.5", "x", "nan"):
        proc = tw(db, "topics", "threshold", TOPIC, bad, check=False)
        assert proc.returncode == 1 and proc.stderr.startswith("error:")


def test_preview_counts_stored_articles_and_agrees_with_arrival(db_with_alerts: Path) -> None:
    db = db_with_alerts
    matched = len(alert_ids(db))
    out = tw(db, "topics", "preview", TOPIC, "--days", "3").stdout
    first_line = out.splitlines()[0]
    assert "20 articles scored" in first_line
    # nothing changed since arrival: the topic would match exactly what it matched
    assert (
        f"{matched} would match ({matched} matched on arrival; +0 new, -0 no longer)" in first_line
    )
    # just above the lowest score that matched: that alert, at least, no longer would
    lowest = min(m["score"] for m in json.loads(tw(db, "latest", "--limit", "50", "--json").stdout))
    assert lowest < 0.9999
    tw(db, "topics", "threshold", TOPIC, f"{min(lowest + 1e-4, 0.9999):.4f}")
    stricter = tw(db, "topics", "preview", TOPIC, "--days", "3").stdout.splitlines()[0]
    would = int(stricter.split(" would match")[0].rsplit(" ", 1)[1])
    assert would < matched and "no longer" in stricter
    bad = tw(db, "topics", "preview", TOPIC, "--days", "0", check=False)
    assert bad.returncode == 1 and "--days" in bad.stderr


def test_feedback_on_an_unknown_alert_is_a_clear_error(db_with_alerts: Path) -> None:
    proc = tw(db_with_alerts, "feedback", "99999", "up", check=False)
    assert proc.returncode == 1 and "no alert with id 99999" in proc.stderr
