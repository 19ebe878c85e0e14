"""What the commands share: the Hydra entry point and its error handling (``_entry``), the run-folder rules
(``rundir``) and ``--help`` (``help``). The commands themselves are the modules ``lnta/<name>.py``
(``python -m lnta.NAME`` or the ``lnta-NAME`` console script), one per primary config in ``conf/``."""
