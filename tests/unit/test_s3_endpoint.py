"""Which S3 endpoints are this machine (one streamed GET instead of parallel ranges)."""

from __future__ import annotations

import pytest

from gitfiler.remotes.s3 import _is_loopback


@pytest.mark.parametrize(
    "url, expected",
    [
        (None, False), ("", False), ("http://127.0.0.1:9000", True), ("http://127.8.9.10", True), ("https://localhost:9000/", True),
        ("http://[::1]:9000", True), ("https://s3.eu-west-1.amazonaws.com", False), ("http://10.0.0.5:9000", False),
        ("http://minio.internal:9000", False), ("http://localhost.evil.example", False),
    ],
)
def test_loopback_endpoints_are_recognised(url: str | None, expected: bool) -> None:
    assert _is_loopback(url) is expected
