"""LSL edges: reader, player (replay), simulated subject, recorder."""
