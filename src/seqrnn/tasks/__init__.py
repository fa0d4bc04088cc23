"""Tasks: the estimator base and one module per task."""
