"""Whose queue holds which spot: the order an annotator sees and the spots their page claims.

Pure functions over plain data (the query, the journal's skips and claims), so two annotators
splitting one queue can be checked without a browser or a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from .. import _constants as K

__all__ = ["claims_to_renew", "queue_order"]


def queue_order(
    todo: Sequence[str], *, annotator: str, skipped: Sequence[str] = (), claims: Mapping[str, str] | None = None
) -> list[str]:
    """The unlabelled spots ``todo`` (in the order asked) in the order ``annotator`` works through them.

    Spots another annotator holds a claim on are left out (they have them on screen); spots
    ``annotator`` skipped come last, the longest ago first; the rest keep the query's order.

    Parameters
    ----------
    todo
        The query's unlabelled spots, in the order the round asked them.
    annotator
        Whose queue this is.
    skipped
        Spots ``annotator`` skipped (:meth:`LabelStore.skipped`), oldest skip first.
    claims
        Spot -> annotator of every claim that holds now (:meth:`LabelStore.claims`).
    """
    claims = claims or {}
    mine = [item for item in todo if claims.get(item, annotator) == annotator]
    last = set(skipped)
    position = {item: i for i, item in enumerate(skipped)}
    return [item for item in mine if item not in last] + sorted(
        (item for item in mine if item in last), key=position.__getitem__
    )


def claims_to_renew(
    shown: Sequence[str],
    *,
    annotator: str,
    claims: Mapping[str, tuple[str, datetime]],
    now: datetime,
    renew_s: float = K.CLAIM_RENEW_S,
) -> list[str]:
    """The spots of ``shown`` that ``annotator``'s page should claim now.

    Those nobody holds, and those ``annotator`` holds by a claim older than ``renew_s``; never
    one another annotator holds. Most reruns of the page then claim nothing (no write), and a
    page left open keeps its spots while it is looked at.

    Parameters
    ----------
    shown
        The unlabelled spots on the page: the focused spot and the gallery's.
    annotator
        Who looks at the page.
    claims
        Spot -> (annotator, time of the claim) of every claim that holds now.
    now
        The time now (timezone-aware, like the claims').
    """
    fresh = now - timedelta(seconds=renew_s)
    return [
        item
        for item in dict.fromkeys(shown)
        if item not in claims or (claims[item][0] == annotator and claims[item][1] <= fresh)
    ]
