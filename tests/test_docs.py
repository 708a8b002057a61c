"""The book as a website (tools/docs.py, `make docs`), without a browser: the site built into a temporary
folder from the notebooks' stored outputs; every notebook has a page, in the sidebar's order on every page;
every local link and image resolves; no raw `$...$` is left outside code; no `#|` line and no `#| hide` cell
shows; folded and `echo: false` cells render as Quarto's would; each exported public function or class has its
documentation block; the `Docs:` link of every module names a page of the site. The notebooks are parsed here
on their own (JSON and `ast`), not with the builder's nbdev processors: the checks do not repeat the code."""

import ast, base64, functools, importlib.util, json, re, shutil, time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
_spec = importlib.util.spec_from_file_location("docs", ROOT / "tools" / "docs.py")
docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs)

DIRECTIVE = re.compile(r"^\s*#\s*\|\s*([\w-]+)\s*:?\s*(.*?)\s*$")
PNG = b"\x89PNG\r\n\x1a\n"


def built_site(tmp_path_factory, docs):
    "The site built from nbs/ once per test session (tests/test_docs_browser.py uses the same): its folder."
    out = tmp_path_factory.getbasetemp() / "docs_site"
    if not (out / "site.css").exists():  # written last: a whole site
        start = time.perf_counter()
        docs.build(out, quiet=True)
        print(f"site built in {time.perf_counter() - start:.1f} s")
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "The site built from nbs/ into a temporary folder: (folder, pages in reading order)."
    return built_site(tmp_path_factory, docs), [docs.page_name(nb) for nb in docs.sidebar_notebooks()]


@functools.cache
def soup(path: Path) -> BeautifulSoup:
    "The parsed page (parsed once: do not change it)."
    return BeautifulSoup(path.read_text(), "html.parser")


def cells(notebook: str) -> list:
    "The cells of `nbs/notebook`, each with its source as one string and its leading directives as a dict."
    nb = json.loads((NBS / notebook).read_text())
    for c in nb["cells"]:
        c["source"] = "".join(c["source"])
        c["directives"], c["body"] = {}, c["source"]
        lines = c["source"].splitlines()
        while c["cell_type"] == "code" and lines and (DIRECTIVE.match(lines[0]) or not lines[0].strip()):
            m = DIRECTIVE.match(lines.pop(0))
            if m:
                c["directives"][m.group(1)] = m.group(2)
        c["body"] = "\n".join(lines).strip()
    return nb["cells"]


def is_hidden(c) -> bool:
    "Kept off the page by nbdev: `#| hide` (any spelling), `default_exp`, `exporti`, `include: false`."
    d = c["directives"]
    return c["cell_type"] == "code" and bool(
        d.keys() & {"hide", "default_exp", "exporti"} or d.get("include") == "false"
    )


def shown_code(page: BeautifulSoup) -> list[str]:
    "The code of every input cell shown on a page."
    return [e.get_text() for e in page.select(".input_area")]


def notebooks_and_pages(pages):
    return list(zip(docs.sidebar_notebooks(), pages))


def test_every_notebook_has_a_page_in_reading_order(site):
    out, pages = site
    notebooks = docs.sidebar_notebooks()
    assert sorted(notebooks) == sorted(p.name for p in NBS.glob("*.ipynb") if not p.name.startswith("_"))
    assert pages[0] == "index.html" and notebooks[0] == "index.ipynb"
    assert len(set(pages)) == len(pages) == len(notebooks)
    for nb, page in zip(notebooks, pages):
        assert (out / page).stat().st_size > 1000, page
        assert (out / f"{page}.md").read_text().startswith("# "), page  # the Markdown copy, with its title
        title = next(c["source"] for c in cells(nb) if c["cell_type"] == "markdown").splitlines()[0]
        assert soup(out / page).select_one("h1.title").get_text() == title.lstrip("# ").strip()


def test_the_sidebar_lists_every_page_in_order_on_every_page(site):
    out, pages = site
    for page in pages:
        nav = soup(out / page).select_one("nav.sidebar")
        assert [a["href"] for a in nav.select("ol a")] == pages, page
        assert [a["href"] for a in nav.select("a[aria-current=page]")] == [page]


