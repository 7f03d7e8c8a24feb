"""``imgleak evaluate --scheduler`` on a real cluster: a ``dask scheduler`` and ``dask worker`` processes
on 127.0.0.1 that have imgleak but not the user's module (it lives in a folder only this client has on
its path). The module reaches the workers (or the run stops before any cell), a killed worker costs
no finished cell, failed cells are retried by ``--resume``, and a run with failed cells exits 3."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import imgleak
from imgleak.cli import FAILED_CELLS, main
from imgleak.scorecard import cells, runner
from imgleak.scorecard.cluster import ClusterError, dask_executor
from imgleak.scorecard.schemes import library_schemes, resolve
from imgleak.scorecard.statistical import entropy

pytestmark = pytest.mark.cluster

VALUES = ["scheme", "criterion", "family", "adversary", "seed", "value", "unit", "leaks_more", "p_value", "setting",
          "verdict", "cell", "error"]
"""The table's columns that do not depend on timing (not ``seconds``)."""

USER_MODULE = '''
import os
import time

from imgleak.scorecard.base import Measurement

BROKEN = {broken!r}


def xor_first_byte(images, key):
    return images ^ key.material[0]


def slow_mean(subject, context):
    """The mean of the protected crops, after a pause (so a run lasts long enough to kill a worker)."""
    time.sleep(0.4)
    y = subject.cipher.encrypt(context.images, subject.key(context.seed, context))
    return [Measurement("slow_mean", y.float().mean(), "grey level", "none")]


def fragile_share(subject, context):
    """The unchanged share, raising while the file BROKEN exists (a cause a user can fix)."""
    if os.path.exists(BROKEN):
        raise RuntimeError("the data share is not mounted")
    y = subject.cipher.encrypt(context.images, subject.key(context.seed, context))
    return [Measurement("fragile_share", (y == context.images).float().mean(), "share", "higher")]
'''


def _start(arguments: list[str], folder: Path, log: str) -> subprocess.Popen:
    """A ``dask`` process whose Python path holds imgleak's own folder only (never the user's module)."""
    env = {**os.environ, "PYTHONPATH": str(Path(imgleak.__file__).parents[1]), "DASK_DISTRIBUTED__WORKER__DAEMON": "0"}
    return subprocess.Popen([sys.executable, "-m", *arguments], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                            stdout=open(folder / log, "w"), stderr=subprocess.STDOUT)


