"""The README and docs/ point only at files in the repository, and tell the story
themselves; the README's pictures are the ones `make images` writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_and_picture_exists(doc):
    text = doc.read_text()
    assert "shared/seeds" not in text
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert local or doc.name != "README.md"
    for target in local:
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_source_file_a_doc_names_exists(doc):
    """A path such as `spikewidget/present/palette.py` or `js/src/diagnose/rules.js`
    names a file of this checkout (files moved since are caught here)."""
    named = re.findall(r"`((?:spikewidget|js|tests|benchmarks)/[\w./-]+\.(?:py|js|mjs))`",
                       doc.read_text())
    missing = sorted({p for p in named if not (ROOT / p).exists()})
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


def test_the_readme_links_the_story_and_shows_pictures_make_images_writes():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/story.md)" in readme
    script = (ROOT / "docs" / "make_images.py").read_text()
    pictures = re.findall(r"\]\((docs/img/[^)]+\.png)\)", readme)
    assert pictures
    for picture in pictures:
        assert f'"{Path(picture).name}"' in script, f"{picture} is not made by make images"
