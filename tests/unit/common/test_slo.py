"""SLO math of Figures: availability, coverage, unknown, error budget and burn rate."""

from __future__ import annotations

import math

import pytest

from slaprobe.core.model import State
from slaprobe.core.slo import Figures

OBJ = 0.999


def fig(up: float = 0.0, down: float = 0.0, maint: float = 0.0, net: float = 0.0,
        length: float = 1000.0) -> Figures:
    return Figures(up=up, down=down, maintenance=maint, probe_network=net, length=length)


@pytest.mark.parametrize(
    ("f", "availability", "coverage", "unknown"),
    [
        (fig(up=1000), 1.0, 1.0, 0.0),
        (fig(up=999, down=1), 0.999, 1.0, 0.0),
        (fig(up=500, down=500), 0.5, 1.0, 0.0),
        (fig(down=1000), 0.0, 1.0, 0.0),
        (fig(up=400, down=100, maint=300, net=100), 0.8, 0.9, 100.0),
        (fig(up=100), 1.0, 0.1, 900.0),
        (fig(maint=1000), None, 1.0, 0.0),
        (fig(net=250), None, 0.25, 750.0),
        (fig(), None, 0.0, 1000.0),
        (fig(length=0), None, None, 0.0),
        (fig(up=10, length=0), 1.0, None, 0.0),
        (fig(up=1200), 1.0, 1.0, 0.0),  # rounding past the window: clamped, never > 1
    ],
)
def test_availability_coverage_unknown(
    f: Figures, availability: float | None, coverage: float | None, unknown: float,
) -> None:
    """availability = up/(up+down) (None without both), coverage = known/length, unknown rest."""
    if availability is None:
        assert f.availability is None
    else:
        assert f.availability == pytest.approx(availability, abs=1e-12)
    if coverage is None:
        assert f.coverage is None
    else:
        assert f.coverage == pytest.approx(coverage, abs=1e-12)
    assert f.unknown == pytest.approx(unknown, abs=1e-12)
    assert f.excluded == f.maintenance + f.probe_network


@pytest.mark.parametrize(
    ("f", "budget", "burn", "met"),
    [
        (fig(up=1000), 1.0, 0.0, True),
        (fig(up=999, down=1), 0.0, 1.0, True),  # exactly on the objective
        (fig(up=9995, down=5, length=10000), 0.5, 0.5, True),
        (fig(up=998, down=2), -1.0, 2.0, False),  # exhausted: negative remaining
        (fig(up=900, down=100), -99.0, 100.0, False),
        (fig(down=1000), -999.0, 1000.0, False),
        (fig(up=400, down=0, maint=600), 1.0, 0.0, True),  # exclusions don't spend budget
        (fig(maint=1000), None, None, None),
        (fig(), None, None, None),
    ],
)
def test_budget_and_burn_rate(
    f: Figures, budget: float | None, burn: float | None, met: bool | None,
) -> None:
    """budget = 1 - down/((1-obj)(up+down)); burn = (1-avail)/(1-obj); undefined: None."""
    if budget is None:
        assert f.budget_remaining(OBJ) is None
        assert f.burn_rate(OBJ) is None
    else:
        assert f.budget_remaining(OBJ) == pytest.approx(budget, abs=1e-9)
        assert f.burn_rate(OBJ) == pytest.approx(burn, abs=1e-9)
        burn_rate = f.burn_rate(OBJ)
        assert burn_rate is not None
        assert f.budget_remaining(OBJ) == pytest.approx(1 - burn_rate, abs=1e-9)
    assert f.objective_met(OBJ) is met


@pytest.mark.parametrize("objective", [0.9, 0.99, 0.999, 0.9999])
def test_burn_rate_of_one_spends_the_budget_exactly(objective: float) -> None:
    """Failing exactly at the objective's rate burns at 1 and leaves zero budget."""
    counted = 1_000_000.0
    down = counted * (1 - objective)
    f = fig(up=counted - down, down=down, length=counted)
    assert f.burn_rate(objective) == pytest.approx(1.0, rel=1e-9)
    assert f.budget_remaining(objective) == pytest.approx(0.0, abs=1e-9)


def test_thirty_day_budget_in_minutes() -> None:
    """At 99.9 % over 30 days the budget is 43.2 minutes: 21.6 minutes down leaves half."""
    length = 30 * 86400.0
    f = fig(up=length - 21.6 * 60, down=21.6 * 60, length=length)
    assert f.budget_remaining(OBJ) == pytest.approx(0.5, abs=1e-9)
    assert f.burn_rate(OBJ) == pytest.approx(0.5, abs=1e-9)


def test_of_maps_state_totals() -> None:
    """Figures.of reads totals indexed by State."""
    totals = [0.0] * len(State)
    for state, seconds in ((State.UP, 1), (State.DOWN, 2), (State.PROBE_NETWORK, 3),
                           (State.MAINTENANCE, 4)):
        totals[state] = seconds
    f = Figures.of(totals, 20)
    assert (f.up, f.down, f.probe_network, f.maintenance, f.length) == (1, 2, 3, 4, 20)
    assert f.unknown == 10


def test_undefined_availability_is_never_one() -> None:
    """No up and no down time: availability is None, so it can be exposed as NaN, not 1."""
    f = fig(maint=500, net=500)
    value = math.nan if f.availability is None else f.availability
    assert math.isnan(value)
