"""Checksums that some token formats carry, so a detector can tell a real token from a look-alike.

GitHub's tokens since 2021 (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) and npm's (`npm_`) end in six
base62 characters holding the CRC32 of the 30 random characters before them. A string with the
right prefix and length but a wrong checksum is a hand-typed fixture, not a token.
"""

from __future__ import annotations

import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits)).rjust(width, "0")


def crc32_base62(random_part: str) -> str:
    return base62(zlib.crc32(random_part.encode("ascii")), 6)


def has_crc32_suffix(token: str) -> bool:
    """True when the token's last 6 characters are the CRC32 of the 30 before them."""
    body = token.split("_", 1)[-1]
    if len(body) != 36:
        return False
    return crc32_base62(body[:30]) == body[30:]
