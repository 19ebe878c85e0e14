"""Lightning callbacks of ``conf/callbacks``: resume, guards, calibration, dashboard, gallery."""
