"""Staffing math for a contact centre: Erlang C, Erlang A and a chat-concurrency model.

Conventions used throughout:

* the workload is ``arrivals`` contacts per interval of ``interval_seconds``; the arrival rate is
  lambda = arrivals / interval_seconds (per second);
* handle times (AHT), answer times, ASA and patience are in seconds;
* ``agents`` (N) counts *productive* agents, the ones actually taking contacts; shrinkage
  (breaks, training, absence) turns them into scheduled agents: ceil(N / (1 - shrinkage));
* traffic intensity A = arrivals * AHT / interval_seconds, in erlangs (agents' worth of work);
* a service-level target "80/20" means 80 % of contacts answered within 20 s.

Erlang C (M/M/N: Poisson arrivals, exponential handle times, nobody hangs up)::

    P(wait) = C(N, A) = N * B / (N - A * (1 - B)),  B = Erlang B(N, A)
    SL(t)   = 1 - P(wait) * exp(-(N - A) * t / AHT)
    ASA     = P(wait) * AHT / (N - A)
    occupancy = A / N

and for N <= A the queue grows without bound: P(wait) = 1, SL = 0, ASA = inf, occupancy 1.
Erlang B comes from the recursion B(0) = 1, B(n) = A * B(n-1) / (n + A * B(n-1)), which stays
within [0, 1] at every step, so thousands of agents need neither factorials nor big powers.

Erlang A (M/M/N+M) adds customers who hang up after an exponential patience, and the chat model
lets one agent hold several chats whose handle time grows with the agent's concurrency. Both are
solved as birth-death chains in log space; see their functions' docstrings.
"""

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "Staffing",
    "average_speed_of_answer",
    "chat_performance",
    "chat_staffing",
    "concurrency_factor_shortcut",
    "erlang_a_performance",
    "erlang_a_staffing",
    "erlang_b",
    "erlang_c",
    "erlang_c_performance",
    "erlang_c_staffing",
    "occupancy",
    "p_wait",
    "parse_duration",
    "parse_target",
    "scheduled_agents",
    "service_level",
    "traffic_erlangs",
]

_NEGLIGIBLE = 46.0  # nats: a chain state e**-46 (~1e-20) times below the peak is dropped
_MAX_QUEUE_STATES = 1 << 22  # truncation guard for the Erlang A queue


@dataclass(frozen=True)
class Staffing:
    """A number of productive agents and the performance the model predicts for it.

    ``scheduled_agents`` adds shrinkage; ``traffic_erlangs`` is A; ``p_wait`` the share of
    contacts that queue; ``service_level`` the share answered within the answer time;
    ``asa_seconds`` the average speed of answer; ``occupancy`` the share of agent time busy.
    ``abandon_probability`` is set by Erlang A only, ``average_concurrency`` (chats an agent
    holds while busy) by the chat model only; both are None otherwise.
    """

    agents: int
    scheduled_agents: int
    traffic_erlangs: float
    p_wait: float
    service_level: float
    asa_seconds: float
    occupancy: float
    abandon_probability: float | None = None
    average_concurrency: float | None = None


