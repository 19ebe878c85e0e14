"""Metrics: the reference protocol (PSNR, min-max, AUC), the frame and pixel scorers, calibration, epoch selection."""
