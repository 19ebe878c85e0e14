"""--help describes the keys of the command (from the YAML comments), its groups and, for train, the experiments."""
from __future__ import annotations

from tests.conftest import REPO, run_cli


def test_train_help_lists_experiments_groups_and_commented_keys():
    out = run_cli("lnta.train", "--help").stdout
    assert "Usage: python -m lnta.train [+experiment=NAME]" in out
    for name in (p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml")):
        assert f"\n  {name} " in out, name
    assert "  anomaly     noise | [none] | patch | patch_skip | repeat | reverse | shuffle | skip | steal" in out
    assert "seed: 0            # seeds init, data order and pseudo anomalies" in out
    assert "width: 1.0              # multiplies every hidden channel count" in out
    assert "${paths.data_dir}" in out and "$$" not in out  # YAML shown as written
    patch = run_cli("lnta.train", "anomaly=patch", "--help").stdout  # the keys of the group chosen
    assert "Keys of anomaly (anomaly/patch.yaml" in patch and "beta: 10" in patch


def test_convert_help_lists_only_what_convert_uses():
    out = run_cli("lnta.convert", "--help").stdout
    assert "src: ???" in out and "calibrate: false" in out and "Keys of data (data/ped2.yaml" in out
    for other in ("experiment", "anomaly", "trainer", "callbacks", "logger", "model"):
        assert f"  {other} " not in out and f"Keys of {other}" not in out, other
