"""Quiet by default: library warnings go to `DATA_DIR/logs/codelupe.log`, progress bars and banners off.

What a command prints is its own output; a transformers `FutureWarning`, tqdm bars from loading weights
or wandb's run summary say nothing an operator acts on. `--verbose` keeps all of them on the terminal.
The switches are environment variables the libraries read when they start, set only where the operator
has not set them, so they reach runs executed in this process and the processes it starts.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

LOG_NAME = "codelupe.log"
QUIET_ENVIRONMENT: dict[str, str] = {
    "TQDM_DISABLE": "1",  # tqdm bars (datasets, weight loading)
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "DATASETS_VERBOSITY": "error",
    "WANDB_SILENT": "true",  # wandb's banner and its ~25-line run summary
    "WANDB_CONSOLE": "off",
}


class WarningLog:
    """`warnings.showwarning` writing one line per warning to the log file, opened on the first one (a
    command that warns about nothing leaves no log behind; one without a state directory logs nowhere)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.handle: TextIO | None = None

    def __call__(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        handle = self._open()
        if handle is None:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        text = " ".join(str(message).split())
        handle.write(f"{stamp} {category.__name__}: {text} ({filename}:{lineno})\n")
        handle.flush()

    def _open(self) -> TextIO | None:
        if self.handle is None:
            if not self.directory.parent.is_dir():  # never create the state directory just to log
                return None
            self.directory.mkdir(exist_ok=True)
            self.handle = (self.directory / LOG_NAME).open("a", encoding="utf-8")
        return self.handle


def configure(verbose: bool, data_dir: Path, environ: Any = os.environ) -> None:
    """Route warnings to the log and silence progress output, unless `verbose`."""
    if verbose:
        return
    for name, value in QUIET_ENVIRONMENT.items():
        environ.setdefault(name, value)
    warnings.showwarning = WarningLog(data_dir / "logs")
