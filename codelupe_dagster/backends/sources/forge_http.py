"""GET requests to a forge's REST API that wait out rate limits and retry transient failures.

Shared by the GitHub and GitLab clients, which differ only in headers, in how a refusal reads, and in
the names of their rate-limit headers. What they share:
- a known-exhausted quota (`Remaining: 0`) is waited for until its reset *before* the next request;
- 403/429 with `Retry-After` waits that long; a 429 (or a forge-specific secondary-limit refusal)
  without it waits `secondary_wait_s`, doubling while it persists;
- 5xx, connection failures and a 200 whose body is not JSON are retried with exponential backoff, a
  bounded number of times;
- every wait is bounded: one above `max_wait_s`, or waits adding up past `max_total_wait_s`, stop the
  crawl cleanly (`RateLimitBudgetExceeded`) *before* sleeping, so a crawl never hangs;
- the clock (`sleep`, `now`) is injected so tests record waits instead of sleeping through them.
Tokens travel only in request headers; URLs are masked before they reach a message or a log.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypedDict

import requests

from codelupe_dagster.backends.sources.base import Now, Sleep
from codelupe_dagster.core.masking import mask_url

# Rate-limit resets are whole seconds and clocks drift: one spare second avoids a guaranteed refusal.
RESET_MARGIN_S = 1.0
# A request still refused after this many rate-limit waits (e.g. `Retry-After: 0` forever) stops the crawl.
MAX_RATE_LIMIT_WAITS_PER_REQUEST = 8

logger = logging.getLogger(__name__)


class ClientOptions(TypedDict, total=False):
    """How a forge client talks, waits and retries: the keyword options every forge client accepts and
    passes on unchanged to `RateLimitedClient` (defaults there)."""

    session: requests.Session | None
    sleep: Sleep
    now: Now
    max_wait_s: float
    max_total_wait_s: float
    secondary_wait_s: float
    max_retries: int
    backoff_s: float
    max_requests: int | None
    timeout_s: float
    log: logging.Logger | None


# ---------------------------------------------------------------- errors and clean stops


class ForgeAPIError(RuntimeError):
    """A request the forge refused for a reason waiting will not fix (bad token, bad query, 404...)."""

    service: ClassVar[str] = "Forge"

    def __init__(self, status: int, message: str, url: str):
        super().__init__(f"{self.service} API {status} for {mask_url(url)}: {message}")
        self.status = status
        self.message = message
        self.url = mask_url(url)


class CrawlStopped(Exception):
    """A clean stop: what was gathered is kept, and the next run resumes from the saved state."""

    reason = "stopped"


class RateLimitBudgetExceeded(CrawlStopped):
    reason = "rate_limited"

    def __init__(self, wait_s: float, resume_at: float, why: str):
        super().__init__(f"rate limited ({why}); stopping rather than waiting another {wait_s:.0f}s")
        self.wait_s = wait_s
        self.resume_at = resume_at


class RequestBudgetExceeded(CrawlStopped):
    reason = "request_budget"


# ---------------------------------------------------------------- responses and counters


@dataclass
class ClientStats:
    api_calls: int = 0
    not_modified: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    retries: int = 0


@dataclass(frozen=True)
class ApiResponse:
    status: int
    url: str
    headers: Mapping[str, str]
    body: Any
    next_url: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class ClientLimits:
    """How patient a client is: its waits, retries and request budget (the client's keyword options)."""

    max_wait_s: float = 900.0
    max_total_wait_s: float = 3600.0
    secondary_wait_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 1.0
    max_requests: int | None = None
    timeout_s: float = 30.0

    @classmethod
    def split(cls, options: Mapping[str, Any]) -> tuple[ClientLimits, dict[str, Any]]:
        """The limits named in `options`, and the options left over (a source's own settings)."""
        names = {item.name for item in fields(cls)}
        limits = cls(**{key: value for key, value in options.items() if key in names})
        return limits, {key: value for key, value in options.items() if key not in names}

    def as_kwargs(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass
class _Attempt:
    """Counters of one logical request across its retries."""

    failures: int = 0
    limited: int = 0


# ---------------------------------------------------------------- the client


class RateLimitedClient:
    """The shared GET loop; subclasses name their service, errors, headers and rate-limit headers."""

    service: ClassVar[str] = "Forge"
    api_error: ClassVar[type[ForgeAPIError]] = ForgeAPIError
    server_error: ClassVar[type[ForgeAPIError]] = ForgeAPIError
    remaining_header: ClassVar[str] = "RateLimit-Remaining"
    reset_header: ClassVar[str] = "RateLimit-Reset"

    def __init__(
        self,
        api_url: str,
        *,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        now: Now = time.time,
        max_wait_s: float = ClientLimits.max_wait_s,
        max_total_wait_s: float = ClientLimits.max_total_wait_s,
        secondary_wait_s: float = ClientLimits.secondary_wait_s,
        max_retries: int = ClientLimits.max_retries,
        backoff_s: float = ClientLimits.backoff_s,
        max_requests: int | None = ClientLimits.max_requests,
        timeout_s: float = ClientLimits.timeout_s,
        log: logging.Logger | None = None,
    ):
        self.api_url = api_url.rstrip("/")
        self._session = session or requests.Session()
        self._sleep = sleep
        self.now = now
        self.max_wait_s = max_wait_s
        self.max_total_wait_s = max_total_wait_s
        self.secondary_wait_s = secondary_wait_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_requests = max_requests
        self.timeout_s = timeout_s
        self.log = log or logger
        self.stats = ClientStats()
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._secondary_streak = 0

    def url_for(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The exact URL that will be requested; also the key of a conditional-request cache."""
        prepared = requests.Request("GET", f"{self.api_url}{path}", params=params).prepare()
        return str(prepared.url)

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> ApiResponse:
        """The response to one GET: 2xx with its JSON, or 304 when conditional validators still match.

        Raises `CrawlStopped` subclasses for budgets (clean stops), `server_error` once retries are
        spent, and `api_error` (or what `refusal` returns) for refusals that waiting cannot fix.
        """
        request_headers = {**self.request_headers(), **(headers or {})}
        attempt = _Attempt()
        while True:
            response = self._send(url, request_headers, attempt)
            if response is None:
                continue
            answer = self._interpret(response, url, attempt)
            if answer is not None:
                return answer

    # -- hooks for subclasses

    def request_headers(self) -> dict[str, str]:
        """Headers of every request (accept, user agent, authentication)."""
        return {"User-Agent": "codelupe-dagster"}

    def is_secondary_limit(self, response: requests.Response, message: str) -> bool:
        """A refusal that is a rate limit although it carries no Retry-After and no exhausted quota."""
        return response.status_code == 429

    def refusal(self, status: int, message: str, url: str) -> ForgeAPIError:
        """The error for a refusal waiting will not fix."""
        return self.api_error(status, message, url)

    # -- one round trip

    def _send(self, url: str, headers: Mapping[str, str], attempt: _Attempt) -> requests.Response | None:
        """One request; None after a connection failure (already backed off)."""
        self._wait_for_known_reset()
        if self.max_requests is not None and self.stats.api_calls >= self.max_requests:
            raise RequestBudgetExceeded(f"request budget of {self.max_requests} spent")
        self.stats.api_calls += 1
        try:
            return self._session.get(url, headers=dict(headers), timeout=self.timeout_s)
        except (requests.ConnectionError, requests.Timeout) as exc:
            self._backoff_or_raise(attempt, 0, str(exc), url)
            return None

    def _interpret(self, response: requests.Response, url: str, attempt: _Attempt) -> ApiResponse | None:
        """The answer, or None when the request is to be repeated (after a wait or a backoff)."""
        self._remember_rate_limit(response.headers)
        status = response.status_code
        if status == 304:
            self.stats.not_modified += 1
            return ApiResponse(304, url, response.headers, None, None)
        if status < 300:
            try:
                body = response.json()
            except ValueError:
                # a truncated or HTML body behind a 200 is a transient proxy failure, not an answer
                self._backoff_or_raise(attempt, status, "response body is not JSON", url)
                return None
            self._secondary_streak = 0
            return ApiResponse(status, url, response.headers, body, response.links.get("next", {}).get("url"))
        message = error_message(response)
        if status in (403, 429):
            wait = self._rate_limit_wait(response, message)
            if wait is not None:
                attempt.limited += 1
                if attempt.limited > MAX_RATE_LIMIT_WAITS_PER_REQUEST:
                    raise RateLimitBudgetExceeded(
                        wait[0], self.now() + wait[0], f"{wait[1]}, {attempt.limited} times"
                    )
                self._wait(wait[0], wait[1])
                return None
        if status >= 500:
            self._backoff_or_raise(attempt, status, message, url)
            return None
        raise self.refusal(status, message, url)

    # -- rate limits

    def _remember_rate_limit(self, headers: Mapping[str, str]) -> None:
        remaining = headers.get(self.remaining_header)
        reset = headers.get(self.reset_header)
        if remaining is not None and remaining.isdigit():
            self._remaining = int(remaining)
        if reset is not None and reset.isdigit():
            self._reset_at = float(reset)

    def _wait_for_known_reset(self) -> None:
        """Don't spend a request on a guaranteed refusal: wait for the quota's reset first."""
        if self._remaining == 0 and self._reset_at is not None:
            wait = self._reset_at - self.now() + RESET_MARGIN_S
            self._remaining = None
            if wait > 0:
                self._wait(wait, "primary rate limit exhausted")

    def _rate_limit_wait(self, response: requests.Response, message: str) -> tuple[float, str] | None:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), self.now())
        if retry_after is not None:
            self._secondary_streak += 1
            self._remaining = None  # Retry-After wins over any reset we computed
            return retry_after, f"{response.status_code} with Retry-After"
        if response.headers.get(self.remaining_header) == "0" and self._reset_at is not None:
            self._remaining = None
            return max(self._reset_at - self.now(), 0.0) + RESET_MARGIN_S, "primary rate limit exceeded"
        if self.is_secondary_limit(response, message):
            # "wait at least one minute", then exponentially longer while it keeps failing
            wait = self.secondary_wait_s * (2**self._secondary_streak)
            self._secondary_streak += 1
            return wait, "secondary rate limit"
        return None  # a plain 403 (permissions, bad token scope): waiting won't help

    def _wait(self, seconds: float, why: str) -> None:
        if seconds > self.max_wait_s or self.stats.rate_limit_wait_s + seconds > self.max_total_wait_s:
            raise RateLimitBudgetExceeded(seconds, self.now() + seconds, why)
        self.log.info("%s %s: waiting %.1fs", self.service, why, seconds)
        self.stats.rate_limit_waits += 1
        self.stats.rate_limit_wait_s += seconds
        self._sleep(seconds)

    # -- transient failures

    def _backoff_or_raise(self, attempt: _Attempt, status: int, message: str, url: str) -> None:
        if attempt.failures >= self.max_retries:
            raise self.server_error(status, f"{message} (after {attempt.failures} retries)", url)
        delay = self.backoff_s * (2**attempt.failures)
        self.log.warning(
            "%s %s for %s; retry %d in %.1fs",
            self.service, status or "connection error", mask_url(url), attempt.failures + 1, delay,
        )  # fmt: skip
        self.stats.retries += 1
        self._sleep(delay)
        attempt.failures += 1


def error_message(response: requests.Response) -> str:
    """The refusal's message: GitHub and GitLab both answer `{"message": ...}` (GitLab also `error`)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason or ""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")[:500]
    return str(body)[:200]


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After is delta-seconds or an HTTP date (RFC 9110); GitHub and GitLab send seconds."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)