# --- validation ---------------------------------------------------------------------------


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _check_number(name: str, value: float, *, positive: bool = False) -> None:
    ok = isinstance(value, Real) and math.isfinite(value)
    ok = ok and (value > 0 if positive else value >= 0)
    _require(ok, f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


def _check_agents(agents: int) -> None:
    ok = isinstance(agents, Integral) and not isinstance(agents, bool) and agents >= 0
    _require(ok, f"agents must be an integer >= 0, got {agents!r}")


def _check_workload(arrivals: float, interval_seconds: float, aht_seconds: float) -> None:
    _check_number("arrivals", arrivals)
    _check_number("interval_seconds", interval_seconds, positive=True)
    _check_number("aht_seconds", aht_seconds, positive=True)


def _check_shrinkage(shrinkage: float) -> None:
    _check_number("shrinkage", shrinkage)
    _require(shrinkage < 1, f"shrinkage must be in [0, 1), got {shrinkage!r}")


# --- Erlang C -----------------------------------------------------------------------------


MAX_TRAFFIC = 1_000_000.0  # erlangs: a million agents busy at once is beyond any one queue


def traffic_erlangs(arrivals: float, interval_seconds: float, aht_seconds: float) -> float:
    """Traffic intensity A = arrivals * AHT / interval, in erlangs. Raises ValueError past
    ``MAX_TRAFFIC``: the staffing searches cost O(agents), so a typo of a few zeros would run
    for hours instead of answering."""
    _check_workload(arrivals, interval_seconds, aht_seconds)
    traffic = arrivals * aht_seconds / interval_seconds
    _require(traffic <= MAX_TRAFFIC, f"the offered load is {traffic:.3g} erlangs (arrivals x AHT "
             f"/ interval): more than {MAX_TRAFFIC:,.0f} agents busy at once is beyond any "
             "one queue; check the arrivals and the interval")
    return traffic


def erlang_b(traffic: float, agents: int) -> float:
    """Erlang B blocking probability: B(0) = 1, B(n) = A * B(n-1) / (n + A * B(n-1))."""
    _check_number("traffic", traffic)
    _check_agents(agents)
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(traffic: float, agents: int) -> float:
    """Erlang C probability of waiting: C = N * B / (N - A * (1 - B)); 1 when N <= A."""
    b = erlang_b(traffic, agents)
    return _erlang_c_numbers(traffic, agents, 1.0, 0.0, b)[0]


def _erlang_c_numbers(
    traffic: float, agents: int, aht: float, answer: float, b: float
) -> tuple[float, float, float, float]:
    """(P(wait), SL, ASA, occupancy) at N agents, given Erlang B(N, A) = ``b``."""
    if traffic == 0:
        return 0.0, 1.0, 0.0, 0.0
    if agents <= traffic:
        return 1.0, 0.0, math.inf, 1.0
    wait = agents * b / (agents - traffic * (1 - b))
    slack = agents - traffic
    return wait, 1 - wait * math.exp(-slack * answer / aht), wait * aht / slack, traffic / agents


def _erlang_c_at(
    arrivals: float, interval_seconds: float, aht_seconds: float, agents: int, answer: float
) -> tuple[float, float, float, float]:
    _check_agents(agents)
    traffic = traffic_erlangs(arrivals, interval_seconds, aht_seconds)
    return _erlang_c_numbers(traffic, agents, aht_seconds, answer, erlang_b(traffic, agents))


def p_wait(arrivals: float, interval_seconds: float, aht_seconds: float, agents: int) -> float:
    """Probability that a contact has to queue, Erlang C(N, A)."""
    return _erlang_c_at(arrivals, interval_seconds, aht_seconds, agents, 0.0)[0]


def service_level(
    arrivals: float, interval_seconds: float, aht_seconds: float, agents: int, answer_seconds: float
) -> float:
    """Share answered within t seconds: SL = 1 - P(wait) * exp(-(N - A) * t / AHT)."""
    _check_number("answer_seconds", answer_seconds)
    return _erlang_c_at(arrivals, interval_seconds, aht_seconds, agents, answer_seconds)[1]


def average_speed_of_answer(
    arrivals: float, interval_seconds: float, aht_seconds: float, agents: int
) -> float:
    """Mean wait over all contacts, ASA = P(wait) * AHT / (N - A); inf when N <= A."""
    return _erlang_c_at(arrivals, interval_seconds, aht_seconds, agents, 0.0)[2]


def occupancy(arrivals: float, interval_seconds: float, aht_seconds: float, agents: int) -> float:
    """Share of agent time spent handling contacts, A / N (capped at 1 when N <= A)."""
    return _erlang_c_at(arrivals, interval_seconds, aht_seconds, agents, 0.0)[3]


def scheduled_agents(agents: int, shrinkage: float) -> int:
    """Agents to schedule so ``agents`` are productive: ceil(N / (1 - shrinkage)).

    The quotient is rounded to 9 decimals first: 21 / (1 - 0.3) is 30.000000000000004 in
    floats, and 30 agents, not 31, are needed.
    """
    _check_agents(agents)
    _check_shrinkage(shrinkage)
    return math.ceil(round(agents / (1 - shrinkage), 9))


def _staffing(agents: int, shrinkage: float, traffic: float, numbers: Sequence[float]) -> Staffing:
    wait, level, asa, occ = numbers[:4]
    return Staffing(agents, scheduled_agents(agents, shrinkage), traffic, wait, level, asa, occ)


def erlang_c_performance(
    arrivals: float,
    interval_seconds: float,
    aht_seconds: float,
    agents: int,
    *,
    answer_seconds: float = 20.0,
    shrinkage: float = 0.0,
) -> Staffing:
    """Erlang C performance of ``agents`` productive agents (see the module docstring)."""
    _check_number("answer_seconds", answer_seconds)
    numbers = _erlang_c_at(arrivals, interval_seconds, aht_seconds, agents, answer_seconds)
    traffic = traffic_erlangs(arrivals, interval_seconds, aht_seconds)
    return _staffing(agents, shrinkage, traffic, numbers)


# --- staffing search ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Targets:
    level: float
    answer_seconds: float
    max_asa_seconds: float | None = None
    max_occupancy: float | None = None
    max_abandon: float | None = None

    def __post_init__(self) -> None:
        _check_number("target", self.level)
        _require(0 < self.level < 1, f"target must be in (0, 1), e.g. 0.8, got {self.level!r}")
        _check_number("answer_seconds", self.answer_seconds)
        for name in ("max_asa_seconds", "max_occupancy", "max_abandon"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), positive=True)
        for name in ("max_occupancy", "max_abandon"):
            value = getattr(self, name)
            _require(value is None or value <= 1, f"{name} must be in (0, 1], got {value!r}")

    def met_by(self, s: Staffing) -> bool:
        return (
            s.service_level >= self.level
            and (self.max_asa_seconds is None or s.asa_seconds <= self.max_asa_seconds)
            and (self.max_occupancy is None or s.occupancy <= self.max_occupancy)
            and (self.max_abandon is None or (s.abandon_probability or 0.0) <= self.max_abandon)
        )


