"""Staffing math: published Erlang C examples, independent formulas and a small simulation."""

import heapq
import math
import random

import pytest
from scipy.special import gammainc, gammaln
from scipy.stats import poisson

from operations.capacity import (
    average_speed_of_answer,
    chat_performance,
    chat_staffing,
    concurrency_factor_shortcut,
    erlang_a_performance,
    erlang_a_staffing,
    erlang_b,
    erlang_c,
    erlang_c_performance,
    erlang_c_staffing,
    occupancy,
    p_wait,
    parse_duration,
    parse_target,
    scheduled_agents,
    service_level,
    traffic_erlangs,
)

# --- independent references ---------------------------------------------------------------


def poisson_erlang_b(traffic: float, agents: int) -> float:
    """Erlang B as a truncated Poisson: pmf(N) / cdf(N) (scipy works in log space)."""
    return poisson.pmf(agents, traffic) / poisson.cdf(agents, traffic)


def poisson_erlang_c(traffic: float, agents: int) -> float:
    """Erlang C = pmf(N) / (pmf(N) + (1 - A / N) cdf(N - 1)), no recursion involved."""
    head = poisson.pmf(agents, traffic)
    return head / (head + (1 - traffic / agents) * poisson.cdf(agents - 1, traffic))


def gmr_erlang_a(arrival_rate: float, aht: float, patience: float, agents: int):
    """P(wait), P(abandon) of M/M/N+M by the closed forms of Garnett, Mandelbaum and Reiman.

    A(x, y) = x e^y y^-x gamma(x, y), x = N mu / theta, y = lambda / theta;
    P(W > 0) = A E / (1 + (A - 1) E), E = Erlang B; P(Ab | W > 0) = 1 / (rho A) + 1 - 1 / rho.
    """
    mu, theta = 1 / aht, 1 / patience
    x, y = agents * mu / theta, arrival_rate / theta
    big_a = math.exp(math.log(x) + y - x * math.log(y) + gammaln(x) + math.log(gammainc(x, y)))
    blocking = poisson_erlang_b(arrival_rate * aht, agents)
    wait = big_a * blocking / (1 + (big_a - 1) * blocking)
    rho = arrival_rate / (agents * mu)
    return wait, wait * (1 / (rho * big_a) + 1 - 1 / rho)


def simulate_erlang_a(rate, aht, patience, agents, answer, customers, seed=7):
    """FCFS M/M/N+M by customers: offered wait = earliest free agent; abandon if longer than
    the caller's patience. Returns (answered within t / offered, P(abandon), answered ASA)."""
    rng = random.Random(seed)
    free = [0.0] * agents
    clock, in_time, abandoned, answered, waited = 0.0, 0, 0, 0, 0.0
    for _ in range(customers):
        clock += rng.expovariate(rate)
        offered = max(0.0, free[0] - clock)
        if offered > rng.expovariate(1 / patience):
            abandoned += 1
            continue
        answered += 1
        waited += offered
        in_time += offered <= answer
        heapq.heapreplace(free, clock + offered + rng.expovariate(1 / aht))
    return in_time / customers, abandoned / customers, waited / answered


# --- Erlang C: published worked examples --------------------------------------------------


def test_worked_example_100_calls_per_half_hour():
    staffing = erlang_c_staffing(100, 1800, 180, target=0.8, answer_seconds=20, shrinkage=0.3)
    assert staffing.traffic_erlangs == pytest.approx(10.0)
    assert staffing.agents == 14
    assert round(staffing.p_wait, 4) == 0.1741
    assert round(staffing.service_level, 4) == 0.8884
    assert round(staffing.asa_seconds, 2) == 7.84
    assert round(staffing.occupancy, 4) == 0.7143
    assert staffing.scheduled_agents == 20
    assert staffing.abandon_probability is None


def test_worked_example_1000_calls_per_hour_with_occupancy_cap():
    capped = erlang_c_staffing(1000, 3600, 120, target=0.8, answer_seconds=20, max_occupancy=0.85)
    assert capped.agents == 40
    assert capped.occupancy <= 0.85
    uncapped = erlang_c_staffing(1000, 3600, 120, target=0.8, answer_seconds=20)
    assert uncapped.agents == 38
    assert uncapped.occupancy == pytest.approx(33.3333 / 38, abs=1e-5)  # 0.877 > 0.85


def test_worked_example_25_contacts_per_ten_minutes():
    staffing = erlang_c_staffing(25, 600, 180, target=0.8, answer_seconds=20, shrinkage=0.3)
    assert (staffing.agents, staffing.scheduled_agents) == (11, 16)
    assert staffing.traffic_erlangs == pytest.approx(7.5)


