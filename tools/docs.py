"""Build the book as a static website without Quarto: `python tools/docs.py [--out DIR]` (`make docs`).

The notebooks of `nbs/` are rendered with their stored outputs (nothing is executed) into `_docs/`, in the
reading order of `nbs/sidebar.yml`, each page with the sidebar and links between chapters. The pages look as
nbdev's Quarto site would: nbdev's own notebook processors drop `#|` directive lines and `#| hide` cells and
link backticked symbols; each exported public function or class is followed by its `show_doc` block (name,
signature, docstring, from the imported `ladd_nb`); `#| code-fold` cells fold into `<details>`,
`#| echo: false` cells show their output only. nbconvert's HTML exporter renders the cells through a small
template, and its Markdown renderer converts every `$...$` and `$$...$$` to MathML at build time
(latex2mathml), so a page loads nothing from the network. Each page `X.html` has a Markdown copy `X.html.md`,
as Quarto's `keep-md` writes: the targets of the `Docs:` links in the modules' docstrings.

`python tools/docs.py --check-quarto` only checks that Quarto's configuration lists every notebook (and
nothing that is missing); the build checks it too. Quarto stays the route for those who have it."""

import argparse, html, importlib, json, re, shutil, sys, time, tomllib
from pathlib import Path

import jinja2, nbformat, yaml
from fastcore.docments import MarkdownRenderer
from fastcore.nbio import md_frontmatter, mk_cell, nb2dict, read_nb
from fastcore.xtras import working_directory
from latex2mathml.converter import convert as tex2mathml
from nbconvert import HTMLExporter, MarkdownExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbdev.config import nbpath2html
from nbdev.doclinks import NbdevLookup
from nbdev.process import NBProcessor, Processor
from nbdev.processors import (
    _def_names,
    _want_doc,
    clean_magics,
    filter_stream_,
    hide_,
    hide_line,
    populate_language,
    rm_header_dash,
    strip_ansi,
)
from pygments.formatters import HtmlFormatter

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
LIB = "ladd_nb"
MARKER = ".ladd-docs"  # written into the output folder, so that a rebuild only ever deletes a site it built
# cells nbdev keeps off the page; unlike nbdev, `export` cells stay: the chapters teach their code
HIDDEN = {"exporti", "hide", "default_exp"}
WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    '<p class="widget-note">An interactive widget: open this notebook in JupyterLab to use it '
    "(a static page has no Python kernel).</p>"
)


def site_url(nbs: Path = NBS) -> str:
    "The site's address from `nbs/nbdev.yml`, with a trailing slash (links to it are made relative)."
    url = yaml.safe_load((nbs / "nbdev.yml").read_text())["website"]["site-url"]
    return url.rstrip("/") + "/"


def sidebar_notebooks(nbs: Path = NBS) -> list[str]:
    "The notebooks of `nbs/sidebar.yml`, in reading order."
    return list(yaml.safe_load((nbs / "sidebar.yml").read_text())["website"]["sidebar"]["contents"])


def page_name(notebook: str) -> str:
    "The page of a notebook as nbdev names it, number dropped: `02_masked.ipynb` -> `masked.html`."
    return nbpath2html(Path(notebook)).name


def check_quarto(nbs: Path = NBS) -> list[str]:
    "Problems with Quarto's configuration in `nbs`: notebooks missing from the sidebar or listed but absent."
    listed = sidebar_notebooks(nbs)
    present = sorted(p.name for p in nbs.glob("*.ipynb") if not p.name.startswith(("_", ".")))
    problems = [f"sidebar.yml does not list {n}" for n in present if n not in listed]
    problems += [f"sidebar.yml lists {n}, which is not in nbs/" for n in listed if n not in present]
    problems += [f"sidebar.yml lists {n} twice" for n in set(listed) if listed.count(n) > 1]
    quarto = yaml.safe_load((nbs / "_quarto.yml").read_text())
    if quarto.get("project", {}).get("type") != "website":
        problems.append("_quarto.yml: project type is not website")
    missing = [f for f in quarto.get("metadata-files", []) if not (nbs / f).exists()]
    problems += [f"_quarto.yml names {f}, which is missing" for f in missing]
    doc_path = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["nbdev"]["doc_path"]
    output = yaml.safe_load((nbs / "nbdev.yml").read_text()).get("project", {}).get("output-dir")
    if output != doc_path:
        problems.append(f"nbdev.yml writes the site to {output}, pyproject.toml's doc_path is {doc_path}")
    return problems


