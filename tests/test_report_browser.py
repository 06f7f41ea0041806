"""The HTML report renders in a real browser: every plot decodes, every table is laid out."""

import shutil
import subprocess

import pytest

from crosstune.analysis.attribute import analyze
from crosstune.analysis.simulate import simulate
from crosstune.report.html import render_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = """<script>
window.addEventListener('load', () => {
  const images = [...document.images];
  const decoded = images.filter(i => i.complete && i.naturalWidth > 100).length;
  const tables = [...document.querySelectorAll('table')].filter(t => t.offsetHeight > 20).length;
  document.body.setAttribute('data-probe', `images=${images.length};decoded=${decoded};tables=${tables}`);
});
</script></body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/run)")
def test_report_renders_plots_and_tables_in_headless_chromium(tmp_path):
    render_report(analyze(simulate(seed=0), n_permutations=19), tmp_path / "report.html")
    probed = tmp_path / "probed.html"
    probed.write_text((tmp_path / "report.html").read_text().replace("</body>", PROBE))
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert 'data-probe="images=5;decoded=5;tables=' in result.stdout, result.stderr[-2000:]
    tables = int(result.stdout.split('data-probe="')[1].split("tables=")[1].split('"')[0])
    assert tables >= 5
