"""The seed's calculateSignificance, reproduced exactly."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from hypothesis import assume, given, settings
from scipy import stats as sps
from stats_strategies import two_samples

from campaign_core.errors import ValidationError
from campaign_core.stats import calculate_significance, two_proportion_ztest


def seed_reference(conv_a: int, imp_a: int, conv_b: int, imp_b: int) -> tuple[bool, float, str]:
    """The seed's TypeScript, line by line, with scipy's normal CDF."""
    p1 = conv_a / imp_a
    p2 = conv_b / imp_b
    pooled = (conv_a + conv_b) / (imp_a + imp_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / imp_a + 1 / imp_b))
    z = (p1 - p2) / se
    p_value = 2 * (1 - sps.norm.cdf(abs(z)))
    winner = "A" if p1 > p2 else "B" if p1 < p2 else "tie"
    return bool(p_value < 0.05), float(p_value), winner


@settings(max_examples=300, deadline=None)
@given(two_samples())
def test_matches_the_seed_formula(sample: tuple[int, int, int, int]) -> None:
    """significant, pValue and winner equal the seed's code on generated inputs."""
    ka, na, kb, nb = sample
    assume(0 < ka + kb < na + nb)
    result = calculate_significance(
        {"impressions": na, "conversions": ka}, {"impressions": nb, "conversions": kb}
    )
    significant, p_value, winner = seed_reference(ka, na, kb, nb)
    assert result.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-15)
    assert result.winner == winner
    if abs(p_value - 0.05) > 1e-12:
        assert result.significant == significant
    # Same test as the library's pooled z-test, up to the seed's 1 - Phi rounding.
    assert result.p_value == pytest.approx(
        two_proportion_ztest(ka, na, kb, nb).p_value, rel=1e-9, abs=1e-15
    )


def test_return_shape_is_the_seeds() -> None:
    """to_dict gives exactly significant, pValue and winner."""
    result = calculate_significance(
        {"impressions": 1000, "conversions": 100}, {"impressions": 1000, "conversions": 130}
    )
    assert result.to_dict() == {"significant": True, "pValue": result.p_value, "winner": "B"}
    assert result.p_value == pytest.approx(0.0354884504664747, rel=1e-12)


def test_winner_ignores_significance() -> None:
    """As in the seed, the higher rate is the 'winner' even when not significant."""
    result = calculate_significance(
        {"impressions": 1000, "conversions": 101}, {"impressions": 1000, "conversions": 100}
    )
    assert (result.significant, result.winner) == (False, "A")
    tie = calculate_significance(
        {"impressions": 10, "conversions": 1}, {"impressions": 20, "conversions": 2}
    )
    assert tie.winner == "tie"


def test_confidence_level_moves_the_threshold() -> None:
    """significant compares with 1 - confidence_level when one is given."""
    a = {"impressions": 1000, "conversions": 100}
    b = {"impressions": 1000, "conversions": 130}
    assert calculate_significance(a, b).significant
    assert not calculate_significance(a, b, confidence_level=0.99).significant


def test_seed_quirk_p_underflows_to_zero() -> None:
    """The seed's 2 * (1 - Phi(|z|)) rounds to exactly 0 for |z| > ~8.3; the library test does not."""
    a = {"impressions": 10_000, "conversions": 100}
    b = {"impressions": 10_000, "conversions": 400}
    assert calculate_significance(a, b).p_value == 0.0
    assert 0.0 < two_proportion_ztest(100, 10_000, 400, 10_000).p_value < 1e-40


def test_orientation_is_a_minus_b() -> None:
    """The seed's z is A minus B; the library's is B minus A; p-values agree."""
    seed = calculate_significance(
        {"impressions": 500, "conversions": 80}, {"impressions": 500, "conversions": 50}
    )
    ours = two_proportion_ztest(80, 500, 50, 500)
    assert seed.winner == "A"
    assert ours.z < 0
    assert seed.p_value == pytest.approx(ours.p_value, rel=1e-12)


def test_zero_spread_is_defined() -> None:
    """Both at 0 % (the seed's NaN) give p = 1, not significant, 'tie'."""
    result = calculate_significance(
        {"impressions": 100, "conversions": 0}, {"impressions": 50, "conversions": 0}
    )
    assert result.to_dict() == {"significant": False, "pValue": 1.0, "winner": "tie"}


def test_objects_with_attributes_work() -> None:
    """Inputs may be objects with impressions and conversions attributes."""
    a = SimpleNamespace(impressions=1000, conversions=100, clicks=5)
    b = SimpleNamespace(impressions=1000, conversions=130)
    assert calculate_significance(a, b).winner == "B"


@pytest.mark.parametrize(
    ("a", "b", "path"),
    [
        (
            {"impressions": 0, "conversions": 0},
            {"impressions": 10, "conversions": 1},
            "a.impressions",
        ),
        ({"conversions": 0}, {"impressions": 10, "conversions": 1}, "a.impressions"),
        (
            {"impressions": 10, "conversions": 11},
            {"impressions": 10, "conversions": 1},
            "a.conversions",
        ),
        (
            {"impressions": 10, "conversions": 1},
            {"impressions": 10, "conversions": -1},
            "b.conversions",
        ),
        (
            {"impressions": 10, "conversions": 1},
            {"impressions": 10.5, "conversions": 1},
            "b.impressions",
        ),
        ({"impressions": 10, "conversions": 1}, object(), "b.impressions"),
    ],
)
def test_bad_input_names_the_field(a: object, b: object, path: str) -> None:
    """Missing or bad fields raise ValidationError with paths like a.impressions."""
    with pytest.raises(ValidationError) as info:
        calculate_significance(a, b)
    assert path in [p.path for p in info.value.problems]


def test_bad_confidence_level_is_rejected() -> None:
    """confidence_level must be in (0, 1)."""
    with pytest.raises(ValidationError) as info:
        calculate_significance(
            {"impressions": 10, "conversions": 1},
            {"impressions": 10, "conversions": 1},
            confidence_level=95,
        )
    assert info.value.problems[0].path == "confidence_level"
