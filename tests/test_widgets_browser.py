"""The step-budget widget in a real browser: JupyterLab on localhost, a notebook with the widget opened in
headless Chromium (Playwright), the K slider moved, the figure seen to change. Screenshots are kept in
tests/artifacts/."""

import json, os, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

# a page function: true once the widget's image shows a source other than `src`
IMAGE_CHANGED = (
    "src => { const i = document.querySelector('.jupyter-widgets img, .widget-image'); "
    "return i && i.src !== src; }"
)
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def widget_notebook(path: Path):
    """A notebook with the widget cell of nbs/09_widgets.ipynb (the chapter's own cell, so the two cannot
    drift)."""
    chapter = json.loads((Path(__file__).parents[1] / "nbs" / "09_widgets.ipynb").read_text())
    src = next(
        "".join(c["source"])
        for c in chapter["cells"]
        if "".join(c["source"]).startswith("w = explorer_widget(")
    )
    cell = "from ladd_nb.widgets import explorer_widget\n" + src
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "explorer",
                "metadata": {},
                "outputs": [],
                "source": cell,
            }
        ],
        "metadata": {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


REQUIRED = (
    os.environ.get("LADD_NB_REQUIRE_BROWSER") == "1"
)  # set by .ci/run: a missing browser is then a failure
SKIP_WHY = (
    "needs Chromium: run `apt-get install chromium` (Debian/Ubuntu) and pip's `playwright` (in the dev extra)"
)


def _browser_or_skip():
    "Playwright's sync API, or a skip (a failure under LADD_NB_REQUIRE_BROWSER=1) that says what is missing."
    try:
        import playwright.sync_api as pw
    except ImportError:
        pw = None
    missing = [name for name, ok in (("Chromium", CHROMIUM), ("playwright", pw)) if not ok]
    if missing and REQUIRED:
        pytest.fail(f"LADD_NB_REQUIRE_BROWSER=1 but {' and '.join(missing)} missing; " + SKIP_WHY)
    if missing:
        pytest.skip(SKIP_WHY)
    return pw


@pytest.fixture
def lab(tmp_path):
    _browser_or_skip()  # before starting JupyterLab for nothing
    widget_notebook(tmp_path / "explorer.ipynb")
    port, token = free_port(), "ladd-nb-test"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}",
            "--allow-root",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
            break
        except Exception:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("JupyterLab did not start: " + proc.stdout.read().decode()[-2000:])
    yield f"{base}/lab/tree/explorer.ipynb?token={token}"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_step_slider_changes_the_figure_in_a_browser(lab):
    pw = _browser_or_skip()
    ARTIFACTS.mkdir(exist_ok=True)
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(lab)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-KernelStatus", timeout=120_000
        )
        time.sleep(2)  # let the kernel settle
        page.click(".jp-Notebook .jp-Cell .jp-InputArea-editor")
        page.keyboard.press("Shift+Enter")  # run the widget cell
        img = page.wait_for_selector(".jupyter-widgets img, .widget-image", timeout=240_000)
        time.sleep(1)
        before = img.get_attribute("src")
        page.screenshot(path=str(ARTIFACTS / "widget_before.png"), full_page=True)
        handle = (
            page.locator(".widget-hslider, .widget-slider")
            .filter(has_text="token steps K")
            .locator(".noUi-handle, .slider-handle, [role=slider]")
            .first
        )
        handle.focus()
        page.keyboard.press("ArrowRight")  # K: 1 -> 2
        page.wait_for_function(
            IMAGE_CHANGED,
            arg=before,
            timeout=120_000,
        )
        after = page.locator(".jupyter-widgets img, .widget-image").first.get_attribute("src")
        page.screenshot(path=str(ARTIFACTS / "widget_after.png"), full_page=True)
        # the trajectory scrubber: one step back shows an earlier frame
        step = (
            page.locator(".widget-hslider, .widget-slider")
            .filter(has_text="step")
            .last.locator(".noUi-handle, .slider-handle, [role=slider]")
            .first
        )
        step.focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(
            IMAGE_CHANGED,
            arg=after,
            timeout=60_000,
        )
        page.screenshot(path=str(ARTIFACTS / "widget_scrubbed.png"), full_page=True)
        browser.close()
    assert after != before
    assert (ARTIFACTS / "widget_after.png").stat().st_size > 10_000
