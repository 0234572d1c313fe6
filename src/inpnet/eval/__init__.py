"""Evaluation: metrics, classical baselines and restoration-mode degradations."""
