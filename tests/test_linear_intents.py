"""How DIET's ranking and the regression's are mixed (bot.components.linear_intents.blend)."""

from __future__ import annotations

import pytest

from bot.components.linear_intents import blend, with_veto


def best(ranking: dict[str, float]) -> tuple[str, float]:
    return max(ranking.items(), key=lambda kv: kv[1])


@pytest.mark.parametrize("combine", ["geometric", "arithmetic"])
def test_the_mix_is_a_distribution_over_both_rankings(combine):
    mixed = blend({"a": 0.6, "b": 0.4}, {"b": 0.7, "c": 0.3}, 0.5, combine)
    assert set(mixed) == {"a", "b", "c"}
    assert sum(mixed.values()) == pytest.approx(1.0)


def test_two_sure_rankings_that_disagree_tie_under_the_arithmetic_mean():
    """DIET sure of faq, the regression as sure of report_lost_sim: the arithmetic mean (our
    choice) makes the tie the ambiguity fallback declines, and the customer is asked to
    rephrase; the geometric one sides with the larger share as if it were sure."""
    diet = {"faq": 0.99, "report_lost_sim": 0.01}
    regression = {"faq": 0.01, "report_lost_sim": 0.99}
    arithmetic = blend(regression, diet, 0.5, "arithmetic")
    assert arithmetic["faq"] == pytest.approx(arithmetic["report_lost_sim"])
    geometric = blend(regression, diet, 0.7, "geometric")
    assert best(geometric)[0] == "report_lost_sim"
    assert geometric["report_lost_sim"] - geometric["faq"] > 0.5


def test_a_sure_ranking_outweighs_a_vague_one():
    diet = {"faq": 0.55, "report_lost_sim": 0.45}
    regression = {"faq": 0.05, "report_lost_sim": 0.95}
    assert best(blend(regression, diet, 0.3, "geometric"))[0] == "report_lost_sim"
    assert best(blend(diet, regression, 0.3, "geometric"))[0] == "report_lost_sim"


def test_agreement_makes_the_mix_surer_than_either():
    mixed = blend({"greet": 0.7, "goodbye": 0.3}, {"greet": 0.7, "goodbye": 0.3}, 0.5,
                  "geometric")
    assert mixed["greet"] == pytest.approx(0.7, abs=1e-3)
    mixed = blend({"greet": 0.8, "goodbye": 0.2}, {"greet": 0.6, "bye": 0.4}, 0.5, "geometric")
    assert best(mixed) == ("greet", pytest.approx(mixed["greet"]))
    assert mixed["greet"] > 0.8


def test_a_share_of_one_or_zero_is_one_ranking_alone():
    regression, diet = {"a": 0.9, "b": 0.1}, {"a": 0.2, "b": 0.8}
    assert blend(regression, diet, 1.0, "arithmetic") == pytest.approx(regression)
    assert blend(regression, diet, 0.0, "geometric") == pytest.approx(diet, abs=1e-4)


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="geometric or arithmetic"):
        blend({"a": 1.0}, {"a": 1.0}, 0.5, "harmonic")


def test_a_sure_off_topic_verdict_of_the_regression_decides():
    """ "what are black holes": DIET says faq 1.00, the regression out_of_scope 0.94."""
    mixed = {"faq": 0.9, "out_of_scope": 0.05, "greet": 0.05}
    vetoed = with_veto(mixed, {"out_of_scope": 0.94, "faq": 0.06}, 0.5)
    assert best(vetoed) == ("out_of_scope", 0.94)
    assert sum(vetoed.values()) == pytest.approx(1.0)
    assert vetoed["faq"] > vetoed["greet"]  # the rest keep their order


@pytest.mark.parametrize("off_topic, veto", [(0.49, 0.5), (0.94, None)])
def test_below_the_veto_or_without_one_the_mix_stands(off_topic, veto):
    mixed = {"faq": 0.9, "out_of_scope": 0.1}
    assert with_veto(mixed, {"out_of_scope": off_topic}, veto) == mixed
