"""In a multirun, Hydra's ``+KEY`` hint gets the ``++KEY`` that works in every job (also for a sweep over
experiments, whose keys lie outside the swept group's name); outside a multirun Hydra's hint stands alone."""
from lnta.cli._entry import _sweep_hint

HYDRA = ("Could not override 'anomaly.beta'. To append to your config use +anomaly.beta=3 "
         "Key 'beta' is not in struct")


def test_a_multirun_gets_the_double_plus_hint_whatever_is_swept():
    for argv in (["-m", "+experiment=synthetic_baseline,synthetic_patch", "anomaly.beta=3"],  # @package _global_
                 ["-m", "anomaly=none,skip", "anomaly.beta=3"],
                 ["--multirun", "seed=0,1", "anomaly.beta=3"]):
        assert "use ++anomaly.beta=..." in _sweep_hint(HYDRA, argv), argv


def test_no_hint_outside_a_multirun():
    assert _sweep_hint(HYDRA, ["anomaly=skip", "anomaly.beta=3"]) == ""
    assert _sweep_hint("Could not override 'x'. Key 'x' is not in struct", ["-m", "seed=0,1"]) == ""
