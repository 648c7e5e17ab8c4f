"""Inference: predicting and scoring sets, the fast eval path, timing, predicting a folder of images."""
