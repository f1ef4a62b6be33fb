#!/usr/bin/python3
"""report.py --html: one self-contained report.html, rendered by headless Chromium.
Usage: report_html.py NORMLAB_BIN CASE

sweep: a tiny sweep's report.html has the report's title, no <script>, no remote
resource (src or stylesheet), and every <img> an embedded PNG that decodes; in
headless Chromium (Debian's chromium) a screenshot is written and a copy of the
page with a checking script counts every image decoded, none broken, and finds
the summary table.
claims: the same for a claims folder (a copy of results/baseline): the verdict
table, the forest plot's pages, and links to each claim's report.html.
forest: a positive control's own margin is drawn on its row alone; a failure while
drawing (a margin that is not a number) leaves every earlier page as it was.
figures: a half-fail interval of [1.4e-06, 7.1e+06] on an lr grid of 0.01..10 is
cut at the axes' edges and marked (not drawn as a full-width line), and a curve of
two evaluation points is drawn with markers.
Skipped (77) when chromium is missing, for the two rendering cases."""
import base64
import html.parser
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

BIN, CASE = sys.argv[1], sys.argv[2]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
REPORT = os.path.join(ROOT, "scripts", "report.py")
TINY = """\
name = "html-test"
dataset = "blobs:n=300,test=200,dim=8,classes=3,noise=1.0,seed=3"
model = "mlp"
widths = [16]
steps = 40
eval_every = 10
norm = ["none", "batch"]
lr = [0.1, 50.0]
seeds = 2
"""


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.imgs, self.title, self._in_title, self.th = [], [], "", False, []
        self._in_th = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        self._in_title = tag == "title"
        self._in_th = tag == "th"

    def handle_endtag(self, tag):
        self._in_title = self._in_th = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._in_th:
            self.th.append(data.strip())


def png_size(data):
    check(data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "an embedded image is not a PNG")
    return struct.unpack(">II", data[16:24])


def check_static(path, want_title, n_images_min):
    text = open(path, encoding="utf-8").read()
    p = Page()
    p.feed(text)
    check(want_title in p.title, f"title {p.title!r} lacks {want_title!r}")
    check(not any(t == "script" for t, _ in p.tags), "report.html has a script")
    for t, a in p.tags:
        for k in ("src", "href"):
            v = a.get(k, "")
            if t in ("img", "script", "link", "iframe", "source", "video", "audio") and re.match(r"\w+://", v):
                sys.exit(f"FAIL: <{t} {k}={v[:80]}> would fetch over the network")
    check(len(p.imgs) >= n_images_min, f"{len(p.imgs)} images, expected at least {n_images_min}")
    for src in p.imgs:
        check(src.startswith("data:image/png;base64,"), f"image not embedded: {src[:80]}")
        w, h = png_size(base64.b64decode(src.split(",", 1)[1]))
        check(w > 100 and h > 100 and w <= 2000 and h <= 2000, f"figure of {w}x{h} px")
    return p


