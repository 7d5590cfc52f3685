"""End to end, real parts: the `threatwatch` CLI as a subprocess, a local feed server serving
recorded feeds, a real SQLite file and the real embedding model."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.demo.run import seeds_without_demo_items
from testkit.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "bot" / "demo" / "data"
LABELS = json.loads((DEMO / "LABELS.json").read_text())

ARTICLE_PAGE = (
    b"""<!doctype html><html><head><title>Drone attack</title></head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | Subscribe now</nav>
<article><h1>Drone attack targets US forces at Syrian base</h1>
"""
    + b"".join(
        b"<p>An Iran-backed militia launched a one-way attack drone at a base hosting US forces in "
        b"eastern Syria on Tuesday, US officials said, in the latest of a series of attacks on American "
        b"troops in Iraq and Syria claimed by the Islamic Resistance in Iraq. Paragraph %d.</p>\n"
        % i
        for i in range(8)
    )
    + b"""</article><footer>Copyright. Cookie settings. All rights reserved.</footer></body></html>"""
)


def teaser_feed(base: str) -> bytes:
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Teaser Wire</title>
<link>{base}/</link><item><title>Drone attack targets US forces at Syrian base</title>
<link>{base}/article.html?utm_source=rss&amp;utm_medium=feed</link>
<description>A drone struck a base in Syria.</description></item></channel></rss>""".encode()


def cli(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "THREATWATCH_DB": str(db),
        "THREATWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "THREATWATCH_LOAD_DEFAULT_FEEDS": "false",
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"threatwatch {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def unseen_seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped seeds without the demo feeds' articles: what these tests judge, the topic
    never trained on."""
    return seeds_without_demo_items(REPO / "seeds", tmp_path_factory.mktemp("seeds") / "seeds")


@pytest.fixture(autouse=True)
def topic_without_the_served_articles(unseen_seeds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREATWATCH_SEEDS_DIR", str(unseen_seeds))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> FeedServer:
    root = tmp_path_factory.mktemp("www") / "www"
    shutil.copytree(DEMO, root)
    with FeedServer(root) as srv:
        srv.set_file("teaser.xml", teaser_feed(srv.base_url), "application/rss+xml")
        srv.set_file("article.html", ARTICLE_PAGE, "text/html; charset=utf-8")
        yield srv


@dataclass(frozen=True)
class FirstPoll:
    db: Path  # the database after the first poll: copy it before changing it
    output: str  # what the poll printed


@pytest.fixture(scope="module")
def first_poll(
    server: FeedServer, unseen_seeds: Path, tmp_path_factory: pytest.TempPathFactory
) -> FirstPoll:
    """Four feeds added and polled once: the topic trained with the real model and every item
    judged. Done once for the module (training is most of a test's time); tests copy the file."""
    db = tmp_path_factory.mktemp("first-poll") / "tw.db"
    # module fixtures are set up before the autouse one above, so the seeds are set here too
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("THREATWATCH_SEEDS_DIR", str(unseen_seeds))
        for name in ("defense-wire.xml", "mideast-desk.atom", "world-briefing.xml", "teaser.xml"):
            assert "added: feed" in cli(db, "feeds", "add", server.url(name)).stdout
        first = cli(db, "poll", "--once")
    return FirstPoll(db, first.stdout)


def own_copy(first_poll: FirstPoll, tmp_path: Path) -> Path:
    db = tmp_path / "tw.db"
    with sqlite3.connect(first_poll.db) as source, sqlite3.connect(db) as target:
        source.backup(target)  # a consistent copy, whatever WAL state the poll left
    return db


@pytest.mark.model
def test_poll_matches_stores_and_second_poll_is_conditional(
    tmp_path: Path, server: FeedServer, first_poll: FirstPoll
) -> None:
    db = own_copy(first_poll, tmp_path)
    report = first_poll.output.strip().splitlines()[-1]
    assert "fetched=4" in report and "failed=0" in report and "full_text=1" in report
    assert (
        "ALERT #" in first_poll.output
        and "nearest seed:" in first_poll.output
        and "best passage:" in first_poll.output
    )

    matches = json.loads(cli(db, "latest", "--limit", "100", "--json").stdout)
    assert matches, "nothing matched"
    for m in matches:
        assert {"id", "topic", "title", "url", "source", "published", "score"} <= m.keys()
        assert m["score"] >= m["threshold"]
        assert "utm_" not in (m["url"] or "")
    by_title = {m["title"] for m in matches}
    # the teaser item was judged on its extracted full text and matched
    assert "Drone attack targets US forces at Syrian base" in by_title
    conn = sqlite3.connect(db)
    text = conn.execute(
        "SELECT text FROM articles WHERE title LIKE 'Drone attack targets%'"
    ).fetchone()[0]
    assert "Paragraph 7" in text and "Cookie settings" not in text
    # unrelated news (sport, business, science) never alerts
    labels = dict(conn.execute("SELECT title, guid FROM articles"))
    for title in by_title:
        guid = labels[title].removeprefix("urn:demo:")
        assert LABELS.get(guid, "related") != "negative", title

    n_articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    n_requests = len(server.requests)
    second = cli(db, "poll", "--once", "--all")
    assert "new=0" in second.stdout and "not_modified=4" in second.stdout
    assert "ALERT #" not in second.stdout
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == n_articles
    conditional = [r for r in server.requests[n_requests:]]
    assert len(conditional) == 4
    assert all("if-none-match" in {k.lower() for k in r[2]} for r in conditional)

    hits = json.loads(cli(db, "search", "rocket attack on an air base in Iraq", "--json").stdout)
    assert hits and hits[0]["score"] >= hits[-1]["score"]


@pytest.mark.model
def test_score_command_matches_the_alert_path(tmp_path: Path, first_poll: FirstPoll) -> None:
    db = own_copy(first_poll, tmp_path)
    stored = json.loads(cli(db, "latest", "--json", "--limit", "100").stdout)
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, title, text FROM articles").fetchall()
    lines = "\n".join(json.dumps({"id": r[0], "title": r[1], "text": r[2]}) for r in rows)
    (tmp_path / "in.jsonl").write_text(lines + "\n")
    scored = [
        json.loads(x)
        for x in cli(db, "score", "--input", str(tmp_path / "in.jsonl")).stdout.splitlines()
    ]
    assert len(scored) == len(rows)
    alert_scores = {m["article_id"]: m["score"] for m in stored}
    for s in scored:
        assert s["match"] == (s["id"] in alert_scores)
        if s["id"] in alert_scores:
            assert s["score"] == pytest.approx(alert_scores[s["id"]], abs=1e-4)


def test_cli_errors_are_one_line_and_nonzero(tmp_path: Path) -> None:
    db = tmp_path / "tw.db"
    env_bad = cli(db, "feeds", "add", "file:///etc/passwd", check=False)
    assert env_bad.returncode == 1 and env_bad.stderr.strip().startswith("error:")
    assert len(env_bad.stderr.strip().splitlines()) == 1
    remove = cli(db, "feeds", "remove", "42", check=False)
    assert remove.returncode == 1 and "no feed" in remove.stderr
    latest = cli(db, "latest", "--limit", "0", check=False)
    assert latest.returncode == 1 and "limit" in latest.stderr
    score = cli(db, "score", "--input", "-", check=False)
    assert score.returncode == 0  # empty stdin: nothing to score