def _first_meeting(candidates: Iterator[Staffing], targets: _Targets, limit: int) -> Staffing:
    """The first candidate (agent counts ascending) that meets every target."""
    for staffing in islice(candidates, limit):
        if targets.met_by(staffing):
            return staffing
    raise RuntimeError(f"no staffing meets {targets} within {limit} agent counts")


def _search_limit(load: float, max_occupancy: float | None) -> int:
    """How many agent counts to try before giving up: far beyond any sane answer."""
    return math.ceil(load / (max_occupancy or 1.0)) + 100 * math.ceil(math.sqrt(load)) + 1000


def _counts(start: int, evaluate: Callable[[int], Staffing]) -> Iterator[Staffing]:
    n = start
    while True:
        yield evaluate(n)
        n += 1


def erlang_c_staffing(
    arrivals: float,
    interval_seconds: float,
    aht_seconds: float,
    *,
    target: float = 0.8,
    answer_seconds: float = 20.0,
    max_asa_seconds: float | None = None,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
) -> Staffing:
    """Fewest agents with SL(answer_seconds) >= target, ASA <= max_asa_seconds and
    occupancy <= max_occupancy (the last two when given), by Erlang C.

    Erlang B is carried from one agent count to the next, so the search costs O(N).
    """
    targets = _Targets(target, answer_seconds, max_asa_seconds, max_occupancy)
    _check_shrinkage(shrinkage)
    traffic = traffic_erlangs(arrivals, interval_seconds, aht_seconds)
    if traffic == 0:
        return _staffing(0, shrinkage, 0.0, (0.0, 1.0, 0.0, 0.0))
    start = max(math.floor(traffic) + 1, math.floor(traffic / (max_occupancy or 1.0)))

    def candidates() -> Iterator[Staffing]:
        n, b = start, erlang_b(traffic, start)
        while True:
            numbers = _erlang_c_numbers(traffic, n, aht_seconds, answer_seconds, b)
            yield _staffing(n, shrinkage, traffic, numbers)
            n += 1
            b = traffic * b / (n + traffic * b)

    return _first_meeting(candidates(), targets, _search_limit(traffic, max_occupancy))


# --- Erlang A -----------------------------------------------------------------------------


