"""What a benchmark page tells a participant about the submission format, from the same Markdown as
``docs/benchmarks/*.md`` (one source for the repository and the site), plus the shared formatters:
Markdown (organizer text too) and benchmark configs for people.

Markdown is rendered with markdown-it-py's CommonMark preset with raw HTML *disabled*: any ``<tag>`` in
the source is shown as text, and link targets go through markdown-it's URL check (no ``javascript:``).
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

DOCS_ROOT = Path(settings.BASE_DIR) / "docs"
BENCHMARK_DOCS = DOCS_ROOT / "benchmarks"
# type slug -> its doc file in docs/benchmarks/ (both selection types share one)
DOC_OF_TYPE = {"speech-selection": "selection.md", "vision-selection": "selection.md"}
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LINK = re.compile(r"^(?![a-z][a-z0-9+.-]*:|/|#)(?P<path>[^#?]+\.md)(?P<anchor>#.*)?$", re.I)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    return md


_MD = _markdown()


def render_markdown(text: str, *, base: str = "", shift_headings: int = 0) -> SafeString:
    """Markdown -> safe HTML (raw HTML escaped). ``base``: the doc's folder relative to docs/, so that
    relative links to other ``.md`` files point at their page on this site."""
    tokens = _MD.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close") and shift_headings:
            level = min(6, int(token.tag[1]) + shift_headings)
            token.tag = f"h{level}"
        for child in token.children or ():
            if child.type == "link_open":
                href = child.attrGet("href") or ""
                match = _MD_LINK.match(href)
                if match:
                    target = _doc_url(base, match["path"])
                    child.attrSet("href", (target + (match["anchor"] or "")) if target else href)
    return mark_safe(_MD.renderer.render(tokens, _MD.options, {}))


def _doc_url(base: str, relative: str) -> str | None:
    path = (DOCS_ROOT / base / relative).resolve()
    if not path.is_file() or DOCS_ROOT.resolve() not in path.parents:
        return None
    page = path.relative_to(DOCS_ROOT.resolve())
    page = page.parent if page.name == "README.md" else page.with_suffix("")
    return reverse("docs-page", args=[page.as_posix()]) if page.as_posix() != "." else None


def doc_path(name: str) -> Path | None:
    """A Markdown file under docs/ by its page name (``benchmarks/selection``); None when there is none."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*", name or "", re.I):
        return None
    if name.endswith("/README") or name == "README":
        return None
    path = (DOCS_ROOT / f"{name}.md").resolve()
    if not path.is_file():
        path = (DOCS_ROOT / name / "README.md").resolve()
    if DOCS_ROOT.resolve() not in path.parents or not path.is_file():
        return None
    return path


def doc_file_of_type(type_slug: str) -> str:
    return DOC_OF_TYPE.get(type_slug, f"{type_slug}.md")


def doc_url_of_type(type_slug: str) -> str | None:
    return _doc_url("benchmarks", doc_file_of_type(type_slug))


def _sections(lines: list[str]) -> list[tuple[int, int, str, int]]:
    """(line index, level, title, end index) of every heading outside code fences."""
    heads, fenced = [], False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (m := _HEADING.match(line)):
            heads.append((i, len(m[1]), m[2]))
    out = []
    for n, (i, level, title) in enumerate(heads):
        end = next((j for j, lv, _ in heads[n + 1:] if lv <= level), len(lines))
        out.append((i, level, title, end))
    return out


@functools.lru_cache(maxsize=32)
def _format_markdown(type_slug: str, mtime: float) -> tuple[str, int]:
    lines = (BENCHMARK_DOCS / doc_file_of_type(type_slug)).read_text(encoding="utf-8").splitlines()
    sections = _sections(lines)
    start, stop = 0, len(lines)
    # A doc that covers several types has one section per type, titled "... (`slug`)".
    for i, level, title, end in sections:
        if level > 1 and f"`{type_slug}`" in title:
            start, stop = i, end
            break
    for i, level, title, end in sections:
        if start <= i < stop and title.lower().startswith("submission"):
            return "\n".join(lines[i + 1:min(end, stop)]).strip(), level
    return "", 2


def submission_format_html(type_slug: str) -> SafeString:
    """The "Submission" section of the type's doc, rendered (empty when the doc has none)."""
    path = BENCHMARK_DOCS / doc_file_of_type(type_slug)
    if not path.is_file():
        return mark_safe("")
    text, level = _format_markdown(type_slug, path.stat().st_mtime)
    return render_markdown(text, base="benchmarks", shift_headings=max(0, 3 - level - 1)) if text else mark_safe("")


# --- configs for people --------------------------------------------------------------------------

# Settings of the machinery, not of the benchmark: never shown to participants.
INTERNAL_CONFIG_KEYS = {"torch_threads"}
CONFIG_LABELS = {
    "train_size": "Training-set size",
    "max_train_size": "Training-set size, at most",
    "concepts": "Concepts",
    "tasks": "Tasks",
    "model": "Model",
    "n_neighbors": "Neighbours (k-NN)",
    "target_ratio": "Target: share of the clean accuracy",
    "max_slices": "Slices, at most",
    "precision_k": "Precision at k",
    "max_items": "Items per submission, at most",
    "suite": "Model suite",
    "ratchet_suite": "Model suite on ratchet training sets",
    "seed": "Seed",
    "consensus_threshold": "Matching votes to verify an item",
    "verify_non_fooling": "Verify items that fool no model",
    "ratchet_top_k": "Best training sets joining the suite",
    "ratchet_benchmarks": "Linked training-set benchmarks",
    "allow_augmented": "Augmented examples allowed",
}
EMPTY_LIST_MEANS = {"tasks": "all tasks in the data", "ratchet_benchmarks": "every training-set benchmark"}
ZERO_MEANS = {"precision_k": "automatic (size of each hidden slice)"}


def format_config_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else EMPTY_LIST_MEANS.get(key, "none")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_config_value(k, v)}" for k, v in value.items()) or "none"
    if value == 0 and key in ZERO_MEANS:
        return ZERO_MEANS[key]
    if key == "target_ratio" and isinstance(value, (int, float)):
        return f"{value * 100:g} %"
    if value is None or value == "":
        return "—"
    return str(value)


def human_config(config: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs of a benchmark config for every page: internal settings dropped, lists
    joined, booleans as yes/no."""
    return [(CONFIG_LABELS.get(key, key.replace("_", " ").capitalize()), format_config_value(key, value))
            for key, value in (config or {}).items() if key not in INTERNAL_CONFIG_KEYS]


# --- the offline scoring command ------------------------------------------------------------------

def cli_command(benchmark, submission: str = "SUBMISSION", data: str = "DATA_DIR") -> str:
    """``python -m evaluation score ...`` with every config value that differs from the type's default
    as its flag, exactly as the CLI parses them (evaluation/__main__.py)."""
    benchmark_type = benchmark.benchmark_type
    parts = ["python", "-m", "evaluation", "score", benchmark.type_slug, "--data", data, "--submission", submission]
    for key, value in benchmark.effective_config.items():
        default = benchmark_type.default_config.get(key)
        if value == default or isinstance(default, dict):
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parts += [flag, "true" if value else "false"]
        elif isinstance(value, (list, tuple)):
            parts += [flag, ",".join(map(str, value))]
        else:
            parts += [flag, str(value)]
    parts.append("--json")
    if benchmark.environment != "current":
        parts += ["--environment", benchmark.environment]
    import shlex

    return " ".join(shlex.quote(p) for p in parts)