def test_quarto_configuration_lists_every_notebook(tmp_path):
    assert docs.check_quarto() == []
    # the check can fail: a notebook the sidebar misses, and one it lists that is gone
    for name in ("_quarto.yml", "nbdev.yml", "sidebar.yml"):
        shutil.copy(NBS / name, tmp_path / name)
    for nb in docs.sidebar_notebooks()[1:]:
        (tmp_path / nb).write_text("{}")
    (tmp_path / "99_new.ipynb").write_text("{}")
    assert docs.check_quarto(tmp_path) == [
        "sidebar.yml does not list 99_new.ipynb",
        "sidebar.yml lists index.ipynb, which is not in nbs/",
    ]


def local_targets(page: BeautifulSoup):
    "Every link and source on a page that is not data, mail or another site's."
    for tag, attr in (("a", "href"), ("img", "src"), ("link", "href"), ("script", "src")):
        for e in page.find_all(tag):
            url = e.get(attr)
            if url and not re.match(r"^(data:|mailto:|https?://|#$)", url):
                yield url


def test_every_local_link_and_source_resolves(site):
    out, pages = site
    site_url = docs.site_url()
    ids = {p: {e["id"] for e in soup(out / p).find_all(id=True)} for p in pages}
    for page in pages:
        html = soup(out / page)
        for url in local_targets(html):
            path, _, anchor = url.partition("#")
            target = path or page
            assert (out / target).is_file(), f"{page}: {url} is not a file of the site"
            if anchor and target.endswith(".html"):
                assert anchor in ids[target], f"{page}: {url} names no element of {target}"
        hrefs = [a.get("href", "") for a in html.find_all("a")]
        assert not [h for h in hrefs if h.startswith(site_url) or ".ipynb" in h], page  # all made local


def test_chapter_links_in_the_text_resolve_to_pages(site):
    out, pages = site
    links = [a["href"] for a in soup(out / "index.html").select("main a")]
    chapters = {h for h in links if h in pages}
    assert len(chapters) >= len(pages) - 1  # the index's map of the book links every chapter


def text_outside_code(element) -> str:
    "The text of an element, without its code, equations, scripts and styles."
    skip = ["code", "pre", "math", "script", "style"]
    return "".join(t for t in element.find_all(string=True) if not t.find_parent(skip))


def has_math(notebook: str) -> bool:
    "Whether a shown Markdown cell of the notebook has a `$` outside code (fenced or inline) and `\\$`."
    for c in cells(notebook):
        if c["cell_type"] == "markdown":
            text = re.sub(r"```.*?```|`[^`]*`|\\\$", "", c["source"], flags=re.S)
            if "$" in text:
                return True
    return False


def test_equations_are_converted_to_mathml(site):
    out, pages = site
    for nb, page in notebooks_and_pages(pages):
        html = soup(out / page)
        maths = html.find_all("math")
        assert all(m.get("xmlns") == "http://www.w3.org/1998/Math/MathML" for m in maths), page
        assert not has_math(nb) or maths, f"{page}: its notebook has equations, the page none"
        blocks = html.find_all(["p", "li", "td", "th", "h1", "h2", "h3", "h4", "dd", "header"])
        tex = r"\$[^$]+\$|\\(frac|sum|int|mathbb|alpha|log|mid)\b"
        raw = [t for t in map(text_outside_code, blocks) if re.search(tex, t)]
        assert raw == [], f"{page}: raw TeX left: {raw[:3]}"


def test_math_conversion_spares_code_and_escaped_dollars():
    exporter = docs.SiteExporter({"02_masked.ipynb": "masked.html"}, docs.site_url())
    html = exporter.markdown2html({}, "Cost \\$5, `$x$` in code, $x^2$ and [two](02_masked.ipynb)\n\n$$a<b$$")
    page = BeautifulSoup(html, "html.parser")
    assert page.code.get_text() == "$x$"
    assert "Cost $5," in page.get_text()
    inline, block = page.find_all("math")
    assert inline["display"] == "inline" and [e.name for e in inline.msup.children] == ["mi", "mn"]
    assert block["display"] == "block" and [e.get_text() for e in block.find_all("mo")] == ["<"]
    assert page.a["href"] == "masked.html"
    with pytest.raises(ValueError, match="does not know"):
        docs.tex_to_mathml(r"\notacommand x", "inline")