def _queue_log_terms(arrival_rate: float, service_rate: float, abandon_rate: float) -> np.ndarray:
    """log r_j, j = 0, 1, ...: r_j = prod_{i<=j} lambda / (N mu + i theta) = pi_{N+j} / pi_N.

    The terms rise while lambda > N mu + j theta and then fall faster than geometrically; the
    chain is cut once past that peak and e**-46 below it.
    """
    peak = max(0.0, (arrival_rate - service_rate) / abandon_rate)
    size = 256
    while size <= _MAX_QUEUE_STATES:
        j = np.arange(1, size + 1)
        steps = math.log(arrival_rate) - np.log(service_rate + j * abandon_rate)
        logs = np.concatenate(([0.0], np.cumsum(steps)))
        if size > peak and logs[-1] < logs.max() - _NEGLIGIBLE:
            return logs
        size *= 2
    raise ValueError("patience too long for this load (queue chain too long): use Erlang C")


def _answered_in_time(service_rate: float, theta: float, answer: float, size: int) -> np.ndarray:
    """F_m(t) = P(Exp(N mu + theta) + ... + Exp(N mu + m theta) <= t) for m = 1..size.

    That sum is the m-th of c + m exponential(theta) clocks to ring, c = N mu / theta, so the
    number of moves up by time t is negative binomial: with u = 1 - exp(-theta t),
    p_0 = exp(-(N mu + theta) t), p_k = p_{k-1} (N mu + k theta) (u / theta) / k, and
    F_m = 1 - sum_{k<m} p_k. As theta -> 0 this becomes Erlang C's Poisson count.
    """
    if answer == 0:
        return np.zeros(size)
    k = np.arange(1, size)
    scale = -math.expm1(-theta * answer) / theta
    first = -(service_rate + theta) * answer
    steps = np.log((service_rate + k * theta) * scale) - np.log(k)
    logs = np.concatenate(([first], first + np.cumsum(steps)))
    return np.clip(1 - np.cumsum(np.exp(logs)), 0.0, 1.0)


def _erlang_a_numbers(
    arrival_rate: float, aht: float, patience: float, agents: int, answer: float
) -> tuple[float, float, float, float, float]:
    """(P(wait), SL, ASA, occupancy, P(abandon)) of M/M/N+M; see erlang_a_performance."""
    traffic = arrival_rate * aht
    if traffic == 0:
        return 0.0, 1.0, 0.0, 0.0, 0.0
    if agents == 0:
        return 1.0, 0.0, math.inf, 0.0, 1.0
    blocking = erlang_b(traffic, agents)
    if math.isinf(patience):
        return (*_erlang_c_numbers(traffic, agents, aht, answer, blocking), 0.0)
    if blocking == 0.0:  # underflow: N is so far above A that nobody ever waits
        return 0.0, 1.0, 0.0, traffic / agents, 0.0
    mu_n, theta = agents / aht, 1 / patience
    logs = _queue_log_terms(arrival_rate, mu_n, theta)
    # pi_{N+j} over the whole chain; below N, sum_{n<N} pi_n / pi_N = (1 - B) / B.
    log_total = np.logaddexp(math.log1p(-blocking), math.log(blocking) + logsumexp(logs))
    weights = np.exp(math.log(blocking) + logs - log_total)
    moves = np.arange(1, weights.size + 1)  # a caller with j ahead must move up j + 1 times
    exit_rate = mu_n + moves * theta
    served = mu_n / exit_rate
    in_time = _answered_in_time(mu_n, theta, answer, weights.size)
    wait = float(weights.sum())
    abandon = float(np.dot(weights, moves * theta / exit_rate))
    level = 1 - wait + float(np.dot(weights, served * in_time))
    answered_wait = float(np.dot(weights, served * np.cumsum(1 / exit_rate)))
    asa = answered_wait / (1 - abandon) if abandon < 1 else math.inf
    return wait, level, asa, traffic * (1 - abandon) / agents, abandon


