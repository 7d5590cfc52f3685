"""Story linking alone: how long `StoryLinker.link` takes over a stream of load-test items.

    python bench/story_linking.py [--items 5000] [--batch 10] [--repeat 3] [--baseline REV]

The items of the load bench (testkit/load.py: one relevant report in 1,000, the rest other
news) arrive in batches as from a poll cycle; each batch is linked against the stored reports
and then saved, as the pipeline does. A hashing embedder stands in for the model (linking cost
does not depend on which vectors). Prints the seconds spent linking and saving, and how many
items joined a story. With --baseline, the same loop also runs on git revision REV (its files
from `git archive`, the same venv), the two taking turns, each run in a fresh process.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.core.models import FeedItem  # noqa: E402
from bot.core.records import NewArticle  # noqa: E402
from bot.pipeline.story_links import StoryLinker  # noqa: E402
from bot.relevance.embed import HashingEmbedder  # noqa: E402
from bot.relevance.scoring import embed_documents  # noqa: E402
from bot.store import SqliteStore  # noqa: E402
from testkit.load import other_item, relevant_item  # noqa: E402

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


def one_run(items: int, batch: int) -> tuple[float, float, int]:
    embedder = HashingEmbedder(384)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "links.db")
        linker = StoryLinker(store)
        stream = [other_item(n) if n % 1000 else relevant_item(n) for n in range(items)]
        batches = []
        for start in range(0, len(stream), batch):
            feed_items = [FeedItem(g, None, t, x, NOW) for g, t, x in stream[start : start + batch]]
            documents = embed_documents(embedder, [(i.title, i.text) for i in feed_items])
            batches.append(list(zip(feed_items, documents, strict=True)))
        linking = saving = 0.0
        joined = 0
        for pairs in batches:
            started = time.perf_counter()
            links = linker.link(pairs, model=embedder.name, now=NOW)
            linked = time.perf_counter()
            joined += sum(link.stored is not None or link.in_batch is not None for link in links)
            store.save_articles(
                [
                    NewArticle(
                        item,
                        None,
                        item.guid,
                        doc.passages,
                        doc.vectors,
                        link.stored,
                        link.in_batch,
                        link.adds_facts,
                    )  # fmt: skip
                    for (item, doc), link in zip(pairs, links, strict=True)
                ],
                [],
                model=embedder.name,
                now=NOW,
            )
            linking += linked - started
            saving += time.perf_counter() - linked
        store.close()
    return linking, saving, joined


def timed_in(tree: Path, items: int, batch: int) -> tuple[float, float, int]:
    """One run of this loop on the code in ``tree``, in a fresh process."""
    script = tree / "bench" / Path(__file__).name
    if not script.exists():
        shutil.copy(__file__, script)
    out = subprocess.run(
        [sys.executable, str(script), "--items", str(items), "--batch", str(batch), "--once"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default="", help="git revision to run as the baseline")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:  # one run, machine-readable, for timed_in
        print(*one_run(args.items, args.batch))
        return
    trees = {"project": REPO}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            from startup import baseline_tree

            trees["baseline"] = baseline_tree(args.baseline, Path(tmp))
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in trees}
        for _ in range(args.repeat):
            for name, tree in trees.items():
                runs[name].append(timed_in(tree, args.items, args.batch))
    for name, results in runs.items():
        for linking, saving, joined in results:
            print(
                f"{name:9} link {linking:.2f} s  save {saving:.2f} s  joined {joined}/{args.items}"
            )
    for name, results in runs.items():
        median = statistics.median(r[0] for r in results)
        print(f"{name:9} link median {median:.2f} s over {args.repeat} runs")


if __name__ == "__main__":
    main()
