"""The links between the repository's markdown pages, and whether each one lands.

A link is ``[text](target)`` (or an image, or a reference definition ``[name]: target``) outside code;
a relative target must name a file or folder of the repository, and a ``#fragment`` on a markdown
page must be one of that page's anchors, made by GitHub's rules (``anchor``). Links to other sites
are not followed: this checks the repository, not the network.
"""

import glob
import os
import re
import unicodedata

# The pages a user or a contributor reads, whose links must land.
PAGES = ["README.md", "CONTRIBUTING.md", "docs/*.md", "bench/*.md"]

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s[^>]*?(?:name|id)=\"([^\"]+)\"", re.I)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, ...


def pages(root):
    """The repository-relative paths of the pages to check, in a stable order."""
    found = []
    for pattern in PAGES:
        found += sorted(os.path.relpath(path, root) for path in glob.glob(os.path.join(root, pattern)))
    return found


def prose(text):
    """The page's lines outside fenced code blocks, as (line number, line)."""
    fenced = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if match:
            if fenced is None:
                fenced = match.group(1)
            elif match.group(1) == fenced:
                fenced = None
            continue
        if fenced is None:
            yield number, line


def anchor(heading):
    """GitHub's anchor for a heading's text: the text as rendered (code spans, links and emphasis
    reduced to their words), lower case, every character that is not a letter, a digit, a space, a
    hyphen or an underscore dropped, each space made a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "").lower()
    kept = "".join(ch for ch in text
                    if ch.isalnum() or ch in " -_" or unicodedata.category(ch).startswith("M"))
    return kept.replace(" ", "-")


def anchors(text):
    """Every anchor a page offers: its headings' (a repeated one gets -1, -2, ...) and HTML ones."""
    seen, found = {}, set()
    for _, line in prose(text):
        found.update(HTML_ANCHOR.findall(line))
        match = HEADING.match(line)
        if not match:
            continue
        base = anchor(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else "%s-%d" % (base, count))
    return found


def links(text):
    """Every link target on a page outside code, as (line number, target)."""
    for number, line in prose(text):
        match = REFERENCE.match(line)
        if match:
            yield number, match.group(1)
            continue
        for match in INLINE_LINK.finditer(CODE_SPAN.sub("", line)):
            yield number, match.group(1)


def dead_links(root, texts=None):
    """Every link on the pages that does not land, as 'page:line: target (why)'. ``texts`` maps a
    page's path to the text to check instead of the file's (a test's edits)."""
    texts = dict(texts or {})

    def text_of(path):
        if path not in texts:
            with open(os.path.join(root, path), encoding="utf-8") as f:
                texts[path] = f.read()
        return texts[path]

    dead = []
    for page in sorted(set(pages(root)) | set(texts)):
        for number, target in links(text_of(page)):
            if EXTERNAL.match(target):
                continue
            path, _, fragment = target.partition("#")
            where = "%s:%d: %s" % (page, number, target)
            if path:
                resolved = os.path.normpath(os.path.join(os.path.dirname(page), path))
                if resolved.startswith(".." + os.sep) or resolved == "..":
                    dead.append(where + " (outside the repository)")
                    continue
                if resolved not in texts and not os.path.exists(os.path.join(root, resolved)):
                    dead.append(where + " (no such file)")
                    continue
            else:
                resolved = page
            if fragment and resolved.endswith(".md") and fragment not in anchors(text_of(resolved)):
                dead.append(where + " (no such anchor in %s)" % resolved)
    return dead
