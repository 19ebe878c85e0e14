"""The plural of a counted noun in messages."""
from lnta.text import counted


def test_counted_is_singular_for_one_only():
    assert [counted(n, "video") for n in (0, 1, 2)] == ["0 videos", "1 video", "2 videos"]
