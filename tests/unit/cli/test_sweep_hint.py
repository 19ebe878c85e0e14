"""The ``++`` hint of a multirun names only keys inside a swept group; elsewhere Hydra's ``+`` hint stands."""
from lnta.cli._entry import _sweep_hint

HYDRA = ("Could not override 'trainer.limit_test_batches'. To append to your config use "
         "+trainer.limit_test_batches=3 Key 'limit_test_batches' is not in struct")


def _hydra(key: str) -> str:
    return HYDRA.replace("trainer.limit_test_batches", key)


def test_a_key_of_a_swept_group_gets_the_double_plus_hint():
    argv = ["-m", "+experiment=synthetic_skip", "anomaly=none,skip", "anomaly.p=0.1"]
    assert "use ++anomaly.p=..." in _sweep_hint(_hydra("anomaly.p"), argv)
    assert "use ++anomaly.intruder.alpha=..." in _sweep_hint(_hydra("anomaly.intruder.alpha"), argv)


def test_a_key_outside_the_swept_groups_keeps_hydras_hint():
    argv = ["-m", "+experiment=synthetic_skip", "anomaly=none,skip", "trainer.limit_test_batches=3"]
    assert _sweep_hint(_hydra("trainer.limit_test_batches"), argv) == ""
    assert _sweep_hint(_hydra("anomalyx.p"), argv) == ""  # a prefix of the name is no group


def test_no_hint_outside_a_multirun():
    assert _sweep_hint(_hydra("anomaly.p"), ["anomaly=skip", "anomaly.p=0.1"]) == ""