def test_single_metric_functions_match_the_worked_example():
    assert traffic_erlangs(100, 1800, 180) == pytest.approx(10.0)
    assert round(p_wait(100, 1800, 180, 14), 4) == 0.1741
    assert round(service_level(100, 1800, 180, 14, 20), 4) == 0.8884
    assert round(average_speed_of_answer(100, 1800, 180, 14), 2) == 7.84
    assert occupancy(100, 1800, 180, 14) == pytest.approx(10 / 14)
    assert round(service_level(100, 1800, 180, 13, 20), 4) == 0.7956  # 13 agents miss 80/20


@pytest.mark.parametrize("agents", [1, 5, 11, 14, 30])
def test_erlang_b_and_c_match_the_poisson_forms(agents):
    assert erlang_b(10.0, agents) == pytest.approx(poisson_erlang_b(10.0, agents), rel=1e-12)
    if agents > 10:
        assert erlang_c(10.0, agents) == pytest.approx(poisson_erlang_c(10.0, agents), rel=1e-12)


def test_max_asa_adds_agents_beyond_the_service_level():
    staffing = erlang_c_staffing(100, 1800, 180, target=0.8, answer_seconds=20, max_asa_seconds=5)
    assert staffing.agents == 15  # 14 agents: ASA 7.84 s
    expected_asa = poisson_erlang_c(10.0, 15) * 180 / 5
    assert staffing.asa_seconds == pytest.approx(expected_asa, rel=1e-10)
    assert round(staffing.asa_seconds, 2) == 3.67


def test_unstable_queue_when_agents_do_not_exceed_traffic():
    for agents in (5, 10):  # A = 10 erlangs
        perf = erlang_c_performance(100, 1800, 180, agents)
        assert (perf.p_wait, perf.service_level, perf.asa_seconds) == (1.0, 0.0, math.inf)
        assert perf.occupancy == 1.0
    assert erlang_c(10.0, 10) == 1.0


def test_no_traffic_needs_no_agents():
    staffing = erlang_c_staffing(0, 1800, 180)
    assert (staffing.agents, staffing.p_wait, staffing.service_level) == (0, 0.0, 1.0)


# --- Erlang C: large centres --------------------------------------------------------------


def test_hundreds_of_agents_without_overflow_and_monotonic():
    previous_wait, previous_level = 1.0, 0.0
    for agents in range(901, 1001):  # A = 900 erlangs
        wait = erlang_c(900.0, agents)
        level = erlang_c_performance(900 * 4, 3600, 900, agents).service_level
        assert math.isfinite(wait) and 0 < wait < previous_wait
        assert previous_level < level < 1
        previous_wait, previous_level = wait, level
    assert erlang_c(900.0, 950) == pytest.approx(poisson_erlang_c(900.0, 950), rel=1e-9)


def test_large_centre_staffs_to_the_target():
    staffing = erlang_c_staffing(20000, 3600, 180, target=0.8, answer_seconds=20)  # 1000 erlangs
    n = staffing.agents
    assert 1000 < n < 1100
    for agents, meets in ((n, True), (n - 1, False)):
        wait = poisson_erlang_c(1000.0, agents)
        level = 1 - wait * math.exp(-(agents - 1000) * 20 / 180)
        assert bool(level >= 0.8) == meets
    assert staffing.p_wait == pytest.approx(poisson_erlang_c(1000.0, n), rel=1e-9)
    assert staffing.service_level >= 0.8


# --- shrinkage ----------------------------------------------------------------------------


def test_shrinkage_rounds_up_without_float_noise():
    assert scheduled_agents(14, 0.3) == 20
    assert scheduled_agents(11, 0.3) == 16
    assert scheduled_agents(21, 0.3) == 30  # 21 / (1 - 0.3) is 30.000000000000004 in floats
    assert scheduled_agents(10, 0.0) == 10
    assert scheduled_agents(10, 0.35) == 16  # 15.38
    with pytest.raises(ValueError, match="shrinkage"):
        scheduled_agents(10, 1.0)


# --- Erlang A -----------------------------------------------------------------------------


@pytest.mark.parametrize(("agents", "patience"), [(12, 120), (14, 600), (9, 60), (8, 300)])
def test_erlang_a_matches_the_closed_forms(agents, patience):
    perf = erlang_a_performance(100, 1800, 180, agents, patience)
    wait, abandon = gmr_erlang_a(100 / 1800, 180, patience, agents)
    assert perf.p_wait == pytest.approx(wait, rel=1e-9)
    assert perf.abandon_probability == pytest.approx(abandon, rel=1e-9)
    assert perf.occupancy == pytest.approx(10 * (1 - abandon) / agents, rel=1e-9)


