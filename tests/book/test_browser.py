"""Open the built book in headless Chromium: no image is broken on any page, and a reader sees what
the book means them to see (folded set-up cells, visible experiment calls and verdicts, the API
reference's parameters and examples)."""

from __future__ import annotations

import contextlib
import functools
import html as html_lib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = [pytest.mark.book, pytest.mark.browser]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,20000", "--virtual-time-budget=15000", "--dump-dom"]

# Runs in the page once everything has loaded; reports every <img> that did not decode.
CHECK_SCRIPT = """<script>
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                     .map(function (i) { return i.getAttribute('src'); });
  var out = document.createElement('pre');
  out.id = 'imgleak-check';
  out.textContent = JSON.stringify({total: images.length, broken: broken});
  document.body.appendChild(out);
});
</script>"""

# Runs in the page once everything has loaded; reports what a reader sees: for every notebook cell its
# tags and whether its code is shown, every table (caption, shown), and the object the URL's
# fragment names (e.g. ``mi.html#imgleak.mi.mine.estimate_mi``): its signature, field names and
# whether its docstring example is shown.
PROBE_SCRIPT = """<script>
window.addEventListener('load', function () {
  function shown(el) {  // laid out, and not inside a closed <details> (outside its summary)
    if (!el || el.getClientRects().length === 0 || el.offsetHeight === 0) { return false; }
    if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true})) { return false; }
    for (var up = el; up; up = up.parentElement) {
      var closed = up.parentElement && up.parentElement.tagName === 'DETAILS' && !up.parentElement.open;
      if (closed && up.tagName !== 'SUMMARY') { return false; }
    }
    return true;
  }
  function all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  var report = {
    cells: all('div.cell').map(function (c) {
      var code = c.querySelector('.cell_input');
      return {tags: Array.prototype.slice.call(c.classList).filter(function (n) { return n.indexOf('tag_') === 0; }),
              code_shown: shown(code), code: code ? code.textContent.trim().slice(0, 80) : '',
              output_shown: shown(c.querySelector('.cell_output'))};
    }),
    tables: all('table').map(function (t) {
      return {caption: t.caption ? t.caption.textContent.trim() : '', shown: shown(t), text: t.textContent.slice(0, 3000)};
    }),
    target: null
  };
  var id = decodeURIComponent(location.hash.slice(1));
  var dt = id ? document.getElementById(id) : null;
  if (dt) {
    var dd = dt.nextElementSibling;
    var example = dd ? dd.querySelector('div.doctest') : null;
    report.target = {shown: shown(dt), signature: dt.textContent.replace(/\\s+/g, ' ').trim(),
                     fields: dd ? all('dl.field-list > dt', dd).map(function (f) { return f.textContent.trim(); }) : [],
                     example_shown: shown(example), example: example ? example.textContent.trim() : ''};
  }
  var out = document.createElement('pre');
  out.id = 'imgleak-probe';
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
});
</script>"""


class _CheckingHandler(SimpleHTTPRequestHandler):
    """Serves the book and adds CHECK_SCRIPT to every HTML page."""

    def send_head(self):  # type: ignore[override]
        path = Path(self.translate_path(self.path))
        if path.suffix != ".html" or not path.is_file():
            return super().send_head()
        body = path.read_text().replace("</body>", CHECK_SCRIPT + PROBE_SCRIPT + "</body>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, *args) -> None:
        pass


def _require_chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed: .ci/run installs Debian's chromium package")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return browser


@contextlib.contextmanager
def _serve(folder: Path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_CheckingHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def _report(browser: str, url: str, profile_dir: str, element: str) -> dict:
    """Load ``url`` in headless Chromium; return the JSON that the injected script wrote into ``<pre id=element>``."""
    result = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", url],
                            capture_output=True, text=True, timeout=120)
    found = re.search(rf'<pre id="{element}"[^>]*>(.*?)</pre>', result.stdout, re.S)
    assert found, f"{url}: the {element} script did not run (chromium said: {result.stderr[-800:]})"
    return json.loads(html_lib.unescape(found.group(1)))


def image_report(browser: str, url: str, profile_dir: str) -> dict:
    """Load ``url`` in headless Chromium; return ``{"total": n, "broken": [src, ...]}``."""
    return _report(browser, url, profile_dir, "imgleak-check")


def probe(browser: str, url: str, profile_dir: str) -> dict:
    """Load ``url`` in headless Chromium; return what :data:`PROBE_SCRIPT` saw."""
    return _report(browser, url, profile_dir, "imgleak-probe")


def test_the_check_flags_a_broken_image(tmp_path: Path) -> None:
    browser = _require_chromium()
    import matplotlib.pyplot as plt

    plt.imsave(tmp_path / "good.png", [[0.0, 1.0], [1.0, 0.0]])
    (tmp_path / "page.html").write_text(
        '<html><body><img src="good.png"><img src="missing.png"></body></html>')
    with _serve(tmp_path) as base, tempfile.TemporaryDirectory() as profile_dir:
        report = image_report(browser, f"{base}/page.html", profile_dir)
    assert report == {"total": 2, "broken": ["missing.png"]}


def test_no_page_has_a_broken_image(built_book: Path) -> None:
    browser = _require_chromium()
    html = built_book / "_build" / "html"
    pages = sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                   if not p.relative_to(html).parts[0].startswith("_")
                   and p.name not in ("search.html", "genindex.html"))
    assert "index.html" in pages and any(p.startswith("book/chapters/") for p in pages)
    checked_images = 0
    with _serve(html) as base, tempfile.TemporaryDirectory() as profile_dir:
        for page in pages:
            report = image_report(browser, f"{base}/{page}", profile_dir)
            assert report["broken"] == [], f"{page}: broken images {report['broken']}"
            checked_images += report["total"]
    assert checked_images > 0


