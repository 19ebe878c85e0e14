"""The bench's matmul peak (issue 25 item 6): measured on a product large enough for the CPU's fastest path,
so that "fraction of the peak" means the same with ``--quick`` and on every CPU kind."""
import pytest
import torch

from lnta.benchmark.names import LADDER_CALL_S
from lnta.benchmark.suite import matmul_peak


def _saturating(peak: float, knee: int):
    """A machine whose matmul rate grows linearly with the side up to ``knee``, then stays at ``peak``."""
    seen = []

    def rate(side: int) -> float:
        seen.append(side)
        return peak * min(side / knee, 1.0)
    return rate, seen


def test_the_ladder_climbs_until_one_call_takes_too_long():
    # an AMX-like CPU: a 256 product reaches an eighth of the peak (a fixed side of 256 read 1/8 of it);
    # the climb goes on to the first side whose call takes over the budget (8192: 1.1 s at 980 GFLOP/s)
    rate, seen = _saturating(980.0, knee=2048)
    peak, side, ladder = matmul_peak(torch.bfloat16, torch.device("cpu"), 1, rate=rate)
    assert (peak, side) == (980.0, 2048)
    assert 2 * 4096**3 / 980e9 < LADDER_CALL_S < 2 * 8192**3 / 980e9
    assert seen == [256, 512, 1024, 2048, 4096, 8192]
    assert ladder[:4] == [[256, 122.5], [512, 245.0], [1024, 490.0], [2048, 980.0]]


def test_one_side_measured_under_load_does_not_end_the_climb():
    rates = {256: 70.0, 512: 40.0, 1024: 95.0, 2048: 100.0, 4096: 99.0}  # 512 ran while the cores were busy
    peak, side, _ = matmul_peak(torch.float32, torch.device("cpu"), 1, rate=rates.__getitem__)
    assert (peak, side) == (100.0, 2048)  # 4096 takes 1.4 s a call: the last side tried


def test_an_emulated_dtype_stops_early():
    # emulated bf16 at 2.5 GFLOP/s: a 1024 product takes 0.86 s, over the call budget, so 2048 (7 s) is never tried
    rate, seen = _saturating(10.0, knee=4096)
    assert 2 * 1024**3 / 2.5e9 > LADDER_CALL_S > 2 * 512**3 / 1.25e9
    peak, side, _ = matmul_peak(torch.bfloat16, torch.device("cpu"), 1, rate=rate)
    assert seen == [256, 512, 1024] and (peak, side) == (2.5, 1024)


def test_a_pinned_side_measures_only_that_side():
    rate, seen = _saturating(100.0, knee=4096)
    peak, side, ladder = matmul_peak(torch.float32, torch.device("cpu"), 1, n=1024, rate=rate)
    assert seen == [1024] and (peak, side) == (25.0, 1024) and ladder == [[1024, 25.0]]


def test_the_real_measurement_runs():
    peak, side, ladder = matmul_peak(torch.float32, torch.device("cpu"), 1, n=64)
    assert side == 64 and peak > 0 and ladder == [[64, pytest.approx(peak)]]


def test_a_busy_cpu_is_named_before_the_bench_starts():
    from lnta.benchmark.suite import busy_cpu_note

    assert busy_cpu_note(0.3, 2) is None  # an idle 2-core machine (the share is 0.25 x 2 = 0.5)
    note = busy_cpu_note(2.1, 2)  # two other processes on the two cores
    assert note.startswith("warning: the CPU is busy") and "2.10 on 2 cores" in note
    assert busy_cpu_note(2.1, 16) is None  # the same load on 16 cores
    assert busy_cpu_note(None, 2) is None  # no load average on this OS: nothing to say
