"""Who a review reply goes to when the patch names a crowd (issue 16 item 12): at most
max_recipients addresses; the author, the configured lists and the people the patch
names in its trailers come before strangers."""

from __future__ import annotations

from test_review_compose_units import SENDER, _finding, _Headers, _result, _series

from patchbot.review.compose import compose_replies
from patchbot.series.model import Trailer


def test_the_cap_keeps_author_list_and_trailer_people_first():
    series = _series()
    series.patches[0].trailers = [
        Trailer("Cc", "Maint Ainer <maint@example.org>", 3),
        Trailer("Signed-off-by", "Ada Example <ada@example.org>", 4),
    ]
    strangers = [f"s{n}@example.net" for n in range(30)]
    headers = {
        "p1@example.org": _Headers(
            sender="Ada Example <ada@example.org>",
            to=strangers[:15],
            cc=[
                *strangers[15:20],
                "Maint Ainer <maint@example.org>",
                *strangers[20:],
                "demo-list@lists.example.org",
            ],
        )
    }
    result = _result(series, [_finding(19, "no")])
    (mail,) = compose_replies(
        series,
        result,
        sender=SENDER,
        headers=headers,
        max_recipients=4,
        lists=["demo-list@lists.example.org"],
    )
    assert mail.to == ["Ada Example <ada@example.org>"]
    # header order among the kept ones: s0, then Maint, then the list
    assert mail.cc == [
        "s0@example.net",
        "Maint Ainer <maint@example.org>",
        "demo-list@lists.example.org",
    ]
    (default,) = compose_replies(series, result, sender=SENDER, headers=headers)
    assert len(default.to) + len(default.cc) == 10
    assert "demo-list@lists.example.org" not in default.cc  # not configured: no priority
    assert "Maint Ainer <maint@example.org>" in default.cc
