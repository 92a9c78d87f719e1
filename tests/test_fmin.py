"""fmin: options, stop criteria, bad objective results, resume and interruption."""

import logging
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from functools import partial

import numpy as np
import pytest

from hpo import (
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    STATUS_FAIL,
    STATUS_OK,
    Trials,
    anneal,
    fmin,
    generate_trials_to_calculate,
    hp,
    rand,
    space_eval,
)
from hpo.early_stop import no_progress_loss
from hpo.trials_file import load_trials
from hpo.exceptions import (
    AllTrialsFailed,
    InvalidAnnotatedParameter,
    InvalidFminArgument,
    InvalidLoss,
    InvalidResultStatus,
    InvalidResultType,
    InvalidSpaceAssignment,
    TrialsFileError,
)

def checkout_env():
    """The environment for a subprocess that must import the hpo of this checkout."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))


SPACE = {"x": hp.uniform("x", -5, 5), "c": hp.choice("c", [0, {"y": hp.normal("y", 0, 1)}])}


def quadratic(p):
    return (p["x"] - 1) ** 2 + (0 if p["c"] == 0 else p["c"]["y"] ** 2)


def run(fn=quadratic, space=SPACE, **kwargs):
    kwargs.setdefault("algo", rand.suggest)
    kwargs.setdefault("max_evals", 10)
    kwargs.setdefault("show_progressbar", False)
    kwargs.setdefault("rstate", np.random.default_rng(0))
    return fmin(fn, space, **kwargs)


# -- basic behaviour ----------------------------------------------------------------------------


def test_same_seed_gives_the_same_trials():
    a, b = Trials(), Trials()
    run(trials=a, max_evals=30, rstate=np.random.default_rng(5))
    run(trials=b, max_evals=30, rstate=np.random.default_rng(5))
    assert [t["misc"]["vals"] for t in a] == [t["misc"]["vals"] for t in b]
    c = Trials()
    run(trials=c, max_evals=30, rstate=np.random.default_rng(6))
    assert [t["misc"]["vals"] for t in a] != [t["misc"]["vals"] for t in c]


def test_seed_from_environment_variable(monkeypatch):
    monkeypatch.setenv("HPO_FMIN_SEED", "11")
    a, b = Trials(), Trials()
    run(trials=a, rstate=None)
    run(trials=b, rstate=None)
    assert [t["misc"]["vals"] for t in a] == [t["misc"]["vals"] for t in b]


def test_inactive_labels_are_recorded_empty():
    trials = Trials()
    run(trials=trials, max_evals=40)
    for t in trials:
        vals = t["misc"]["vals"]
        assert (vals["y"] == []) == (vals["c"] == [0])
        assert t["misc"]["idxs"]["x"] == [t["tid"]]


def test_argmin_has_choice_indices_and_space_eval_maps_them():
    trials = Trials()
    best = run(trials=trials, max_evals=40)
    losses = [quadratic(space_eval(SPACE, {k: v[0] for k, v in t["misc"]["vals"].items() if v}))
              for t in trials]
    best_vals = trials.trials[losses.index(min(losses))]["misc"]["vals"]
    assert best == {label: v[0] for label, v in best_vals.items() if v} and best["c"] in (0, 1)
    value = run(trials=trials, max_evals=40, return_argmin=False)
    assert value == space_eval(SPACE, best)
    assert value["c"] == 0 or isinstance(value["c"], dict)


def test_max_evals_counts_existing_trials():
    trials = Trials()
    run(trials=trials, max_evals=7)
    run(trials=trials, max_evals=12)
    assert len(trials) == 12 and trials.tids == list(range(12))
    run(trials=trials, max_evals=5)
    assert len(trials) == 12


def test_loss_threshold_stops_the_search():
    trials = Trials()
    run(lambda p: 0.0 if p["x"] > 0 else 1.0, trials=trials, max_evals=200, loss_threshold=0.5)
    assert trials.losses()[-1] == 0.0 and trials.losses().count(0.0) == 1


def test_timeout_stops_the_search():
    trials = Trials()
    started = time.monotonic()

    def slow(p):
        # the objective itself lasts long enough that the timeout must cut the search short
        time.sleep(0.05)
        return 1.0

    run(slow, trials=trials, max_evals=10_000, timeout=0.3)
    assert 1 <= len(trials) < 10_000
    assert time.monotonic() - started < 60


def test_early_stop_fn_with_no_progress_loss_tolerates_failed_trials():
    calls = []

    def fn(p):
        calls.append(1)
        if len(calls) % 2 == 0:
            return {"status": STATUS_FAIL}
        return 1.0  # never improves after the first

    trials = Trials()
    run(fn, trials=trials, max_evals=100, early_stop_fn=no_progress_loss(6))
    assert len(trials) == 6  # the first loss counts as one trial without progress, as in Hyperopt


def test_progress_callback_factory_is_used():
    events = []

    @contextmanager
    def callback(initial, total):
        events.append(("open", initial, total))

        class Bar:
            postfix = ""

            def update(self, n):
                events.append(("update", n, self.postfix))

        yield Bar()

    run(max_evals=3, show_progressbar=callback)
    assert events[0] == ("open", 0, 3)
    assert [e[0] for e in events[1:]] == ["update"] * 3
    assert events[-1][2].startswith("best loss: ")


def test_points_to_evaluate_run_first_also_with_conditional_labels():
    trials = Trials()
    points = [{"x": 1.0, "c": 0}, {"x": 2.0, "c": 1, "y": 0.5}]
    run(trials=trials, points_to_evaluate=points, max_evals=5)
    assert trials.trials[0]["misc"]["vals"] == {"x": [1.0], "c": [0], "y": []}
    assert trials.trials[1]["misc"]["vals"] == {"x": [2.0], "c": [1], "y": [0.5]}
    assert trials.losses()[:2] == [0.0, 1.25]
    assert len(trials) == 5


def test_generate_trials_to_calculate_is_evaluated_by_fmin():
    trials = generate_trials_to_calculate([{"x": 3.0, "c": 0}])
    run(trials=trials, max_evals=3)
    assert trials.trials[0]["result"] == {"loss": 4.0, "status": "ok"}
    assert len(trials) == 3


def test_annotated_objective_without_space():
    def f(x: hp.uniform("x", 0, 1), n: hp.randint("n", 3)):
        return x + n

    best = run(f, space=None, max_evals=20)
    assert set(best) == {"x", "n"}


def test_annotated_objective_with_a_plain_parameter_is_rejected():
    def f(x: hp.uniform("x", 0, 1), n):
        return x

    with pytest.raises(InvalidAnnotatedParameter, match="'n'"):
        run(f, space=None)


def test_pass_expr_memo_ctrl_gives_the_assignment_and_attachments():
    def fn(expr, memo, ctrl):
        ctrl.attachments["note"] = b"hello"
        return space_eval(expr, memo)["x"] ** 2

    trials = Trials()
    run(fn, trials=trials, pass_expr_memo_ctrl=True, max_evals=3)
    assert trials.trial_attachments(trials.trials[0])["note"] == b"hello"


def test_extra_result_keys_are_kept():
    trials = Trials()
    run(lambda p: {"loss": 1.0, "status": STATUS_OK, "model": "m", "n": 3}, trials=trials, max_evals=2)
    assert trials.results[0] == {"loss": 1.0, "status": "ok", "model": "m", "n": 3}


def test_all_failed_trials_raise_all_trials_failed():
    trials = Trials()
    with pytest.raises(AllTrialsFailed):
        run(lambda p: {"status": STATUS_FAIL}, trials=trials, max_evals=3)
    assert len(trials) == 3


def test_all_failed_trials_return_none_without_argmin(caplog):
    # Hyperopt's fmin returns None when no trial succeeded and return_argmin=False.
    trials = Trials()
    with caplog.at_level(logging.WARNING, logger="hpo.fmin"):
        best = run(lambda p: {"status": STATUS_FAIL}, trials=trials, max_evals=3, return_argmin=False)
    assert best is None and len(trials) == 3
    assert "returning None" in caplog.text


def test_inf_loss_is_allowed():
    trials = Trials()
    run(lambda p: math.inf if p["x"] < 0 else p["x"], trials=trials, max_evals=20)
    assert trials.best_trial["result"]["loss"] >= 0


def test_nan_with_status_fail_is_a_failed_trial():
    trials = Trials()
    run(lambda p: {"loss": float("nan"), "status": STATUS_FAIL} if p["x"] < 0 else 1.0,
        trials=trials, max_evals=20)
    assert "fail" in trials.statuses() and trials.best_trial["result"]["loss"] == 1.0


# -- bad objective results and exceptions -------------------------------------------------------

BAD_RESULTS = [
    ("nan", float("nan"), InvalidLoss, "returned NaN"),
    ("None", None, InvalidResultType, "got None"),
    ("string", "0.5", InvalidResultType, "got '0.5' of type str"),
    ("bool", True, InvalidResultType, "of type bool"),
    ("dict without status", {"loss": 1.0}, InvalidResultStatus, "no 'status'"),
    ("unknown status", {"loss": 1.0, "status": "great"}, InvalidResultStatus, "'great'"),
    ("ok without loss", {"status": STATUS_OK}, InvalidLoss, "no 'loss'"),
    ("ok with NaN loss", {"status": STATUS_OK, "loss": float("nan")}, InvalidLoss, "loss NaN"),
    ("ok with string loss", {"status": STATUS_OK, "loss": "1"}, InvalidLoss, "real number"),
]


@pytest.mark.parametrize("name, rval, error, message", BAD_RESULTS, ids=[b[0] for b in BAD_RESULTS])
def test_bad_objective_results_raise_and_the_trial_is_recorded(name, rval, error, message):
    trials = Trials()
    with pytest.raises(error, match=message):
        run(lambda p: rval, trials=trials, max_evals=3)
    # As in Hyperopt, the ERROR trial leaves `trials.trials`; nothing is lost: it is in all_trials.
    assert len(trials) == 0 and len(trials.all_trials) == 1 and trials.n_errors == 1
    assert trials.all_trials[0]["state"] == JOB_STATE_ERROR
    assert error.__name__ in trials.all_trials[0]["misc"]["error"][0]


def test_bad_results_are_caught_with_catch_eval_exceptions():
    trials = Trials()
    run(lambda p: float("nan") if p["x"] < 0 else p["x"], trials=trials, max_evals=30,
        catch_eval_exceptions=True)
    states = {t["state"] for t in trials.all_trials}
    assert states == {JOB_STATE_DONE, JOB_STATE_ERROR} and len(trials.all_trials) == 30
    # max_evals counts the trials that raised; trials.trials holds the others (Hyperopt's view).
    assert len(trials) == 30 - trials.n_errors and {t["state"] for t in trials} == {JOB_STATE_DONE}


def test_objective_exception_is_recorded_with_traceback_then_raised():
    def boom(p):
        raise RuntimeError("boom at x")

    trials = Trials()
    with pytest.raises(RuntimeError, match="boom at x"):
        run(boom, trials=trials)
    misc = trials.all_trials[0]["misc"]
    assert misc["error"][1] == "boom at x" and "in boom" in misc["traceback"]


# -- bad fmin arguments -----------------------------------------------------------------------

BAD_ARGUMENTS = [
    ("negative max_evals", {"max_evals": -1}, "max_evals must be a non-negative int or None, got -1"),
    ("float max_evals", {"max_evals": 2.5}, "got 2.5"),
    ("bool max_evals", {"max_evals": True}, "got True"),
    ("zero timeout", {"timeout": 0},
     "The timeout argument should be None or a positive value. Given value: 0"),
    ("negative timeout", {"timeout": -3}, "Given value: -3"),
    ("RandomState rstate", {"rstate": np.random.RandomState(0)}, "numpy.random.Generator"),
    ("int rstate", {"rstate": 42}, "got int"),
    ("zero max_queue_len", {"max_queue_len": 0}, "max_queue_len must be an int >= 1"),
    ("string loss_threshold", {"loss_threshold": "0.1"},
     "The loss_threshold argument should be None or a numeric value. Given value: 0.1"),
    ("non-callable algo", {"algo": "tpe"}, "algo must be a suggest function"),
    ("points not a list", {"points_to_evaluate": {"x": 1.0}}, "points_to_evaluate must be a list"),
    ("n_workers with memory trials", {"n_workers": 4}, "n_workers=4 needs store-backed trials"),
]


@pytest.mark.parametrize("name, kwargs, message", BAD_ARGUMENTS, ids=[b[0] for b in BAD_ARGUMENTS])
def test_bad_fmin_arguments_raise(name, kwargs, message):
    import re

    with pytest.raises(InvalidFminArgument, match=re.escape(message)):
        run(**kwargs)


class OneProcessObjective:
    """An objective that keeps state in its process and says so."""

    max_workers = 1
    max_workers_reason = "it keeps a model in memory"

    def __call__(self, x):
        return (x - 1.0) ** 2


def test_n_workers_above_the_objective_limit_is_refused_before_any_worker_starts(sqlite_url):
    from hpo.stores import StoreTrials

    trials = StoreTrials(sqlite_url, exp_key="one")
    with pytest.raises(InvalidFminArgument,
                       match=r"n_workers=2 is more than the objective .* can run in "
                             r"\(max_workers=1\): it keeps a model in memory"):
        fmin(OneProcessObjective(), hp.uniform("x", -3, 3), algo=rand.suggest, max_evals=3,
             trials=trials, n_workers=2, show_progressbar=False)
    assert len(trials) == 0 and trials.store.live_workers("one", 60.0) == []
    # Within the limit the search runs.
    fmin(OneProcessObjective(), hp.uniform("x", -3, 3), algo=rand.suggest, max_evals=3,
         trials=trials, n_workers=1, show_progressbar=False, rstate=np.random.default_rng(0))
    assert len(trials) == 3


def test_points_to_evaluate_with_unknown_label():
    with pytest.raises(InvalidSpaceAssignment, match="points_to_evaluate\\[0\\] has labels that are not in the space: \\['z'\\]"):
        run(points_to_evaluate=[{"x": 1.0, "c": 0, "z": 3}])


def test_points_to_evaluate_outside_the_space():
    with pytest.raises(InvalidSpaceAssignment, match="'c': value 2 is outside"):
        run(points_to_evaluate=[{"x": 1.0, "c": 2}])


# -- saving, resuming, interrupting ---------------------------------------------------------------


def test_trials_save_file_is_written_and_resumed(tmp_path):
    path = tmp_path / "search.jsonl"
    calls = []

    def counted(p):
        calls.append(p["x"])
        return quadratic(p)

    first = Trials()
    run(counted, max_evals=5, trials=first, trials_save_file=str(path))
    assert len(load_trials(path)) == 5
    trials = Trials()
    best = run(counted, max_evals=9, trials=trials, trials_save_file=str(path),
               rstate=np.random.default_rng(1))
    saved = load_trials(path)
    # The resumed search continued the saved one: 4 new evaluations, not 9, and the first
    # five trials are those of the first run.
    assert len(calls) == 9
    assert [t["misc"]["vals"] for t in saved][:5] == [t["misc"]["vals"] for t in first]
    assert saved.losses()[:5] == first.losses()
    assert len(saved) == 9 and saved.tids == list(range(9))
    losses = saved.losses()
    best_vals = saved.trials[losses.index(min(losses))]["misc"]["vals"]
    assert best == {label: v[0] for label, v in best_vals.items() if v}
    # the caller's own Trials object holds the resumed search
    assert trials.tids == saved.tids


@pytest.mark.parametrize("content", [b"", b"not a journal at all\n", None],
                         ids=["empty", "garbage", "damaged-middle"])
def test_damaged_trials_save_file_raises_and_is_left_untouched(tmp_path, content):
    path = tmp_path / "search.jsonl"
    if content is None:  # a real journal with a record damaged in the middle
        run(max_evals=5, trials_save_file=str(path))
        lines = path.read_bytes().split(b"\n")
        lines[2] = lines[2][:-7]
        content = b"\n".join(lines)
    path.write_bytes(content)
    with pytest.raises(TrialsFileError, match=str(path)):
        run(trials_save_file=str(path))
    assert path.read_bytes() == content


def test_keyboard_interrupt_keeps_finished_trials_and_saves(tmp_path):
    path = tmp_path / "search.jsonl"
    trials = Trials()
    count = []

    def fn(p):
        count.append(p["x"])
        if len(count) == 4:
            raise KeyboardInterrupt
        return p["x"] ** 2

    with pytest.raises(KeyboardInterrupt):
        run(fn, trials=trials, max_evals=10, trials_save_file=str(path))
    saved = load_trials(path)
    assert len(saved) == 3 and all(t["state"] == JOB_STATE_DONE for t in saved)
    assert [t["result"]["loss"] for t in saved] == [x ** 2 for x in count[:3]]
    assert len(trials) == 3
    run(max_evals=10, trials_save_file=str(path))
    assert len(load_trials(path)) == 10


RESUME_SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    from hpo import fmin, hp, anneal
    def objective(x):
        with open(sys.argv[4], "a") as f:  # every evaluation, in the order they ran
            f.write(f"{x!r}\\n")
        time.sleep(0.02)  # long enough for the parent to kill us mid-search
        return (x - 1) ** 2
    fmin(objective, hp.uniform("x", -3, 3), algo=anneal.suggest, max_evals=int(sys.argv[2]),
         trials_save_file=sys.argv[1], show_progressbar=False,
         rstate=np.random.default_rng(int(sys.argv[3])))
""")


