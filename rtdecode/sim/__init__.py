"""The simulated subject: EEG with class-dependent visual evoked responses, its stimuli and montage.

Import each name from the module that defines it:

- :mod:`~rtdecode.sim.config`: :class:`SimulationConfig`, everything that defines a session;
- :mod:`~rtdecode.sim.subject`: :class:`SimulatedSubject` (ground truth, protocol, oracle) and
  its chunked :class:`SignalGenerator`;
- :mod:`~rtdecode.sim.background`, :mod:`~rtdecode.sim.evoked`: the two parts of the signal;
- :mod:`~rtdecode.sim.stimuli`: latent features and the stimulus images;
  :mod:`~rtdecode.sim.montage`: the 128 channels; :mod:`~rtdecode.sim.seeds`: the random streams;
- :mod:`~rtdecode.sim.session`: offline sessions (``simulate_session``, ``save_simulated_session``);
- :mod:`~rtdecode.sim.oracle`: the ground truth applied to a recording;
- :mod:`~rtdecode.sim.live`: the same subject as live LSL outlets.

The class names come from :mod:`rtdecode.classes`. The LSL code in :mod:`rtdecode.streams` never
imports this package.
"""
