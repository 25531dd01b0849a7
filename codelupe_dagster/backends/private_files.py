"""Private files: DATA_DIR holds clones, spooled code, the Valkey password and checkpoints, so what
CodeLupe creates there is readable by its owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_UMASK = 0o077


def ensure_private_dir(path: str | Path) -> Path:
    """``path`` created (with parents) and made readable by its owner only (0700), returned absolute.

    DATA_DIR holds clones, spooled code, the Valkey password and checkpoints; 0700 on the directory keeps
    all of it from other local users whatever the modes below it. A directory owned by another user (a
    shared volume) cannot be chmod-ed by us and is left as its owner set it.
    """
    directory = Path(path).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    tighten(directory)
    return directory


def tighten(directory: Path) -> None:
    """Mode 0700 on a directory we own; one owned by another user (a shared volume) is left as set."""
    info = directory.stat()
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE:
        os.chmod(directory, PRIVATE_DIR_MODE)
