"""Growth: how each cost grows with the size of its input, with a log-log slope per series.

    python bench/growth.py [--feeds 125,250,500,1000] [--topics 1,2,4,8,16]
                           [--seeds 27,54,108,216,432] [--stored 10000,100000,1000000]
                           [--repeat 2] [--chart docs/growth.svg] [--json]

Series (each point measured on the project's real code; the embedder is the offline hashing
embedder of the model's width, so the model's cost is not in these figures: see bench/ingest.py):

* **poll cycle vs feeds**: one `Pipeline.poll_once` over N feeds on the local feed server, a tenth
  of them with one new item, the rest 304 (bench/poll.py's set-up, one host); wall and CPU time.
* **scoring vs topics**: `scoring.score_document` per article against K copies of the shipped
  topic's index (its trained scorer and seed matrix), over the development corpus's articles.
* **scoring vs seeds**: the same against one topic whose seed matrix holds S seeds (the shipped
  seeds' passage vectors repeated; the trained scorer unchanged).
* **query vs stored**: `BotService.search` (the query embedded each time), `similar` and `latest`
  over stores of N passage vectors (bench/queries.py's stores, kept under bench/.cache/).

The slope b of log(cost) = a + b·log(size) is 1 for linear growth, 0 for a constant cost. The
chart is an SVG written by this script (matplotlib is not a dependency).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import poll  # noqa: E402  (bench/poll.py: feed documents, servers, primed cycles)
import queries  # noqa: E402  (bench/queries.py: synthetic stores, query timing)

MODEL = poll.MODEL
CHANGED = 0.1


def hashing_embedder():  # type: ignore[no-untyped-def]
    from bot.relevance.embed import HashingEmbedder

    embedder = HashingEmbedder(queries.DIM)
    embedder.name = MODEL  # vectors of the model's width; the stores' vectors carry this name
    return embedder


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


# --- poll cycle vs feeds ---------------------------------------------------------------------------
def poll_point(n_feeds: int, repeat: int, embedder) -> dict:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        work, root = Path(tmp), Path(tmp) / "feeds"
        root.mkdir()
        poll.write_feeds(root, n_feeds, CHANGED, new=False)
        proc, bases = poll.start_servers(root, 1)
        try:
            poll.prime(work / "primed.db", [f"{bases[0]}/f{f}.xml" for f in range(n_feeds)])
            poll.write_feeds(root, n_feeds, CHANGED, new=True)
            args = argparse.Namespace(feeds=n_feeds)
            runs = [
                poll.run_once(work / "primed.db", work, bases, args, embedder, None)
                for _ in range(repeat)
            ]
        finally:
            proc.stdin.close()  # type: ignore[union-attr]
            proc.wait()
    report = runs[-1]["report"]
    assert report["failed"] == 0, runs[-1]["errors"]
    return {
        "size": n_feeds,
        "wall_s": statistics.median(r["seconds"] for r in runs),
        "cpu_s": statistics.median(r["cpu_seconds"] for r in runs),
        "new": report["new"],
        "not_modified": report["not_modified"],
    }


# --- scoring vs topics and seeds -----------------------------------------------------------------
def shipped_index(embedder):  # type: ignore[no-untyped-def]
    """The shipped topic's index, built as the app builds it (trained scorer included)."""
    from bot.store import SqliteStore
    from bot.topics.config import sync_from_config
    from bot.topics.registry import build_indexes

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "growth.db")
        sync_from_config(store, REPO / "config", REPO / "seeds", datetime.now(UTC))
        indexes = build_indexes(store, embedder, background_dir=REPO / "seeds" / "_background")
        store.close()
    return indexes[0]


def corpus_docs(embedder) -> list:  # type: ignore[no-untyped-def]
    from bot.relevance.scoring import embed_documents

    rows = [json.loads(line) for line in poll.CORPUS.read_text().splitlines() if line]
    return embed_documents(embedder, [(r["title"] or "", r["text"]) for r in rows])


def score_ms(docs: list, indexes: list, repeat: int) -> float:
    """Median over passes of the mean time to score one article against every index."""
    from bot.relevance.scoring import score_document

    passes = []
    for _ in range(repeat + 1):  # the first pass warms up
        t0 = time.perf_counter()
        for doc in docs:
            score_document(doc, indexes)
        passes.append((time.perf_counter() - t0) * 1000 / len(docs))
    return statistics.median(passes[1:])


