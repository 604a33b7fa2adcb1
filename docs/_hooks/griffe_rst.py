"""Griffe extension: render the reST constructs of refsampler's numpydoc docstrings.

The docstrings follow numpydoc/scipy conventions (``:func:`x``` roles, ``.. math::``
directives, ``.. [1]`` citations) so that they read well in ``help()`` and Sphinx. mkdocstrings
renders docstrings as Markdown, so this extension rewrites those constructs before parsing:
roles become inline code, math directives become display math for ``pymdownx.arithmatex``, and
citations become plain ``[1]`` markers.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|data|attr|obj|exc):`(~?)([^`]+)`")
SUPERSCRIPT = re.compile(r"\\? ?:sup:`([^`]+)`")
MATH_INLINE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]+(?P<expr>\S.*)$", re.MULTILINE)
MATH_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)\.\. math::[ \t]*\n(?:[ \t]*\n)*(?P<body>(?:(?P=indent)[ \t]+\S.*\n?)+)",
    re.MULTILINE,
)
CITATION_TARGET = re.compile(r"^(?P<indent>[ \t]*)\.\. \[(?P<label>\w+)\]", re.MULTILINE)
CITATION_REF = re.compile(r"\[(\w+)\]_")


def _role(match: re.Match[str]) -> str:
    target = match[2]
    return f"`{target.rsplit('.', 1)[-1] if match[1] else target}`"


def _math_block(match: re.Match[str]) -> str:
    indent = match["indent"]
    body = " ".join(line.strip() for line in match["body"].splitlines() if line.strip())
    return f"{indent}$$\n{indent}{body}\n{indent}$$\n"


def rst_to_markdown(text: str) -> str:
    """Rewrite the reST constructs refsampler's docstrings use into Markdown."""
    text = MATH_BLOCK.sub(_math_block, text)
    text = MATH_INLINE.sub(
        lambda m: f"{m['indent']}$$\n{m['indent']}{m['expr']}\n{m['indent']}$$", text
    )
    text = ROLE.sub(_role, text)
    text = SUPERSCRIPT.sub(r"<sup>\1</sup>", text)
    text = CITATION_TARGET.sub(lambda m: f"{m['indent']}- [{m['label']}]", text)
    return CITATION_REF.sub(r"[\1]", text)


class RstToMarkdown(griffe.Extension):
    """Apply :func:`rst_to_markdown` to every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
