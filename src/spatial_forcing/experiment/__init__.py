"""Paired experiments: variants x seeds of training runs on one dataset, evaluated on the same initial states,
summarised with per-seed values, paired differences against a reference variant and learning curves."""
