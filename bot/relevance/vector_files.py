"""Passage vectors of seed texts kept on disk, shared by every database on one machine.

Each database caches its seeds' vectors (the store's seed cache), but a new database, the demo's
temporary one, or a second bot on the same machine would embed the same shipped seeds again: a
few hundred passages, most of a minute on two cores. These files keep them beside the model
cache, one file per text, keyed by the model, the runtime that computed them (fp32, bf16 and
int8 vectors are close but not equal) and the passage recipe.

A file is written to a temporary name and linked into place, so concurrent processes never read
half of one, and the first one kept stays; a file that cannot be read is a miss (embedded again,
and replaced), never an error.

The package also ships the vectors of its own examples (``data/seed-vectors/``, one bundle per
space, made by scripts/ship_seed_vectors.py; the English spaces' bundles also hold the
examples' leads, from which the lead floor is learned, under ``cascade.lead_key``): the multilingual engine runs one thread at ~3
passages a second, so a first start embedded the shipped topic's ~770 example passages for five
to six minutes at its first non-English article while every feed of the cycle waited, and the
English ones took most of a minute before the first article. Bundles exist for the spaces a
build machine can compute exactly: the multilingual engine, torch fp32, and int8 with 7-bit s8r
weights (CPUs without int8 dot products); bf16 and s8 machines embed their own. A text not in a bundle
(an admin's own seeds) is embedded as before; a bundle that cannot be read is a warning and no
bundle.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from bot.relevance.embed import PASSAGE_WORDS

log = logging.getLogger(__name__)

RECIPE = f"passages-{PASSAGE_WORDS}w-v1"  # change it when passages() cuts texts differently
SHIPPED = Path(__file__).parent / "data" / "seed-vectors"

Passages = tuple[list[str], np.ndarray]


def space_folder(space: str) -> str:
    """The folder name of a space's files (and the stem of its shipped bundle)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", space).strip("-")[:80]
    digest = hashlib.sha256(f"{space}|{RECIPE}".encode()).hexdigest()[:12]
    return f"{slug}-{digest}"


class VectorFiles:
    def __init__(self, directory: Path, shipped: Path | None = SHIPPED) -> None:
        self.directory = directory
        self.shipped = shipped
        self._bundles: dict[str, dict[str, Passages]] = {}  # by space, read once

    def _path(self, space: str, content_hash: str) -> Path:
        name = re.sub(r"[^0-9a-f]", "", content_hash.lower())[:64] or "empty"
        return self.directory / space_folder(space) / f"{name}.npz"

    def get(self, space: str, content_hash: str) -> Passages | None:
        path = self._path(space, content_hash)
        try:
            # our own handle: np.load leaks the one it opens when the file is damaged
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                parts = [str(p) for p in data["parts"]]
                vectors = np.ascontiguousarray(data["vectors"], dtype=np.float32)
        except FileNotFoundError:
            return self._bundle(space).get(content_hash)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            self._discard(path, f"unreadable ({exc})")
            return None
        if vectors.ndim != 2 or len(parts) != len(vectors):
            self._discard(path, "do not match their passages")
            return None
        return parts, vectors

    def _bundle(self, space: str) -> dict[str, Passages]:
        if space not in self._bundles:
            path = self.shipped / f"{space_folder(space)}.npz" if self.shipped else None
            self._bundles[space] = read_bundle(path) if path and path.is_file() else {}
        return self._bundles[space]

    def _discard(self, path: Path, why: str) -> None:
        log.warning("seed vectors %s %s: embedding them again", path, why)
        # so that the next put() keeps good ones in its place (a folder we cannot write: put()
        # will say so)
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)

    def put(self, space: str, content_hash: str, parts: list[str], vectors: np.ndarray) -> None:
        path = self._path(space, content_hash)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".npz")
            try:
                with os.fdopen(fd, "wb") as handle:
                    np.savez(handle, parts=np.array(parts, dtype=str), vectors=vectors)
                # atomic, and the first writer wins: readers see no file or a whole one, and a
                # seed's vectors never change once kept (two databases embedding it at once get
                # vectors equal to ~1e-6, which could still move a score at its threshold)
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                Path(tmp).unlink(missing_ok=True)
        except OSError as exc:
            # the store still holds them; only another database's first training pays again
            log.warning("cannot keep seed vectors in %s: %s", path.parent, exc)


def write_bundle(path: Path, entries: dict[str, Passages]) -> None:
    """One file with the passages and vectors of many texts, by content hash."""
    hashes = sorted(entries)
    parts = [p for h in hashes for p in entries[h][0]]
    vectors = np.vstack([entries[h][1] for h in hashes]).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        hashes=np.array(hashes, dtype=str),
        counts=np.array([len(entries[h][0]) for h in hashes], dtype=np.int64),
        parts=np.array(parts, dtype=str),
        vectors=vectors,
    )


def read_bundle(path: Path) -> dict[str, Passages]:
    try:
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            hashes, counts = [str(h) for h in data["hashes"]], data["counts"]
            parts = [str(p) for p in data["parts"]]
            vectors = np.ascontiguousarray(data["vectors"], dtype=np.float32)
        if vectors.ndim != 2 or len(parts) != len(vectors) or int(counts.sum()) != len(parts):
            raise ValueError("its passages and vectors do not match")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("shipped seed vectors %s unreadable (%s): embedding those seeds", path, exc)
        return {}
    out: dict[str, Passages] = {}
    start = 0
    for content_hash, count in zip(hashes, counts.tolist(), strict=True):
        out[content_hash] = (parts[start : start + count], vectors[start : start + count])
        start += count
    return out
