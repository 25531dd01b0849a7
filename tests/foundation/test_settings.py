"""Environment helpers: masking credentials in URLs before they reach a log line or an error message."""

from __future__ import annotations

import pytest

from codelupe_dagster.settings import mask_url


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://elastic:s3cret@es.example:9243", "https://elastic:***@es.example:9243"),
        ("http://user:p%40ss@127.0.0.1:9200/prefix", "http://user:***@127.0.0.1:9200/prefix"),
        ("http://127.0.0.1:9200", "http://127.0.0.1:9200"),
        ("redis://:hunter2@cache.internal:6379/0", "redis://:***@cache.internal:6379/0"),
        ("rediss://default:pw@[::1]:6380/2", "rediss://default:***@[::1]:6380/2"),
        ("https://ghp_abcdef0123456789@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("redis://ops:p@ss@Cache.Example:6379", "redis://ops:***@Cache.Example:6379"),
    ],
)
def test_mask_url_hides_credentials(url: str, masked: str) -> None:
    assert mask_url(url) == masked
