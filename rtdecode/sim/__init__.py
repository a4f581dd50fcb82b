"""The simulated subject: EEG with class-dependent visual evoked responses, its stimuli and montage.

Offline sessions (:func:`save_simulated_session`), the ground truth behind them (oracle) and, in
:mod:`rtdecode.sim.live`, the same subject as live LSL outlets. The LSL code in
:mod:`rtdecode.streams` never imports this package.
"""
