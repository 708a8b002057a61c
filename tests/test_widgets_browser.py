"""The step-budget widget in a real browser: JupyterLab on localhost, a notebook with the widget opened in
headless Chromium (Playwright); its two panels seen, the K slider moved and both panels and the figure seen to
change, the scrubber moved, the words data chosen and its samples seen as text. Screenshots are kept in
tests/artifacts/."""

import json, os, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

# a page function: true once the widget's image shows a source other than `src`
IMAGE_CHANGED = (
    "src => { const i = document.querySelector('.jupyter-widgets img, .widget-image'); "
    "return i && i.src !== src; }"
)
# a page function: the text of each panel's info line (the explorer writes one `.ladd-panel` per panel)
PANEL_TEXTS = "() => [...document.querySelectorAll('.ladd-panel')].map(e => e.textContent)"
# a page function: true once every panel's line names token steps `k`
PANELS_AT_K = (
    "k => { const p = [...document.querySelectorAll('.ladd-panel')]; "
    "return p.length === 2 && p.every(e => e.textContent.includes(`K=${k}`)); }"
)
# a page function: true once both panels show their samples as words, some struck through (non-words)
WORDS_SHOWN = (
    "() => document.querySelectorAll('.ladd-words').length === 2 && "
    "document.querySelectorAll('.ladd-words s').length > 0"
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


def _slider_handle(page, label: str, last: bool = False):
    "The handle of the slider whose text contains `label` (the last such slider if `last`)."
    sliders = page.locator(".widget-hslider, .widget-slider").filter(has_text=label)
    return (
        (sliders.last if last else sliders.first).locator(".noUi-handle, .slider-handle, [role=slider]").first
    )


def _image_src(page) -> str:
    return page.locator(".jupyter-widgets img, .widget-image").first.get_attribute("src")


def _open_widget(page, lab):
    "Open the notebook, run the widget cell, wait for its figure; the figure's src."
    page.goto(lab)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-KernelStatus", timeout=120_000
    )
    time.sleep(2)  # let the kernel settle
    page.click(".jp-Notebook .jp-Cell .jp-InputArea-editor")
    page.keyboard.press("Shift+Enter")  # run the widget cell
    page.wait_for_selector(".jupyter-widgets img, .widget-image", timeout=240_000)
    page.wait_for_selector(".ladd-panel", timeout=60_000)
    time.sleep(1)
    return _image_src(page)


def test_explorer_compares_two_models_in_a_browser(lab):
    pw = _browser_or_skip()
    ARTIFACTS.mkdir(exist_ok=True)
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        before = _open_widget(page, lab)
        page.screenshot(path=str(ARTIFACTS / "widget_before.png"), full_page=True)
        # two panels: a model dropdown each, and one info line each, at the opening K = 1
        for side in ("left", "right"):
            assert page.locator(".widget-dropdown").filter(has_text=side).count() == 1, side
        panels_before = page.evaluate(PANEL_TEXTS)
        assert len(panels_before) == 2 and all("K=1" in t for t in panels_before), panels_before
        _slider_handle(page, "token steps K").focus()
        page.keyboard.press("ArrowRight")  # K: 1 -> 2
        page.wait_for_function(IMAGE_CHANGED, arg=before, timeout=120_000)
        page.wait_for_function(PANELS_AT_K, arg=2, timeout=60_000)  # both panels moved to K = 2
        panels_after = page.evaluate(PANEL_TEXTS)
        after = _image_src(page)
        page.screenshot(path=str(ARTIFACTS / "widget_after.png"), full_page=True)
        # the trajectory scrubber: one step back shows an earlier frame
        _slider_handle(page, "step", last=True).focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(IMAGE_CHANGED, arg=after, timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "widget_scrubbed.png"), full_page=True)
        # the words: samples shown as text, the non-words struck through
        page.locator(".widget-dropdown").filter(has_text="data").locator("select").select_option("words")
        page.wait_for_function(WORDS_SHOWN, timeout=120_000)
        words = page.locator(".ladd-words").all_inner_texts()
        page.screenshot(path=str(ARTIFACTS / "widget_words.png"), full_page=True)
        browser.close()
    assert after != before
    assert [t.split(";")[0] for t in panels_after] == [
        t.split(";")[0].replace("K=1", "K=2") for t in panels_before
    ]
    assert panels_after != panels_before
    assert (ARTIFACTS / "widget_after.png").stat().st_size > 10_000
    assert all(len(t.rsplit(":", 1)[1].split()) == 24 for t in words), words  # 24 samples per panel
