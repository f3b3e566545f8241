"""report.html of the demo run in a real browser: headless Chromium (Debian's ``chromium``) at 1,400 px.

Nothing may run off the right edge (the page's scrollWidth, and every element's right edge, except inside the
report's horizontal scroll boxes), every image must load (naturalWidth > 0), and a one-word table cell (a method
name such as ``saliency``) must not break over two lines. The page is measured by a script injected into a copy of
the report (the report itself has none) and read back with ``chromium --headless --dump-dom``. Skips without a
Chromium binary; .ci/run installs Debian's ``chromium`` where apt-get is available.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqsal.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
WIDTH = 1400
CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
                 if (path := shutil.which(name))), None)

# On load: the viewport and page widths, the elements whose right edge passes the viewport outside any
# horizontal scroll box (overflow-x auto/scroll/hidden: the report's .tw and .card), the images as
# [complete, naturalWidth, alt], and the one-word table cells rendered on more than one line.
PROBE = """<script>
window.addEventListener('load', function () {
  var root = document.documentElement, view = root.clientWidth;
  function inScrollBox(el) {
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  }
  function describe(el) {
    return el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' "' +
      (el.textContent || el.getAttribute('alt') || '').trim().slice(0, 40) + '"';
  }
  var overflow = [], wrapped = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var right = el.getBoundingClientRect().right;
    if (right > view + 0.5 && !inScrollBox(el)) overflow.push(describe(el) + ' right=' + Math.round(right));
  });
  document.querySelectorAll('td, th').forEach(function (cell) {
    var text = cell.textContent.trim();
    if (!text || /\\s/.test(text) || text.length > 40) return;
    var range = document.createRange();
    range.selectNodeContents(cell);
    var tops = new Set(Array.prototype.map.call(range.getClientRects(), function (r) { return Math.round(r.top); }));
    if (tops.size > 1) wrapped.push(text);
  });
  var images = Array.prototype.map.call(document.images, function (img) {
    return [img.complete, img.naturalWidth, img.getAttribute('alt') || ''];
  });
  var out = document.createElement('pre');
  out.id = 'seqsal-probe';
  out.textContent = JSON.stringify({inner: window.innerWidth, client: view, scroll: root.scrollWidth,
                                    overflow: overflow, wrapped: wrapped, images: images});
  document.body.appendChild(out);
});
</script>"""

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on the PATH (apt-get install chromium)")


def measure(page: str, folder: Path, width: int = WIDTH) -> dict:
    """Render the HTML text ``page`` in headless Chromium at ``width`` px and return the probe's measurements."""
    if "</body>" not in page:
        raise ValueError("the page has no </body> to put the probe before")
    path = folder / "probed.html"
    path.write_text(page.replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    command = [CHROMIUM, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={folder / 'chromium-profile'}", f"--window-size={width},1000",
               "--dump-dom", path.as_uri()]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root inside its sandbox
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="seqsal-probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"no measurements from chromium (exit {result.returncode}): {result.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def demo_report(demo_run) -> Path:
    """report.html of the demo (`seqsal attribute` with its defaults): motifs, a small evaluation (its four
    tables), audit, report."""
    out = demo_run
    runner = CliRunner()
    commands = [
        ["motifs", str(out), "-q"],
        ["evaluate", str(out), "--methods", "saliency,grad_x_input", "--max-regions", "2", "--truth",
         str(DEMO / "planted.bed"), "-q"],
        ["audit", str(out), "-q"],
        ["report", str(out), "-q"],
    ]
    for command in commands:
        result = runner.invoke(main, command, catch_exceptions=False)
        assert result.exit_code == 0, (command[0], result.output)
    return out / "report.html"


@needs_chromium
def test_demo_report_fits_1400_px_and_every_image_loads(demo_report, tmp_path):
    page = demo_report.read_text(encoding="utf-8")
    for section in ("Evaluation", "Motifs", "Audit"):
        assert f">{section}" in page, section  # the sections whose tables ran off the edge are there to measure
    probe = measure(page, tmp_path)
    assert probe["inner"] == WIDTH and probe["client"] == WIDTH, probe
    assert probe["scroll"] <= WIDTH, probe
    assert probe["overflow"] == [], probe["overflow"]
    assert probe["wrapped"] == [], probe["wrapped"]
    images = probe["images"]
    assert len(images) == page.count("<img"), "images missing from the rendered page"
    assert len(images) >= 10
    assert [alt for complete, natural_width, alt in images if not complete or natural_width <= 0] == []


@needs_chromium
def test_probe_finds_overflow_broken_images_and_split_words(tmp_path):
    """The measurements can fail: a wide block outside a scroll box, a broken image and a squeezed method name."""
    page = ("<html><body><div style='width:3000px'>wide</div><div style='overflow-x:auto'>"
            "<div style='width:3000px'>scrolls</div></div><img alt='broken' src='data:image/png;base64,AAAA'>"
            "<table style='width:30px'><tr><td style='max-width:30px;overflow-wrap:anywhere'>saliency</td></tr>"
            "</table></body></html>")
    probe = measure(page, tmp_path)
    assert probe["scroll"] > WIDTH
    assert [entry.split(" right=")[0] for entry in probe["overflow"]] == ['div "wide"']
    assert probe["wrapped"] == ["saliency"]
    assert probe["images"] == [[True, 0, "broken"]]
