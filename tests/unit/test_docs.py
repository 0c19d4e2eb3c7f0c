"""Docs that cannot rot: every shell block in docs/ and README.md is marked, the runnable ones run, the site builds.

A shell block's title says whether it runs (docs/docs-tests.md): "run by the docs tests" blocks run here, in one
temporary folder, page by page in the site's navigation order; "not run here: <why>" blocks need what this machine
lacks. The site must build strictly and load nothing from another host.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SHELLS = {"sh", "bash", "shell", "console"}
RUN = "run by the docs tests"
NOT_RUN = "not run here: "
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*(.*)$")
BLOCK_TIMEOUT = 300  # seconds; the demo block takes about 15 s on an idle 2-core machine


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository
    line: int  # of the opening fence
    language: str
    title: str | None
    code: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, with the language and the `title="..."` of their info string."""
    found, opened, body = [], None, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(line)
        if opened is None and match:
            opened, body = (number, match.group(1), match.group(2)), []
        elif opened is not None and match and match.group(1).startswith(opened[1]) and not match.group(2):
            start, _, info = opened
            title = re.search(r'title="([^"]*)"', info)
            language = info.split()[0].strip("{}.") if info.split() else ""
            found.append(Block(str(path.relative_to(REPO)), start, language, title and title.group(1), "\n".join(body)))
            opened = None
        elif opened is not None:
            body.append(line)
    assert opened is None, f"{path}:{opened[0]}: a fence that is never closed"
    return found


def nav_pages() -> list[Path]:
    """README.md, then the docs pages in the order of mkdocs.yml's navigation."""
    def walk(entries):
        for entry in entries:
            value = entry if isinstance(entry, str) else next(iter(entry.values()))
            yield from ([value] if isinstance(value, str) else walk(value))
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    return [REPO / "README.md"] + [REPO / "docs" / page for page in walk(nav)]


def shell_blocks() -> list[Block]:
    return [b for page in nav_pages() for b in blocks(page) if b.language in SHELLS]


def test_every_page_is_in_the_navigation_and_every_shell_block_is_marked():
    pages = nav_pages()
    assert sorted(pages[1:]) == sorted((REPO / "docs").rglob("*.md"))
    shells = shell_blocks()
    unmarked = [b.where for b in shells if not (b.title == RUN or (b.title or "").startswith(NOT_RUN))]
    assert not unmarked, f"mark these shell blocks title=\"{RUN}\" or title=\"{NOT_RUN}<why>\": {unmarked}"
    assert all(len(b.title) > len(NOT_RUN) + 5 for b in shells if b.title != RUN)  # each says why
    runnable = "\n".join(b.code for b in shells if b.title == RUN)
    for command in ("pytest --sseu-model=oracle", "sseu show", "sseu merge", "sseu view --help", "sseu build"):
        assert command in runnable, command


def test_the_readme_test_command_is_what_ci_runs():
    readme = [b for b in blocks(REPO / "README.md") if b.language in SHELLS]
    (test_command,) = [b.code for b in readme if "'.[test" in b.code]
    assert test_command in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_the_runnable_blocks_run(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    for key in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST", "GITHUB_STEP_SUMMARY"):
        env.pop(key, None)
    ran = []
    for block in (b for b in shell_blocks() if b.title == RUN):
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
        assert proc.returncode == 0, f"{block.where} exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        ran.append((block, proc.stdout))
    outputs = "\n".join(out for _, out in ran)
    # what the pages say they make and print
    assert (tmp_path / "sseu-report" / "summary.html").is_file() and (tmp_path / "gated" / "summary.json").is_file()
    assert (tmp_path / "sets" / "fixture-bench" / "manifest.jsonl").is_file()
    assert "Table 1 · ASR (WER %, lower is better) · independent" in outputs and "usage: sseu view" in outputs
    assert re.search(r"^oracle +0\.00 ", outputs, re.MULTILINE)


class _Loads(HTMLParser):
    """Every URL a page loads by itself (scripts, styles, fonts, images, frames, media), not the links a reader follows."""

    TAGS = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src", "audio": "src",
            "video": "src", "embed": "src", "object": "data"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.TAGS and attrs.get(self.TAGS[tag]):
            self.urls.append(attrs[self.TAGS[tag]])
        self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", attrs.get("style") or "")


def _remote(url: str) -> bool:
    return bool(re.match(r"^\s*(https?:)?//", url, re.IGNORECASE))


def test_the_site_builds_strictly_and_loads_nothing_from_another_host(tmp_path):
    try:
        import mkdocs  # noqa: F401
        import material  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("the docs build needs the docs extra under CI: pip install -e '.[docs]'")
        pytest.skip("mkdocs is not installed: pip install -c constraints.txt -e '.[docs]'")
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    pages = sorted(site.rglob("*.html"))
    assert len(pages) == len(list((REPO / "docs").rglob("*.md"))) + 1  # every page, and the 404 page
    remote = []
    for page in pages:
        parser = _Loads()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.urls, page  # at least its own script and stylesheet
        remote += [f"{page.name}: {url}" for url in parser.urls if _remote(url)]
    for sheet in site.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8")
        remote += [f"{sheet.name}: {url}" for url in re.findall(r"(?:url\(|@import)\s*['\"]?([^'\")\s;]+)", text)
                   if _remote(url)]
    assert not remote, remote