def erlang_a_performance(
    arrivals: float,
    interval_seconds: float,
    aht_seconds: float,
    agents: int,
    patience_seconds: float,
    *,
    answer_seconds: float = 20.0,
    shrinkage: float = 0.0,
) -> Staffing:
    """Erlang A (M/M/N+M): callers hang up after an exponential patience of mean
    ``patience_seconds`` (theta = 1 / patience; ``math.inf`` gives Erlang C).

    Birth-death chain on n = contacts present: births lambda, deaths min(n, N) mu +
    max(n - N, 0) theta, so pi_{N+j} = pi_N prod_{i<=j} lambda / (N mu + i theta); the part
    below N is Erlang B's and the queue part is summed in log space (it may peak far above
    pi_N when N <= A, which Erlang A allows: abandonment keeps the queue finite).

    A caller who arrives to find j waiting moves up at rate N mu + i theta (i ahead of it) and
    leaves at rate theta; it is answered with probability q_j = N mu / (N mu + (j+1) theta),
    after a time distributed as the sum of Exp(N mu + i theta), i = 1..j+1, whose CDF F_{j+1}(t)
    is a negative binomial tail (see _answered_in_time). Hence

    * P(wait) = sum_j pi_{N+j};  P(abandon) = sum_j pi_{N+j} (1 - q_j) (= theta E[queue] / lambda)
    * SL(t) = P(answered within t) over *all* offered contacts (abandons count as misses)
      = 1 - P(wait) + sum_j pi_{N+j} q_j F_{j+1}(t)
    * ASA = mean wait of answered contacts = sum_j pi_{N+j} q_j sum_{i<=j+1} 1 / (N mu + i
      theta) / (1 - P(abandon))
    * occupancy = A (1 - P(abandon)) / N (only answered contacts take agent time)

    The chain is cut e**-46 below its peak. Its length grows like (A - N) * patience / AHT when
    N < A, so patience of days (weeks at large A) is slow or raises ValueError: use
    ``math.inf`` (Erlang C) there; results converge to Erlang C as patience grows.
    """
    _check_workload(arrivals, interval_seconds, aht_seconds)
    _check_agents(agents)
    _check_number("answer_seconds", answer_seconds)
    ok = isinstance(patience_seconds, Real) and patience_seconds > 0
    _require(ok, f"patience_seconds must be > 0 (math.inf for none), got {patience_seconds!r}")
    rate = arrivals / interval_seconds
    numbers = _erlang_a_numbers(rate, aht_seconds, patience_seconds, agents, answer_seconds)
    return _with_abandon(agents, shrinkage, rate * aht_seconds, numbers)


def _with_abandon(
    agents: int, shrinkage: float, traffic: float, numbers: Sequence[float]
) -> Staffing:
    base = _staffing(agents, shrinkage, traffic, numbers)
    return replace(base, abandon_probability=numbers[4])


def erlang_a_staffing(
    arrivals: float,
    interval_seconds: float,
    aht_seconds: float,
    patience_seconds: float,
    *,
    target: float = 0.8,
    answer_seconds: float = 20.0,
    max_asa_seconds: float | None = None,
    max_occupancy: float | None = None,
    max_abandon: float | None = None,
    shrinkage: float = 0.0,
) -> Staffing:
    """Fewest agents meeting the targets under Erlang A (see erlang_a_performance).

    The search starts at floor(target * A): answered contacts take agent time, so
    SL <= 1 - P(abandon) <= N / A, and no smaller N can meet the target.
    """
    targets = _Targets(target, answer_seconds, max_asa_seconds, max_occupancy, max_abandon)
    _check_shrinkage(shrinkage)
    traffic = traffic_erlangs(arrivals, interval_seconds, aht_seconds)
    if traffic == 0:
        return _with_abandon(0, shrinkage, 0.0, (0.0, 1.0, 0.0, 0.0, 0.0))
    start = max(1, math.floor(target * traffic))

    def evaluate(n: int) -> Staffing:
        return erlang_a_performance(
            arrivals,
            interval_seconds,
            aht_seconds,
            n,
            patience_seconds,
            answer_seconds=answer_seconds,
            shrinkage=shrinkage,
        )

    return _first_meeting(_counts(start, evaluate), targets, _search_limit(traffic, max_occupancy))


# --- chat with concurrency ----------------------------------------------------------------