CHECKER = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length;
  const tables = document.querySelectorAll('table').length;
  const r = document.createElement('pre');
  r.id = 'render-check';
  r.textContent = `RENDERED images=${imgs.length} broken=${broken} tables=${tables} title=${document.title}`;
  document.body.appendChild(r);
});
</script>"""


def chromium(args, timeout=120):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        sys.exit(77)
    with tempfile.TemporaryDirectory() as prof:
        return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               "--disable-extensions", f"--user-data-dir={prof}", *args],
                              capture_output=True, text=True, timeout=timeout)


def check_rendered(path, tmp, n_images, shot):
    """Chromium renders the page: a screenshot, and in a copy with a checking script, every
    image decoded and the tables present."""
    p = chromium([f"--screenshot={shot}", "--window-size=1200,2400", "file://" + os.path.abspath(path)])
    check(os.path.isfile(shot) and os.path.getsize(shot) > 20000, f"no screenshot: {p.stderr[-1500:]}")
    probe = os.path.join(tmp, "probe.html")
    with open(probe, "w") as f:
        f.write(open(path).read().replace("</body>", CHECKER + "\n</body>"))
    p = chromium(["--dump-dom", "--virtual-time-budget=10000", "file://" + probe])
    m = re.search(r"RENDERED images=(\d+) broken=(\d+) tables=(\d+)", p.stdout)
    check(m is not None, f"the page did not finish loading in Chromium: {p.stderr[-1500:]}")
    imgs, broken, tables = map(int, m.groups())
    check(imgs == n_images and broken == 0, f"Chromium: {imgs} images, {broken} broken (expected {n_images})")
    check(tables >= 1, "Chromium: no table")


def case_sweep(tmp):
    exp = os.path.join(tmp, "e.toml")
    open(exp, "w").write(TINY)
    out = os.path.join(tmp, "s")
    subprocess.run([BIN, "sweep", exp, "--out", out, "-q"], check=True, capture_output=True)
    subprocess.run(["/usr/bin/python3", REPORT, out, "--html"], check=True, capture_output=True)
    path = os.path.join(out, "report.html")
    p = check_static(path, "html-test", 3)
    check_rendered(path, tmp, len(p.imgs), os.path.join(tmp, "sweep.png"))


def case_claims(tmp):
    d = os.path.join(tmp, "claims")
    shutil.copytree(os.path.join(ROOT, "results", "baseline"), d)
    r = subprocess.run(["/usr/bin/python3", REPORT, d, "--html"], capture_output=True, text=True)
    check(r.returncode == 0, r.stderr)
    path = os.path.join(d, "report.html")
    p = check_static(path, "claims", 1)
    check("verdict" in p.th and "claim" in p.th, f"no verdict table: headers {p.th[:10]}")
    text = open(path).read()
    pages = ["forest.png"] + sorted(f for f in os.listdir(d) if re.fullmatch(r"forest-\d+\.png", f))
    check(len(p.imgs) == len(pages), f"{len(p.imgs)} images for forest pages {pages}")
    check('href="covariate-shift/report.html' in text or "covariate-shift/report.html" in text,
          "no link to a claim's report.html")
    shot = os.environ.get("NORMLAB_SCREENSHOT") or os.path.join(tmp, "claims.png")
    check_rendered(path, tmp, len(p.imgs), shot)


def case_forest(tmp):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from normlab_report import forest, figures
    import pandas as pd
    figures.load_pyplot()
    plt = figures.plt
    # A positive control on an effect has its own margin: dashed on its row alone; the rule's
    # margin spans the panel.
    sub = pd.DataFrame({"cell": ["none", "none (dropout 0.5 - 0)"], "mean": [0.01, 0.008],
                        "ci_low": [0.005, 0.005], "ci_high": [0.015, 0.012], "margin": [0.005, 0.03],
                        "verdict": ["untestable", "not supported"]})
    fig, ax = plt.subplots()
    forest.draw_panel(ax, sub, {}, "depends", "dropout-need", 0.005)
    dashed = [(list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax.lines if ln.get_linestyle() == "--"]
    check(([0.03, 0.03], [0.6, 1.4]) in dashed, f"the control's own margin is not on its row: {dashed}")
    check(any(xs == [0.005, 0.005] and ys == [0, 1] for xs, ys in dashed), f"no rule margin line: {dashed}")
    check(not any(xs[0] == 0.03 and ys == [0, 1] for xs, ys in dashed), "the control's margin spans the panel")
    plt.close(fig)
    # A failure while drawing leaves every page of the earlier plot as it was.
    d = os.path.join(tmp, "claims")
    shutil.copytree(os.path.join(ROOT, "results", "baseline"), d)
    forest.write_forest(d)
    pages = sorted(f for f in os.listdir(d) if re.fullmatch(r"forest(-\d+)?\.png", f))
    check(len(pages) >= 2, f"pages {pages}: the test needs a second page")
    before = {f: open(os.path.join(d, f), "rb").read() for f in pages}
    t = pd.read_csv(os.path.join(d, "claims.csv"), dtype=str, keep_default_na=False)
    last = t[t["cell"] == ""].index[-1]  # the last claim is drawn on the last page
    t.loc[last, "margin"] = "not-a-number"
    t.to_csv(os.path.join(d, "claims.csv"), index=False)
    try:
        forest.write_forest(d)
        check(False, "write_forest drew a margin that is not a number")
    except ValueError:
        pass
    after = sorted(f for f in os.listdir(d) if re.fullmatch(r"forest(-\d+)?\.png", f))
    check(after == pages, f"pages {pages} became {after}")
    for f in pages:
        check(open(os.path.join(d, f), "rb").read() == before[f], f"{f} changed by a failed draw")


def case_figures(tmp):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from normlab_report import figures
    figures.load_pyplot()
    plt = figures.plt
    fig, ax = plt.subplots()
    ax.set_xscale("log")
    xlim = (0.01 / 2, 10 * 2)
    ax.set_xlim(*xlim)
    cut = figures.draw_half_interval(ax, 3.0, 1.4e-06, 7.1e+06, "C0", False, xlim)
    check(cut, "a [1.4e-06, 7.1e+06] interval was not reported as cut")
    xs = [x for line in ax.lines for x in line.get_xdata()]
    check(min(xs) >= xlim[0] and max(xs) <= xlim[1], f"drawn beyond the axis: {min(xs)}..{max(xs)}")
    check(sum(1 for line in ax.lines if line.get_marker() in ("<", ">")) == 2, "cut ends not marked")
    cut = figures.draw_half_interval(ax, 1.0, 0.5, 2.0, "C0", False, xlim)
    check(not cut, "an interval inside the axis was reported as cut")
    plt.close(fig)
    # A learning curve of two evaluation points is drawn with markers.
    exp = os.path.join(tmp, "e.toml")
    open(exp, "w").write(TINY.replace("eval_every = 10", "eval_every = 40"))
    out = os.path.join(tmp, "s")
    subprocess.run([BIN, "sweep", exp, "--out", out, "-q"], check=True, capture_output=True)
    import pandas as pd
    steps = pd.read_csv(os.path.join(out, "curves.csv")).groupby("run_id").step.nunique()
    check(steps.max() == 2, f"{steps.max()} evaluation points, expected 2")
    seen = {}
    finish = figures.finish

    def capture(fig, path):  # the figure's lines, before it is saved and closed
        seen[os.path.basename(path)] = [ln for ax in fig.axes for ln in ax.lines if len(ln.get_xdata()) >= 2]
        finish(fig, path)
    figures.finish = capture
    import normlab_report
    check(normlab_report.main([out]) == 0, "report failed")
    lines = seen.get("learning-curves.png", [])
    check(lines and all(ln.get_marker() == "o" for ln in lines),
          f"learning curves of 2 points without markers: {[ln.get_marker() for ln in lines]}")
    # failure_rate.png with one panel (one model and optimizer, 2 seeds): its title fits.
    lt = os.path.join(tmp, "lt")
    shutil.copytree(os.path.join(ROOT, "results", "baseline", "lr-tolerance"), lt)
    os.remove(os.path.join(lt, "manifest.json"))
    runs = pd.read_csv(os.path.join(lt, "runs.csv"), dtype=str, keep_default_na=False)
    runs = runs[(runs.model == "mlp") & (runs.optimizer == "sgd") & runs.seed.isin(["0", "1"])]
    runs.to_csv(os.path.join(lt, "runs.csv"), index=False)
    for f in ("curves.csv", "activations.csv", "batchstats.csv"):
        t = pd.read_csv(os.path.join(lt, f), dtype=str, keep_default_na=False)
        t[t.run_id.isin(runs.run_id)].to_csv(os.path.join(lt, f), index=False)
    boxes = {}

    def capture_title(fig, path):
        if os.path.basename(path) == "failure_rate.png":
            r = fig.canvas.get_renderer()
            boxes["title"], boxes["fig"] = fig._suptitle.get_window_extent(r), fig.bbox
            boxes["panels"] = sum(ax.get_visible() for ax in fig.axes)
        finish(fig, path)
    figures.finish = capture_title
    check(normlab_report.main([lt]) == 0, "report of the one-panel lr sweep failed")
    check(boxes.get("panels") == 1, f"failure_rate.png panels: {boxes.get('panels')}")
    t, f = boxes["title"], boxes["fig"]
    check(t.x0 >= f.x0 and t.x1 <= f.x1 and t.y1 <= f.y1, f"failure_rate.png title cut: {t} in {f}")

with tempfile.TemporaryDirectory() as t:
    {"sweep": case_sweep, "claims": case_claims, "figures": case_figures, "forest": case_forest}[CASE](t)
print("ok", CASE)
