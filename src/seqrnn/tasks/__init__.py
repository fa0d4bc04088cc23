"""Tasks: the estimator base (`base`), what sequence-level and stream tasks share (`sequence`,
`streams`), one module per task, and the registry of tasks (`registry`)."""
