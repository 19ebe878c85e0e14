"""The command-line entry points, one module per primary config in ``conf/`` (``python -m lnta.cli.NAME``,
``python -m lnta.NAME`` or the ``lnta-NAME`` console script). Kept light: heavy modules load inside each command."""