def _check_ahts(aht_by_concurrency: Sequence[float]) -> list[float]:
    ahts = list(aht_by_concurrency)
    _require(len(ahts) > 0, "aht_by_concurrency needs at least one handle time")
    for aht in ahts:
        _check_number("each handle time in aht_by_concurrency", aht, positive=True)
    return ahts


def _chat_completion_rates(ahts: Sequence[float], agents: int) -> np.ndarray:
    """Total completion rate with n = 1..N k chats in service, spread as evenly as possible.

    With n = q N + r, r agents hold q + 1 chats and N - r hold q; an agent holding j chats
    finishes them at rate j / aht(j).
    """
    k = len(ahts)
    per_chat = 1 / np.asarray(ahts, dtype=float)
    q, r = np.divmod(np.arange(1, agents * k + 1), agents)
    low = np.where(q >= 1, q * per_chat[np.clip(q - 1, 0, k - 1)], 0.0)
    high = (q + 1) * per_chat[np.clip(q, 0, k - 1)]
    return r * high + (agents - r) * low


def _chat_numbers(
    arrival_rate: float, ahts: Sequence[float], agents: int, answer: float
) -> tuple[float, float, float, float, float]:
    """(P(wait), SL, ASA, occupancy, concurrency while busy); see chat_performance."""
    k = len(ahts)
    full_rate = agents * k / ahts[-1]
    if arrival_rate == 0:
        return 0.0, 1.0, 0.0, 0.0, 0.0
    if arrival_rate >= full_rate:
        return 1.0, 0.0, math.inf, 1.0, float(k)
    steps = math.log(arrival_rate) - np.log(_chat_completion_rates(ahts, agents))
    logs = np.concatenate(([0.0], np.cumsum(steps)))  # log pi_n / pi_0, n = 0..N k
    log_full = logs[-1] - math.log1p(-arrival_rate / full_rate)  # states >= N k: geometric
    log_total = np.logaddexp(logsumexp(logs[:-1]), log_full)
    probs = np.exp(logs[:-1] - log_total)
    wait = math.exp(log_full - log_total)
    chats = np.arange(agents * k)
    busy = float(np.dot(probs, np.minimum(chats, agents))) + wait * agents
    held = float(np.dot(probs, chats)) + wait * agents * k
    slack = full_rate - arrival_rate
    return wait, 1 - wait * math.exp(-slack * answer), wait / slack, busy / agents, held / busy


def chat_performance(
    arrivals: float,
    interval_seconds: float,
    aht_by_concurrency: Sequence[float],
    agents: int,
    *,
    answer_seconds: float = 20.0,
    shrinkage: float = 0.0,
) -> Staffing:
    """Chat queue where each of N agents holds up to k chats and handle time grows with load.

    ``aht_by_concurrency[j-1]`` is the handle time of each chat while its agent holds j chats,
    e.g. [180, 240, 330]. Birth-death chain on n = chats present: chats are spread evenly
    (n = q N + r: r agents hold q+1 chats, N - r hold q), so the completion rate is
    r (q+1) / aht(q+1) + (N - r) q / aht(q), and n / aht(1) for n <= N. Once n >= N k every
    slot is full, a new chat queues (FCFS) and slots free at the constant rate
    R = N k / aht(k), so, as in Erlang C, with lambda < R:

    * P(wait) = P(n >= N k);  SL(t) = 1 - P(wait) exp(-(R - lambda) t)
    * ASA = P(wait) / (R - lambda);  occupancy = E[min(n, N)] / N (agents holding any chat)
    * average_concurrency = chats held per busy agent; traffic_erlangs = lambda aht(1)

    With k = 1 this is exactly Erlang C. Why the usual shortcut (staff for single chats, then
    divide by k) understaffs: it assumes an agent clears k chats per aht(1), a capacity of
    k / aht(1), but the chats slow each other down, so an agent holding j chats clears only
    j / aht(j). With [180, 240, 330] a full agent clears 3 / 330 s, not 3 / 180 s: 1.6 times a
    single-chat agent, not 3 times. Rates are modelled by the agent's current load, a
    tractable approximation (a chat's pace changes as its agent's load changes).

    If j / aht(j) falls as j grows (one more chat slows the others so much that the agent
    clears fewer chats overall), stability still needs lambda < N k / aht(k): the model then
    asks for more agents than at lower concurrency, and the list should stop at the
    concurrency that clears the most chats.
    """
    ahts = _check_ahts(aht_by_concurrency)
    _check_workload(arrivals, interval_seconds, ahts[0])
    _check_agents(agents)
    _check_number("answer_seconds", answer_seconds)
    rate = arrivals / interval_seconds
    if agents == 0:
        numbers = (1.0, 0.0, math.inf, 1.0, 0.0) if rate > 0 else (0.0, 1.0, 0.0, 0.0, 0.0)
    else:
        numbers = _chat_numbers(rate, ahts, agents, answer_seconds)
    base = _staffing(agents, shrinkage, rate * ahts[0], numbers)
    return replace(base, average_concurrency=numbers[4])