def resolve(module: str, name: str):
    "The object `name` (`f` or `Class.method`) of the imported `module`; a clear error if it is not there."
    obj = importlib.import_module(module)
    for part in name.split("."):
        if not hasattr(obj, part):
            raise AttributeError(f"{module} has no {name}: run nbdev-export so that the library matches nbs/")
        obj = getattr(obj, part)
    return obj


def doc_block(module: str, name: str) -> str:
    "nbdev's `show_doc` block for `name` in Markdown: a heading with nbdev's anchor, signature, docstring."
    body = MarkdownRenderer(resolve(module, name), name=name)._repr_markdown_()
    head = f'<h3 class="doc-name" id="{html.escape(name.lower())}"><code>{html.escape(name)}</code></h3>'
    return f"{head}\n\n{body}"


class DocExports(Processor):
    "After each exported cell that defines public names, a Markdown cell with their `show_doc` blocks."

    def begin(self):
        "Insert the blocks, last cell first so that the indices still to visit stay valid."
        default = next(
            (c.directives_["default_exp"] for c in self.nb.cells if "default_exp" in c.directives_), None
        )
        cells = self.nb.cells
        for i in reversed(range(len(cells))):
            cell = cells[i]
            if not _want_doc(cell):
                continue
            module = f"{LIB}.{cell.directives_.get('export') or cell.directives_.get('exports') or default}"
            blocks = [doc_block(module, nm) for nm in _def_names(cell, set())]
            if blocks:
                cells.insert(i + 1, mk_cell("\n\n".join(blocks), "markdown", metadata={"tags": ["showdoc"]}))


def rm_hidden(cell):
    "Drop the cells nbdev keeps off the page (`#| hide` in any spelling, `default_exp`, `include: false`)."
    d = cell.directives_ or {}
    if cell.cell_type == "code" and (d.keys() & HIDDEN or d.get("include") == "false"):
        cell.source = None


def cell_options(cell):
    "Quarto's cell options as metadata for the template: `echo: false`, `output: false`, `code-fold`."
    d = cell.directives_ or {}
    if cell.cell_type != "code" or cell.source is None:
        return
    if d.get("echo") == "false":
        cell.metadata["transient"] = {"remove_source": True}
    if d.get("output") == "false":
        cell.outputs = []
    if d.get("code-fold") in ("", "true", "show"):
        cell.metadata["ladd_fold"] = d.get("code-summary", "Code").strip("\"'")
        cell.metadata["ladd_fold_open"] = d["code-fold"] == "show"


def widget_note(cell):
    "A widget's saved view needs a kernel and the widget library; the page says so instead."
    for out in cell.get("outputs", []):
        if WIDGET in out.get("data", {}):
            out["data"] = {"text/html": WIDGET_NOTE}


class AddLinks(Processor):
    "nbdev's `add_links` with one lookup table for the notebook: backticked symbols link to their docs."

    def begin(self):
        "The lookup table of every nbdev library installed (this one, fastcore, ...)."
        self.lookup = NbdevLookup()

    def cell(self, cell):
        "Link the symbols of a Markdown cell and of Markdown outputs."
        if cell.cell_type == "markdown" and cell.source:
            cell.source = self.lookup.linkify(cell.source)
        for out in cell.get("outputs", []):
            md = out.get("data", {}).get("text/markdown")
            if md is not None:
                out["data"]["text/markdown"] = self.lookup.linkify(
                    "".join(md) if isinstance(md, list) else md
                )


