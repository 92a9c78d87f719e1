"""The LSTM members of the PNAS predictor (``Predictor(kind="lstm")``), as in the PNAS paper.

A value's feature vector is read as a sequence of tokens of ``token_dim`` numbers (for
``nas.space.cells``: one token per block, zero tokens for the blocks a smaller cell lacks);
an LSTM reads the tokens and a linear layer maps its last state to the loss. All members are
trained at once in one Keras model (one LSTM head per member, each head's loss weighted by
its fold's mask), full-batch Adam for ``epochs`` steps with seeded initializers, so fitting
is deterministic for a seed without touching the global random state. Predictions run in
numpy from the trained weights, so a fitted predictor needs no Keras to rank expansions and
still round-trips through ``numpy.savez`` bytes.

>>> import numpy as np
>>> member = {"kernel": np.zeros((2, 4)), "recurrent": np.zeros((1, 4)), "bias": np.zeros(4),
...           "dense": np.ones(1), "dense_bias": np.array([0.5])}
>>> predict_member(member, np.zeros((3, 4)), token_dim=2)  # no input ever reaches the state
array([0.5, 0.5, 0.5])
"""

from __future__ import annotations

import numpy as np


def as_tokens(X, token_dim):
    """``X`` (n, d) as an (n, d // token_dim, token_dim) array of tokens."""
    n, d = X.shape
    if d % token_dim:
        raise ValueError(f"kind='lstm' reads features as tokens of token_dim={token_dim} numbers; "
                         f"the features have length {d}, not a multiple of it")
    return X.reshape(n, d // token_dim, token_dim)


def fit_members(X, y, masks, token_dim, hidden, epochs, learning_rate, l2, seed):
    """One member per row of ``masks`` (m, n): the LSTM's weights fitted on the rows it marks."""
    import keras

    tokens = as_tokens(X, token_dim).astype("float32")
    m = len(masks)
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = keras.Input(shape=tokens.shape[1:])
    outputs = []
    for i in range(m):
        state = keras.layers.LSTM(
            hidden, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 2 * i),
            recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 2 * i),
            kernel_regularizer=regularizer, name=f"lstm_{i}")(inputs)
        outputs.append(keras.layers.Dense(
            1, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 2 * i + 1),
            name=f"dense_{i}")(state))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=["mse"] * m)
    # ``epochs`` full-batch steps through the compiled train step: fit's per-epoch overhead
    # would cost more than these tiny steps, and repeating the data for one long epoch would
    # hold ``epochs`` copies of it. Each head sees only its fold: its loss is weighted by the
    # fold's mask.
    targets = [y.astype("float32")] * m
    weights = [mask.astype("float32") for mask in masks]
    for _ in range(epochs):
        model.train_on_batch(tokens, targets, sample_weight=weights)
    members = []
    for i in range(m):
        kernel, recurrent, bias = model.get_layer(f"lstm_{i}").get_weights()
        dense, dense_bias = model.get_layer(f"dense_{i}").get_weights()
        members.append({"kernel": kernel.astype(float), "recurrent": recurrent.astype(float),
                        "bias": bias.astype(float), "dense": dense[:, 0].astype(float),
                        "dense_bias": dense_bias.astype(float)})
    # Only the numpy weights are kept: without this, every refit of a search would leave its
    # model and traced functions in Keras' session (gigabytes over a long search). pnas fits
    # between trials, so no model of the objective is being built meanwhile.
    del model
    keras.backend.clear_session()
    return members


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def predict_member(member, X, token_dim):
    """The member's predictions for rows ``X`` (n, d): Keras' LSTM (gates i, f, c, o; tanh and
    sigmoid) run in numpy over the tokens, then the linear layer."""
    tokens = as_tokens(np.asarray(X, dtype=float), token_dim)
    h_size = member["recurrent"].shape[0]
    h = np.zeros((len(tokens), h_size))
    c = np.zeros_like(h)
    for t in range(tokens.shape[1]):
        z = tokens[:, t] @ member["kernel"] + h @ member["recurrent"] + member["bias"]
        i, f, g, o = (z[:, k * h_size:(k + 1) * h_size] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
    return h @ member["dense"] + member["dense_bias"][0]
