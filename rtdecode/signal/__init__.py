"""Pure DSP, no I/O: causal filter bank, standardization, time-frequency decompositions."""