def keep_page_metadata(cell):
    "Only the metadata the page uses (run timings and editor state are of no use, and may not validate)."
    keep = ("tags", "transient", "ladd_fold", "ladd_fold_open")
    cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in keep}


PROCS = [
    populate_language,
    DocExports,
    strip_ansi,
    hide_line,
    filter_stream_,
    rm_header_dash,
    rm_hidden,
    hide_,
    clean_magics,
    cell_options,
    widget_note,
    AddLinks,
    keep_page_metadata,
]


def take_frontmatter(nb) -> dict:
    "The title and description of the notebook's opening `# Title` / `> description` cell, which is dropped."
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            fm = md_frontmatter(cell.source)
            if fm:
                del nb.cells[i]
            return fm
    return {}


def process(path: Path):
    "The notebook at `path` after nbdev's processors (no cell executed), and its frontmatter."
    nb = read_nb(path)
    # the code is Python: highlighted as such, and fenced as such in the Markdown copy
    nb.metadata["language_info"] = {"name": "python"}
    fm = take_frontmatter(nb)
    NBProcessor(nb=nb, procs=PROCS, rm_directives=True).process()
    return nbformat.reads(json.dumps(nb2dict(nb)), as_version=4), fm


# TeX operators latex2mathml does not know, written the way it does
TEX_FIXES = {r"\arg": r"\operatorname{arg}"}


def tex_to_mathml(tex: str, display: str) -> str:
    "TeX converted to MathML (`display` is 'inline' or 'block'); a formula it cannot convert fails the build."
    for cmd, fix in TEX_FIXES.items():
        tex = re.sub(re.escape(cmd) + r"(?![A-Za-z])", lambda m: fix, tex)
    try:
        mathml = tex2mathml(tex.strip(), display=display)
    except Exception as e:
        raise ValueError(f"latex2mathml cannot convert ${tex}$: {e}") from e
    unknown = re.search(r">(\\[A-Za-z]+)<", mathml)  # an unknown command comes out as its own name
    if unknown:
        raise ValueError(f"latex2mathml does not know {unknown.group(1)} in ${tex}$: add it to TEX_FIXES")
    return mathml


def local_url(url: str, pages: dict, site: str) -> str:
    "A link made local: `02_masked.ipynb#x` -> `masked.html#x`; the site's own address made relative."
    if url.startswith(site):
        url = url[len(site) :]
    path, hash_, anchor = url.partition("#")
    if path in pages:
        return pages[path] + hash_ + anchor
    return url


class SiteRenderer(IPythonRenderer):
    "nbconvert's Markdown renderer with MathML for equations and local links between chapters."

    pages: dict = {}
    site: str = ""

    def inline_math(self, body):
        "`$...$`"
        return tex_to_mathml(body, "inline")

    def block_math(self, body):
        "`$$...$$`"
        return tex_to_mathml(body, "block")

    def latex_environment(self, name, body):
        "`\\begin{name}...\\end{name}`"
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")

    def link(self, text, url, title=None):
        "A link, to a chapter's page where it names its notebook."
        return super().link(text, local_url(url, self.pages, self.site), title)


# classic/base.html.j2 with folded cells; the code's HTML comes from Pygments, so it is not run through the
# (slow) HTML sanitiser again
TEMPLATE = """{%- extends 'classic/base.html.j2' -%}
{% block input_group -%}
{%- if cell.metadata.ladd_fold is defined -%}
<details class="code-fold"{{ ' open' if cell.metadata.ladd_fold_open }}>
<summary>{{ cell.metadata.ladd_fold | escape_html }}</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock input_group %}
{% block input %}
<div class="inner_cell"><div class="input_area">
{{ cell.source | highlight_code(metadata=cell.metadata) }}
</div></div>
{%- endblock input %}
"""


