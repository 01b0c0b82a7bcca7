"""The flow controller's learning rules one by one, with a manual clock, and a property test
over arbitrary answer sequences (no test waits for real)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from magine_async import FlowControl
from magine_async._flow import HOLD_SECONDS


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _bucket_answers(
    flow: FlowControl,
    clock: ManualClock,
    *,
    rate: float,
    burst: float,
    send_rate: float | None,
    start: float,
    seconds: float,
    tokens: float | None = None,
    rtt: float = 0.02,
    retry_after: float | None = None,
) -> float:
    """Requests sent from ``start`` for ``seconds`` to a token bucket of ``rate``/``burst``,
    each answered one round trip later: at ``send_rate``, or (None) at the controller's rate
    and after its pauses. Returns the tokens left."""
    level = burst if tokens is None else tokens
    at = sent = start
    while sent < start + seconds:
        level = min(burst, level + (sent - at) * rate)
        at = sent
        clock.now = sent + rtt
        if level >= 1:
            level -= 1
            flow.release(sent, 200, None)
        else:
            flow.release(sent, 429, retry_after)
        step = 1.0 / (send_rate or flow.rate or 1000.0)
        sent = max(sent + step, flow.paused_until)
    return level


def test_stale_429s_may_lower_the_measurement_but_never_raise_it() -> None:
    clock = ManualClock()
    flow = FlowControl(rate=300.0, clock=clock)
    _bucket_answers(flow, clock, rate=200, burst=10, send_rate=300, start=0.0, seconds=1.0)
    measured = flow.measured_rate
    assert measured is not None and measured == pytest.approx(200, rel=0.1)
    rate = flow.rate
    decided = clock.now
    # Answers to requests sent before that decision, saying the platform admitted more:
    # 429s far apart in send time with many admitted requests between them.
    for k in range(20):
        sent = decided - 0.5 + k * 0.02
        flow.release(sent - 0.001, 200, None)
        flow.release(sent, 429, None)
    assert flow.measured_rate is not None and flow.measured_rate <= measured
    assert flow.rate is not None and rate is not None and flow.rate <= rate


def test_a_429_at_the_rate_the_measurement_allows_lowers_it_below_that_rate() -> None:
    clock = ManualClock()
    flow = FlowControl(rate=400.0, clock=clock)
    # Measured from a saturated stretch against a platform that admits 250/s...
    _bucket_answers(flow, clock, rate=250, burst=5, send_rate=400, start=0.0, seconds=0.5)
    high = flow.measured_rate
    assert high is not None and high == pytest.approx(250, rel=0.1)
    # ...which now admits 200/s: at the controller's own rate it is throttled again, and
    # the measurement comes down below the rate that was throttled.
    _bucket_answers(
        flow, clock, rate=200, burst=5, send_rate=None, start=clock.now + 0.5, seconds=10.0
    )
    lowered = flow.measured_rate
    assert lowered is not None and lowered < 0.9 * high
    assert lowered == pytest.approx(200, rel=0.1)


def test_two_stretches_from_full_capacity_measure_the_rate_in_one_step() -> None:
    """After a long Retry-After pause the platform's capacity is full again: the admitted
    count up to the first 429 of each such stretch is burst + rate * length, so two stretches
    of different lengths give the rate, without stepping down 3 % a pause at a time."""
    clock = ManualClock()
    flow = FlowControl(rate=400.0, clock=clock)
    _bucket_answers(
        flow, clock, rate=200, burst=30, send_rate=None, start=0.0, seconds=8.0, retry_after=1.0
    )
    assert flow.stats.pauses <= 3
    assert flow.measured_rate == pytest.approx(200, rel=0.05)


def test_a_cut_never_goes_below_what_the_recent_429s_prove() -> None:
    clock = ManualClock()
    flow = FlowControl(rate=200.0, clock=clock)
    _bucket_answers(flow, clock, rate=200, burst=5, send_rate=300, start=0.0, seconds=0.5)
    # 3 s at 0.97 of the measurement, all admitted, then one 429: the platform admitted
    # everything since the 429s of the first stretch, so it admits at least that rate.
    first = clock.now
    start = first + 0.1
    send = flow.rate
    assert send is not None
    sent = start
    while sent < start + 3.0:
        clock.now = sent + 0.02
        flow.release(sent, 200, None)
        sent += 1 / send
    clock.now = sent + 0.02
    flow.release(sent, 429, None)
    measured = flow.measured_rate
    assert measured is not None
    assert measured >= 0.9 * send  # not a blind cut: 3 s of admitted requests bound it


def test_a_rough_measurement_is_probed_soon_even_when_pauses_are_long() -> None:
    clock = ManualClock()
    flow = FlowControl(rate=100.0, clock=clock)
    clock.now = 0.02
    flow.release(0.0, 200, None)
    for k in range(1, 6):  # a short saturated stretch: a rough measurement
        flow.release(k * 0.01 - 0.001, 200, None)
        flow.release(k * 0.01, 429, 1.0)
    rough = flow.rate
    assert rough is not None
    # After the pause, answers at the measured rate for longer than HOLD_SECONDS: a probe
    # above it starts (it would not, for 20 pauses' worth, once the rate is well measured).
    t = flow.paused_until
    while t < flow.paused_until + HOLD_SECONDS + 2.0:
        clock.now = t
        flow.release(t - 0.02, 200, None)
        t += 0.01
    assert flow.rate is not None and flow.rate > rough


answers = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=0.3),  # how long before the answer it was sent
        st.sampled_from([200, 200, 200, 429, 429, 503, None]),
        st.one_of(st.none(), st.floats(min_value=0.0, max_value=3.0)),
        st.floats(min_value=0.0, max_value=0.05),  # time to the next answer
    ),
    min_size=1,
    max_size=200,
)


@pytest.mark.property
@given(answers=answers, start_rate=st.one_of(st.none(), st.floats(1.0, 2000.0)))
def test_no_answer_to_a_request_sent_before_a_decision_raises_the_rate(
    answers: list[tuple[float, int | None, float | None, float]], start_rate: float | None
) -> None:
    """Over any sequence of answers: an answer to a request sent before the last decrease
    never raises the send rate or the measurement, never extends a pause, and the rate stays
    finite and positive."""
    clock = ManualClock()
    flow = FlowControl(rate=start_rate, clock=clock)
    last_decision = -math.inf
    clock.now = 1.0
    for age, status, retry_after, gap in answers:
        sent = clock.now - age
        before = (flow.rate, flow.measured_rate, flow.paused_until, flow.stats.decreases)
        flow.release(sent, status, retry_after if status in (429, 503) else None)
        rate, measured, paused_until, decreases = (
            flow.rate,
            flow.measured_rate,
            flow.paused_until,
            flow.stats.decreases,
        )
        if sent < last_decision:
            if before[0] is not None:
                assert rate is not None and rate <= before[0]
            if before[1] is not None:
                assert measured is not None and measured <= before[1]
        if decreases > before[3]:
            last_decision = clock.now
        if rate is not None:
            assert math.isfinite(rate) and rate > 0
        assert paused_until <= clock.now + 3.0 + 1e-9
        clock.now += gap


def test_a_limit_that_drops_is_followed_within_a_second() -> None:
    """What recent 429s prove about the old limit does not hold the rate up once the
    saturated stretches measure the new one."""
    clock = ManualClock()
    flow = FlowControl(rate=400.0, clock=clock)
    _bucket_answers(flow, clock, rate=300, burst=30, send_rate=None, start=0.0, seconds=10.0)
    assert flow.measured_rate == pytest.approx(300, rel=0.05)
    before = flow.stats.throttled
    _bucket_answers(
        flow, clock, rate=100, burst=30, tokens=0, send_rate=None, start=10.0, seconds=1.0
    )
    assert flow.rate is not None and flow.rate < 110
    _bucket_answers(
        flow, clock, rate=100, burst=30, tokens=0, send_rate=None, start=11.0, seconds=5.0
    )
    assert flow.rate < 110 and flow.stats.throttled - before < 0.05 * 600


def test_a_server_error_in_slow_start_halves_the_window_instead_of_opening_the_pool() -> None:
    flow = FlowControl()
    flow._in_flight = 4  # four requests out (slow start allows four)
    flow.release(0.0, 500, None)
    assert flow.rate is None and flow._window == 2


async def test_the_rate_does_not_grow_while_the_application_sends_less() -> None:
    clock = ManualClock()
    flow = FlowControl(rate=100.0, clock=clock)
    for k in range(600):  # 60 s at 10 requests/s: the rate never holds a request back
        clock.now = k * 0.1
        sent = await flow.acquire()
        clock.now += 0.02
        flow.release(sent, 200, None)
    assert flow.rate == 100.0


async def test_a_retry_waits_for_its_own_retry_after_even_when_the_pool_pause_is_shorter() -> None:
    waits: list[float] = []
    clock = ManualClock()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.now += seconds

    flow = FlowControl(rate=100.0, clock=clock, sleep=sleep)
    first = await flow.acquire()
    second = await flow.acquire()
    clock.now = 0.1
    flow.release(first, 429, 1.0)  # the pool pause: until 1.1
    clock.now = 0.2
    own = flow.release(second, 429, 5.0)  # sent before that pause: does not extend it...
    assert flow.paused_until == pytest.approx(1.1)
    assert own == pytest.approx(5.2)  # ...but its own retry must wait for 5 s
    resent = await flow.acquire(own)
    assert resent >= 5.2 - 1e-9


def test_answers_sent_in_the_tick_of_a_decision_are_stale() -> None:
    """A coarse clock (15.6 ms on some systems) gives the decision and later sends one time:
    a 429 to a request sent in that tick does not make a second decision."""
    clock = ManualClock()
    flow = FlowControl(rate=200.0, clock=clock)
    clock.now = 1.0
    flow.release(0.98, 429, None)
    decided = flow.stats.decreases
    flow.release(1.0, 429, None)  # sent at the decision's own tick
    assert flow.stats.decreases == decided


def test_memory_of_the_controller_stays_bounded_over_a_long_run() -> None:
    clock = ManualClock()
    flow = FlowControl(rate=2000.0, clock=clock)
    for k in range(200_000):  # 100 s at 2,000 answers/s, a 429 every 50th
        sent = k * 0.0005
        clock.now = sent + 0.02
        flow.release(sent, 429 if k % 50 == 0 else 200, None)
    assert len(flow._admitted._times) <= 2 * 10.0 * 2000 + 1
    assert len(flow._anchors) <= 10.0 / 0.1 + 1
    assert len(flow._saturated) <= 4096
