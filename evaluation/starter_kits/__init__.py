"""Starter kits for the closed division: the folders participants download, edit and submit.

Every benchmark type has one. Each kit (``speech_selection/``, ``vision_selection/``, ``debugging/``,
``valuation/``, ``slicing/``, ``training_set/``, ``test_set/``,
``data_acquisition/``) is a standalone folder with
``algorithm.py`` (the interface to implement; its default calls the platform's baselines),
``run.py`` (loads the official data layout, calls the algorithm, writes the submission; ``--score``
calls this evaluation library) and a README. The zip adds ``baselines.py``, a copy of the
standalone ``evaluation/baselines/<kind>.py``. Kits import only numpy, scipy, scikit-learn, pandas,
pyarrow and PyYAML, the packages the platform's sandbox provides, and are not imported by the
``evaluation`` package itself.

``make_starter_kit_zip(kind)`` builds the download; ``KITS[kind].command(config)`` is how the
platform runs a submitted kit in the sandbox (working directory ``/code``, the benchmark's public
data at ``/inputs/data``, results under ``/output``).
"""
from __future__ import annotations

import dataclasses
import io
import stat
import zipfile
from pathlib import Path
from typing import Any, Mapping

_HERE = Path(__file__).resolve().parent
BASELINES_DIR = _HERE.parent / "baselines"  # evaluation/baselines/<kind>.py, shipped as the kit's baselines.py


@dataclasses.dataclass(frozen=True)
class StarterKit:
    kind: str  # folder name, e.g. "speech_selection"
    benchmark: str  # evaluation registry slug, e.g. "speech-selection"
    base_command: tuple[str, ...]
    output: str  # what the run writes under /output: a file name, or "" for the whole directory
    options: tuple[tuple[str, str], ...] = ()  # benchmark config key -> run.py flag

    @property
    def directory(self) -> Path:
        return _HERE / self.kind

    def command(self, config: Mapping[str, Any] | None = None) -> list[str]:
        """The sandbox command, with the benchmark's config passed as run.py flags."""
        command = list(self.base_command)
        for key, flag in self.options:
            value = (config or {}).get(key)
            if value in (None, "", []):
                continue
            command += [flag, ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)]
        return command


KITS: dict[str, StarterKit] = {
    kit.kind: kit for kit in (
        StarterKit("speech_selection", "speech-selection",
                   ("python", "run.py", "--input", "/inputs/data", "--output", "/output/submission.json"),
                   "submission.json", (("train_size", "--train-size"),)),
        StarterKit("vision_selection", "vision-selection",
                   ("python", "run.py", "--input", "/inputs/data", "--output", "/output"),
                   "", (("max_train_size", "--max-train-size"), ("concepts", "--concepts"))),
        StarterKit("debugging", "debugging",
                   ("python", "run.py", "--input", "/inputs/data", "--output", "/output"),
                   "", (("tasks", "--tasks"),)),
        StarterKit("valuation", "valuation",
                   ("python", "run.py", "--input", "/inputs/data", "--output", "/output/submission.csv"),
                   "submission.csv", (("model", "--model"),)),
        StarterKit("slicing", "slicing",
                   ("python", "run.py", "--input", "/inputs/data", "--output", "/output/submission.csv"),
                   "submission.csv", (("max_slices", "--max-slices"),)),
        StarterKit("training_set", "training-set",
                   ("python", "run.py", "--input", "/inputs/data", "--output", "/output/submission.csv"),
                   "submission.csv", (("max_train_size", "--max-train-size"),)),
        StarterKit("data_acquisition", "data-acquisition",
                   ("python", "run.py", "--input", "/inputs/data", "--output", "/output/submission.csv"),
                   "submission.csv"),
        # Test-set creation needs a person to check the labels; the kit picks candidates.
        StarterKit("test_set", "test-set",
                   ("python", "run.py", "--input", "/inputs/data", "--output", "/output/submission.csv"),
                   "submission.csv", (("max_items", "--max-items"),)),
    )
}


def get_kit(kind: str) -> StarterKit:
    """Look a kit up by folder name or by benchmark slug (``speech_selection`` or ``speech-selection``)."""
    for kit in KITS.values():
        if kind in (kit.kind, kit.benchmark):
            return kit
    raise KeyError(f"no starter kit {kind!r} (available: {', '.join(KITS)})")


def make_starter_kit_zip(kind: str) -> bytes:
    """The kit as a zip with one top-level folder ``dataperf-<kind>-starter-kit/``.

    Byte-for-byte reproducible (sorted entries, fixed timestamps), so it can be cached or given an ETag.
    """
    kit = get_kit(kind)
    top = f"dataperf-{kit.kind.replace('_', '-')}-starter-kit"
    entries: dict[str, bytes] = {}
    for path in sorted(kit.directory.rglob("*")):
        relative = path.relative_to(kit.directory)
        if not path.is_file() or any(part.startswith(".") or part == "__pycache__" for part in relative.parts) \
                or path.suffix == ".pyc":
            continue
        entries[relative.as_posix()] = path.read_bytes()
    # The kit's algorithm.py calls the platform's baselines: ship the standalone module as baselines.py.
    baselines = BASELINES_DIR / f"{kit.kind}.py"
    if baselines.is_file():
        entries["baselines.py"] = baselines.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return buffer.getvalue()
