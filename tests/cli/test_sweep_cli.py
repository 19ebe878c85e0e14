"""Issue 25 item 5: a sweep over anomaly types with one anomaly.p, as a user writes it."""
import json

import pytest
from omegaconf import OmegaConf

from tests.conftest import one_error, run_cli, tiny_overrides


@pytest.mark.slow
def test_a_sweep_over_anomaly_types_sets_p_without_plus(tmp_path):
    """``-m 'anomaly=none,skip' anomaly.p=0.1`` failed with Hydra's "use +anomaly.p" (the default anomaly=none
    had no p, and '+' would then fail for skip); every anomaly config now has p (none ignores it)."""
    sweep = tmp_path / "sweep"
    tiny = [o for o in tiny_overrides(tmp_path) if not o.startswith("hydra.run")]
    run_cli("lnta.train", "-m", "anomaly=none,skip", "anomaly.p=0.1", f"hydra.sweep.dir={sweep}", *tiny)
    jobs = sorted(p.parent.parent for p in sweep.glob("*/.hydra/config.yaml"))
    assert len(jobs) == 2 and all((job / "metrics.json").is_file() for job in jobs)
    anomalies = {OmegaConf.load(job / ".hydra" / "config.yaml").anomaly.get("name", "skip"): job for job in jobs}
    assert OmegaConf.load(anomalies["skip"] / ".hydra" / "config.yaml").anomaly.p == 0.1
    assert json.loads((anomalies["none"] / "metrics.json").read_text())["auc_micro"] is not None


def test_an_override_that_some_swept_options_lack_is_told_to_use_double_plus():
    result = run_cli("lnta.train", "-m", "anomaly=skip,patch", "anomaly.bogus=1", check=False)
    assert "use ++anomaly.bogus=..." in one_error(result)