def _finished_count(path):
    try:
        return sum(t["state"] == JOB_STATE_DONE for t in load_trials(path))
    except (FileNotFoundError, TrialsFileError):
        return 0


def test_resume_after_sigkill_reaches_exactly_max_evals(tmp_path):
    path, script, log = tmp_path / "search.jsonl", tmp_path / "search.py", tmp_path / "calls.txt"
    script.write_text(RESUME_SCRIPT)
    env = checkout_env()
    proc = subprocess.Popen([sys.executable, str(script), str(path), "60", "0", str(log)], env=env)
    deadline = time.monotonic() + 120
    while _finished_count(path) < 10:  # poll the file: kill only once trials are really saved
        assert proc.poll() is None, "the search ended before it could be killed"
        assert time.monotonic() < deadline, "no trials were saved in time"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = load_trials(path)
    killed_at = sum(t["state"] == JOB_STATE_DONE for t in before)
    assert 10 <= killed_at < 60
    subprocess.run([sys.executable, str(script), str(path), "60", "1", str(log)], check=True,
                   timeout=300, env=env)
    trials = load_trials(path)
    assert len(trials) == 60
    assert sorted(trials.tids) == list(range(60))
    assert all(t["state"] == JOB_STATE_DONE for t in trials)
    # Nothing finished before the kill was run again or lost: the resumed process evaluated
    # only what was missing, and the saved results are those of the first run.
    evaluated = log.read_text().split()
    assert len(evaluated) <= 60 + 1  # at most the trial that was running when killed, twice
    done_before = {t["tid"]: t["result"]["loss"] for t in before if t["state"] == JOB_STATE_DONE}
    assert all(trials.trial_by_tid(tid)["result"]["loss"] == loss
               for tid, loss in done_before.items())
    # The journal leaves no temporary files behind, whenever it was killed.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls.txt", "search.jsonl", "search.py"]


def test_algorithm_options_are_bound_with_partial():
    trials = Trials()
    run(trials=trials, algo=partial(anneal.suggest, avg_best_idx=3.0, shrink_coef=0.3), max_evals=20)
    assert len(trials) == 20
    with pytest.raises(ValueError, match="shrink_coef must be >= 0, got -1"):
        run(algo=partial(anneal.suggest, shrink_coef=-1))


def test_environment_seed_must_be_an_integer(monkeypatch):
    monkeypatch.setenv("HPO_FMIN_SEED", "abc")
    with pytest.raises(InvalidFminArgument, match="HPO_FMIN_SEED must be an integer seed, got 'abc'"):
        run(rstate=None)


def test_the_objective_runs_in_this_process():
    pid = []
    run(lambda p: pid.append(os.getpid()) or 1.0, max_evals=2)
    assert pid == [os.getpid()] * 2
