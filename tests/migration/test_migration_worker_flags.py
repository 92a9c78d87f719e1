"""``hpo-worker`` accepts the flags of Hyperopt's ``hyperopt-mongo-worker``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hpo import JOB_STATE_DONE
from hpo.stores.trials import StoreTrials
from hpo.worker import EXIT_USAGE
from hpo.worker.cli import mongo_store_url
from worker_support import quadratic, queue, states, worker_env

pytestmark = pytest.mark.timeout(120)


def hpo_worker(*args):
    return subprocess.run([sys.executable, "-m", "hpo.cli", "worker", *args],
                          check=False, env=worker_env(), capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)


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


def test_last_job_timeout_ends_an_idle_worker(sqlite_url, tmp_path):
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, quadratic, 2)
    proc = hpo_worker("--store", sqlite_url, "--exp-key", "e", "--last-job-timeout", "0.5",
                      "--workdir", str(tmp_path / "work"), "--log-level", "INFO")
    assert proc.returncode == 0, proc.stderr
    assert "reserve_timeout" in proc.stderr
    assert states(trials) == {JOB_STATE_DONE: 2}


@pytest.mark.parametrize("args, message", [
    (("--mongo", "localhost"), "--mongo must be host[:port]/db, got 'localhost'"),
    (("--mongo", "h/db", "--store", "sqlite:///e.db"), "pass either --store or --mongo"),
    (("--store", "sqlite:///e.db", "--last-job-timeout", "-1"),
     "--last-job-timeout must be seconds >= 0, got -1.0"),
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