def _worker(address: str, folder: Path, name: str) -> subprocess.Popen:
    local = folder / name
    local.mkdir()
    return _start(["distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                   "--name", name, "--local-directory", str(local)], folder, f"{name}.log")


def _wait_for(client_address: str, workers: int) -> None:
    from dask.distributed import Client

    with Client(client_address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=60)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and a worker, separate processes on 127.0.0.1 (the kill test adds a second); killed at the end."""
    folder = tmp_path_factory.mktemp("cluster")
    processes = [_start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                         "--scheduler-file", str(folder / "scheduler.json")], folder, "scheduler.log")]
    try:
        for _ in range(600):
            if (folder / "scheduler.json").is_file():
                break
            time.sleep(0.1)
        address = json.loads((folder / "scheduler.json").read_text())["address"]
        processes.append(_worker(address, folder, "worker"))
        _wait_for(address, 1)
        yield {"address": address, "folder": folder, "processes": processes}
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A user's module with a fresh name (uploads persist on a cluster) in a folder only this client imports."""
    name = f"my_scheme_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / f"{name}.py").write_text(textwrap.dedent(USER_MODULE.format(broken=str(tmp_path / "BROKEN"))))
    package = folder / f"{name}_pkg"  # a package beside it: uploaded as a .zip
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "schemes.py").write_text("def add_first_byte(images, key):\n"
                                                  "    return images + key.material[0]\n")
    monkeypatch.syspath_prepend(str(folder))
    yield name
    for module in [m for m in sys.modules if m.startswith(name)]:
        sys.modules.pop(module)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i, (h, w) in enumerate([(40, 48), (36, 60)]):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def _values(table: pd.DataFrame) -> pd.DataFrame:
    return table[VALUES].reset_index(drop=True)


def _evaluate(photos, out, address, *schemes, extra=()):
    arguments = ["evaluate", *[a for s in schemes for a in ("--scheme", s)], "--images", str(photos), "--budget",
                 "quick", "--seeds", "2", "--criteria", "entropy", "--quiet", "--out", str(out), "--wait", "30",
                 *extra]
    return main(arguments + (["--scheduler", address] if address else []))


def test_a_users_scheme_reaches_the_workers_and_gives_the_serial_table(cluster, user_module, photos, tmp_path, capsys):
    schemes = f"{user_module}:xor_first_byte", f"{user_module}_pkg.inner.schemes:add_first_byte"
    assert _evaluate(photos, tmp_path / "serial", None, *schemes) == 0
    assert _evaluate(photos, tmp_path / "cluster", cluster["address"], *schemes) == 0
    err = capsys.readouterr().err
    assert f"cannot import {user_module!r}" in err and f"uploading {Path(sys.modules[user_module].__file__)}" in err
    assert f"cannot import {user_module + '_pkg'!r}" in err and f"{user_module}_pkg.zip to the scheduler" in err
    serial, distributed = (pd.read_csv(tmp_path / f / "scorecard.csv", keep_default_na=False) for f in
                           ("serial", "cluster"))
    assert len(distributed) == 4 * 2 and (distributed["error"] == "").all()
    assert _values(distributed).equals(_values(serial))


def test_without_upload_the_run_stops_before_any_cell(cluster, user_module, photos, tmp_path, capsys):
    out = tmp_path / "report"
    assert _evaluate(photos, out, cluster["address"], f"{user_module}:xor_first_byte", extra=["--no-upload"]) == 1
    err = capsys.readouterr().err
    assert f"cannot import the module(s) this run's schemes or criteria need" in err and repr(user_module) in err
    assert "tcp://127.0.0.1:" in err and "install the module on the scheduler and every worker" in err
    assert "let imgleak upload it" in err and "no cell was run" in err
    assert not (out / "cells").exists() or not any((out / "cells").iterdir())


def test_a_worker_killed_mid_run_loses_no_finished_cell(cluster, user_module, photos, tmp_path, monkeypatch):
    module = __import__(user_module)
    subjects = resolve(["identity", "one_time_pad", f"{user_module}:xor_first_byte"], (2, 3, 32, 32))
    criteria = {"slow_mean": module.slow_mean}
    serial = runner.run(subjects, criteria, photos, "quick", 4, tmp_path / "serial", progress=False)
    victim = _worker(cluster["address"], cluster["folder"], f"victim-{user_module}")
    _wait_for(cluster["address"], 2)
    written = []
    write_json = runner.write_json
    monkeypatch.setattr(runner, "write_json", lambda path, data: (written.append(path.name), write_json(path, data)))
    out = tmp_path / "cluster"

    finished_at_kill = []

    def kill_after_the_first_cells():
        while victim.poll() is None and len(list((out / "cells").glob("*.json"))) < 2:
            time.sleep(0.05)
        finished_at_kill.append(len(list((out / "cells").glob("*.json"))))
        victim.send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_after_the_first_cells, daemon=True)
    try:
        with dask_executor(scheduler=cluster["address"], ship_objects=[*subjects, *criteria.values()]) as executor:
            killer.start()
            table = runner.run(subjects, criteria, photos, "quick", 4, out, executor=executor, progress=False)
        killer.join(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
    assert victim.wait(timeout=30) == -signal.SIGKILL and 2 <= finished_at_kill[0] < 3 * 4  # killed mid-run
    assert (table["error"] == "").all() and _values(table).equals(_values(serial))
    cell_files = [n for n in written if n != "run.json"]
    assert len(cell_files) == len(set(cell_files)) == 3 * 4  # each finished cell written once


def test_failed_cells_exit_3_and_resume_retries_them(cluster, user_module, photos, tmp_path, monkeypatch, capsys):
    module = __import__(user_module)
    monkeypatch.setattr(cells, "all_criteria", lambda: {"fragile_share": module.fragile_share, "entropy": entropy})
    broken = Path(module.BROKEN)
    broken.touch()
    out = tmp_path / "report"
    arguments = ["evaluate", "--scheme", "identity", "--images", str(photos), "--budget", "quick", "--seeds", "2",
                 "--quiet", "--out", str(out), "--scheduler", cluster["address"]]
    assert main(arguments) == FAILED_CELLS == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("imgleak evaluate: 4 of 8 cells failed; their errors are in ")
    assert f"{out / 'scorecard.csv'} (column error)" in err[-1] and "--resume" in err[-1]
    first = pd.read_csv(out / "scorecard.csv", keep_default_na=False)
    assert (first.loc[first["criterion"] == "fragile_share", "error"] == "RuntimeError: the data share is not mounted"
            ).all() and (first.loc[first["criterion"] == "entropy", "error"] == "").all()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*entropy*")}
    broken.unlink()  # the cause fixed
    assert main([*arguments, "--resume"]) == 0
    assert "resume: 4 finished cell(s) kept, 4 failed cell(s) retried, 0 cell(s) run" in capsys.readouterr().err
    again = pd.read_csv(out / "scorecard.csv", keep_default_na=False)
    assert len(again) == 8 and (again["error"] == "").all()
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*entropy*")} == kept


def test_no_scheduler_and_no_worker_are_named(tmp_path):
    from dask.distributed import LocalCluster

    with pytest.raises(ClusterError, match=r"no dask scheduler answered at 'tcp://127.0.0.1:9' within 1 s"):
        with dask_executor(scheduler="tcp://127.0.0.1:9", wait=1):
            pass
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty:
        with pytest.raises(ClusterError, match="no dask worker connected to the scheduler at .* within 1 s"):
            with dask_executor(scheduler=empty.scheduler_address, wait=1):
                pass
    assert library_schemes()  # the library still resolves after the refusals
