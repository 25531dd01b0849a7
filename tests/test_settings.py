"""Environment helpers: masking credentials in URLs before they reach a log line or an error message."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from codelupe_dagster.backends.private_files import ensure_private_dir
from codelupe_dagster.core.masking import has_credentials, mask_secrets_in_text, mask_url


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


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://gitlab.example/o/r.git?private_token=glpat-xyz", "https://gitlab.example/o/r.git?private_token=***"),
        ("https://h/o/r?ref=main&access_token=abc#top", "https://h/o/r?ref=main&access_token=***#top"),
        ("https://h/x?PASSWORD=a&pwd=b&passwd=c&Token=d", "https://h/x?PASSWORD=***&pwd=***&passwd=***&Token=***"),
        ("https://h/x?api_key=1&apikey=2&key=3&secret=4&client_secret=5", "https://h/x?api_key=***&apikey=***&key=***&secret=***&client_secret=***"),
        ("https://s3.example/b/o?X-Amz-Signature=abc&sig=d&signature=e&auth=f", "https://s3.example/b/o?X-Amz-Signature=***&sig=***&signature=***&auth=***"),
        ("https://u:p@h/x?token=t", "https://u:***@h/x?token=***"),
        ("https://h/x?monkey=1&tokenizer=2&page=3", "https://h/x?monkey=1&tokenizer=2&page=3"),
        ("https://h/x?token=", "https://h/x?token="),
        ("http://user:pw@[::1", "http://user:***@[::1"),  # malformed: masked, not an exception
    ],
)  # fmt: skip
def test_mask_url_hides_secret_query_parameters(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert has_credentials(url) == (url != masked)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("ssh://git@github.com/o/r.git", False),  # an account name; the key authenticates
        ("ssh://git:pw@github.com/o/r.git", True),
        ("https://TOKEN@github.com/o/r.git", True),
        ("https://github.com/o/r.git", False),
        ("https://h/o/r?sig=abc", True),
    ],
)
def test_has_credentials(url: str, secret: bool) -> None:
    assert has_credentials(url) is secret


def test_mask_secrets_in_text_masks_every_url_and_keeps_the_rest() -> None:
    message = (
        "failed to fetch 'https://bob:hunter2@git.example/o/r.git': 401; retried via "
        "https://ghp_abc123@github.com/o/r (then https://h/x?access_token=tok9). Plain https://github.com/o/r."
    )
    masked = mask_secrets_in_text(message)
    assert masked == (
        "failed to fetch 'https://bob:***@git.example/o/r.git': 401; retried via "
        "https://***@github.com/o/r (then https://h/x?access_token=***). Plain https://github.com/o/r."
    )
    for secret in ("hunter2", "ghp_abc123", "tok9"):
        assert secret not in masked
    assert mask_secrets_in_text("no urls here") == "no urls here"


def test_ensure_private_dir_creates_and_tightens(tmp_path: Path) -> None:
    fresh = ensure_private_dir(tmp_path / "a" / "data")
    assert fresh == (tmp_path / "a" / "data").resolve() and stat.S_IMODE(fresh.stat().st_mode) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    assert stat.S_IMODE(ensure_private_dir(loose).stat().st_mode) == 0o700