class SiteExporter(HTMLExporter):
    "nbconvert's HTML exporter (page body only) with the site's template and Markdown renderer."

    def __init__(self, pages: dict, site: str):
        "`pages` maps notebook names to pages; links to the address `site` are made relative."
        loader = jinja2.DictLoader({"ladd_page.j2": TEMPLATE})
        super().__init__(template_name="basic", template_file="ladd_page.j2", extra_loaders=[loader])
        self.exclude_input_prompt = self.exclude_output_prompt = True
        self.pages, self.site = pages, site

    @jinja2.pass_context
    def markdown2html(self, context, source):
        "Markdown to HTML, equations to MathML."
        cell = context.get("cell", {})
        renderer = SiteRenderer(escape=False, attachments=cell.get("attachments", {}))
        renderer.pages, renderer.site = self.pages, self.site
        return MarkdownWithMath(renderer=renderer).render(source)

    def render_inline(self, source: str) -> str:
        "One line of Markdown (a description) as HTML, without the paragraph around it."
        html_ = self.markdown2html({}, source).strip()
        return re.sub(r"^<p>(.*)</p>$", r"\1", html_, flags=re.S)


def sidebar_html(entries: list, current: str) -> str:
    "The sidebar: every page in reading order, the current one marked."
    items = []
    for page, title in entries:
        here = ' aria-current="page"' if page == current else ""
        items.append(f'<li><a href="{page}"{here}>{html.escape(title)}</a></li>')
    return (
        f'<nav class="sidebar"><a class="site-title" href="index.html">{LIB}</a><ol>'
        + "".join(items)
        + "</ol></nav>"
    )


def pager_html(entries: list, current: str) -> str:
    "Links to the previous and the next chapter."
    pages = [p for p, _ in entries]
    i = pages.index(current)
    prev = (
        f'<a rel="prev" href="{pages[i - 1]}">&larr; {html.escape(entries[i - 1][1])}</a>'
        if i
        else "<span></span>"
    )
    nxt = (
        f'<a rel="next" href="{pages[i + 1]}">{html.escape(entries[i + 1][1])} &rarr;</a>'
        if i + 1 < len(pages)
        else ""
    )
    return f'<footer class="pager">{prev}{nxt}</footer>'


def page_html(body: str, fm: dict, description: str, entries: list, page: str) -> str:
    "A whole page: head, sidebar, title, description, the rendered cells, the pager."
    title = html.escape(fm.get("title", page))
    desc = f'<p class="description">{description}</p>' if description else ""
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title} – {LIB}</title><link rel="stylesheet" href="site.css"></head>\n<body>'
        f'{sidebar_html(entries, page)}<main><header><h1 class="title">{title}</h1>{desc}</header>\n'
        f"{body}\n{pager_html(entries, page)}</main></body></html>\n"
    )


def markdown_copy(nb, fm: dict, page: str, pages: dict, out: Path) -> None:
    "The page as Markdown (`X.html.md`, as Quarto's keep-md writes); figures go to `X_files/`."
    stem = page.removesuffix(".html")
    resources = {"output_files_dir": f"{stem}_files", "unique_key": stem}
    text, res = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(
        nb, resources
    )
    for name, data in res.get("outputs", {}).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    for nb_name, target in pages.items():
        text = text.replace(f"]({nb_name}", f"]({target}.md")
    head = f"# {fm.get('title', stem)}\n\n" + (f"> {fm['description']}\n\n" if fm.get("description") else "")
    (out / f"{page}.md").write_text(head + text)