def test_no_directive_line_and_no_hidden_cell_shows(site):
    out, pages = site
    for nb, page in notebooks_and_pages(pages):
        html = soup(out / page)
        code = shown_code(html)
        assert not [ln for c in code for ln in c.splitlines() if DIRECTIVE.match(ln)], page
        ids = {e["id"].removeprefix("cell-id=") for e in html.find_all(id=re.compile("^cell-id="))}
        nb_cells = [c for c in cells(nb) if c["cell_type"] == "code"]
        hidden = [c for c in nb_cells if is_hidden(c)]
        assert not ids & {c["id"] for c in hidden}, f"{page} shows a hidden cell"
        assert {c["id"] for c in nb_cells if not is_hidden(c)} <= ids, f"{page} misses a cell"
        visible_text = "\n".join(c["source"] for c in nb_cells if not is_hidden(c))
        shown = "\n".join(code)
        for c in hidden:
            if c["body"] and c["body"] not in visible_text:
                assert c["body"] not in shown, f"{page} shows the hidden cell {c['id']}"


def test_folded_cells_are_collapsed_with_their_summary(site):
    out, pages = site
    folded = 0
    for nb, page in notebooks_and_pages(pages):
        html = soup(out / page)
        for c in cells(nb):
            if c["directives"].get("code-fold") == "true" and not is_hidden(c):
                details = html.find(id=f"cell-id={c['id']}").find("details")
                summary = c["directives"].get("code-summary", "Code").strip("\"'")
                assert details.summary.get_text() == summary and not details.has_attr("open")
                assert details.select_one(".input_area").get_text().strip() == c["body"]
                folded += 1
    assert folded > 0


def exported_names(c) -> list[tuple[str, str]]:
    "The public functions and classes an exported cell defines (`Class.method` for @patch), with docstrings."
    found = []
    for node in ast.parse(c["body"]).body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        name = node.name
        patched = any("patch" in ast.unparse(d) for d in getattr(node, "decorator_list", []))
        if patched and isinstance(node, ast.FunctionDef):
            ann = node.args.args[0].annotation if node.args.args else None
            if not isinstance(ann, ast.Name):
                continue
            name = f"{ann.id}.{node.name}"
        found.append((name, ast.get_docstring(node) or ""))
    return found


def plain(s: str) -> str:
    "Text without spaces and Markdown marks, to compare a docstring with its rendering."
    return re.sub(r"[\s`*_]+", "", s)


def test_exported_symbols_are_documented_after_their_cell(site):
    out, pages = site
    documented = 0
    for nb, page in notebooks_and_pages(pages):
        html = soup(out / page)
        for c in cells(nb):
            if "export" not in c["directives"] or is_hidden(c):
                continue
            for name, docstring in exported_names(c):
                head = html.find("h3", id=name.lower())
                assert head is not None and head.get_text() == name, f"{page}: no documentation of {name}"
                block = head.find_parent(class_="celltag_showdoc")
                assert block.find_previous(id=re.compile("^cell-id=")) == html.find(id=f"cell-id={c['id']}")
                assert name.split(".")[-1] in block.pre.get_text(), name  # the signature
                first = docstring.splitlines()[0] if docstring else ""
                if first and "$" not in first:
                    assert plain(first) in plain(block.get_text()), name
                documented += 1
    assert documented > 100


def test_nbdev_symbol_links_name_anchors_of_the_site(site):
    "nbdev's index of the library (`_modidx.py`) links each top-level symbol to a page anchor of the site."
    out, _ = site
    spec = importlib.util.spec_from_file_location("modidx", ROOT / "ladd_nb" / "_modidx.py")
    modidx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(modidx)
    checked = 0
    for module, syms in modidx.d["syms"].items():
        for sym, (url, _) in syms.items():
            name = sym.removeprefix(module + ".")
            if "." in name or name.startswith("_"):
                continue  # methods inside a class body have no block of their own, as on nbdev's site
            page, _, anchor = url.partition("#")
            assert soup(out / page).find(id=anchor) is not None, f"{sym}: {url} not in the site"
            checked += 1
    assert checked > 100


