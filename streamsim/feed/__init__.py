"""Market data on its way in: sources, batches, the merge, feed models and data quality."""
