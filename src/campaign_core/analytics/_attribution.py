"""Last-click attribution: which click a conversion is credited to.

A conversion is attributed to the same fan's **last click on the same
campaign at or before it**, within a look-back window (30 days by default).
That gives the seed's ``CampaignConversion.clickedAt`` and ``timeToConvert``
(whole seconds). A conversion without a fan, or without such a click, is
still a conversion: it simply has no click (``clickedAt`` null).

:func:`attribute_last_clicks` does it for a whole batch at once (one sort of
clicks and conversions together and a running maximum), which is what a
batch ingestion (``track_events``) needs; for a single conversion the store's
"latest click of this fan on this campaign" query gives the same answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import numpy as np
import numpy.typing as npt

from campaign_core.analytics._events import CLICK, CONVERSION, EventBatch, from_epoch_ms
from campaign_core.errors import ValidationError

__all__ = ["DEFAULT_ATTRIBUTION_WINDOW", "ClickAttribution", "attribute_last_clicks"]

DEFAULT_ATTRIBUTION_WINDOW = timedelta(days=30)


@attrs.frozen(eq=False)
class ClickAttribution:
    """The attributed click of every conversion of a batch (parallel arrays).

    Attributes:
        conversion_rows: the batch rows that are conversions, in batch order.
        click_rows: for each, the batch row of its attributed click, ``-1`` for none.
        time_to_convert: seconds from that click to the conversion (floored),
            ``-1`` for none.
    """

    conversion_rows: npt.NDArray[np.int64]
    click_rows: npt.NDArray[np.int64]
    time_to_convert: npt.NDArray[np.int64]
    _clicked_ms: npt.NDArray[np.int64] = attrs.field(alias="clicked_ms")

    def __len__(self) -> int:
        return int(self.conversion_rows.shape[0])

    def clicked_at(self, index: int) -> datetime | None:
        """The attributed click's time for the ``index``-th conversion, or ``None``."""
        if self.click_rows[index] < 0:
            return None
        return from_epoch_ms(int(self._clicked_ms[index]))

    def seconds_to_convert(self, index: int) -> int | None:
        """``timeToConvert`` of the ``index``-th conversion, or ``None`` without a click."""
        value = int(self.time_to_convert[index])
        return None if value < 0 else value


def attribute_last_clicks(
    batch: EventBatch, *, window: timedelta = DEFAULT_ATTRIBUTION_WINDOW
) -> ClickAttribution:
    """Attribute each conversion of a batch to its fan's last click on the same campaign.

    Args:
        batch: events holding the clicks and the conversions (with a fan
            column; the campaign column, when present, keeps campaigns apart).
            A click at the very same millisecond as the conversion counts.
        window: how far back a click may be (positive; default 30 days).

    Returns:
        The :class:`ClickAttribution`; without a fan column nothing is attributed.

    Raises:
        ValidationError: not a batch, or a window that is not a positive timedelta.
    """
    if not isinstance(batch, EventBatch):
        raise ValidationError.single("batch", "must be an EventBatch", "invalid_type")
    if not isinstance(window, timedelta) or window <= timedelta(0):
        raise ValidationError.single("window", "must be a positive timedelta", "invalid_value")
    conversions = np.flatnonzero(batch.kind == CONVERSION).astype(np.int64)
    none = np.full(conversions.shape[0], -1, dtype=np.int64)
    if batch.fan is None or conversions.size == 0:
        return ClickAttribution(conversions, none, none.copy(), clicked_ms=none.copy())
    fan = batch.fan
    camp = batch.campaign.codes
    times = batch.occurred_at_ms
    clicks = np.flatnonzero((batch.kind == CLICK) & (fan >= 0)).astype(np.int64)
    rows = np.concatenate([clicks, conversions])
    is_click = np.zeros(rows.shape[0], dtype=bool)
    is_click[: clicks.shape[0]] = True
    # order by campaign, fan, time, and clicks before conversions at the same instant
    order = np.lexsort((~is_click, times[rows], fan[rows], camp[rows]))
    sorted_rows = rows[order]
    sorted_click = is_click[order]
    position = np.arange(sorted_rows.shape[0], dtype=np.int64)
    last_click_pos = np.maximum.accumulate(np.where(sorted_click, position, -1))
    conv_pos = np.flatnonzero(~sorted_click)
    candidate = last_click_pos[conv_pos]
    conv_rows_sorted = sorted_rows[conv_pos]
    found = candidate >= 0
    click_rows = np.full(conv_pos.shape[0], -1, dtype=np.int64)
    click_rows[found] = sorted_rows[candidate[found]]
    valid = found.copy()
    valid[found] = (
        (fan[click_rows[found]] == fan[conv_rows_sorted[found]])
        & (camp[click_rows[found]] == camp[conv_rows_sorted[found]])
        & (fan[conv_rows_sorted[found]] >= 0)
        & (
            times[conv_rows_sorted[found]] - times[click_rows[found]]
            <= window // timedelta(milliseconds=1)
        )
    )
    click_rows[~valid] = -1
    # back to batch order of the conversions
    back = np.argsort(conv_rows_sorted, kind="stable")
    click_rows = click_rows[back]
    conv_sorted_back = conv_rows_sorted[back]
    clicked_ms = np.where(click_rows >= 0, times[np.maximum(click_rows, 0)], -1)
    seconds = np.where(click_rows >= 0, (times[conv_sorted_back] - clicked_ms) // 1000, -1)
    return ClickAttribution(
        conv_sorted_back,
        click_rows,
        seconds.astype(np.int64),
        clicked_ms=clicked_ms.astype(np.int64),
    )
