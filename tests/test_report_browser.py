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
    # six analysis figures: PCA, similarity, scores, seed spread, origin shares, variance shares
    assert 'data-probe="images=6;decoded=6;tables=' in result.stdout, result.stderr[-2000:]
    tables = int(result.stdout.split('data-probe="')[1].split("tables=")[1].split('"')[0])
    assert tables >= 5


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/run)")
def test_hostile_names_render_as_text_and_run_nothing(tmp_path):
    m = simulate(seed=0)
    attack = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
    m.scores.index = [f"{attack}{i}" for i in range(len(m.scores))]
    m.factors.index = m.scores.index
    m.factors["backbone"] = m.factors.backbone + attack
    m.notes.append(f"note {attack}")
    render_report(analyze(m, n_permutations=9), tmp_path / "report.html")
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=3000", "--dump-dom", (tmp_path / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert "<li>permutations per p-value: 9</li>" in result.stdout, result.stderr[-2000:]
    assert "data-pwned" not in result.stdout.split("<body")[1].split(">")[0]
    assert "&lt;img src=x" in result.stdout
