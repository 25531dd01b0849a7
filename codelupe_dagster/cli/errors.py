"""One line per error, and an exit code that says whose move it is.

- 2 (`USAGE`): the command line or the configuration is wrong — a bad option, a variable that does not
  parse (`BATCH_SIZE=0`, `REDIS_URL=notaurl`), a DAGSTER_HOME that does not exist, no state to read.
- 69 (`UNAVAILABLE`, sysexits' EX_UNAVAILABLE): a service is down or unreachable — Redis/Valkey,
  Elasticsearch, a forge's API. Retrying later may work.
- 1 (`FAILED`): the work itself failed or was interrupted — a failed batch run, a failed training.

Commands raise; `main()` prints `error: <what>` (credentials masked) through `report()`, with the
traceback first under `--verbose`. Classifying walks the exception's causes, since Dagster wraps a
resource's error in its own types. Nothing here imports Dagster: the exception types are recognised
by name and module, so `codelupe --help` stays fast.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import click

from codelupe_dagster.core.masking import mask_secrets_in_text

FAILED = 1
USAGE = 2
UNAVAILABLE = 69

# Recognised by class name (any module of the project or of the client libraries), so this module does not
# import redis, elasticsearch, requests or Dagster to tell their errors apart.
_UNAVAILABLE_NAMES = frozenset(
    {
        "RedisUnavailable",
        "BackendUnavailable",
        "EmbeddedValkeyError",
        "ForgeAPIError",
        "GitHubAPIError",
        "GitHubServerError",
        "GitLabAPIError",
        "GitLabServerError",
        "SourceUnavailable",
    }
)
# Client-library errors that mean "could not reach it", whatever the library.
_UNAVAILABLE_MODULES = ("redis.", "elastic_transport", "elasticsearch", "requests.", "urllib3.", "httpx")
_UNAVAILABLE_SUFFIXES = ("ConnectionError", "TimeoutError", "ConnectTimeout", "ReadTimeout", "TransportError")
_USAGE_DAGSTER = frozenset({"DagsterInvalidConfigError", "DagsterInvalidDefinitionError"})


class CommandError(click.ClickException):
    """An error a command reports itself: the message and the exit code, no traceback needed."""

    def __init__(self, message: str, exit_code: int = FAILED):
        super().__init__(message)
        self.exit_code = exit_code


class WorkFailed(CommandError):
    """The work ran and failed (a batch run, training): exit 1."""

    def __init__(self, message: str):
        super().__init__(message, FAILED)


class NoState(CommandError):
    """A command that only reads found no state directory (or no queue) to read: exit 2."""

    def __init__(self, where: str, hint: str = "or set DATA_DIR"):
        super().__init__(f"no CodeLupe data at {where}; run `codelupe run` first ({hint})", USAGE)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def _code_of(exc: BaseException) -> int | None:
    """The exit code one exception stands for, or None when it says nothing by itself (a wrapper)."""
    name = type(exc).__name__
    module = type(exc).__module__ or ""
    if isinstance(exc, CommandError):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        return USAGE
    if isinstance(exc, KeyboardInterrupt):
        return FAILED
    if name in _UNAVAILABLE_NAMES or any(c.__name__ in _UNAVAILABLE_NAMES for c in type(exc).__mro__):
        return UNAVAILABLE
    if module.startswith(_UNAVAILABLE_MODULES) and name.endswith(_UNAVAILABLE_SUFFIXES):
        return UNAVAILABLE
    if isinstance(exc, ConnectionError | TimeoutError):
        return UNAVAILABLE
    if module.startswith("dagster"):
        return USAGE if name in _USAGE_DAGSTER else None
    if isinstance(exc, ValueError):  # the settings' ConfigurationError, pydantic's ValidationError
        return USAGE
    return None


def classify(exc: BaseException) -> tuple[int, BaseException]:
    """The exit code and the exception whose message to show: the first in the cause chain that means
    something (Dagster's wrappers do not), else the outermost one as failed work."""
    for link in _chain(exc):
        code = _code_of(link)
        if code is not None:
            return code, link
    return FAILED, exc


def one_line(exc: BaseException) -> str:
    """The exception's message as one masked line."""
    if isinstance(exc, click.ClickException):
        text = exc.format_message()
    elif isinstance(exc, KeyboardInterrupt):
        text = "interrupted"
    elif type(exc).__name__ == "ValidationError" and hasattr(exc, "errors"):
        errors = exc.errors()
        text = str(errors[0].get("msg", exc)) if errors else str(exc)
    else:
        text = str(exc)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return mask_secrets_in_text(first)


def report(exc: BaseException, verbose: bool) -> int:
    """Print the error (its traceback first under --verbose) and return the exit code."""
    code, shown = classify(exc)
    if verbose:
        click.echo(mask_secrets_in_text("".join(traceback.format_exception(exc))), err=True, nl=False)
    unexplained = code == FAILED and not isinstance(shown, CommandError | KeyboardInterrupt)
    hint = " (--verbose shows the traceback)" if unexplained and not verbose else ""
    click.echo(f"error: {one_line(shown)}{hint}", err=True)
    return code
