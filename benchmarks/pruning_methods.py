"""The searches of ``pruning_animal.py``: one CNN space, one time budget, three libraries.

Every method trains the same CNNs (:func:`build_cnn`) from the same space (:data:`SPACE`,
written once per library) for up to ``max_epochs`` epochs, and the same
:class:`Tracker` watches every epoch of every model: the best validation accuracy reached
before the deadline, the test accuracy of that model at that epoch (computed when it becomes
the best, never used to choose), the configurations started and the epochs trained. Training
stops at the first epoch end past the deadline, and nothing after the deadline counts.

>>> tracker = Tracker(budget=60.0, max_epochs=9)
>>> tracker.begin("a"); tracker.configurations
1
"""

from __future__ import annotations

import math
import time

import numpy as np

BN_MOMENTUM = 0.9
INPUT_SHAPE = (14, 14, 1)
BATCH = 64
MAX_FILTERS = 64
#: name -> (kind, arguments); "int": inclusive bounds, "choice": options, "float"/"log": bounds.
SPACE = {
    "blocks": ("int", (1, 3)),
    "filters": ("choice", (8, 16, 32)),
    "kernel": ("choice", (3, 5)),
    "dense": ("choice", (32, 64, 128)),
    "dropout": ("float", (0.0, 0.5)),
    "learning_rate": ("log", (1e-4, 1e-2)),
}


def space_text():
    """The space in words, for the results."""
    words = {"int": "{} to {} (int)", "choice": "{}", "float": "uniform({}, {})", "log": "log-uniform({}, {})"}
    out = []
    for name, (kind, args) in SPACE.items():
        out.append(f"{name} " + (words[kind].format(list(args)) if kind == "choice" else words[kind].format(*args)))
    return "; ".join(out)


# -- the model and the bookkeeping ----------------------------------------------------------------


