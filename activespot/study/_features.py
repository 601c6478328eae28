"""Every section's features, one task per section: here in turn, on local worker processes, or on a dask cluster.

Each task is :meth:`Project.update_features` on one section: atomic, cached per block, and a no-op
when the stored features are current, so a task run twice (a worker lost part-way and the task
rescheduled, or the command run again) gives the same file as one run. A section whose features
are a transfer's joint blocks keeps them: its rounds train in that joint space, and per-section
features of the same shape would mix two spaces without a word.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _constants as K
from .._progress import progress_bar
from ..errors import ActivespotError, SettingError
from ._study import Study, StudyError

if TYPE_CHECKING:
    from distributed import Client

    from ..config import Config

__all__ = ["SectionFeatures", "open_scheduler", "update_study_features", "worker_device"]

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # how long a tcp:// scheduler has to answer before the command gives up
_TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
RETRIES = 2  # re-runs of a section whose task raised (a lost worker's task is rescheduled by dask itself)


@dataclass(frozen=True)
class SectionFeatures:
    """What one section's task did.

    Attributes
    ----------
    sample
        The section.
    computed
        Whether features were computed (``False``: already current, or a transfer's joint blocks kept).
    joint
        The section holds a transfer's joint features, which were kept.
    seconds
        Wall time of the task, where it ran.
    shapes
        ``{block key: (n_spots, dim)}`` of the stored blocks.
    settings_saved
        The settings given became the section's own.
    """

    sample: str
    computed: bool
    seconds: float
    shapes: dict[str, tuple[int, int]] = field(default_factory=dict)
    settings_saved: bool = False
    joint: bool = False


@dataclass(frozen=True)
class _Failed:
    """A user error in a task, as text: an ``InputFileError`` does not survive pickling, and it is not retried."""

    sample: str
    message: str


def update_study_features(
    study: Study,
    *,
    features: Mapping[str, Any] | None = None,
    device: str | None = None,
    scheduler: str | Client = "local",
    timeout: float = CONNECT_TIMEOUT_S,
    progress: bool = True,
    on_section: Callable[[SectionFeatures], None] | None = None,
) -> list[SectionFeatures]:
    """Compute and store the features of every section of ``study`` that are not current.

    Parameters
    ----------
    study
        The study.
    features
        Feature settings over each section's own (``{"backbone": "uni", "weights": "..."}``), saved
        with each section as ``activespot features`` saves them.
    device
        Where backbones run in this run (``cpu``, ``cuda``…); not saved.
    scheduler
        ``local`` (here, one section after the other, without dask), ``local:N`` (a
        ``distributed.LocalCluster`` of N single-threaded worker processes), ``tcp://HOST:PORT``
        (an existing cluster), or a ``distributed.Client`` to use as it is.
    timeout
        Seconds a ``tcp://`` scheduler has to answer.
    progress
        Show one progress bar for the whole study.
    on_section
        Called with each section's result as it completes (e.g. to print a line).

    Returns
    -------
    list of SectionFeatures
        In the study's order.

    Raises
    ------
    SettingError
        An unknown backbone or a malformed ``scheduler``.
    StudyError
        The scheduler did not answer, or a section failed (the message names it and says why);
        sections that completed keep their features.
    """
    from ..project import Project

    features = dict(features or {})
    if "backbone" in features:  # a section's own backbone was checked when it was saved
        from ..features import check_backbone_name

        check_backbone_name(features["backbone"])
    tasks: dict[str, tuple[Path, Config]] = {}
    done: dict[str, SectionFeatures] = {}
    for section in study.sections:
        project = Project.open(section.project)
        settings = project.config.updated({"features": features})
        if K.FEATURES_JOINT_KEY in (project.stored_features() or {}):
            done[section.sample] = SectionFeatures(section.sample, computed=False, seconds=0.0, joint=True)
        else:
            tasks[section.sample] = (section.project, settings)
    with (
        open_scheduler(scheduler, timeout=timeout) as client,
        progress_bar(total=len(study.sections), desc="sections", unit="section", disable=not progress) as bar,
    ):
        for result in done.values():
            _report(result, bar, on_section)
        for result in _run(tasks, device, client):
            done[result.sample] = _report(result, bar, on_section)
    return [done[sample] for sample in study.samples]


def _report(result: SectionFeatures, bar: Any, on_section: Callable[[SectionFeatures], None] | None) -> SectionFeatures:
    bar.update(1)
    if on_section is not None:
        on_section(result)
    return result


def _run(tasks: dict[str, tuple[Path, Config]], device: str | None, client: Client | None) -> Iterator[SectionFeatures]:
    """Each section's result as it completes; the first failure cancels what has not run and raises."""
    if client is None:
        for sample, (path, settings) in tasks.items():
            yield _checked(_section_features(sample, path, settings, device))
        return
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]  # a key of its own per run: a cluster keeps results of keys it has seen
    futures = [
        client.submit(
            _section_features, sample, path, settings, device, key=f"features-{sample}-{run}", retries=RETRIES
        )
        for sample, (path, settings) in tasks.items()
    ]
    try:
        for future in as_completed(futures, loop=client.loop):
            yield _checked(future.result())
    finally:
        client.cancel([future for future in futures if not future.done()])


