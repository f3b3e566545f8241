"""Sphinx configuration of seqsal's docs: `sphinx-build -W -b html docs docs/_build` (pip install 'seqsal[docs]')."""
project = "seqsal"
author = "seqsal developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc", "sphinx_click", "myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
nb_execution_mode = "off"  # tests/test_tutorial.py executes the notebook; the docs show its code and text
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
autodoc_typehints = "none"  # the signatures carry them; numpydoc's Parameters sections describe them
autodoc_member_order = "bysource"
html_theme = "alabaster"
suppress_warnings = ["myst.header"]


def _escape_globs(app, ctx, lines):
    """Click help is plain text: a glob like ``audit/*.png`` would open RST emphasis; escape its star."""
    import re

    lines[:] = [re.sub(r"(?<=/)\*", r"\\*", line) for line in lines]


def setup(app):
    app.connect("sphinx-click-process-description", _escape_globs)
    app.connect("sphinx-click-process-options", _escape_globs)
