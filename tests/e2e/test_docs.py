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


def test_the_readme_links_the_story_and_shows_pictures_make_images_writes():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/story.md)" in readme
    script = (ROOT / "docs" / "make_images.py").read_text()
    pictures = re.findall(r"\]\((docs/img/[^)]+\.png)\)", readme)
    assert pictures
    for picture in pictures:
        assert f'"{Path(picture).name}"' in script, f"{picture} is not made by make images"
