"""``hpo-worker`` accepts the flags of Hyperopt's ``hyperopt-mongo-worker``."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from hpo import JOB_STATE_DONE, JOB_STATE_NEW, STATUS_OK
from hpo.stores.trials import StoreTrials
from hpo.worker import EXIT_USAGE, Worker
from hpo.worker.cli import mongo_store_url
from worker_support import python_path, quadratic, queue, slow, states, worker_env

pytestmark = pytest.mark.timeout(120)

HERE = os.path.dirname(os.path.abspath(__file__))


def hpo_worker(*args):
    # This directory is on the path too, so workers can load objectives defined here.
    return subprocess.run([sys.executable, "-m", "hpo.cli", "worker", *args],
                          check=False, env=worker_env(path=python_path(HERE)), capture_output=True,
                          text=True, timeout=90, stdin=subprocess.DEVNULL)


def reports_pid(params):
    """The process the objective ran in, in its result."""
    return {"loss": params["x"] ** 2, "status": STATUS_OK, "pid": os.getpid()}


@pytest.mark.mongo
def test_mongo_flag_serves_queued_trials(mongo_url):
    trials = StoreTrials(mongo_url, exp_key="e")
    queue(trials, quadratic, 3)
    assert mongo_url.startswith("mongo://") and mongo_url.endswith("/jobs")
    mongo = mongo_url[len("mongo://"):-len("/jobs")]  # host:port/db, Hyperopt's form
    proc = hpo_worker(f"--mongo={mongo}", "--exp-key", "e", "--reserve-timeout", "5",
                      "--poll-interval", "0.1", "--max-consecutive-failures", "2",
                      "--log-level", "WARNING")
    assert proc.returncode == 0, proc.stderr
    assert states(trials) == {JOB_STATE_DONE: 3}


def test_last_job_timeout_is_a_deadline_even_for_a_busy_worker(sqlite_url, tmp_path):
    # Ten trials of 0.2 s each keep the worker busy for 2 s without a pause: an idle timeout
    # would never fire, Hyperopt's deadline of 1 s stops it after the trial running at 1 s.
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, slow, 10)
    started = time.monotonic()
    proc = hpo_worker("--store", sqlite_url, "--exp-key", "e", "--last-job-timeout", "1",
                      "--workdir", str(tmp_path / "work"), "--log-level", "INFO")
    assert proc.returncode == 0, proc.stderr
    assert "(last_job_timeout), reserving no more jobs" in proc.stderr
    counts = states(trials)
    done = counts.get(JOB_STATE_DONE, 0)
    assert 1 <= done < 10 and counts == {JOB_STATE_DONE: done, JOB_STATE_NEW: 10 - done}, counts
    # No trial is left RUNNING: the one running at the deadline finished and was recorded.
    assert time.monotonic() - started >= 1.0


def test_last_job_timeout_ends_an_idle_worker_at_the_deadline(sqlite_url):
    started = time.monotonic()
    proc = hpo_worker("--store", sqlite_url, "--exp-key", "e", "--last-job-timeout", "0.5",
                      "--log-level", "INFO")
    assert proc.returncode == 0, proc.stderr
    assert "0.5 s since start (last_job_timeout), reserving no more jobs" in proc.stderr
    assert "(reserve_timeout)" not in proc.stderr
    assert time.monotonic() - started >= 0.5


@pytest.mark.parametrize("reserve, last_job, why", [
    ("0.3", "60", "idle for 0.3 s (reserve_timeout)"),
    ("60", "0.3", "0.3 s since start (last_job_timeout)"),
])
def test_reserve_timeout_and_last_job_timeout_whichever_comes_first(sqlite_url, reserve,
                                                                    last_job, why):
    started = time.monotonic()
    proc = hpo_worker("--store", sqlite_url, "--exp-key", "e", "--reserve-timeout", reserve,
                      "--last-job-timeout", last_job, "--log-level", "INFO")
    assert proc.returncode == 0, proc.stderr
    assert why in proc.stderr
    assert time.monotonic() - started < 50  # the other limit (60 s) was not waited for


def test_last_job_timeout_zero_reserves_nothing(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, quadratic, 2)
    worker = Worker(sqlite_url, exp_key="e", last_job_timeout=0)
    assert worker.run() == 0 and worker.jobs_done == 0
    assert states(trials) == {JOB_STATE_NEW: 2}


@pytest.mark.parametrize("flag", ["--no-subprocesses", "-N"])
def test_no_subprocesses_flag_runs_objectives_in_the_worker_process(sqlite_url, flag):
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, reports_pid, 2)
    proc = subprocess.Popen([sys.executable, "-m", "hpo.cli", "worker", "--store", sqlite_url,
                             "--exp-key", "e", flag, "--max-jobs", "2", "--log-level", "WARNING"],
                            env=worker_env(path=python_path(HERE)), stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 0, stderr
    trials.refresh()
    assert [t["result"]["pid"] for t in trials.trials] == [proc.pid, proc.pid]


@pytest.mark.parametrize("value", [-1, "soon"])
def test_worker_refuses_a_bad_last_job_timeout_naming_it(sqlite_url, value):
    with pytest.raises(ValueError, match=f"last_job_timeout must be seconds >= 0 or None, "
                                         f"got {value!r}"):
        Worker(sqlite_url, last_job_timeout=value)


@pytest.mark.parametrize("args, message", [
    (("--mongo", "localhost"), "--mongo must be host[:port]/db, got 'localhost'"),
    (("--mongo", "h/db", "--store", "sqlite:///e.db"), "pass either --store or --mongo"),
    (("--store", "sqlite:///e.db", "--last-job-timeout", "-1"),
     "--last-job-timeout must be seconds >= 0, got -1.0"),
    (("--store", "sqlite:///e.db", "--last-job-timeout", "soon"),
     "argument --last-job-timeout: invalid float value: 'soon'"),
])
def test_bad_hyperopt_flags_exit_2_naming_the_value(args, message):
    proc = hpo_worker(*args)
    assert proc.returncode == EXIT_USAGE
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("mongo, url", [
    ("localhost/hyperopt", "mongo://localhost:27017/hyperopt/jobs"),
    ("10.0.0.2:27018/exp", "mongo://10.0.0.2:27018/exp/jobs"),
    ("mongo://u:p@h:1/db", "mongo://u:p@h:1/db/jobs"),
    ("u:p@h/db", "mongo://u:p@h:27017/db/jobs"),
])
def test_mongo_flag_maps_to_the_jobs_collection(mongo, url):
    assert mongo_store_url(mongo) == url
