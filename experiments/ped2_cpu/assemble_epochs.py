"""Write RUN/epochs.csv for the recorded runs from their per-epoch evaluations.

The recorded study (commit 21d4a6b's run.sh) evaluated epochs 0..n-2 into RUN/epochs/epochNNN/ and
the last epoch at the end of training (RUN/metrics.json); this gathers those metrics into the
epochs.csv that ``lnta.report`` reads for the oracle protocol, without evaluating anything again.
Today's run.sh writes epochs.csv directly with ``python -m lnta.eval ckpt_path=RUN``.
"""
import json
import sys
from pathlib import Path

from lnta.reporting.test_outputs import write_epoch_table

for run in sorted(Path(sys.argv[1] if len(sys.argv) > 1 else "experiments/ped2_cpu/runs").glob("*/seed*")):
    if not (run / "metrics.json").is_file() or (run / "epochs.csv").is_file():
        continue
    files = sorted(run.glob("epochs/epoch*/metrics.json")) + [run / "metrics.json"]
    write_epoch_table(run, [json.loads(f.read_text()) for f in files])
    print(run, len(files), "epochs")
