"""Metrics: the reference protocol (PSNR, min-max, AUC), the frame and pixel scorers, region- and
track-based detection criteria (RBDC/TBDC), calibration, epoch selection."""