def test_the_probe_sees_folded_code_and_hidden_tables(tmp_path: Path) -> None:
    browser = _require_chromium()
    (tmp_path / "page.html").write_text(
        '<html><body><div class="cell tag_hide-input"><details class="hide above-input"><summary>show</summary>'
        '<div class="cell_input">import torch</div></details><div class="cell_output">out</div></div>'
        '<div class="cell"><div class="cell_input">run()</div></div>'
        '<table><caption>seen</caption><tr><td>x</td></tr></table>'
        '<div style="display:none"><table><caption>unseen</caption><tr><td>y</td></tr></table></div>'
        '<dl><dt id="f">f(a, b)</dt><dd><div class="doctest">&gt;&gt;&gt; f(1, 2)</div></dd></dl></body></html>')
    with _serve(tmp_path) as base, tempfile.TemporaryDirectory() as profile_dir:
        seen = probe(browser, f"{base}/page.html#f", profile_dir)
    assert [(c["tags"], c["code_shown"], c["output_shown"]) for c in seen["cells"]] == [
        (["tag_hide-input"], False, True), ([], True, False)]
    assert [(t["caption"], t["shown"]) for t in seen["tables"]] == [("seen", True), ("unseen", False)]
    assert seen["target"] == {"shown": True, "signature": "f(a, b)", "fields": [], "example_shown": True,
                              "example": ">>> f(1, 2)"}


def test_a_reader_sees_folded_set_up_and_visible_experiments(built_book: Path) -> None:
    browser = _require_chromium()
    with _serve(built_book / "_build" / "html") as base, tempfile.TemporaryDirectory() as profile_dir:
        seen = probe(browser, f"{base}/book/chapters/data_and_keys.html", profile_dir)
    cells = seen["cells"]
    tagged = {tag: [c for c in cells if tag in c["tags"]] for tag in ("tag_parameters", "tag_injected-parameters")}
    assert len(tagged["tag_parameters"]) == 1 and len(tagged["tag_injected-parameters"]) == 1  # the quick profile injects
    setup = next(c for c in cells if c["code"].startswith("import"))
    for cell in [setup, *tagged["tag_parameters"], *tagged["tag_injected-parameters"]]:
        assert "tag_hide-input" in cell["tags"] and not cell["code_shown"], f"not folded: {cell}"
    calls = [c for c in cells if "tag_hide-input" not in c["tags"]]
    assert calls and all(c["code_shown"] for c in calls)
    assert any(c["code"].startswith("key = keys.Key.from_seed(seed)") for c in calls)  # an experiment call stays


def test_the_api_page_shows_estimate_mi_with_its_parameters_and_example(built_book: Path) -> None:
    browser = _require_chromium()
    with _serve(built_book / "_build" / "html") as base, tempfile.TemporaryDirectory() as profile_dir:
        target = probe(browser, f"{base}/book/api/mi.html#imgleak.mi.mine.estimate_mi", profile_dir)["target"]
        config = probe(browser, f"{base}/book/api/mi.html#imgleak.mi.config.NeuralMIConfig", profile_dir)["target"]
    assert target is not None, "the API page has no entry imgleak.mi.mine.estimate_mi"
    assert target["shown"] and target["signature"].startswith("imgleak.mi.mine.estimate_mi(")
    for parameter in ("x: Any", "config: NeuralMIConfig = DEFAULT_CONFIG", "**overrides: Any"):
        assert parameter in target["signature"]
    # the settings and their defaults live once, on the config the function takes
    assert config is not None and config["shown"], "the API page has no entry imgleak.mi.config.NeuralMIConfig"
    for setting in ("objective: str = 'mine'", "epochs: int = 100", "seed: int | None = 0"):
        assert setting in config["signature"]
    fields = [f.rstrip(":") for f in target["fields"]]  # napoleon's numpy sections, as field lists
    assert fields[0] == "Parameters" and set(fields) <= {"Parameters", "Returns", "Raises"}
    assert target["example_shown"] and target["example"].startswith(">>> ")
    assert "estimate_mi(" in target["example"]


def test_the_new_chapter_shows_its_verdict_table(built_book: Path) -> None:
    browser = _require_chromium()
    with _serve(built_book / "_build" / "html") as base, tempfile.TemporaryDirectory() as profile_dir:
        seen = probe(browser, f"{base}/book/chapters/score_your_own_scheme.html", profile_dir)
    tables = {t["caption"]: t for t in seen["tables"]}
    draft = tables["Verdicts of my_scheme:one_pad beside the controls (effect on the controls' scale, Holm-adjusted p)"]
    assert draft["shown"]
    for text in ("identity", "one_time_pad", "my_scheme:one_pad", "known_plaintext", "leaks (1.00, p <1e-15)", "random"):
        assert text in draft["text"]
    assert tables["Verdicts of my_scheme:PerImagePad beside the controls"]["shown"]
