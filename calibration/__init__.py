"""Training side: epoching, teacher, distillation, baselines, metrics, reports."""
