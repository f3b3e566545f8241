"""The API docs (docs/: Sphinx, numpydoc, sphinx-click, the tutorial through myst-nb) build with warnings as errors."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_docs_build_without_warnings(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS),
                             str(tmp_path / "html")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    pages = {name: (tmp_path / "html" / f"{name}.html").read_text() for name in ("api", "cli", "formats", "tutorial")}
    assert 'id="seqsal.run_motifs"' in pages["api"] and "Parameters" in pages["api"]
    assert "seqsal.datasets.demo" in pages["api"] and "jaspar-release" in pages["cli"]
    assert "seqsal datasets" in pages["cli"] and "motif_matches.tsv" in pages["formats"]
    assert "call_peaks_from_run" in pages["tutorial"]