def _checked(result: SectionFeatures | _Failed) -> SectionFeatures:
    if isinstance(result, _Failed):
        msg = f"section {result.sample}: {result.message}"
        raise StudyError(msg)
    return result


def _section_features(sample: str, path: Path, settings: Config, device: str | None) -> SectionFeatures | _Failed:
    """One section's task: :meth:`Project.update_features` with ``settings``, timed where it runs.

    BLAS runs on one thread: a sum split over more threads adds in another order, and the
    expression PCA would differ in the last bits between this process and a dask worker (dask
    starts its workers with one BLAS thread). The sections run side by side instead.
    A user error (bad weights, a sample that lacks what the settings need) comes back as text,
    not retried; anything else raises, and dask retries it.
    """
    from threadpoolctl import threadpool_limits

    from ..project import Project

    start = time.perf_counter()
    try:
        with (
            threadpool_limits(limits=1, user_api="blas"),  # the PCA's sums in one order, wherever the task runs
            _worker_warnings(),
        ):
            device = worker_device(device or settings.features.device)
            update = Project.open(path).update_features(settings, device=device, progress=False)
    except ActivespotError as err:
        return _Failed(sample, str(err))
    seconds = time.perf_counter() - start
    logger.info("%s: features %s in %.1f s", sample, "computed" if update.computed else "up to date", seconds)
    return SectionFeatures(
        sample,
        computed=update.computed,
        seconds=seconds,
        shapes={key: tuple(shape) for key, shape in update.shapes.items()},
        settings_saved=update.settings_saved,
    )


@contextmanager
def _worker_warnings() -> Iterator[None]:
    """In a worker process, warnings as the command line shows them: one line each, without docrep's.

    A worker is a fresh interpreter that the command line's own settings do not reach; squidpy
    (imported there by the first section) makes docrep warn about its docstrings on every start.
    """
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:  # this process: the caller's settings apply
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=SyntaxWarning, module="docrep")
        warnings.showwarning = _one_line
        yield


def _one_line(message: Warning | str, *_: Any, **__: Any) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def worker_device(device: str) -> str:
    """The device of this task: on a local worker of a machine with several GPUs, the worker's own.

    ``local:N`` on a machine with N GPUs then runs one section per GPU: worker k takes
    ``cuda:k mod N`` when the device is ``auto`` or ``cuda``. Elsewhere (this process, a worker
    that sees one GPU, as dask-cuda's do) and for a named device, the device is left as it is.
    """
    if device not in ("auto", "cuda"):
        return device
    from distributed import get_worker

    try:
        name = get_worker().name
    except ValueError:  # not in a worker
        return device
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count < 2 or not isinstance(name, int):
        return device
    return f"cuda:{name % count}"


@contextmanager
def open_scheduler(scheduler: str | Client = "local", *, timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Client | None]:
    """A ``distributed.Client`` for ``scheduler`` (``None`` for ``local``), closed (and its cluster stopped) on exit.

    Parameters
    ----------
    scheduler
        ``local``, ``local:N``, ``tcp://HOST:PORT``, or a client (yielded as it is, left open).
    timeout
        Seconds a ``tcp://`` scheduler has to answer.

    Yields
    ------
    distributed.Client or None

    Raises
    ------
    SettingError
        ``scheduler`` is none of the forms above.
    StudyError
        A ``tcp://`` scheduler did not answer within ``timeout``.
    """
    if not isinstance(scheduler, str):
        yield scheduler
        return
    workers = _check_scheduler(scheduler)
    if scheduler == "local":
        yield None
        return
    import dask.config
    from distributed import Client, LocalCluster

    if workers is not None:
        # dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which returns memory to the system
        # after every large free: the features of a section then take three times as long.
        untrimmed = {_TRIM_SETTING: None}
        with (
            _dask_logs_at_root_level(),
            dask.config.set(untrimmed),
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster, set_as_default=False) as client,
        ):
            yield client
        return
    try:
        client = Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as err:
        msg = f"scheduler {scheduler} did not answer within {timeout:g} s: {err}"
        raise StudyError(msg) from None
    with client:
        yield client


@contextmanager
def _dask_logs_at_root_level() -> Iterator[None]:
    """Hold dask's logger to the root's level (``-v``) while a local cluster lives.

    dask logs every worker's start and stop at INFO, which the command line would print.
    """
    dask_logger = logging.getLogger("distributed")
    level = dask_logger.level
    dask_logger.setLevel(max(dask_logger.getEffectiveLevel(), logging.getLogger().getEffectiveLevel()))
    try:
        yield
    finally:
        dask_logger.setLevel(level)


def _check_scheduler(scheduler: str) -> int | None:
    """The worker count of ``local:N`` (``None`` for the other forms), after checking the form."""
    if scheduler == "local" or (scheduler.startswith("tcp://") and len(scheduler) > len("tcp://")):
        return None
    count = scheduler.removeprefix("local:")
    if scheduler.startswith("local:") and count.isdigit() and int(count) >= 1:
        return int(count)
    msg = (
        "The scheduler must be one of local (this process), local:N (N >= 1 worker processes here) or "
        f"tcp://HOST:PORT (a running dask scheduler); got {scheduler!r}."
    )
    raise SettingError(msg)
