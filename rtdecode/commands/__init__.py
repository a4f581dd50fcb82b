"""The core's subcommands, one module per group; :mod:`rtdecode.cli` asks each to add its own.

Each module's ``register(sub)`` adds its subparsers to the ``rtdecode`` parser, the same shape as
the functions calibration and gui declare in the ``rtdecode.commands`` entry-point group:

- :mod:`~rtdecode.commands.recordings`: ``simulate``, ``info``, ``predict`` (files on disk);
- :mod:`~rtdecode.commands.stream`: ``live``, ``replay``, ``record`` (LSL streams);
- :mod:`~rtdecode.commands.reconstruct`: ``pregenerate``, ``figure`` (text-to-image).

Handlers import their heavy modules (torch, pylsl, diffusers) when they run, so that
``rtdecode --help`` and the light subcommands start fast.
"""
