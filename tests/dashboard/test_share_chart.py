"""The acknowledgement chart tells a week with nothing to measure from a week at 0 %."""

from __future__ import annotations

from admin.dashboard import PLOT_BOTTOM, ZERO_SHARE_HEIGHT, shares
from api.dashboard.schemas import Acknowledgement, AcknowledgementWeek


def _week(week: str, numerator: int, denominator: int) -> AcknowledgementWeek:
    return AcknowledgementWeek(
        week=week,
        numerator=numerator,
        denominator=denominator,
        pending=0,
        share=numerator / denominator if denominator else None,
    )


ACKNOWLEDGEMENT = Acknowledgement(
    weeks=[_week("2026-W45", 0, 0), _week("2026-W46", 0, 3), _week("2026-W47", 2, 4)],
    numerator=2,
    denominator=7,
    pending=0,
    share=2 / 7,
)


def test_a_week_at_zero_has_a_sliver_and_a_week_without_cases_a_dash() -> None:
    chart = shares(ACKNOWLEDGEMENT)
    assert [bar.week for bar in chart.bars] == ["2026-W46", "2026-W47"]
    zero, half = chart.bars
    assert zero.height == ZERO_SHARE_HEIGHT and zero.y == PLOT_BOTTOM - ZERO_SHARE_HEIGHT
    assert (zero.value, zero.of) == (0, 3)
    assert half.height > ZERO_SHARE_HEIGHT
    assert [gap.text for gap in chart.gaps] == ["2026-W45"]