CSS = """
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; }
.sidebar { position: fixed; top: 0; bottom: 0; left: 0; width: 15rem; overflow-y: auto; padding: 1rem;
  background: #f6f7f9; border-right: 1px solid #ddd; font-size: 0.92rem; box-sizing: border-box; }
.sidebar .site-title { font-weight: 700; font-size: 1.2rem; color: #222; text-decoration: none; }
.sidebar ol { list-style: none; padding: 0; margin: 1rem 0; }
.sidebar li a { display: block; padding: 0.2rem 0.4rem; color: #2a5db0; text-decoration: none;
  border-radius: 4px; }
.sidebar li a[aria-current] { background: #2a5db0; color: #fff; }
main { margin-left: 15rem; padding: 1.5rem 2.5rem 3rem; max-width: 58rem; }
h1.title { margin-bottom: 0.2rem; }
.description { font-style: italic; font-size: 1.2rem; color: #555; margin-top: 0; }
a { color: #2a5db0; }
a.anchor-link { visibility: hidden; margin-left: 0.3rem; text-decoration: none; }
h1:hover a.anchor-link, h2:hover a.anchor-link, h3:hover a.anchor-link { visibility: visible; }
pre { margin: 0; padding: 0.6rem 0.8rem; overflow-x: auto; font-size: 0.86rem; line-height: 1.4; }
.input_area pre, .highlight pre { background: #f4f5f7; border-radius: 4px; }
.output_area pre { border-left: 2px solid lightsalmon; margin-left: 0.8rem; }
.cell { margin-bottom: 1rem; }
.output_png img, .rendered_html img { max-width: 100%; height: auto; }
details.code-fold > summary { cursor: pointer; color: #555; margin-bottom: 0.3rem; }
.celltag_showdoc { border: 1px solid #dde; border-radius: 6px; padding: 0.2rem 1rem 0.6rem;
  background: #fbfbfe; }
.celltag_showdoc h3.doc-name { margin: 0.6rem 0 0.4rem; }
table { border-collapse: collapse; margin: 0.8rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
math[display="block"] { margin: 0.8rem 0; overflow-x: auto; }
.widget-note { font-style: italic; color: #555; }
.pager { display: flex; justify-content: space-between; margin-top: 3rem; padding-top: 1rem;
  border-top: 1px solid #ddd; }
@media (max-width: 800px) {
  .sidebar { position: static; width: auto; } main { margin-left: 0; padding: 1rem; } }
"""


def prepare_out(out: Path) -> None:
    "An empty output folder; an existing one is deleted only if this script built it (it holds the marker)."
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            sys.exit(f"{out} is not empty and was not built by tools/docs.py; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("built by tools/docs.py\n")


def build(out: Path, nbs: Path = NBS, quiet: bool = False) -> list[str]:
    "Render every notebook of the sidebar into `out`; the pages written, in reading order."
    problems = check_quarto(nbs)
    if problems:
        sys.exit("Quarto's configuration is out of date:\n  " + "\n  ".join(problems))
    prepare_out(out)
    notebooks = sidebar_notebooks(nbs)
    pages = {nb: page_name(nb) for nb in notebooks}
    with working_directory(ROOT):  # nbdev's processors read the project's configuration from here
        done = [(nb, *process(nbs / nb)) for nb in notebooks]
    entries = [(pages[nb], fm.get("title", pages[nb])) for nb, _, fm in done]
    exporter = SiteExporter(pages, site_url(nbs))
    for nb_name, nb, fm in done:
        body, _ = exporter.from_notebook_node(nb)
        desc = exporter.render_inline(fm.get("description", ""))
        (out / pages[nb_name]).write_text(page_html(body, fm, desc, entries, pages[nb_name]))
        markdown_copy(nb, fm, pages[nb_name], pages, out)
    if (nbs / "images").exists():
        shutil.copytree(nbs / "images", out / "images")
    (out / "site.css").write_text(
        CSS + HtmlFormatter().get_style_defs(".highlight")
    )  # last: the site is whole
    if not quiet:
        print(f"{len(done)} pages written to {out.name}/")
    return [pages[nb] for nb in notebooks]


def main(argv=None):
    "Build the site (`--out`, default `_docs/`), or with `--check-quarto` only check Quarto's configuration."
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "_docs", help="output folder (default: _docs/)")
    ap.add_argument("--check-quarto", action="store_true", help="only check nbs/sidebar.yml and _quarto.yml")
    args = ap.parse_args(argv)
    if args.check_quarto:
        problems = check_quarto()
        print("\n".join(problems) or "Quarto's sidebar lists every notebook; _quarto.yml is valid")
        return 1 if problems else 0
    start = time.perf_counter()
    build(args.out)
    print(f"built in {time.perf_counter() - start:.1f} s; open {args.out.name}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
