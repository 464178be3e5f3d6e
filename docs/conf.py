"""Sphinx configuration of the romanasn documentation.

Builds offline: no intersphinx, no remote theme (alabaster ships with
Sphinx). Reference pages are written at build time by the directives of
``_ext/romanasn_docs.py`` from the code, the schemas and the shipped packs.
Build with ``make docs`` (warnings are errors).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import romanasn  # noqa: E402

project = "romanasn"
author = "the romanasn developers"
copyright = "the romanasn developers"
release = romanasn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "romanasn_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
smartquotes_action = "qe"  # curly quotes and ellipses, but "--option" stays two hyphens
root_doc = "index"
exclude_patterns = ["_build", "guide", ".gitignore"]
templates_path: list[str] = []

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"exclude-members": "__init__, __new__"}
add_module_names = False

html_theme = "alabaster"
html_title = f"romanasn {release}"
html_static_path = ["_static"]
html_theme_options = {
    "description": "Association generator for the Nancy Grace Roman Space Telescope",
    "fixed_sidebar": True,
    "page_width": "1180px",
    "sidebar_width": "240px",
    "show_relbars": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_show_sourcelink = False
html_last_updated_fmt = None
