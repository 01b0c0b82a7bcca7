"""``client.bulk``: the bulk operations, each a row action run by the one fan-out engine.

Row status, for every operation: ``succeeded`` when this run changed something on the
platform (created a user, an entitlement, removed one, had a subtitle request accepted and
finished); ``already`` when nothing needed doing (every offer was held already, the user
existed, the entitlement was gone, a matching subtitle request was already running);
``failed`` when any part failed — a row whose offers mix created or already with failed is
``failed`` (its ``result`` still lists each offer's outcome), and re-running it is safe: the
offers done the first time come back as ``already``.

"already" also covers work an earlier attempt did whose answer was lost (a reset connection,
a killed process): the platform is the judge of what is held, so a retry is never a second
side effect.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack

from .._errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    MagineError,
    NotFoundError,
)
from .._retry import RetryPolicy, safe_wait
from ..journal import Journal
from ..models import (
    UNSET,
    EntitlementInput,
    SubtitleJobStatus,
    SubtitleRequestType,
    UserCreate,
)
from ._control import RetryBudget, Shard
from ._engine import BulkRun, RowContext, fan_out
from ._outcome import ErrorInfo, RowFailed, RowResult
from ._rows import EntitleRow, ResellerEntitleRow, RevokeRow, SubtitleRow, user_key

if TYPE_CHECKING:
    from .._client import MagineClient

__all__ = ["Bulk", "BulkOptions", "SubtitlePolling", "row_key"]

R = TypeVar("R")

_ABSENT_CODES = frozenset({"entitlementNotFound"})
_FINAL_FAILURES = {
    SubtitleJobStatus.FAILED: "subtitleFailed",
    SubtitleJobStatus.TIMED_OUT: "subtitleTimedOut",
    SubtitleJobStatus.ABORTED: "subtitleAborted",
}


class BulkOptions(TypedDict, total=False):
    """Keyword options every ``client.bulk`` operation takes (see :func:`fan_out`)."""

    concurrency: int
    adaptive: bool
    rate_limit: float | None
    retry_budget: RetryBudget | None
    journal: Journal | str | Path | None
    retry_failed: bool
    shard: str | Shard | None
    dry_run: bool
    max_pause: float
    throttle_deadline: float
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]


class SubtitlePolling(TypedDict, total=False):
    """How ``upload_subtitles`` polls: first wait ``poll_initial`` seconds, then multiply by
    ``poll_factor`` up to ``poll_max``; give up (the row fails with ``subtitlePollTimeout``)
    after ``poll_timeout`` seconds."""

    poll_initial: float
    poll_factor: float
    poll_max: float
    poll_timeout: float


def _offer_failure(offer: str, error: ErrorInfo) -> ErrorInfo:
    messages = tuple(f"{offer}: {message}" for message in error.messages) or (f"{offer}: failed",)
    return ErrorInfo(error.kind, error.error_code, messages, error.status, error.trace_ids)


def _merge(failures: list[ErrorInfo]) -> ErrorInfo:
    """One error for a row whose offers failed: the first one's code and status, every
    message and trace id."""
    first = failures[0]
    return ErrorInfo(
        first.kind,
        first.error_code,
        tuple(m for f in failures for m in f.messages),
        first.status,
        tuple(t for f in failures for t in f.trace_ids),
    )


def _finish(result: dict[str, Any], changed: bool, failures: list[ErrorInfo]) -> RowResult:
    if failures:
        return RowResult("failed", result, _merge(failures))
    return RowResult("succeeded" if changed else "already", result)


async def _per_offer(
    offers: Iterable[str],
    call: Callable[[str], Awaitable[str]],
    absent: Callable[[MagineError], str | None],
) -> tuple[dict[str, str], list[ErrorInfo]]:
    """Run ``call`` for each offer in turn; an error fails that offer only (unless fatal, or
    ``absent`` maps it to an outcome)."""
    outcomes: dict[str, str] = {}
    failures: list[ErrorInfo] = []
    for offer in offers:
        try:
            outcomes[offer] = await call(offer)
        except (AuthenticationError, ClientClosedError):
            raise
        except MagineError as exc:
            mapped = absent(exc)
            if mapped is not None:
                outcomes[offer] = mapped
                continue
            outcomes[offer] = "failed"
            failures.append(_offer_failure(offer, ErrorInfo.from_exception(exc)))
    return outcomes, failures


def _never(_: MagineError) -> None:
    return None


def row_key(row: Any) -> str:
    """The key of any row type of this package (its ``key()``, which validates the row)."""
    return str(row.key())


_CLOCK_ALLOWANCE = 60.0  # seconds the platform's clock may differ from ours


class Bulk:
    """``client.bulk``: bulk operations over any number of rows (see :mod:`magine_async.bulk`).

    Each method returns a :class:`BulkRun` at once; nothing happens until it is iterated or
    awaited. Options (keywords, :class:`BulkOptions`): ``concurrency`` (default 32),
    ``adaptive``, ``rate_limit``, ``retry_budget``, ``journal``, ``retry_failed``, ``shard``,
    ``dry_run``, ``max_pause``, ``throttle_deadline``; ``sleep`` and ``clock`` default to the
    client's retry
    policy's, so a test that injects them there waits for nothing here either. Keep
    ``concurrency`` within the client's ``max_connections`` (100 by default): requests beyond
    it wait for a connection.
    """

    __slots__ = ("_client", "_retry")

    def __init__(self, client: MagineClient, retry: RetryPolicy) -> None:
        self._client = client
        self._retry = retry

    def __repr__(self) -> str:
        return "<Bulk>"

    def _run(
        self,
        operation: str,
        rows: Iterable[R] | AsyncIterable[R],
        action: Callable[[R, RowContext], Awaitable[Any]],
        options: BulkOptions,
        key: Callable[[R], str] = row_key,
    ) -> BulkRun[R]:
        settings: dict[str, Any] = {
            "sleep": self._retry.sleep,
            "clock": self._retry.clock,
            "retry": self._retry,
            "flow": self._client.flow,
        }
        settings.update(options)
        return fan_out(rows, action, key=key, operation=operation, **settings)

    # -- partner entitlements --------------------------------------------------------------

    def entitle(
        self,
        rows: Iterable[EntitleRow] | AsyncIterable[EntitleRow],
        *,
        create_users: bool = True,
        **options: Unpack[BulkOptions],
    ) -> BulkRun[EntitleRow]:
        """Entitle users to offers: per row, resolve the user (by id; or look the e-mail up
        and, with ``create_users`` and a ``country_code``, create it when missing), then
        ``POST /partner/users/{userId}/entitlements`` with the row's offers.

        Result: ``{"userId", "offers": {offer id: "created" | "already" | "failed"}}`` plus
        ``"userCreated": true`` when the row created the user.
        """
        users = self._client.users

        async def resolve(row: EntitleRow) -> tuple[str, bool]:
            if row.user_id is not None:
                return row.user_id, False
            assert row.email is not None
            try:
                return await users.lookup(row.email), False
            except NotFoundError:
                if not create_users or row.country_code is None:
                    raise
            created = await users.create(
                email=row.email,
                country_code=row.country_code,
                name=row.name if row.name is not None else UNSET,
                exist_ok=True,
            )
            return created.value, created.created

        async def create(
            user_id: str, offers: tuple[EntitlementInput, ...]
        ) -> tuple[dict[str, str], list[ErrorInfo]]:
            """Each offer's outcome, and the failures."""
            try:
                creation = await users.entitlements.create(user_id, offers)
            except (BadRequestError, NotFoundError):
                # Every offer failed; if some are held already (a re-run of a row that partly
                # failed), ask again for the others alone, so the error is about them.
                if len(offers) < 2:
                    raise
                held = {e.offer_id for e in await users.entitlements.list(user_id)}
                rest = tuple(o for o in offers if o.offer_id not in held)
                if len(rest) in (0, len(offers)):
                    raise
                statuses = {o.offer_id: "already" for o in offers if o.offer_id in held}
                try:
                    more, failures = await create(user_id, rest)
                except (BadRequestError, NotFoundError) as exc:
                    error = ErrorInfo.from_exception(exc)
                    more = {o.offer_id: "failed" for o in rest}
                    failures = [_offer_failure(",".join(more), error)]
                return {o.offer_id: {**statuses, **more}[o.offer_id] for o in offers}, failures
            statuses = {o.offer_id: o.status for o in creation.outcomes}
            failures = [
                ErrorInfo(
                    "OfferFailure",
                    "offerFailed",
                    (f"{o.offer_id}: {o.failure_message or 'failed'}",),
                    creation.status,
                )
                for o in creation.failed
            ]
            return statuses, failures

        async def action(row: EntitleRow, context: RowContext) -> RowResult:
            user_id, user_created = await resolve(row)
            statuses, failures = await create(user_id, row.offers)
            result: dict[str, Any] = {"userId": user_id, "offers": statuses}
            if user_created:
                result["userCreated"] = True
            changed = user_created or "created" in statuses.values()
            return _finish(result, changed, failures)

        return self._run("entitle", rows, action, options)

    def revoke_entitlements(
        self,
        rows: Iterable[RevokeRow] | AsyncIterable[RevokeRow],
        **options: Unpack[BulkOptions],
    ) -> BulkRun[RevokeRow]:
        """Remove entitlements: per row, resolve the user (by id, or by e-mail lookup), then
        ``DELETE /partner/users/{userId}/entitlements/{offerId}`` for each offer.

        An entitlement that is not there (``entitlementNotFound``) counts as done: ``already``.
        Result: ``{"userId", "offers": {offer id: "revoked" | "absent" | "failed"}}``.
        """
        users = self._client.users

        def absent(exc: MagineError) -> str | None:
            found = isinstance(exc, NotFoundError) and exc.error_code in _ABSENT_CODES
            return "absent" if found else None

        async def action(row: RevokeRow, context: RowContext) -> RowResult:
            if row.user_id is not None:
                user_id = row.user_id
            else:
                assert row.email is not None
                user_id = await users.lookup(row.email)

            async def revoke(offer: str) -> str:
                await users.entitlements.delete(user_id, offer)
                return "revoked"

            offers, failures = await _per_offer(row.offers, revoke, absent)
            changed = any(status == "revoked" for status in offers.values())
            return _finish({"userId": user_id, "offers": offers}, changed, failures)

        return self._run("revoke", rows, action, options)

    def provision_users(
        self,
        rows: Iterable[UserCreate] | AsyncIterable[UserCreate],
        **options: Unpack[BulkOptions],
    ) -> BulkRun[UserCreate]:
        """Create users unless they exist (``POST /partner/users``). Each row is a
        :class:`~magine_async.models.UserCreate`; its key is ``e:<email, lower-cased>``. An
        existing e-mail is resolved by lookup and counts as ``already``. Result: ``{"userId"}``.
        """
        users = self._client.users

        async def action(row: UserCreate, context: RowContext) -> RowResult:
            created = await users.create(
                email=row.email,
                country_code=row.country_code,
                name=row.name,
                locale=row.locale,
                birth_date=row.birth_date,
                zip_code=row.zip_code,
                gender=row.gender,
                exist_ok=True,
            )
            return _finish({"userId": created.value}, created.created, [])

        return self._run("provision-users", rows, action, options, key=user_key)

    # -- reseller ----------------------------------------------------------------------------

    def reseller_entitle(
        self,
        rows: Iterable[ResellerEntitleRow] | AsyncIterable[ResellerEntitleRow],
        **options: Unpack[BulkOptions],
    ) -> BulkRun[ResellerEntitleRow]:
        """Entitle users to reseller offers (a client with the reseller's key): per row,
        provision the user when the row gives an e-mail (created, or claimed if it exists),
        then ``PUT /reseller/users/{userId}/entitlements/{resellerOfferId}`` per offer.

        Result: ``{"userId", "offers": {reseller offer id: "created" | "already" |
        "failed"}}`` plus ``"userCreated": true`` when provisioning created the user.
        """
        reseller = self._client.reseller

        async def action(row: ResellerEntitleRow, context: RowContext) -> RowResult:
            created = False
            if row.user_id is not None:
                user_id = row.user_id
            else:
                assert row.email is not None
                assert row.country_code is not None
                provisioned = await reseller.users.provision(
                    email=row.email,
                    country_code=row.country_code,
                    name=row.name if row.name is not None else UNSET,
                )
                user_id, created = provisioned.value.user_id, provisioned.created

            async def add(offer: str) -> str:
                return "created" if await reseller.entitlements.add(user_id, offer) else "already"

            offers, failures = await _per_offer(row.offers, add, _never)
            result: dict[str, Any] = {"userId": user_id, "offers": offers}
            if created:
                result["userCreated"] = True
            changed = created or any(status == "created" for status in offers.values())
            return _finish(result, changed, failures)

        return self._run("reseller-entitle", rows, action, options)

    # -- subtitles ---------------------------------------------------------------------------

    def upload_subtitles(
        self,
        rows: Iterable[SubtitleRow] | AsyncIterable[SubtitleRow],
        *,
        polling: SubtitlePolling | None = None,
        **options: Unpack[BulkOptions],
    ) -> BulkRun[SubtitleRow]:
        """Upload subtitle tracks and follow each request until it ends.

        Per row: if an earlier run of this journal had the upload accepted, poll that request;
        else if the vod has a ``RUNNING`` upload of the same language and type, poll that one
        (``already``); else upload (never resent once it may have reached the platform: a
        resend would queue a second request) and record the request id in the journal before
        polling. Polling backs off (:class:`SubtitlePolling`; waits use the run's ``sleep``).
        ``SUCCEEDED`` -> ``succeeded``; ``FAILED`` (with the platform's ``errorMessage``),
        ``TIMED_OUT`` and ``ABORTED`` -> ``failed``. Result: ``{"requestId", "status"}``.

        One gap remains: a process killed after the upload was accepted and before the request
        id was committed to the journal, re-run after that request finished, uploads again.
        """
        subtitles = self._client.subtitles
        poll: SubtitlePolling = {
            "poll_initial": 1.0,
            "poll_factor": 1.5,
            "poll_max": 30.0,
            "poll_timeout": 3600.0,
        }
        poll.update(polling or {})
        for name, value in poll.items():
            number = float(value) if isinstance(value, int | float) else math.nan
            least = 1.0 if name == "poll_factor" else 0.0
            if not math.isfinite(number) or number <= least:
                raise ConfigurationError(
                    f"polling {name}: must be a finite number above {least:g}, not {value!r}"
                )
        sleep = options.get("sleep", self._retry.sleep)

        async def start(row: SubtitleRow, context: RowContext) -> tuple[str, bool]:
            # A request accepted by an earlier run, not known to have ended: follow it.
            earlier = context.pending if isinstance(context.pending, dict) else {}
            if isinstance(earlier.get("requestId"), str) and earlier.get("status") in (
                None,
                SubtitleJobStatus.RUNNING.value,
            ):
                return earlier["requestId"], False
            # An upload of an earlier attempt may have been accepted though its answer was
            # lost (a 502 after the platform took it): one for the same asset, language and
            # type created since the row first started is that upload; follow it.
            first_started = earlier.get("startedAt")
            since = (
                float(first_started) - _CLOCK_ALLOWANCE
                if isinstance(first_started, int | float)
                else None
            )
            for job in await subtitles.list(row.asset_id):
                if (
                    job.request_type == SubtitleRequestType.CREATE
                    and job.subtitle_language == row.language
                    and job.subtitle_type == row.kind
                    and (
                        job.status == SubtitleJobStatus.RUNNING
                        or (
                            since is not None
                            and job.status == SubtitleJobStatus.SUCCEEDED
                            and job.created_at >= since
                        )
                    )
                ):
                    return job.request_id, False
            started_at = first_started if since is not None else time.time()
            context.checkpoint({"startedAt": started_at})
            try:
                request_id = await subtitles.upload(
                    row.asset_id, row.data, language=row.language, subtitle_type=row.kind
                )
            except (AuthenticationError, ClientClosedError):
                raise
            except MagineError as exc:  # keep when the row started: a retry looks for it
                raise RowFailed(ErrorInfo.from_exception(exc), {"startedAt": started_at}) from None
            context.checkpoint({"requestId": request_id, "startedAt": started_at})
            return request_id, True

        async def action(row: SubtitleRow, context: RowContext) -> RowResult:
            try:
                request_id, uploaded = await start(row, context)
            except (AuthenticationError, ClientClosedError, RowFailed):
                raise
            except MagineError as exc:  # keep what an earlier attempt knew for the next one
                earlier = context.pending if isinstance(context.pending, dict) else None
                raise RowFailed(ErrorInfo.from_exception(exc), earlier) from None
            waited, delay = 0.0, poll["poll_initial"]
            while True:
                try:
                    job = await subtitles.get(row.asset_id, request_id)
                except (AuthenticationError, ClientClosedError):
                    raise
                except MagineError as exc:  # keep the request id: a retry follows it
                    raise RowFailed(
                        ErrorInfo.from_exception(exc), {"requestId": request_id}
                    ) from None
                if job.status.is_final:
                    break
                if waited >= poll["poll_timeout"]:
                    raise RowFailed(
                        ErrorInfo(
                            "SubtitlePolling",
                            "subtitlePollTimeout",
                            (f"request {request_id} still {job.status.value} after {waited:.0f}s",),
                        ),
                        {"requestId": request_id, "status": job.status.value},
                    )
                await sleep(safe_wait(delay))
                waited += delay
                delay = min(delay * poll["poll_factor"], poll["poll_max"])
            result = {"requestId": request_id, "status": job.status.value}
            if job.status == SubtitleJobStatus.SUCCEEDED:
                return RowResult("succeeded" if uploaded else "already", result)
            code = _FINAL_FAILURES.get(job.status, "subtitleFailed")
            message = job.error_message or f"the subtitle request ended {job.status.value}"
            return RowResult("failed", result, ErrorInfo("SubtitleJob", code, (message,)))

        return self._run("subtitles-upload", rows, action, options)
