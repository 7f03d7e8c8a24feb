"""Open every built page in headless Chromium and check that no image is broken."""

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


class _CheckingHandler(SimpleHTTPRequestHandler):
    """Serves the book and adds CHECK_SCRIPT to every HTML page."""

    def send_head(self):  # type: ignore[override]
        path = Path(self.translate_path(self.path))
        if path.suffix != ".html" or not path.is_file():
            return super().send_head()
        body = path.read_text().replace("</body>", CHECK_SCRIPT + "</body>").encode()
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


def image_report(browser: str, url: str, profile_dir: str) -> dict:
    """Load ``url`` in headless Chromium; return ``{"total": n, "broken": [src, ...]}``."""
    result = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", url],
                            capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="imgleak-check"[^>]*>(.*?)</pre>', result.stdout, re.S)
    assert found, f"{url}: the check script did not run (chromium said: {result.stderr[-800:]})"
    return json.loads(html_lib.unescape(found.group(1)))


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
