"""The model registry (:mod:`rtdecode.models.registry`) and the models it lists: one module each."""