def build_cnn(params, seed):
    """conv-BN-ReLU blocks (max pooling between them, filters doubling up to 64), global
    average pooling, dense-ReLU, dropout, softmax; Adam."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(INPUT_SHAPE)
    x = inputs
    for i in range(int(params["blocks"])):
        if i:
            x = keras.layers.MaxPooling2D(2, padding="same")(x)
        x = keras.layers.Conv2D(min(int(params["filters"]) * 2 ** i, MAX_FILTERS), int(params["kernel"]),
                                padding="same")(x)
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(int(params["dense"]), activation="relu")(x)
    x = keras.layers.Dropout(float(params["dropout"]))(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(float(params["learning_rate"])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def accuracy(model, x, y, chunk=1000):
    from keras import ops

    correct = 0
    for start in range(0, len(x), chunk):
        probs = ops.convert_to_numpy(model(x[start:start + chunk], training=False))
        correct += int((probs.argmax(axis=1) == y[start:start + chunk]).sum())
    return correct / len(x)


class Tracker:
    """What a run reached by its deadline, the same for every library."""

    def __init__(self, budget, max_epochs, x_test=None, y_test=None):
        self.start = time.monotonic()
        self.deadline = self.start + budget
        self.max_epochs = max_epochs
        self.x_test, self.y_test = x_test, y_test
        self.best_val, self.test, self.best_config = 0.0, None, None
        self.reached = {}  # configuration -> highest epoch reached (cumulative, resumed runs too)
        self.cut_by_deadline = set()
        self.current = None
        self.epochs = 0

    def __deepcopy__(self, memo):
        # KerasTuner deep-copies the callbacks of every trial; the tracker must stay shared.
        return self

    @property
    def configurations(self):
        return len(self.reached)

    def expired(self):
        return time.monotonic() >= self.deadline

    def begin(self, config):
        self.current = config
        self.reached.setdefault(config, 0)

    def epoch_end(self, model, epoch, val_accuracy):
        """Record one epoch; True when training must stop (the deadline passed)."""
        if self.expired():
            self.cut_by_deadline.add(self.current)
            return True
        self.epochs += 1
        self.reached[self.current] = max(self.reached[self.current], epoch)
        if val_accuracy > self.best_val:
            self.best_val, self.best_config = float(val_accuracy), self.current
            if self.x_test is not None:
                self.test = accuracy(model, self.x_test, self.y_test)
        return False

    def stopped_early(self):
        """Configurations whose training ended below ``max_epochs``, not by the deadline."""
        return sum(1 for c, e in self.reached.items() if e < self.max_epochs and c not in self.cut_by_deadline)

    def summary(self):
        return {"best_val_accuracy": self.best_val, "test_accuracy": self.test,
                "configurations": self.configurations, "stopped_early": self.stopped_early(),
                "epochs_trained": self.epochs, "search_seconds": time.monotonic() - self.start}


def tracking_callback(tracker):
    import keras

    class Tracking(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.tracker = tracker

        def on_epoch_end(self, epoch, logs=None):
            if self.tracker.epoch_end(self.model, epoch + 1, float(logs["val_accuracy"])):
                self.model.stop_training = True

    return Tracking()


def fit(model, data, tracker, epochs, callbacks=(), initial_epoch=0):
    """Train with the tracker first, so an epoch counts before a pruner may stop the fit."""
    x_train, y_train, x_val, y_val = data[:4]
    return model.fit(x_train, y_train, batch_size=BATCH, epochs=epochs, initial_epoch=initial_epoch,
                     validation_data=(x_val, y_val), callbacks=[tracking_callback(tracker), *callbacks],
                     verbose=0)


# -- hpo --------------------------------------------------------------------------------------


def hpo_space():
    from hpo import hp

    out = {}
    for name, (kind, args) in SPACE.items():
        if kind == "int":
            out[name] = hp.uniformint(name, *args)
        elif kind == "choice":
            out[name] = hp.choice(name, list(args))
        elif kind == "float":
            out[name] = hp.uniform(name, *args)
        else:
            out[name] = hp.loguniform(name, math.log(args[0]), math.log(args[1]))
    return out


def hpo_pruner(name, max_epochs, eta=3):
    from hpo import pruners

    if name == "median":
        return pruners.MedianPruner()
    if name == "asha":
        return pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=eta)
    if name == "hyperband":
        return pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=eta)
    if name is None:
        return None
    raise ValueError(f"unknown pruner {name!r}")


def run_hpo(algo_name, pruner_name, seed, data, tracker):
    import keras

    from hpo import STATUS_FAIL, Trials, fmin, rand, tpe
    from hpo.keras import PruningCallback

    def objective(params):
        if tracker.expired():
            return {"status": STATUS_FAIL, "error": "the time budget is spent"}
        tracker.begin(tracker.configurations)  # a new configuration: the next number
        try:
            model = build_cnn(params, seed * 1000 + tracker.configurations)
            # 1 - val_accuracy is both the reports and the final loss, so TPE ranks a pruned
            # trial's last report among the finished trials' losses.
            history = fit(model, data, tracker, tracker.max_epochs,
                          [PruningCallback(monitor="val_accuracy")])
        finally:
            keras.backend.clear_session()
        return 1.0 - history.history["val_accuracy"][-1]

    trials = Trials()
    budget = tracker.deadline - time.monotonic()
    fmin(objective, hpo_space(), algo={"tpe": tpe.suggest, "rand": rand.suggest}[algo_name],
         max_evals=100_000, timeout=budget, trials=trials, rstate=np.random.default_rng(seed),
         pruner=hpo_pruner(pruner_name, tracker.max_epochs), show_progressbar=False)
    statuses = trials.statuses()
    return {"library_pruned": statuses.count("pruned"), "library_trials": len(statuses)}


# -- Optuna -----------------------------------------------------------------------------------


def optuna_params(trial):
    out = {}
    for name, (kind, args) in SPACE.items():
        if kind == "int":
            out[name] = trial.suggest_int(name, *args)
        elif kind == "choice":
            out[name] = trial.suggest_categorical(name, list(args))
        else:
            out[name] = trial.suggest_float(name, *args, log=kind == "log")
    return out


def run_optuna(pruner_name, seed, data, tracker, eta=3):
    import keras
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = {"median": optuna.pruners.MedianPruner(),
              "hyperband": optuna.pruners.HyperbandPruner(min_resource=1, max_resource=tracker.max_epochs,
                                                          reduction_factor=eta),
              None: optuna.pruners.NopPruner()}[pruner_name]
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=pruner)

    class OptunaPruning(keras.callbacks.Callback):
        # What optuna-integration's KerasPruningCallback does, on the same 1 - val_accuracy.
        def __init__(self, trial):
            super().__init__()
            self.trial = trial

        def on_epoch_end(self, epoch, logs=None):
            self.trial.report(1.0 - float(logs["val_accuracy"]), epoch + 1)
            if self.trial.should_prune():
                raise optuna.TrialPruned()

    def objective(trial):
        params = optuna_params(trial)
        if tracker.expired():
            study.stop()
            return 1.0
        tracker.begin(trial.number)
        try:
            model = build_cnn(params, seed * 1000 + tracker.configurations)
            history = fit(model, data, tracker, tracker.max_epochs, [OptunaPruning(trial)])
        finally:
            keras.backend.clear_session()
        return 1.0 - history.history["val_accuracy"][-1]

    study.optimize(objective, timeout=tracker.deadline - time.monotonic())
    states = [t.state for t in study.trials]
    return {"library_pruned": states.count(optuna.trial.TrialState.PRUNED), "library_trials": len(states)}


# -- KerasTuner -------------------------------------------------------------------------------


def kt_params(hp):
    out = {}
    for name, (kind, args) in SPACE.items():
        if kind == "int":
            out[name] = hp.Int(name, *args)
        elif kind == "choice":
            out[name] = hp.Choice(name, list(args))
        else:
            out[name] = hp.Float(name, *args, sampling="log" if kind == "log" else "linear")
    return out


def run_keras_tuner(seed, data, tracker, workdir, eta=3):
    import keras
    import keras_tuner as kt

    def build(hp):
        return build_cnn(kt_params(hp), seed * 1000 + tracker.configurations)

    def root(oracle, trial):
        # A promoted trial continues its parent's checkpoint: follow tuner/trial_id to the
        # configuration's first trial.
        while trial.hyperparameters.values.get("tuner/trial_id"):
            trial = oracle.trials[trial.hyperparameters.values["tuner/trial_id"]]
        return trial.trial_id

    class Tuner(kt.Hyperband):
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            # KerasTuner 1.4 imports tensorboard on every trial with the TensorFlow backend only
            # to patch TensorBoard callbacks; there are none here.
            return None

        def run_trial(self, trial, *args, **kwargs):
            tracker.begin(root(self.oracle, trial))
            return super().run_trial(trial, *args, **kwargs)

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            keras.backend.clear_session()

    tuner = Tuner(build, objective="val_accuracy", max_epochs=tracker.max_epochs, factor=eta,
                  hyperband_iterations=1000, seed=seed, directory=workdir, project_name=f"kt_{seed}",
                  overwrite=True)
    populate = tuner.oracle.populate_space

    def populate_until_deadline(trial_id):
        # Hyperband has no time limit of its own: no new trial once the budget is spent.
        if tracker.expired():
            return {"status": "STOPPED", "values": None}
        return populate(trial_id)

    tuner.oracle.populate_space = populate_until_deadline
    x_train, y_train, x_val, y_val = data[:4]
    tuner.search(x_train, y_train, batch_size=BATCH, validation_data=(x_val, y_val), verbose=0,
                 callbacks=[tracking_callback(tracker)])
    finished = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    return {"library_trials": len(finished),
            "library_promotions": sum(t.hyperparameters.get("tuner/initial_epoch") > 0 for t in finished)}

