"""Words of the messages every package prints."""
from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, in the plural (an ``s`` added) unless ``n`` is 1: ``counted(1, "video")`` is
    ``"1 video"``, ``counted(2, "video")`` ``"2 videos"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
