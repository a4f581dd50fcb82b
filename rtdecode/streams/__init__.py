"""LSL edges only: reader, player (replay), recorder, stream discovery, and the live session that
resolves a source's streams and runs reader + marker reader + decoder (the simulator is in rtdecode.sim)."""
