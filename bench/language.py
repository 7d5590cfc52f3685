"""Language detection on the development files: py3langid (what ships) beside langdetect, on
title + text and on the title alone, with time per article.

    python bench/language.py

English: data/dev_corpus.jsonl-style files in /work/shared/data (dev_corpus*.jsonl); Arabic and
Persian: multilingual_dev.jsonl (its "lang" field). langdetect is measured only if installed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.relevance.language import detect_language  # noqa: E402

DATA = Path("/work/shared/data")
FILES = (("dev_corpus.jsonl", "en"), ("dev_corpus_2.jsonl", "en"), ("multilingual_dev.jsonl", None))


def rows() -> list[tuple[str, str, str]]:
    out = []
    for name, lang in FILES:
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                out.append((lang or r["lang"], r.get("title") or "", r["text"]))
    return out


def langdetect_fn():  # type: ignore[no-untyped-def]
    try:
        import langdetect
    except ImportError:
        return None
    langdetect.DetectorFactory.seed = 0

    def detect(title: str, text: str) -> str:
        try:
            return str(langdetect.detect(f"{title}\n{text}"))
        except langdetect.LangDetectException:
            return "und"

    return detect


def main() -> None:
    data = rows()
    candidates = {"py3langid (bot.relevance.language)": detect_language}
    if (other := langdetect_fn()) is not None:
        candidates["langdetect"] = other
    print(
        f"{len(data)} articles: "
        + ", ".join(f"{lang} {sum(r[0] == lang for r in data)}" for lang in ("en", "ar", "fa"))
    )
    for name, fn in candidates.items():
        for mode in ("title + text", "title only"):
            fn(data[0][1], data[0][2])  # load the model outside the timing
            start, wrong = time.perf_counter(), []
            for lang, title, text in data:
                got = fn(title, text) if mode == "title + text" else fn(title, "")
                if got != lang:
                    wrong.append((lang, got, (title or text)[:50]))
            ms = 1000 * (time.perf_counter() - start) / len(data)
            print(
                f"{name:36} {mode:13} {len(data) - len(wrong):4}/{len(data)} right, "
                f"{ms:.2f} ms/article; wrong (first 4): {wrong[:4]}"
            )


if __name__ == "__main__":
    main()
