"""The book's website (tools/docs.py) in headless Chromium (Playwright), served from a temporary folder on
localhost: every page loads without a console error, a failed request or any request to another host (the
site works offline); its images have loaded; its equations are typeset as MathML with a size on the page and
superscripts raised; and the links resolve: every sidebar link and every chapter link of the index is
followed, and a sample of symbol links lands on its anchor.
A screenshot of one chapter is kept in tests/artifacts/."""

import functools, http.server, importlib.util, os, shutil, threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("LADD_NB_REQUIRE_BROWSER") == "1"  # set by .ci/run: a missing browser then fails
HOW = "run `apt-get install chromium` (Debian/Ubuntu) and pip's `playwright` (in the dev extra)"

# page functions, run in the browser
IMAGES_NOT_LOADED = (
    "() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
)
MATH_SIZES = """() => [...document.querySelectorAll('math')].filter(m => !m.closest('details:not([open])'))
    .map(m => { const r = m.getBoundingClientRect();
                return [m instanceof MathMLElement, r.width, r.height]; })"""
# true when each visible superscript's script sits higher than its base: MathML laid out, not shown as text
SUPERSCRIPTS_RAISED = """() => [...document.querySelectorAll('msup')]
    .filter(m => !m.closest('details:not([open])'))
    .every(m => { const [base, sup] = m.children;
                  return sup.getBoundingClientRect().bottom < base.getBoundingClientRect().bottom; })"""


def built_site(tmp_path_factory, docs):
    "The site built from nbs/ once per test session (tests/test_docs.py uses the same): its folder."
    out = tmp_path_factory.getbasetemp() / "docs_site"
    if not (out / "site.css").exists():  # written last: a whole site
        docs.build(out, quiet=True)
    return out


def _load_docs():
    spec = importlib.util.spec_from_file_location("docs", ROOT / "tools" / "docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _browser_or_skip():
    "Playwright's sync API, or a skip (a failure under LADD_NB_REQUIRE_BROWSER=1) that says what is missing."
    try:
        import playwright.sync_api as pw
    except ImportError:
        pw = None
    missing = " and ".join(name for name, ok in (("chromium", CHROMIUM), ("playwright", pw)) if not ok)
    if missing and REQUIRED:
        pytest.fail(f"LADD_NB_REQUIRE_BROWSER=1 but {missing} not installed: {HOW}")
    if missing:
        pytest.skip(f"headless browser test skipped: {missing} not installed: {HOW}")
    return pw


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    "The site built into a temporary folder and served on localhost: (base address, pages in reading order)."
    _browser_or_skip()  # before building for nothing
    docs = _load_docs()
    out = built_site(tmp_path_factory, docs)  # built once with tests/test_docs.py
    pages = [docs.page_name(nb) for nb in docs.sidebar_notebooks()]
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", pages
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(served):
    pw = _browser_or_skip()
    with pw.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def _watched_page(browser, base: str):
    "A new page that records console errors, page errors, failed requests and requests to any other host."
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status}: {r.url}"))

    def local_only(route):
        if route.request.url.startswith(base) or route.request.url.startswith("data:"):
            return route.continue_()
        problems.append(f"request to another host: {route.request.url}")
        return route.abort()

    page.route("**/*", local_only)
    return page, problems


def test_every_page_loads_offline_with_images_and_typeset_equations(served, browser):
    base, pages = served
    page, problems = _watched_page(browser, base)
    with_math = 0
    for name in pages:
        response = page.goto(base + name, wait_until="load")
        assert response.status == 200, name
        assert page.locator("nav.sidebar ol a").count() == len(pages), name
        assert page.evaluate(IMAGES_NOT_LOADED) == [], name
        sizes = page.evaluate(MATH_SIZES)
        assert all(is_math and w > 0 and h > 0 for is_math, w, h in sizes), (name, sizes[:5])
        assert page.evaluate(SUPERSCRIPTS_RAISED), name
        with_math += bool(sizes)
        if name == "masked.html":
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "docs_masked.png"))
    assert problems == []
    assert with_math >= len(pages) // 2  # most chapters have equations, all of them typeset


def test_sidebar_and_chapter_links_resolve(served, browser):
    base, pages = served
    page, problems = _watched_page(browser, base)
    page.goto(base + "index.html")
    titles = page.locator("nav.sidebar ol a").all_inner_texts()
    for i, name in enumerate(pages):  # click through the sidebar: each link opens its page, marked current
        page.locator("nav.sidebar ol a").nth(i).click()
        page.wait_for_load_state("load")
        assert page.url == base + name
        assert page.locator("h1.title").inner_text() == titles[i]
        assert page.locator("nav.sidebar a[aria-current=page]").inner_text() == titles[i]
    page.goto(base + "index.html")
    in_text = page.eval_on_selector_all("main a[href$='.html']", "as => [...new Set(as.map(a => a.href))]")
    assert len(in_text) >= len(pages) - 1  # the index's map of the book links every chapter
    for url in in_text:
        assert page.goto(url).status == 200, url
        assert page.locator("h1.title").count() == 1, url
    assert problems == []


def test_symbol_links_land_on_their_documentation(served, browser):
    base, pages = served
    page, problems = _watched_page(browser, base)
    page.goto(base + "masked.html")
    links = page.eval_on_selector_all("main a[href*='.html#']", "as => [...new Set(as.map(a => a.href))]")
    assert len(links) >= 5
    for url in links[:: max(1, len(links) // 12)]:  # about a dozen, spread over the page
        page.goto(url)
        anchor = url.split("#", 1)[1]
        assert page.evaluate("id => document.getElementById(id)?.tagName", anchor) == "H3", url
        top = page.evaluate("id => document.getElementById(id).getBoundingClientRect().top", anchor)
        assert -2 < top < 1000, (url, top)  # scrolled into view (to within subpixels)
    assert problems == []