def test_module_docstring_links_name_pages_of_the_site(site):
    out, _ = site
    site_url = docs.site_url()
    modules = sorted(p for p in (ROOT / "ladd_nb").glob("*.py") if not p.name.startswith("_"))
    for py in modules:
        m = re.search(r"Docs: (\S+?)\"*$", py.read_text(), flags=re.M)
        assert m and m.group(1).startswith(site_url), f"{py.name} has no Docs: link to the site"
        path = m.group(1).removeprefix(site_url)
        assert (out / path).is_file(), f"{py.name}: {path} is not in the site"
        assert (out / path.removesuffix(".md")).is_file(), f"{py.name}: no page for {path}"
    assert len(modules) >= 15


def test_figures_from_outputs_and_images_are_on_the_pages(site):
    out, pages = site
    for nb, page in notebooks_and_pages(pages):
        html = soup(out / page)
        figures = [
            o
            for c in cells(nb)
            if c["cell_type"] == "code" and not is_hidden(c) and c["directives"].get("output") != "false"
            for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})
        ]
        shown = [i["src"] for i in html.find_all("img") if i["src"].startswith("data:image/png;base64,")]
        assert len(shown) == len(figures), page
        assert all(base64.b64decode(s.split(",", 1)[1])[:8] == PNG for s in shown), page
    linked = [i["src"] for i in soup(out / "index.html").find_all("img") if i["src"].startswith("images/")]
    assert linked and all((out / src).read_bytes()[:8] == PNG for src in linked)


def code_cell(source: str, outputs=(), cid: str = "c") -> dict:
    return {
        "cell_type": "code",
        "execution_count": 1,
        "id": cid,
        "metadata": {},
        "outputs": list(outputs),
        "source": source,
    }


def md_cell(source: str, cid: str) -> dict:
    return {"cell_type": "markdown", "id": cid, "metadata": {}, "source": source}


def write_nb(path: Path, cells_: list) -> None:
    meta = {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}
    path.write_text(json.dumps({"cells": cells_, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))


@pytest.fixture(scope="module")
def small_site(tmp_path_factory):
    "A two-notebook book with each feature once: the three spellings of hide, echo: false, a fold, an export."
    nbs = tmp_path_factory.mktemp("nbs")
    for name in ("_quarto.yml", "nbdev.yml"):
        shutil.copy(NBS / name, nbs / name)
    (nbs / "sidebar.yml").write_text(
        "website:\n  sidebar:\n    contents:\n      - index.ipynb\n      - 01_demo.ipynb\n"
    )
    write_nb(
        nbs / "index.ipynb",
        [md_cell("# Home\n\n> The $x$ book", "t"), md_cell("See [demo](01_demo.ipynb).", "m")],
    )
    stream = {"output_type": "stream", "name": "stdout", "text": "only the output\n"}
    write_nb(
        nbs / "01_demo.ipynb",
        [
            md_cell("# Demo\n\n> A demo", "t"),
            code_cell("#| default_exp core", cid="d"),
            code_cell("#|hide\nSECRET_ONE = 1", cid="h1"),
            code_cell("# |hide\nSECRET_TWO = 2", cid="h2"),
            code_cell("#| hide\nSECRET_THREE = 3", cid="h3"),
            code_cell("#| echo: false\nprint('ECHO_SOURCE')", [stream], cid="e"),
            code_cell('#| code-fold: true\n#| code-summary: "Show me"\nFOLDED = 1', cid="f"),
            code_cell('#| export\ndef seed_everything(seed):\n    "Seed it."', cid="x"),
        ],
    )
    out = tmp_path_factory.mktemp("small") / "site"
    assert docs.build(out, nbs, quiet=True) == ["index.html", "demo.html"]
    return out


def test_each_directive_renders_as_quarto_would(small_site):
    page = soup(small_site / "demo.html")
    text = page.get_text()
    assert "SECRET" not in text and "default_exp" not in text and "#|" not in text
    echo = page.find(id="cell-id=e")
    assert not echo.select(".input_area") and "only the output" in echo.get_text()
    fold = page.find(id="cell-id=f").details
    assert fold.summary.get_text() == "Show me" and "FOLDED = 1" in fold.get_text()
    doc = page.find("h3", id="seed_everything").find_parent(class_="celltag_showdoc")
    assert "seed_everything" in doc.pre.get_text()  # the library's signature and docstring, not the cell's
    index = soup(small_site / "index.html")
    assert index.select_one("main a")["href"] == "demo.html" and index.select_one("header math")
    assert (small_site / "demo.html.md").read_text().startswith("# Demo\n\n> A demo")
