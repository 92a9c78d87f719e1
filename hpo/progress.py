"""Progress bars for ``fmin``: a callback ``(initial, total) -> context manager`` (Hyperopt's form).

The context manager yields an object with ``update(n)`` and a settable ``postfix`` string;
``fmin(show_progressbar=my_factory)`` accepts any such factory.

>>> with no_progress_callback(0, 10) as bar:
...     bar.postfix = "best loss: 0.1"; bar.update(1)
"""

from __future__ import annotations

import contextlib

from tqdm.auto import tqdm


@contextlib.contextmanager
def tqdm_progress_callback(initial, total):
    """A tqdm bar counting trials, with the best loss as its postfix."""
    with tqdm(total=total, initial=initial, unit="trial", dynamic_ncols=True,
              postfix="best loss: ?") as bar:
        yield bar


class _Silent:
    postfix = ""

    def update(self, n=1):
        pass


@contextlib.contextmanager
def no_progress_callback(initial, total):
    """A progress callback that shows nothing."""
    yield _Silent()


default_callback = tqdm_progress_callback


def choose_callback(show_progressbar, verbose=True):
    """The callback for ``fmin(show_progressbar=..., verbose=...)``: tqdm, the user's, or none."""
    if not verbose or show_progressbar is False:
        return no_progress_callback
    return default_callback if show_progressbar is True else show_progressbar
