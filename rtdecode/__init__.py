"""Real-time decoding of visual categories from EEG over LSL (Ferrante et al., CLIP KD)."""

__version__ = "0.1.0"