@pytest.mark.parametrize(("agents", "patience"), [(12, 120), (10, 60)])
def test_erlang_a_matches_a_simulation(agents, patience):
    perf = erlang_a_performance(100, 1800, 180, agents, patience, answer_seconds=20)
    in_time, abandoned, asa = simulate_erlang_a(100 / 1800, 180, patience, agents, 20, 300_000)
    assert perf.service_level == pytest.approx(in_time, abs=0.01)
    assert perf.abandon_probability == pytest.approx(abandoned, abs=0.005)
    assert perf.asa_seconds == pytest.approx(asa, rel=0.05)


def test_erlang_a_approaches_erlang_c_as_patience_grows():
    erlang = erlang_c_performance(100, 1800, 180, 14)
    gaps = []
    for patience in (1e3, 1e5, 1e7, 1e9):
        perf = erlang_a_performance(100, 1800, 180, 14, patience)
        gaps.append(abs(perf.service_level - erlang.service_level))
        assert 0 < perf.abandon_probability < 1
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] < 1e-7
    far = erlang_a_performance(100, 1800, 180, 14, 1e9)
    assert far.p_wait == pytest.approx(0.1741319, abs=1e-6)
    assert far.asa_seconds == pytest.approx(erlang.asa_seconds, rel=1e-6)
    none = erlang_a_performance(100, 1800, 180, 14, math.inf)
    assert (none.p_wait, none.service_level) == (erlang.p_wait, erlang.service_level)
    assert none.abandon_probability == 0.0


def test_erlang_a_long_answer_time_leaves_only_abandons_unmet():
    perf = erlang_a_performance(100, 1800, 180, 11, 120, answer_seconds=1e6)
    assert perf.service_level == pytest.approx(1 - perf.abandon_probability, abs=1e-12)


def test_erlang_a_stays_stable_below_the_traffic():
    perf = erlang_a_performance(100, 1800, 180, 8, 60)  # 8 agents for 10 erlangs
    assert 0.2 <= perf.abandon_probability < 1  # at least 1 - N / A give up
    assert perf.p_wait < 1 and math.isfinite(perf.asa_seconds)


@pytest.mark.parametrize(
    ("arrivals", "interval", "aht"), [(100, 1800, 180), (1000, 3600, 120), (25, 600, 180)]
)
@pytest.mark.parametrize("patience", [60, 180, 600])
def test_erlang_a_needs_no_more_agents_than_erlang_c(arrivals, interval, aht, patience):
    abandoning = erlang_a_staffing(arrivals, interval, aht, patience)
    waiting = erlang_c_staffing(arrivals, interval, aht)
    assert abandoning.agents <= waiting.agents
    assert abandoning.service_level >= 0.8
    assert 0 < abandoning.abandon_probability < 1
    fewer = erlang_a_performance(arrivals, interval, aht, abandoning.agents - 1, patience)
    assert fewer.service_level < 0.8


def test_erlang_a_abandon_cap_adds_agents():
    loose = erlang_a_staffing(100, 1800, 180, 60)
    capped = erlang_a_staffing(100, 1800, 180, 60, max_abandon=0.03)
    assert loose.abandon_probability > 0.03
    assert capped.agents > loose.agents and capped.abandon_probability <= 0.03


def test_erlang_a_large_centre():
    staffing = erlang_a_staffing(20000, 3600, 180, 300, shrinkage=0.3)
    assert 800 <= staffing.agents <= erlang_c_staffing(20000, 3600, 180).agents
    assert staffing.service_level >= 0.8
    assert all(math.isfinite(v) for v in (staffing.p_wait, staffing.asa_seconds))
    assert staffing.scheduled_agents == math.ceil(staffing.agents / 0.7)


# --- chat with concurrency ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrivals", "interval", "agents"), [(100, 1800, 14), (25, 600, 11), (20000, 3600, 1011)]
)
def test_single_chat_is_erlang_c(arrivals, interval, agents):
    assert chat_staffing(arrivals, interval, [180]).agents == agents
    chat = chat_performance(arrivals, interval, [180], agents)
    voice = erlang_c_performance(arrivals, interval, 180, agents)
    assert chat.p_wait == pytest.approx(voice.p_wait, rel=1e-9)
    assert chat.service_level == pytest.approx(voice.service_level, rel=1e-9)
    assert chat.asa_seconds == pytest.approx(voice.asa_seconds, rel=1e-9)
    assert chat.average_concurrency == pytest.approx(1.0)


def test_concurrency_without_slowdown_is_erlang_c_with_twice_the_slots():
    chat = chat_performance(100, 1800, [180, 180], 7)
    assert chat.p_wait == pytest.approx(0.1741319, abs=1e-6)  # Erlang C with 14 slots
    assert round(chat.service_level, 4) == 0.8884
    assert chat_staffing(100, 1800, [180, 180]).agents == 7