def chat_staffing(
    arrivals: float,
    interval_seconds: float,
    aht_by_concurrency: Sequence[float],
    *,
    target: float = 0.8,
    answer_seconds: float = 20.0,
    max_asa_seconds: float | None = None,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
) -> Staffing:
    """Fewest agents meeting the targets under the chat model (see chat_performance).

    The search starts at the first N whose full capacity N k / aht(k) exceeds lambda.
    """
    targets = _Targets(target, answer_seconds, max_asa_seconds, max_occupancy)
    _check_shrinkage(shrinkage)
    ahts = _check_ahts(aht_by_concurrency)
    _check_workload(arrivals, interval_seconds, ahts[0])
    rate = arrivals / interval_seconds
    start = math.floor(rate * ahts[-1] / len(ahts)) + 1 if rate > 0 else 0

    def evaluate(n: int) -> Staffing:
        return chat_performance(
            arrivals, interval_seconds, ahts, n, answer_seconds=answer_seconds, shrinkage=shrinkage
        )

    limit = _search_limit(rate * max(ahts), max_occupancy)
    return _first_meeting(_counts(start, evaluate), targets, limit)


def concurrency_factor_shortcut(
    arrivals: float,
    interval_seconds: float,
    aht_by_concurrency: Sequence[float],
    *,
    target: float = 0.8,
    answer_seconds: float = 20.0,
    concurrency: float | None = None,
) -> int:
    """The common shortcut, for comparison only: ceil(Erlang C agents at aht(1) / concurrency).

    ``concurrency`` defaults to k = len(aht_by_concurrency). It ignores that handle time grows
    with concurrency, so it understaffs whenever aht(k) > aht(1); see chat_performance.
    """
    ahts = _check_ahts(aht_by_concurrency)
    factor = len(ahts) if concurrency is None else concurrency
    _check_number("concurrency", factor, positive=True)
    single = erlang_c_staffing(
        arrivals, interval_seconds, ahts[0], target=target, answer_seconds=answer_seconds
    )
    return math.ceil(round(single.agents / factor, 9))


# --- parsing helpers for the CLI ----------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)", re.IGNORECASE | re.ASCII)
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in "30m", "180s", "1h", "2.5m" or "600" (a bare number is seconds)."""
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}: expected a number >= 0 with an optional unit "
            "s, m or h, e.g. '180s', '30m', '1h', '600'"
        )
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


def parse_target(text: str) -> tuple[float, float]:
    """Service-level target "80/20s" -> (0.8, 20.0).

    The level is a percentage ("80", "80%") or, when at most 1, a fraction ("0.8"); it must
    lie strictly between 0 and 100 %. The answer time is a duration ("20", "20s", "1m").
    """
    parts = text.split("/") if isinstance(text, str) else []
    if len(parts) != 2:
        raise ValueError(f"invalid target {text!r}: expected LEVEL/TIME, e.g. '80/20s' or '0.8/20'")
    level_text, time_text = (part.strip() for part in parts)
    percent = level_text.endswith("%")
    try:
        level = float(level_text.removesuffix("%"))
    except ValueError:
        raise ValueError(f"invalid target {text!r}: level {level_text!r} is not a number") from None
    if percent or level > 1:
        level /= 100
    if not 0 < level < 1:
        raise ValueError(f"invalid target {text!r}: level must be above 0 and below 100%")
    return level, parse_duration(time_text)
