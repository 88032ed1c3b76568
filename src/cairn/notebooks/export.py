"""An executed notebook as one offline HTML page (nbconvert's `lab` template): images are
inlined and the template's script tags that load require.js, MathJax, Mermaid and widget code
from a CDN are left out, so the page opens with no network. Math shows as its TeX source."""

from __future__ import annotations

from cairn.errors import MissingDependencyError, NotebookError

# the lab template with its CDN-loading blocks emptied
_OFFLINE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def to_html(data: bytes, title: str) -> str:
    try:
        import nbformat
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter
    except ImportError:
        raise MissingDependencyError(
            "exporting notebooks needs nbconvert, which is not installed",
            "pip install 'cairn[notebooks]'",
        ) from None
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as e:  # a cached object that is not a notebook
        raise NotebookError(f"{title} is not a valid Jupyter notebook: {e}", "rerun the stage that writes it") from None
    try:
        exporter = HTMLExporter(
            extra_loaders=[DictLoader({"cairn_offline.html.j2": _OFFLINE})],
            template_file="cairn_offline.html.j2",
            embed_images=True,
        )
    except ValueError as e:  # nbconvert's templates live in <prefix>/share/jupyter, outside the package
        if "No template sub-directory" not in str(e):
            raise
        raise MissingDependencyError(
            "exporting notebooks needs nbconvert's 'lab' template, which is not installed where nbconvert looks "
            "(share/jupyter/nbconvert/templates of this environment)",
            "reinstall nbconvert in the environment cairn runs in (pip install --force-reinstall nbconvert), or "
            "name the share/jupyter folder that holds nbconvert/templates in JUPYTER_PATH",
        ) from None
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body
