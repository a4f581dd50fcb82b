"""LSL edges only: reader, player (replay), recorder, stream discovery (the simulator is in rtdecode.sim)."""
