"""The one timing harness of lnta.bench (torch.utils.benchmark.Timer): how many calls, what it returns."""
import pytest
import torch

from lnta.benchmark.timing import seconds_per_call, timer_warmup


@pytest.mark.parametrize("calls", [1, 3, 250])
def test_harness_times_one_block_after_the_timer_warmup(calls):
    made = []
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seconds = seconds_per_call(lambda: made.append(torch.get_num_threads()), calls)
    finally:
        torch.set_num_threads(threads)
    assert len(made) == calls + timer_warmup(calls)
    assert set(made) == {2}  # the process's threads, not the Timer's default of one
    assert isinstance(seconds, float) and seconds > 0


def test_harness_needs_a_timed_call():
    with pytest.raises(ValueError, match="calls=0"):
        seconds_per_call(lambda: None, 0)
