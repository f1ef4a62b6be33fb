"""report.html: a report's Markdown as one self-contained HTML page. Every figure is
embedded as a base64 data: URI, the style sheet is inline, and there is no script and
no network request, so the file can be mailed, archived or opened offline. Links to a
sibling report (ID/report.md) point at its report.html. Markdown is converted by
Debian's python3-markdown (tables, fenced code)."""
import base64
import html
import os
import re

from .atomic import write_text
from .load import ReportError

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
h1, h2, h3 { line-height: 1.25; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; display: block; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; display: block; margin: .5em 0; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 3px; font-size: 90%; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
blockquote { border-left: 4px solid #e0a000; margin: 1em 0; padding: .3em 1em; background: #fff8e6; }
.missing { color: #b00; font-weight: bold; }
"""

IMG = re.compile(r'<img([^>]*?)src="([^"]+)"([^>]*)>')


def inline_images(body, base_dir):
    """Each <img src="FILE"> with FILE beside the report becomes a data: URI; a missing
    file becomes a visible note (never a broken image or a remote fetch)."""
    def repl(m):
        src = m.group(2)
        if src.startswith("data:"):
            return m.group(0)
        path = os.path.join(base_dir, src)
        if "://" in src or not os.path.isfile(path):
            return f'<p class="missing">figure {html.escape(src)} is missing</p>'
        mime = "image/png" if src.lower().endswith(".png") else "image/svg+xml" \
            if src.lower().endswith(".svg") else "image/jpeg"
        data = base64.b64encode(open(path, "rb").read()).decode("ascii")
        return f'<img{m.group(1)}src="data:{mime};base64,{data}"{m.group(3)}>'
    return IMG.sub(repl, body)


def extra_pages(md_text, base_dir):
    """Markdown for figure pages beside a linked figure (forest.png -> forest-2.png, ...)."""
    out = []
    for stem in dict.fromkeys(re.findall(r"\]\(([\w.-]+)\.png\)", md_text)):
        k = 2
        while os.path.isfile(os.path.join(base_dir, f"{stem}-{k}.png")):
            out.append(f"![{stem} page {k}]({stem}-{k}.png)")
            k += 1
    return out


def write_html(md_path, out_dir=None, stamp=None):
    """Converts MD_PATH (report.md or claims.md) to OUT_DIR/report.html (default: beside
    it), ending in STAMP's comment when given (cli.report_stamp); returns the path. Figures
    are read from the Markdown file's folder."""
    try:
        import markdown
    except ImportError:
        raise ReportError("--html needs Python's markdown module (Debian: apt install python3-markdown)")
    base = os.path.dirname(os.path.abspath(md_path))
    try:
        text = open(md_path, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError) as e:
        raise ReportError(f"{md_path}: cannot read: {e}")
    pages = extra_pages(text, base)
    if pages:  # after the first page's image line
        first = re.search(r"!\[[^\]]*\]\([\w.-]+\.png\)\n", text)
        at = first.end() if first else len(text)
        text = text[:at] + "\n" + "\n\n".join(pages) + "\n" + text[at:]
    text = re.sub(r"\]\(([\w./-]*?)report\.md(#[^)]*)?\)", lambda m: f"]({m.group(1)}report.html{m.group(2) or ''})", text)
    body = markdown.markdown(text, extensions=["tables", "fenced_code", "toc"], output_format="html")
    body = inline_images(body, base)
    title = re.search(r"^#\s+(.+)$", text, re.M)
    title = html.escape(title.group(1).strip() if title else os.path.basename(base))
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
    if stamp:
        page += f"<!-- report stamp: {stamp} -->\n"
    path = os.path.join(out_dir or base, "report.html")
    write_text(path, page)
    return path
