"""The student network."""
