"""Measuring a trained model: the attribute classifier, linear probes, metrics, figures, the report."""
