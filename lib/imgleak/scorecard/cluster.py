"""The scorecard's cells on dask.distributed: a ``LocalCluster`` started here or an existing cluster,
checked before any cell runs.

:func:`dask_executor` connects (a scheduler that does not answer within ``wait`` seconds is refused
by name), waits at most ``wait`` seconds for a first worker (saying so while it waits), compares
the versions that matter (:func:`environment`: Python, imgleak, torch, numpy, dask, distributed,
cloudpickle) on the client, the scheduler and every worker, and makes sure every worker (and the
scheduler, which unpickles the task graph) can load what the cells carry: the schemes and the
criteria. A user's module they cannot import (``mymodule:my_scheme``) is uploaded with
``Client.upload_file`` (a ``.py`` file, or its package folder as a ``.zip``), which also reaches
workers that join later; with ``upload=False``, or a module that is not a file, the run stops
before any cell with a :class:`ClusterError` naming the module, where it is missing and the fixes.

>>> with dask_executor() as executor:
...     executor is None
True
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import logging
import os
import platform
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from importlib import metadata
from pathlib import Path
from typing import Any

from .._checks import boolean, number, positive_int

WAIT_SECONDS = 60.0
"""How long :func:`dask_executor` waits for the scheduler to answer, then for a first worker (``--wait``)."""

PACKAGES = ("imgleak", "torch", "numpy", "dask", "distributed", "cloudpickle")
"""The packages whose versions must agree on the client, the scheduler and the workers (with Python's)."""

log = logging.getLogger(__name__)


class ClusterError(RuntimeError):
    """The dask cluster cannot run the scorecard's cells; raised before any cell runs, with the reason."""


def environment() -> dict[str, str | None]:
    """The versions that must agree between client and cluster: Python (major.minor) and :data:`PACKAGES`.

    >>> sorted(environment())[:3]
    ['cloudpickle', 'dask', 'distributed']
    """
    versions: dict[str, str | None] = {"python": ".".join(platform.python_version_tuple()[:2])}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def unloadable(payloads: Sequence[bytes]) -> list[tuple[str, str] | None]:
    """For each pickled object, ``None`` if it unpickles here, else ``("module", name)`` for a module this
    process cannot import or ``("error", message)``: what dask's own unpickling would meet.

    >>> from distributed.protocol import pickle
    >>> unloadable([pickle.dumps(len)])
    [None]
    """
    from distributed.protocol import pickle

    importlib.invalidate_caches()
    found: list[tuple[str, str] | None] = []
    for payload in payloads:
        try:
            pickle.loads(payload)
            found.append(None)
        except ModuleNotFoundError as error:
            found.append(("module", error.name or str(error)))
        except Exception as error:  # a user's object may fail to unpickle in any way
            found.append(("error", f"{type(error).__name__}: {error}"))
    return found


def _ask(client: Any, function: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """``function(*args)`` on the scheduler and on every worker, by address (``"scheduler"`` for the scheduler)."""
    try:
        answers = {"scheduler": client.run_on_scheduler(function, *args)}
        answers.update(client.run(function, *args))
    except Exception as error:  # imgleak itself missing there, or another environment
        raise ClusterError(f"the dask scheduler or workers cannot run imgleak's check {function.__name__} "
                           f"({type(error).__name__}: {str(error).strip()}): is imgleak installed there, in the "
                           "client's versions? (README, 'Run it on a cluster')") from error
    return answers


def check_versions(client: Any) -> None:
    """Refuse a cluster whose scheduler or workers run other versions of :func:`environment` than this client."""
    here = environment()
    wrong = [f"{where} has {package} {theirs.get(package)}" for where, theirs in _ask(client, environment).items()
             for package in here if theirs.get(package) != here[package]]
    if wrong:
        mine = ", ".join(f"{p} {v}" for p, v in here.items())
        raise ClusterError(f"the dask cluster's environment differs from this client's ({mine}): "
                           f"{'; '.join(wrong[:6])}{'; ...' if len(wrong) > 6 else ''}. Install the same versions on "
                           "the scheduler and every worker (the environment rule, README 'Run it on a cluster')")


def _sources(origin: str) -> list[tuple[str, bytes]] | None:
    """A module's source files as (name relative to its folder, bytes): the ``.py`` file, or every ``.py``
    file of a package; from a folder, or from a ``.zip`` on the path (an upload); ``None`` otherwise."""
    path = Path(origin)
    if path.suffix == ".py" and path.is_file():
        files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
        return [(f.relative_to(path.parent).as_posix(), f.read_bytes()) for f in files]
    archive, _, inner = origin.partition(".zip" + os.sep)
    if not inner.endswith(".py") or not os.path.isfile(archive + ".zip"):
        return None
    folder = inner.replace(os.sep, "/").rpartition("/")[0]
    with zipfile.ZipFile(archive + ".zip") as zipped:
        names = sorted(n for n in zipped.namelist() if n.startswith(f"{folder}/") and n.endswith(".py")) \
            if inner.endswith("__init__.py") else [inner]
        return [(n[len(folder) + 1:] if folder else n, zipped.read(n)) for n in names]


def source_digests(modules: Sequence[str]) -> dict[str, str | None]:
    """A SHA-256 of each top-level module's source as this process finds it (a package: all its ``.py``
    files), ``None`` where it finds none: equal digests on client and workers mean the same code.

    >>> source_digests(["no_such_module_here"])
    {'no_such_module_here': None}
    """
    digests: dict[str, str | None] = {}
    for name in modules:
        module = sys.modules.get(name)
        try:
            origin = getattr(module, "__file__", None) if module else getattr(importlib.util.find_spec(name),
                                                                             "origin", None)
        except (ImportError, ValueError):
            origin = None
        sources = _sources(origin) if isinstance(origin, str) else None
        digest = hashlib.sha256()
        for relative, data in sources or []:
            digest.update(relative.encode() + b"\0" + data)
        digests[name] = None if sources is None else digest.hexdigest()
    return digests


def _own_modules(objects: Sequence[Any]) -> list[str]:
    """The top-level modules of the users' code in ``objects`` (schemes: cipher, function, key maker;
    criteria), leaving out imgleak, the standard library, ``__main__`` and modules pickled by value."""
    import cloudpickle

    parts = [p for o in objects for p in (o, getattr(o, "cipher", None), getattr(o, "make_key", None),
                                          getattr(getattr(o, "cipher", None), "function", None))]
    names = {(getattr(p, "__module__", None) or type(p).__module__).split(".")[0] for p in parts if p is not None}
    skip = {"imgleak", "builtins", "__main__", *sys.stdlib_module_names, *cloudpickle.list_registry_pickle_by_value()}
    return sorted(n for n in names if n not in skip)


def _missing(client: Any, payloads: list[bytes], modules: list[str]) -> dict[str, list[str]]:
    """The modules the scheduler or workers cannot import to unpickle ``payloads``, or hold another source of
    than this client (of ``modules``): module -> where."""
    missing: dict[str, list[str]] = {}
    for where, results in _ask(client, unloadable, payloads).items():
        for result in results:
            if result is not None and result[0] == "error":
                raise ClusterError(f"{where} cannot unpickle a scheme or criterion of this run: {result[1]}")
            if result is not None and where not in missing.setdefault(result[1], []):
                missing[result[1]].append(where)
    here = source_digests(modules)
    for where, theirs in _ask(client, source_digests, modules).items():
        for module in modules:
            if theirs.get(module) != here[module] and where not in missing.setdefault(module, []):
                missing[module].append(where)
    return {module: where for module, where in missing.items() if where}


def _packed(module: str, folder: Path) -> Path | None:
    """The file to upload for ``module``: its top-level ``.py`` file, or its package folder zipped into
    ``folder``; ``None`` when the module is not from a source file here."""
    top = sys.modules.get(module.split(".")[0])
    source = getattr(top, "__file__", None)
    if source is None or not source.endswith(".py"):
        return None
    source_path = Path(source)
    if source_path.name != "__init__.py":
        return source_path
    package = source_path.parent
    archive = folder / f"{package.name}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zipped.write(path, path.relative_to(package.parent))
    return archive


def _not_importable(missing: dict[str, list[str]], reason: str) -> ClusterError:
    places = "; ".join(f"{m!r} on {', '.join(w[:4])}{' and more' if len(w) > 4 else ''}" for m, w in missing.items())
    return ClusterError(f"the dask cluster cannot import the module(s) this run's schemes or criteria need, or holds "
                        f"another version of them than this client: {places} "
                        f"({reason}); no cell was run. Fix: install the module on the scheduler and every worker "
                        "(e.g. pip install it in their environment), or let imgleak upload it from here (--upload, "
                        "the default; a module from a .py file or a package folder)")


def ship(client: Any, objects: Sequence[Any], upload: bool = True) -> list[str]:
    """Make sure the scheduler and every worker can unpickle ``objects`` (the schemes and criteria the cells
    carry), uploading the modules they lack when ``upload``; the names of the uploaded files.

    One cheap call to every worker checks them; a module that cannot be shipped stops the run with a
    :class:`ClusterError` naming it, where it is missing and the two fixes.
    """
    from distributed.protocol import pickle

    upload = boolean(upload, "upload")
    payloads, modules = [pickle.dumps(o) for o in objects], _own_modules(objects)
    missing = _missing(client, payloads, modules)
    if not missing:
        return []
    if not upload:
        raise _not_importable(missing, "--no-upload")
    sent = []
    with tempfile.TemporaryDirectory() as folder:
        for module in missing:
            packed = _packed(module, Path(folder))
            if packed is None:
                raise _not_importable(missing, f"{module!r} is not from a .py file or package folder here, "
                                               "so it cannot be uploaded")
            log.info("the dask workers cannot import %r or hold another version: uploading %s to the scheduler and every worker "
                     "(Client.upload_file)", module, packed)
            client.upload_file(str(packed))
            sent.append(packed.name)
    still = _missing(client, payloads, modules)
    if still:
        raise _not_importable(still, f"still missing after uploading {', '.join(sent)}")
    return sent


def _connect(scheduler: str, wait: float) -> Any:
    """A client of the scheduler at ``scheduler`` with at least one worker, else a :class:`ClusterError`."""
    from dask.distributed import Client

    try:
        client = Client(scheduler, timeout=wait)
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"no dask scheduler answered at {scheduler!r} within {wait:g} s ({error}); start one "
                           "(dask scheduler) or check the address, or wait longer (--wait)") from error
    if not client.scheduler_info().get("workers"):
        log.warning("no dask worker is connected to %s yet: waiting up to %g s for one (--wait)", scheduler, wait)
        try:
            client.wait_for_workers(1, timeout=wait)
        except TimeoutError as error:
            client.close()
            raise ClusterError(f"no dask worker connected to the scheduler at {scheduler!r} within {wait:g} s; "
                               "start workers (dask worker " f"{scheduler}) or wait longer (--wait)") from error
    return client


@contextlib.contextmanager
def dask_executor(workers: int | None = None, scheduler: str | None = None, *, ship_objects: Sequence[Any] = (),
                  upload: bool = True, wait: float = WAIT_SECONDS) -> Iterator[Executor | None]:
    """A dask.distributed executor for :func:`~imgleak.scorecard.runner.run`: a ``LocalCluster`` of
    ``workers`` processes (one thread each), or the existing cluster at ``scheduler`` (e.g. one
    dask-jobqueue started on Slurm); ``None`` (serial) when neither is given. Before it is given,
    the cluster's versions are checked (:func:`check_versions`) and ``ship_objects`` (the subjects
    and criteria) made loadable there (:func:`ship`). Closed on exit.
    """
    if workers is not None and scheduler is not None:
        raise ValueError("give workers (a local cluster) or scheduler (an existing one), not both")
    if workers is None and scheduler is None:
        yield None
        return
    from dask.distributed import Client, LocalCluster

    upload, wait = boolean(upload, "upload"), number(wait, "wait", positive=True)
    cluster = None
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise ValueError(f"scheduler must be an address such as 'tcp://host:8786', got {scheduler!r}")
        client = _connect(scheduler, wait)
    else:
        cluster = LocalCluster(n_workers=positive_int(workers, "workers"), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        check_versions(client)
        ship(client, ship_objects, upload)
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


__all__ = ["ClusterError", "PACKAGES", "WAIT_SECONDS", "check_versions", "dask_executor", "environment", "ship",
           "source_digests", "unloadable"]