def test_chat_one_agent_two_slots_by_hand():
    # lambda = 1/300; states 0, 1, 2+: pi = 1, 0.6, 0.24 / (1 - 0.4); Z = 2; R - lambda = 1/200.
    perf = chat_performance(12, 3600, [180, 240], 1, answer_seconds=20)
    assert perf.p_wait == pytest.approx(0.2)
    assert perf.service_level == pytest.approx(1 - 0.2 * math.exp(-0.1))
    assert perf.asa_seconds == pytest.approx(40.0)
    assert perf.occupancy == pytest.approx(0.5)
    assert perf.average_concurrency == pytest.approx(0.7 / 0.5)


def test_chat_spreads_chats_evenly_across_agents():
    # Two agents, two slots each: with 1, 2, 3, 4 chats the completion rates are 1/180,
    # 2/180 (one chat each), 1/180 + 2/240 (one agent holds two), 4/240 (both full).
    rate = 40 / 3600
    rates = [1 / 180, 2 / 180, 1 / 180 + 2 / 240, 4 / 240]
    weights = [1.0]
    for r in rates:
        weights.append(weights[-1] * rate / r)
    rho = rate / (4 / 240)
    total = sum(weights[:-1]) + weights[-1] / (1 - rho)
    perf = chat_performance(40, 3600, [180, 240], 2, answer_seconds=0)
    assert perf.p_wait == pytest.approx(weights[-1] / (1 - rho) / total, rel=1e-12)


def test_shortcut_understaffs_when_handle_time_grows():
    curve = [180, 240, 330]  # a full agent clears 3 chats per 330 s, not per 180 s
    shortcut = concurrency_factor_shortcut(100, 1800, curve)
    assert shortcut == 5  # ceil(14 / 3)
    modelled = chat_staffing(100, 1800, curve)
    assert modelled.agents > shortcut
    # 5 agents x 3 chats / 330 s = 0.045 chats/s < 100 / 1800 = 0.056 arriving: never catches up
    assert chat_performance(100, 1800, curve, shortcut).service_level == 0.0
    assert chat_performance(100, 1800, curve, 6).service_level == 0.0  # 0.0545 < 0.0556
    assert chat_performance(100, 1800, curve, 7).service_level > 0.0
    assert 1 < modelled.average_concurrency <= 3


def test_steeper_curve_needs_more_agents():
    gentle = chat_staffing(20000, 3600, [180, 200, 220])
    steep = chat_staffing(20000, 3600, [180, 320, 450])
    shortcut = concurrency_factor_shortcut(20000, 3600, [180, 320, 450])
    assert shortcut < gentle.agents < steep.agents
    assert chat_performance(20000, 3600, [180, 320, 450], shortcut).service_level < 0.8


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800.0), ("180s", 180.0), ("1h", 3600.0), ("600", 600.0), ("2.5m", 150.0),
     (" 20 S ", 20.0), ("0.5h", 1800.0), ("0", 0.0)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "30x", "-5s", "1h30m", "1e3", "nan", "inf", "3..0s"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "target"),
    [("80/20s", (0.8, 20.0)), ("80/20", (0.8, 20.0)), ("0.8/20s", (0.8, 20.0)),
     ("90%/1m", (0.9, 60.0)), ("0.5/30", (0.5, 30.0)), ("99.5/10s", (0.995, 10.0))],
)
def test_parse_target(text, target):
    level, seconds = parse_target(text)
    assert (level, seconds) == pytest.approx(target)


@pytest.mark.parametrize(
    ("text", "message"),
    [("80", "LEVEL/TIME"), ("80/20/5", "LEVEL/TIME"), ("abc/20s", "not a number"),
     ("100/20s", "below 100%"), ("0/20", "above 0"), ("1/20", "below 100%"),
     ("80/20x", "invalid duration"), ("-80/20", "above 0")],
)
def test_parse_target_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_target(text)


# --- validation ---------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="arrivals"):
        erlang_c_staffing(-1, 1800, 180)
    with pytest.raises(ValueError, match="interval_seconds"):
        erlang_c_staffing(100, 0, 180)
    with pytest.raises(ValueError, match="target"):
        erlang_c_staffing(100, 1800, 180, target=1.0)
    with pytest.raises(ValueError, match="agents"):
        p_wait(100, 1800, 180, 2.5)
    with pytest.raises(ValueError, match="patience"):
        erlang_a_performance(100, 1800, 180, 14, 0)
    with pytest.raises(ValueError, match="aht_by_concurrency"):
        chat_staffing(100, 1800, [])


def test_a_load_beyond_any_queue_is_refused_at_once_not_searched_for_hours():
    """Found by the newcomer attack: 1e12 arrivals in 30 minutes ran the O(agents) search
    for ever; past a million erlangs the answer is an error naming the load."""
    from operations.capacity import erlang_c_staffing

    with pytest.raises(ValueError, match="erlangs"):
        erlang_c_staffing(1e12, 1800, 180)
    assert erlang_c_staffing(1e6, 1800, 180).agents > 100_000  # a big but real load answers
