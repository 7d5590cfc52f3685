"""CLI commands as a user runs them (subprocess, real SQLite file; hashing embedder for speed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from testkit.feedserver import FeedServer


def tw(
    db: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "THREATWATCH_DB": str(db),
        "THREATWATCH_EMBEDDER": "hashing",
        "THREATWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "THREATWATCH_LOAD_DEFAULT_FEEDS": "false",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin or "",
        text=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


OPML = """<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
<outline text="Group"><outline type="rss" text="A" xmlUrl="https://a.example/feed.xml"/>
<outline type="rss" text="B" xmlUrl="https://b.example/rss"/></outline>
<outline type="rss" text="Evil" xmlUrl="file:///etc/passwd"/></body></opml>"""


def test_feeds_import_export_list_remove(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    (tmp_path / "in.opml").write_text(OPML)
    out = tw(db, "feeds", "import", str(tmp_path / "in.opml")).stdout
    assert "imported 2 new feeds, 0 already present, 1 refused" in out
    again = tw(db, "feeds", "import", "-", stdin=OPML).stdout
    assert "imported 0 new feeds, 2 already present" in again
    exported = tw(db, "feeds", "export").stdout
    assert 'xmlUrl="https://a.example/feed.xml"' in exported and "passwd" not in exported
    listed = json.loads(tw(db, "feeds", "list", "--json").stdout)
    assert [f["url"] for f in listed] == ["https://a.example/feed.xml", "https://b.example/rss"]
    assert "removed: feed 1" in tw(db, "--db", str(db), "feeds", "remove", "1").stdout
    assert "removed" in tw(db, "feeds", "remove", "https://b.example/rss").stdout
    assert json.loads(tw(db, "feeds", "list", "--json").stdout) == []


def test_hostile_opml_is_refused_with_one_line(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><opml><body/></opml>'
    proc = tw(db, "feeds", "import", "-", stdin=bomb, check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error: not a readable OPML")


def test_topics_and_seeds(tmp_path: Path, feed_server: FeedServer) -> None:
    db = tmp_path / "c.db"
    topics = json.loads(tw(db, "topics", "list", "--json").stdout)
    assert topics[0]["name"] == "militia-attacks-us-forces" and topics[0]["seeds"] >= 5
    seed_text = (
        "Militia drones hit a US base\n\nA drone struck the base in Syria today, officials said."
    )
    added = tw(db, "seeds", "add", "militia-attacks-us-forces", "-", stdin=seed_text).stdout
    assert "added: seed" in added and "Militia drones hit a US base" in added
    assert (
        "already present"
        in tw(db, "seeds", "add", "militia-attacks-us-forces", "-", stdin=seed_text).stdout
    )
    page = (
        "<html><body><article><h1>Rockets hit base</h1>"
        + "".join(
            f"<p>Rockets were fired at a base hosting US troops in Iraq, and an Iran-backed group "
            f"claimed the attack, officials said on Tuesday in statement number {i}.</p>"
            for i in range(6)
        )
        + "</article></body></html>"
    )
    feed_server.set_file("seed-page.html", page.encode(), "text/html")
    from_url = tw(
        db, "seeds", "add", "militia-attacks-us-forces", feed_server.url("seed-page.html")
    ).stdout
    assert "added: seed" in from_url
    listed = tw(db, "seeds", "list", "militia-attacks-us-forces").stdout
    assert feed_server.url("seed-page.html") in listed
    seed_id = added.split("seed ")[1].split()[0]
    tw(db, "seeds", "remove", seed_id)
    assert "Militia drones hit" not in tw(db, "seeds", "list", "militia-attacks-us-forces").stdout
    bad = tw(db, "seeds", "add", "No Such Topic", "-", stdin=seed_text, check=False)
    assert bad.returncode == 1 and "bad topic name" in bad.stderr
    missing = tw(db, "seeds", "add", "nosuch", "-", stdin=seed_text, check=False)
    assert missing.returncode == 1 and "no topic" in missing.stderr


def test_score_rejects_bad_input_lines(tmp_path: Path) -> None:
    proc = tw(
        tmp_path / "c.db",
        "score",
        "--input",
        "-",
        stdin='{"id": 1, "title": "x"}\nnot json\n',
        check=False,
    )
    assert proc.returncode == 1 and "input line 2" in proc.stderr
    ok = tw(
        tmp_path / "c.db",
        "score",
        "--input",
        "-",
        stdin='{"id": "a", "title": "t", "text": "rockets hit base"}\n',
    )
    row = json.loads(ok.stdout)
    assert (
        row["id"] == "a"
        and row["topic"] == "militia-attacks-us-forces"
        and isinstance(row["match"], bool)
    )
