"""The recorded feed server itself: content types, validators, safety, clean shutdown."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from bot.demo.feedserver import guess_content_type
from testkit.feedserver import FeedServer


def test_serves_files_with_types_and_validators(feed_server: FeedServer, feeds_dir: Path) -> None:
    with httpx.Client() as client:
        for name, ctype in [
            ("news-bbc-world-rss2.xml", "application/rss+xml"),
            ("news-tpm-all-atom.xml", "application/atom+xml"),
            ("jsonfeed-inessential-v1.json", "application/feed+json"),
        ]:
            response = client.get(feed_server.url(name))
            assert response.status_code == 200
            assert response.headers["content-type"] == ctype
            assert response.content == (feeds_dir / name).read_bytes()
            etag = response.headers["etag"]
            again = client.get(feed_server.url(name), headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b""
        head = client.head(feed_server.url("news-bbc-world-rss2.xml"))
        assert head.status_code == 200 and head.content == b""
        assert client.get(feed_server.url("missing.xml")).status_code == 404
        assert client.get(feed_server.url("..%2f..%2fpyproject.toml")).status_code == 404
        assert client.get(feed_server.url("_gzipbomb/1000")).headers["content-encoding"] == "gzip"
    methods_paths = [(m, p) for m, p, _h in feed_server.requests]
    assert ("HEAD", "/news-bbc-world-rss2.xml") in methods_paths


def test_set_file_and_if_modified_since(feed_server: FeedServer) -> None:
    feed_server.set_file("/mem/feed.rss", b"<rss/>")
    with httpx.Client() as client:
        first = client.get(feed_server.url("mem/feed.rss"))
        assert first.headers["content-type"] == "application/rss+xml"
        ims = {"If-Modified-Since": first.headers["last-modified"]}
        assert client.get(feed_server.url("mem/feed.rss"), headers=ims).status_code == 304
        # If-None-Match wins over If-Modified-Since when both are sent.
        both = {**ims, "If-None-Match": '"something-else"'}
        assert client.get(feed_server.url("mem/feed.rss"), headers=both).status_code == 200


def test_gzip_route_and_bomb_decode(feed_server: FeedServer, feeds_dir: Path) -> None:
    with httpx.Client() as client:
        response = client.get(feed_server.url("_gzip/news-tpm-all-atom.xml"))
        assert response.content == (feeds_dir / "news-tpm-all-atom.xml").read_bytes()
        raw = client.get(feed_server.url("_gzipbomb/100000"), headers={"Accept-Encoding": "x"})
        assert len(raw.content) == 100000  # httpx decodes small ones fine


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.gz", b"\x1f\x8b", "application/gzip"),
        ("a.json", b'{"version": "https://jsonfeed.org/version/1"}', "application/feed+json"),
        ("a.json", b"{}", "application/json"),
        ("a.xml", b"<?xml version='1.0'?><rdf:RDF>", "application/rdf+xml"),
        ("a.xml", b"<opml/>", "application/xml"),
        ("a.html", b"<html>", "text/html; charset=utf-8"),
        ("a.bin", b"\x00\x01", "application/octet-stream"),
    ],
)
def test_guess_content_type(name: str, content: bytes, expected: str) -> None:
    assert guess_content_type(name, content) == expected


def test_stop_is_prompt_and_leaves_no_threads(feeds_dir: Path) -> None:
    before = set(threading.enumerate())
    server = FeedServer(feeds_dir).start()
    slow_url = server.url("_slow/30/news-bbc-world-rss2.xml")
    outcome: list[str] = []

    def wait_for_slow_answer() -> None:
        try:
            httpx.get(slow_url, timeout=60)
            outcome.append("answered")
        except httpx.HTTPError:
            outcome.append("cut off")

    slow = threading.Thread(target=wait_for_slow_answer)
    slow.start()
    with httpx.Client() as idle:  # leaves a keep-alive connection open on the server
        idle.get(server.url("news-bbc-world-rss2.xml"))
        time.sleep(0.2)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 3  # the 30 s sleep was interrupted
    slow.join(5)
    assert outcome and not slow.is_alive()
    assert set(threading.enumerate()) <= before
    server.stop()  # idempotent
