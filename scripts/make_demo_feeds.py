"""Build the demo's recorded feeds (bot/demo/data/) from the labeled development corpus.

Real article texts, wrapped as one RSS 2.0 and one Atom feed per outlet group, so `threatwatch
demo` can run the real pipeline with no network. Run: python scripts/make_demo_feeds.py
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "dev_corpus.jsonl"
OUT = ROOT / "bot" / "demo" / "data"

# (feed file, title, format, item ids); "late.json" holds the item published during the demo.
FEEDS = {
    "defense-wire.xml": (
        "Defense Wire (demo)",
        "rss",
        [
            "dev-rel-001",
            "dev-rel-009",
            "dev-rel-013",
            "dev-rel-018",
            "dev-hn-001",
            "dev-hn-010",
            "dev-neg-003",
        ],
    ),
    "mideast-desk.atom": (
        "Middle East Desk (demo)",
        "atom",
        [
            "dev-rel-004",
            "dev-rel-021",
            "dev-rel-027",
            "dev-hn-005",
            "dev-hn-020",
            "dev-hn-030",
            "dev-neg-010",
        ],
    ),
    "world-briefing.xml": (
        "World Briefing (demo)",
        "rss",
        ["dev-rel-011", "dev-hn-040", "dev-neg-001", "dev-neg-020", "dev-neg-030", "dev-neg-040"],
    ),
}
LATE = "dev-rel-008"  # published into defense-wire.xml while the demo runs


def rows() -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())}


def when(row: dict) -> datetime | None:
    return (
        datetime.fromisoformat(row["published"]).replace(hour=12, tzinfo=UTC)
        if row.get("published")
        else None
    )


def html(text: str) -> str:
    return "".join(f"<p>{escape(p.strip())}</p>" for p in text.split("\n") if p.strip())


def title(row: dict) -> str:
    return row.get("title") or row["text"].split(".")[0][:120]


def rss_item(row: dict) -> str:
    date = when(row)
    return (
        f"<item><title>{escape(title(row))}</title><link>{escape(row['source'])}</link>"
        f'<guid isPermaLink="false">{row["id"]}</guid>'
        + (f"<pubDate>{format_datetime(date)}</pubDate>" if date else "")
        + f"<description><![CDATA[{html(row['text'])}]]></description></item>"
    )


def rss(name: str, items: list[dict]) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(name)}</title><link>https://example.org/</link><ttl>5</ttl>"
        f"<description>Recorded demo feed</description>{''.join(map(rss_item, items))}"
        "</channel></rss>\n"
    )


def atom(name: str, items: list[dict]) -> str:
    entries = []
    for row in items:
        date = when(row)
        entries.append(
            f'<entry><title>{escape(title(row))}</title><link rel="alternate" href="{escape(row["source"])}"/>'
            f"<id>urn:demo:{row['id']}</id>"
            + (f"<updated>{date.isoformat()}</updated>" if date else "")
            + f'<content type="html">{escape(html(row["text"]))}</content></entry>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(name)}</title><id>urn:demo:{escape(name)}</id>"
        f"<updated>2024-08-06T00:00:00+00:00</updated>{''.join(entries)}</feed>\n"
    )


def main() -> int:
    corpus = rows()
    OUT.mkdir(parents=True, exist_ok=True)
    for filename, (name, kind, ids) in FEEDS.items():
        items = [corpus[i] for i in ids]
        (OUT / filename).write_text((rss if kind == "rss" else atom)(name, items), encoding="utf-8")
    (OUT / "late-item.xml").write_text(rss_item(corpus[LATE]) + "\n", encoding="utf-8")
    (OUT / "LABELS.json").write_text(
        json.dumps(
            {
                i: corpus[i]["label"]
                for ids in [v[2] for v in FEEDS.values()] + [[LATE]]
                for i in ids
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {len(FEEDS) + 2} files to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
