"""The run layer: plan a run, run its jobs one by one or in threads, reconcile, retry, lock."""
