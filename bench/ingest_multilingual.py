"""Non-English ingest: Arabic and Persian articles per second through language detection and
the multilingual embedder (full text and lead only), and the memory the second model adds.

    python bench/ingest_multilingual.py [--repeat 3] [--threads 1]

Runs in a fresh process that first loads the English model (as a running bot has it), then
reads its resident memory (VmRSS) before the multilingual model loads, after it loads, and after
embedding the whole corpus; "adds" is the last minus the first. Rates are medians of --repeat
passes over /work/shared/data/multilingual_dev.jsonl (89 articles), each pass detecting every
article's language and embedding its passages, as the poll cycle does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from bot.relevance.embed import SentenceTransformerEmbedder, passages  # noqa: E402
from bot.relevance.language import detect_language, normalise  # noqa: E402
from bot.relevance.multilingual import LEAD_WORDS, MultilingualEmbedder  # noqa: E402

CORPUS = Path("/work/shared/data/multilingual_dev.jsonl")


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def one_pass(embedder: MultilingualEmbedder, rows: list[dict], lead: bool) -> float:
    start = time.perf_counter()
    for r in rows:
        language = detect_language(r.get("title") or "", r["text"])
        title, text = normalise(r.get("title") or "", language), normalise(r["text"], language)
        parts = passages(title, text, LEAD_WORDS)[:1] if lead else passages(title, text)
        embedder.encode(parts)
    return len(rows) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rows = [json.loads(x) for x in CORPUS.read_text(encoding="utf-8").splitlines() if x.strip()]
    english = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    english.encode(["warm up the English model as a running bot has it"])
    with_english = rss_mb()
    detect_language("", "the language detector runs on every article, English ones too")
    before = rss_mb()
    embedder = MultilingualEmbedder(threads=args.threads)
    embedder.load()
    loaded = rss_mb()
    rates = {
        case: statistics.median(
            one_pass(embedder, rows, case == "lead") for _ in range(args.repeat)
        )
        for case in ("full", "lead")
    }
    after = rss_mb()
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()}",
        "threads": args.threads,
        "articles": len(rows),
        "articles_per_s": {k: round(v, 2) for k, v in rates.items()},
        "rss_mb": {
            "english_model_loaded": round(with_english),
            "language_detector_loaded": round(before),
            "multilingual_loaded": round(loaded),
            "after_embedding": round(after),
            "adds": round(after - before),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
