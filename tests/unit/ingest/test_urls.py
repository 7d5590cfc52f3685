"""canonical_url: one spelling per article link; never raises."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ingest.urls import canonical_url

FEED = "https://www.example.com/news/feed.xml"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        # BBC: at_* tracking query dropped
        (
            "https://www.bbc.com/news/articles/cp81l0e1eg5o?at_medium=RSS&at_campaign=rss",
            "https://www.bbc.com/news/articles/cp81l0e1eg5o",
        ),
        ("HTTP://Example.COM:80/Path", "http://example.com/Path"),  # path case is kept
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        (
            "https://example.com/a?utm_source=x&id=7&fbclid=abc&page=2&gclid=1&CMP=share_btn",
            "https://example.com/a?id=7&page=2",
        ),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),  # order kept
        (
            "https://example.com/a?ns_mchannel=rss&ns_source=x&mc_cid=1&mc_eid=2",
            "https://example.com/a",
        ),
        (
            "https://example.com/a?ocid=x&cmpid=y&_ga=z&igshid=q&spm=1&ref_src=t&smid=u",
            "https://example.com/a",
        ),
        ("https://example.com/a?x=1&&y=2&", "https://example.com/a?x=1&y=2"),
        ("https://user:secret@example.com/a", "https://example.com/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com/caf\u00e9 menu", "https://example.com/caf%C3%A9%20menu"),
        ("https://example.com/caf%c3%a9%20menu", "https://example.com/caf%C3%A9%20menu"),
        ("http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
        ("  https://example.com/padded  ", "https://example.com/padded"),
        # Google Alerts wraps the article in a redirect; the article is the identity
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://news.example.org/story%3Fid%3D5"
            "&ct=ga&usg=AFQ",
            "https://news.example.org/story?id=5",
        ),
    ],
)
def test_canonical_examples(link: str, expected: str) -> None:
    assert canonical_url(link) == expected


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("/livewire/story-1", "https://www.example.com/livewire/story-1"),
        ("story-2?utm_medium=rss", "https://www.example.com/news/story-2"),
        ("../up", "https://www.example.com/up"),
        ("//cdn.example.net/x", "https://cdn.example.net/x"),
        ("https://other.example/abs", "https://other.example/abs"),
    ],
)
def test_relative_links_resolve_against_feed_url(link: str, expected: str) -> None:
    assert canonical_url(link, base=FEED) == expected


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JavaScript:void(0)",
        "mailto:editor@example.com",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/file",
        "file:///etc/passwd",
        "",
        "   ",
        "http://",
        "http:///path-only",
        "http://[::1",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://exa mple.com/",
        "not a url",
        "/relative/without/base",
        "https://" + "a" * 5000 + ".com/",
    ],
)
def test_non_http_or_broken_links_are_none(link: str) -> None:
    assert canonical_url(link) is None


@pytest.mark.parametrize(
    "link", ["https://example.com/\ud800", "https://exa\ud800mple.com/", "https://e.com/?a=\udfff"]
)
def test_lone_surrogates_never_leak(link: str) -> None:
    result = canonical_url(link)
    assert result is None or result.encode("utf-8")


def test_relative_link_with_javascript_base_is_none() -> None:
    assert canonical_url("/x", base="javascript:alert(1)") is None


# --- properties -----------------------------------------------------------------------------

_TRACKING = ["utm_source", "UTM_Medium", "fbclid", "gclid", "at_medium", "ns_source", "cmp", "_ga"]
_TRACKING_LOWER = {name.lower() for name in _TRACKING}
_KEEP = ["id", "page", "q", "story", "a b", "ü"]

_urlish = st.builds(
    lambda scheme, host, port, path, query, fragment: (
        f"{scheme}://{host}{port}/{path}{'?' + query if query else ''}{fragment}"
    ),
    st.sampled_from(["http", "HTTP", "https", "HtTpS", "ftp", "javascript"]),
    st.from_regex(
        r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?(\.[A-Za-z]{2,5}){1,2}",
        fullmatch=True,
    ),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.text(max_size=30),
    st.lists(st.tuples(st.sampled_from(_TRACKING + _KEEP), st.text(max_size=8)), max_size=5).map(
        lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)
    ),
    st.sampled_from(["", "#", "#frag", "#!/hash"]),
)


@settings(max_examples=300)
@given(st.text(), st.none() | st.text() | st.just(FEED))
def test_never_raises_on_arbitrary_text(link: str, base: str | None) -> None:
    result = canonical_url(link, base=base)
    assert result is None or result.startswith(("http://", "https://"))


@settings(max_examples=300)
@given(st.one_of(_urlish, st.text()), st.none() | st.just(FEED))
def test_idempotent(link: str, base: str | None) -> None:
    once = canonical_url(link, base=base)
    if once is not None:
        assert canonical_url(once) == once
        assert canonical_url(once, base=FEED) == once


@settings(max_examples=300)
@given(_urlish)
def test_result_has_no_fragment_no_tracking_and_lower_host(link: str) -> None:
    result = canonical_url(link)
    if result is None:
        return
    parts = urlsplit(result)
    assert parts.scheme in ("http", "https")
    assert parts.fragment == "" and "#" not in result
    assert parts.netloc == parts.netloc.lower()
    names = [name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    tracking = [n for n in names if n.startswith(("utm_", "at_", "ns_")) or n in _TRACKING_LOWER]
    assert not tracking
