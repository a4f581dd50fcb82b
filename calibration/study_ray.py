"""Run a study's tasks on Ray: each (subject, seed, network, distilled or not) run is one task.

:class:`RayExecutor` is the :class:`calibration.study.Executor` that ``run_study`` is given for a
study on Ray. Ray is optional (``pip install 'rtdecode[ray]'``). Each task runs
:func:`calibration.study.execute` (the task's own run), the function the sequential executor runs, and asks Ray for
``threads`` CPUs (torch uses as many threads) and, when the cluster has GPUs, ``gpus_per_run``
GPUs (the task then trains on the GPU Ray assigns it). The subjects' prepared data is read from
the study folder, so the workers must see it (one machine, or a shared file system).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from calibration.study import Journal, execute

log = logging.getLogger(__name__)


def _init_ray(address: str, cpus: int | None):
    try:
        import ray
    except ImportError as err:
        raise ValueError(
            "--ray needs Ray: pip install 'rtdecode[ray]' (or ray==2.60.0); without --ray the study runs here"
        ) from err
    if ray.is_initialized():
        return ray
    # The workers import this project as the driver does.
    env = {
        "env_vars": {
            "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), os.getcwd()) if p)
        }
    }
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "runtime_env": env}
    if address == "local":
        ray.init(num_cpus=cpus, **kwargs)
    elif address == "auto":
        try:
            ray.init(address="auto", **kwargs)
        except ConnectionError:
            log.info("no running Ray cluster: starting a local one")
            ray.init(num_cpus=cpus, **kwargs)
    else:
        ray.init(address=address, **kwargs)
    return ray


@dataclass(frozen=True)
class RayExecutor:
    """The :class:`calibration.study.Executor` that runs every task as a Ray task.

    Attributes
    ----------
    address : str
        ``"auto"`` (join a running cluster, else start one here), ``"local"`` (start one here) or
        a cluster address (``ray://host:10001``, ``host:6379``).
    cpus : int, optional
        CPUs of a Ray instance started here (default: all of this machine's).
    gpus_per_run : float, optional
        GPUs per task when the cluster has any (default 1; fractions share a GPU).
    """

    address: str = "auto"
    cpus: int | None = None
    gpus_per_run: float | None = None

    def __call__(
        self, tasks: Sequence[Any], config: Any, journal: Journal
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Run ``tasks`` as Ray tasks and return their results in task order.

        Parameters
        ----------
        tasks : sequence of StudyTask
        config : StudyConfig
            ``config.train.threads`` (default 1) is each task's CPU request and torch thread count.
        journal : Journal
            Runs already in it are not sent again; each result is added as soon as it comes back,
            so a study stopped midway resumes from what finished.

        Returns
        -------
        results : list of dict
        executor : dict
            ``kind``, ``address``, the cluster's resources and what each task asked for.
        """
        ray = _init_ray(self.address, self.cpus)
        threads = config.train.threads or 1
        config = replace(config, train=replace(config.train, threads=threads))
        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0.0)
        per_task = {"num_cpus": threads, "num_gpus": (self.gpus_per_run or 1.0) if gpus else 0}
        remote = ray.remote(**per_task)(execute)
        results: list[dict[str, Any] | None] = [journal.get(t) for t in tasks]
        index = {remote.remote(task, config): i for i, task in enumerate(tasks) if results[i] is None}
        pending, done = list(index), len(tasks) - len(index)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                results[index[ref]] = journal.add(ray.get(ref))
            done += len(ready)
            log.info("ray: %d/%d runs done", done, len(tasks))
        executor = {
            "kind": "ray",
            "address": self.address,
            "cluster": {k: float(v) for k, v in resources.items() if k in ("CPU", "GPU", "memory")},
            "per_task": per_task,
        }
        return results, executor
