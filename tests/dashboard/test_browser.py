"""The dashboard in a real browser: headless Chromium follows a search as it fills a store.

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``) and the
``selenium`` package; skipped, saying which is missing, only when they are not installed.
"""

import os
import select
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from hpo.stores import StoreTrials, open_store

pytest.importorskip("plotly", reason="the dashboard needs plotly: pip install 'hpo[dashboard]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.support.ui import WebDriverWait

N_TRIALS = 40

SEARCH = textwrap.dedent("""
    import sys, time
    import numpy as np
    from hpo import fmin, hp, rand
    from hpo.stores import StoreTrials, open_store

    def objective(p):
        time.sleep(0.25)  # a trial that takes a while, so the page sees the search grow
        return (p["x"] - 1) ** 2 + p["y"]

    space = {"x": hp.uniform("x", -2, 2), "y": hp.uniform("y", 0, 1)}
    fmin(objective, space, algo=rand.suggest, max_evals=int(sys.argv[2]),
         trials=StoreTrials(sys.argv[1], exp_key="live"), n_workers=1, show_progressbar=False,
         rstate=np.random.default_rng(0))
""")


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver "
                    "(apt-get install -y chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,2000"):
        options.add_argument(argument)
    options.binary_location = chromium
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(driver))


def _first_line(process, timeout):
    """The first line the process prints, waiting at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    fd, data = process.stdout.fileno(), b""  # the raw pipe: select sees what is unread
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            raise AssertionError(f"hpo dashboard printed {data!r} and then nothing "
                                 f"(exit status {process.poll()})")
        if select.select([fd], [], [], remaining)[0]:
            data += os.read(fd, 4096)
    return data.decode().split("\n", 1)[0]


def _wait(driver, what, condition, timeout=40):
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        lambda d: condition(d), message=f"the page did not show {what} within {timeout} s")


def _shown(driver):
    """(number of table rows, number of points in the history plot)."""
    return driver.execute_script(
        "return [document.querySelectorAll('#trials tbody tr[data-tid]').length,"
        " Number(document.getElementById('history').dataset.points)]")


@pytest.mark.slow
def test_page_follows_a_running_search(tmp_path):
    driver = _browser()
    url = f"sqlite:///{tmp_path / 'live.db'}"
    script = tmp_path / "search.py"
    script.write_text(SEARCH)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    open_store(url).close()  # an empty store: the page is opened before the search starts
    server = search = None
    try:
        server = subprocess.Popen([sys.executable, "-m", "hpo.cli", "dashboard", url, "--port", "0"],
                                  stdout=subprocess.PIPE, env=env)
        line = _first_line(server, 60)
        address = line.split(" at ")[1].split()[0]
        assert address.startswith("http://127.0.0.1:")
        driver.get(address)
        _wait(driver, "that the store is empty", lambda d: d.find_element(
            "id", "summary").text == "no experiment in this store yet")
        search = subprocess.Popen([sys.executable, str(script), url, str(N_TRIALS)], env=env)
        # The experiment appears, then its first trials.
        first = _wait(driver, "a finished trial", lambda d: (rows := _shown(d))[1] >= 1 and rows,
                      timeout=60)
        assert first[1] < N_TRIALS, "the search ended before the page could watch it"
        # New trials finish: both the table and the history plot grow, without a reload.
        _wait(driver, "more trials", lambda d: all(a > b for a, b in zip(_shown(d), first)))
        _wait(driver, "every trial", lambda d: _shown(d) == [N_TRIALS, N_TRIALS], timeout=60)
        search.wait(timeout=60)
        docs = StoreTrials(url, exp_key="live").trials
        tids = driver.execute_script(
            "return [...document.querySelectorAll('#trials tbody tr')].map(r => Number(r.dataset.tid))")
        assert tids == sorted(d["tid"] for d in docs)
        best = min(docs, key=lambda d: d["result"]["loss"])
        summary = driver.find_element("id", "summary").text
        assert f"(trial {best['tid']})" in summary and f"{N_TRIALS} trials" in summary
        plotted = driver.execute_script("return document.getElementById('history').data[0].y")
        assert sorted(plotted) == sorted(d["result"]["loss"] for d in docs)
        # Sorting by loss puts the best trial first; its row opens the trial's details.
        driver.find_element("css selector", "#trials th[data-sort='loss']").click()
        _wait(driver, "the table sorted by loss", lambda d: d.execute_script(
            "return Number(document.querySelector('#trials tbody tr').dataset.tid)") == best["tid"])
        driver.find_element("css selector", "#trials tbody tr").click()
        _wait(driver, "the best trial's details", lambda d: d.find_element(
            "id", "detail-tid").text == str(best["tid"]))
        assert repr(best["result"]["loss"])[:8] in driver.find_element("id", "detail-json").text
        shot = tmp_path / "dashboard.png"
        assert driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000
    finally:
        driver.quit()
        for process in (server, search):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        if server is not None:
            server.stdout.close()