def topics_point(base, docs: list, k: int, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    indexes = [replace(base, topic=replace(base.topic, name=f"t{i}")) for i in range(k)]
    return {"size": k, "ms_per_article": score_ms(docs, indexes, repeat)}


def seeds_point(base, docs: list, n_seeds: int, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    ids = np.asarray(base.seed_ids)
    distinct = list(dict.fromkeys(base.seed_ids))
    rows, seed_ids, titles = [], [], []
    for s in range(n_seeds):  # seed s repeats the passages of shipped seed s % len(distinct)
        mask = ids == distinct[s % len(distinct)]
        rows.append(base.vectors[mask])
        seed_ids += [s] * int(mask.sum())
        titles += [f"seed {s}"] * int(mask.sum())
    index = replace(
        base, vectors=np.vstack(rows), seed_ids=tuple(seed_ids), seed_titles=tuple(titles)
    )
    return {"size": n_seeds, "passages": len(seed_ids), "ms_per_article": score_ms(docs, [index], repeat)}  # fmt: skip


# --- query vs stored articles ------------------------------------------------------------------
def query_point(n_vectors: int, repeat: int, embedder) -> dict:  # type: ignore[no-untyped-def]
    r = queries.measure(n_vectors, embedder, repeat, 0, None)
    out = {"size": n_vectors // 2, "vectors": n_vectors, "index_load_s": r["index_load"]["seconds"]}
    return out | {f"{k}_p50_ms": r["project"][k]["p50_ms"] for k in ("search", "similar", "latest")}


# --- fitting and the chart -------------------------------------------------------------------------
def slope(points: list[dict], key: str) -> float:
    xs = [math.log(p["size"]) for p in points if p[key] > 0]
    ys = [math.log(p[key]) for p in points if p[key] > 0]
    return round(float(np.polyfit(xs, ys, 1)[0]), 2) if len(xs) >= 2 else float("nan")


PANEL_W, PANEL_H, PAD = 360, 240, 48
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def svg_panel(x0: int, title: str, xlabel: str, unit: str, lines: list[tuple[str, list]]) -> str:
    """One log-log panel: lines are (label, [(x, y), ...])."""
    pts = [(x, y) for _, ps in lines for x, y in ps if x > 0 and y > 0]
    lx = [math.log10(x) for x, _ in pts]
    ly = [math.log10(y) for _, y in pts]
    xlo, xhi = math.floor(min(lx) * 2) / 2, math.ceil(max(lx) * 2) / 2 or 1
    ylo, yhi = math.floor(min(ly)), math.ceil(max(ly))
    yhi += yhi == ylo
    xhi += 0.5 * (xhi == xlo)
    w, h = PANEL_W - 2 * PAD, PANEL_H - 2 * PAD

    def at(x: float, y: float) -> tuple[float, float]:
        return (x0 + PAD + (math.log10(x) - xlo) / (xhi - xlo) * w,
                PAD + h - (math.log10(y) - ylo) / (yhi - ylo) * h)  # fmt: skip

    out = [f'<text x="{x0 + PANEL_W / 2}" y="20" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<rect x="{x0 + PAD}" y="{PAD}" width="{w}" height="{h}" fill="none" stroke="#888"/>',
           f'<text x="{x0 + PANEL_W / 2}" y="{PANEL_H - 8}" text-anchor="middle">{xlabel} (log)</text>',
           f'<text x="{x0 + 12}" y="{PAD + h / 2}" transform="rotate(-90 {x0 + 12} {PAD + h / 2})" '
           f'text-anchor="middle">{unit} (log)</text>']  # fmt: skip
    for e in range(ylo, yhi + 1):
        _, y = at(10**xlo, 10**e)
        out.append(f'<line x1="{x0 + PAD}" x2="{x0 + PAD + w}" y1="{y}" y2="{y}" stroke="#eee"/>'
                   f'<text x="{x0 + PAD - 4}" y="{y + 4}" text-anchor="end" font-size="10">{10**e:g}</text>')  # fmt: skip
    for x in sorted({x for x, _ in pts}):
        px, _ = at(x, 10**ylo)
        out.append(f'<text x="{px}" y="{PAD + h + 14}" text-anchor="middle" font-size="10">{x:,}</text>')  # fmt: skip
    for n, (label, ps) in enumerate(lines):
        colour = COLOURS[n % len(COLOURS)]
        coords = " ".join(
            f"{a:.1f},{b:.1f}" for a, b in (at(x, y) for x, y in ps if x > 0 and y > 0)
        )
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in (at(x, y) for x, y in ps if x > 0 and y > 0)]  # fmt: skip
        out.append(f'<text x="{x0 + PAD + 6}" y="{PAD + 14 + 13 * n}" font-size="11" fill="{colour}">{label}</text>')  # fmt: skip
    return "\n".join(out)


def chart(results: dict, path: Path, subtitle: str) -> None:
    series = results["series"]
    panels = []
    if series.get("poll"):
        ps = series["poll"]["points"]
        panels.append(("Poll cycle vs feeds", "feeds", "seconds",
                       [(f"wall (slope {series['poll']['slope']['wall_s']})", [(p["size"], p["wall_s"]) for p in ps]),
                        (f"CPU (slope {series['poll']['slope']['cpu_s']})", [(p["size"], p["cpu_s"]) for p in ps])]))  # fmt: skip
    for key, title, xl in (("topics", "Scoring vs topics", "topics"), ("seeds", "Scoring vs seeds", "seeds")):  # fmt: skip
        if series.get(key):
            s = series[key]
            panels.append((title, xl, "ms per article",
                           [(f"score (slope {s['slope']['ms_per_article']})", [(p["size"], p["ms_per_article"]) for p in s["points"]])]))  # fmt: skip
    if series.get("query"):
        s = series["query"]
        panels.append(("Query vs stored articles", "articles", "ms (p50)",
                       [(f"{k} (slope {s['slope'][f'{k}_p50_ms']})", [(p["size"], p[f"{k}_p50_ms"]) for p in s["points"]])
                        for k in ("search", "similar", "latest")]))  # fmt: skip
    width = PANEL_W * len(panels)
    body = "\n".join(svg_panel(i * PANEL_W, *p) for i, p in enumerate(panels))
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{PANEL_H + 20}" '
        f'font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n'
        f'{body}\n<text x="8" y="{PANEL_H + 14}" font-size="10" fill="#555">{subtitle}</text>\n</svg>\n'
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", default="125,250,500,1000")
    parser.add_argument("--topics", default="1,2,4,8,16")
    parser.add_argument("--seeds", default="27,54,108,216,432")
    parser.add_argument(
        "--stored", default="10000,100000,1000000", help="passage vectors per store"
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--chart", default=str(REPO / "docs" / "growth.svg"), help="'': none")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before, started = os.getloadavg(), time.perf_counter()
    embedder = hashing_embedder()
    series: dict[str, dict] = {}

    def run(name: str, sizes: list[int], point, keys: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
        points = []
        for size in sizes:
            points.append(point(size))
            print(f"{name}: {points[-1]}", file=sys.stderr, flush=True)
        series[name] = {"points": points, "slope": {k: slope(points, k) for k in keys}}

    if ints(args.feeds):
        run("poll", ints(args.feeds), lambda n: poll_point(n, args.repeat, embedder), ("wall_s", "cpu_s"))  # fmt: skip
    if ints(args.topics) or ints(args.seeds):
        base, docs = shipped_index(embedder), corpus_docs(embedder)
        reps = 2 * args.repeat + 1
        if ints(args.topics):
            run("topics", ints(args.topics), lambda k: topics_point(base, docs, k, reps), ("ms_per_article",))  # fmt: skip
        if ints(args.seeds):
            run("seeds", ints(args.seeds), lambda s: seeds_point(base, docs, s, reps), ("ms_per_article",))  # fmt: skip
    if ints(args.stored):
        run("query", ints(args.stored), lambda n: query_point(n, 10 * args.repeat, embedder),
            ("search_p50_ms", "similar_p50_ms", "latest_p50_ms"))  # fmt: skip
    meta = {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(["python", "bench/growth.py", *sys.argv[1:]]),
            "embedder": "hashing (THREATWATCH_EMBEDDER=hashing's HashingEmbedder, 384 dims)",
            "seconds": round(time.perf_counter() - started),
            "load_average": {"start": [round(x, 2) for x in load_before],
                             "end": [round(x, 2) for x in os.getloadavg()]}}  # fmt: skip
    results = {"meta": meta, "series": series}
    if args.chart:
        chart(results, Path(args.chart), f"{meta['date']} · {meta['command']} · {meta['cores']} cores · "
              f"hashing embedder · load {meta['load_average']['start'][0]}–{meta['load_average']['end'][0]}")  # fmt: skip
    if args.json:
        return print(json.dumps(results, indent=2))
    print(f"{meta['date']} · {meta['command']} · {meta['cores']} cores · embedder {meta['embedder']}"
          f" · {meta['seconds']} s · load average (1, 5, 15 min) {meta['load_average']['start']} at "
          f"the start, {meta['load_average']['end']} at the end\n")  # fmt: skip
    print("| series | size | cost | slope (log-log) |\n|---|---|---|--:|")
    for name, s in series.items():
        for key, b in s["slope"].items():
            cells = ", ".join(f"{p['size']:,}: {p[key]:.3g}" for p in s["points"])
            sizes = ", ".join(f"{p['size']:,}" for p in s["points"])
            print(f"| {name} | {sizes} | {key} = {cells} | {b} |")


if __name__ == "__main__":
    main()
