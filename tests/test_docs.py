"""The README fits a newcomer's first screens and the guides in docs/ hang together: the README stays short, its
tables stay narrow, every relative link (and its #anchor) leads somewhere, and every guide is reachable from it."""

import re
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README = PROJECT_ROOT / "README.md"
DOCS = sorted((PROJECT_ROOT / "docs").glob("*.md"))
MAX_README_LINES = 250
MAX_TABLE_ROW_CHARACTERS = 120

FENCE = re.compile(r"^\s*(```|~~~)")
# [text](target): the text may span lines; the target has no spaces. Inline code is removed first, since
# `[CLS] ... [SEP]` or `d[i](x)` there are not links.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(path):
    """The file's lines outside fenced code blocks, where a `#` starts a shell comment, not a heading."""
    lines, in_code = [], False
    for line in path.read_text().split("\n"):
        if FENCE.match(line):
            in_code = not in_code
        elif not in_code:
            lines.append(line)
    return lines


def links(path):
    text = INLINE_CODE.sub("", "\n".join(prose_lines(path)))
    return LINK.findall(text)


def github_anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = INLINE_CODE.sub(lambda code: code.group(0).strip("`"), heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    for line in prose_lines(path):
        match = HEADING.match(line)
        if match:
            anchor = github_anchor(match.group(2))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def relative_links(path):
    """(target file, anchor or None) of every link that is neither a URL nor an e-mail address."""
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.IGNORECASE):
            continue
        file_part, _, anchor = target.partition("#")
        yield (path.parent / file_part).resolve() if file_part else path, anchor or None


def test_the_readme_fits_in_250_lines():
    count = len(README.read_text().splitlines())
    assert count <= MAX_README_LINES, f"README.md has {count} lines; move detail to a guide in docs/"


def test_no_readme_table_row_is_wider_than_120_characters():
    wide = [
        (number, len(line))
        for number, line in enumerate(README.read_text().split("\n"), 1)
        if line.lstrip().startswith("|") and len(line) > MAX_TABLE_ROW_CHARACTERS
    ]
    assert not wide, f"README.md table rows over {MAX_TABLE_ROW_CHARACTERS} characters (line, length): {wide}"


def test_the_docs_folder_holds_guides():
    assert DOCS, "docs/ holds no guide"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_every_relative_link_leads_to_an_existing_file_and_heading(path):
    broken = []
    for target, anchor in relative_links(path):
        if not target.exists():
            broken.append(f"{target.relative_to(PROJECT_ROOT) if target.is_relative_to(PROJECT_ROOT) else target}")
        elif anchor is not None and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{target.relative_to(PROJECT_ROOT)}#{anchor} (no such heading)")
    assert not broken, f"{path.relative_to(PROJECT_ROOT)} links to what does not exist: {broken}"


def test_every_guide_is_linked_from_the_readme():
    linked = {target for target, _ in relative_links(README)}
    unlinked = [str(path.relative_to(PROJECT_ROOT)) for path in DOCS if path.resolve() not in linked]
    assert not unlinked, f"guides the README does not link to: {unlinked}"


def test_the_checks_see_links_anchors_and_code_as_markdown_does(tmp_path):
    # The checks themselves: a link across lines counts, one in a code block or inline code does not, and anchors
    # follow GitHub's rule (punctuation and backticks dropped, a repeated heading numbered).
    page = tmp_path / "page.md"
    page.write_text(
        "# The verbalizer: a head over `frozen` encoders\n\n## Twice\n\n## Twice\n\n"
        "See [the\nguide](other.md#a-b) and `[not](a-link.md)`.\n\n```bash\n# not a heading [x](nor-a-link.md)\n```\n"
    )
    assert links(page) == ["other.md#a-b"]
    assert anchors(page) == {"the-verbalizer-a-head-over-frozen-encoders", "twice", "twice-1"}
    assert github_anchor("The LSTM approaches and TF-IDF, three seeds") == "the-lstm-approaches-and-tf-idf-three-seeds"
