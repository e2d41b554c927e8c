"""Evaluation environments: pinned sets of library versions a benchmark can be scored under.

scikit-learn's version shifts scores (SVC's Platt scaling, LogisticRegression's solver), so a score
records which environment produced it (``provenance()``), and an organizer can pin a benchmark to a
declared environment. This module is the one place environments are declared; no Django here.

    python -m evaluation.environments list
    python -m evaluation.environments build dataperf-2023      # idempotent
    python -m evaluation score speech-selection ... --environment dataperf-2023

``current`` is the interpreter that runs the platform (requirements.txt). Every other environment is
a virtual environment under ``var/environments/<name>`` (``DATAPERF_ENVIRONMENTS_DIR`` moves it),
built from exact pins with binary wheels only; the repository's ``evaluation`` package is put on
``PYTHONPATH`` so the same code runs there.
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

# Bump when a change to evaluation/ can change a score; it is stored with every score.
EVALUATOR_VERSION = "2026.12.0"

CURRENT = "current"
MARKER = "dataperf-environment.json"
# Libraries whose versions are recorded with a score (distribution names).
RECORDED = ("scikit-learn", "numpy", "scipy", "torch")
SOURCE_ROOT = Path(__file__).resolve().parent.parent  # the directory holding the evaluation package


@dataclasses.dataclass(frozen=True)
class Environment:
    name: str
    title: str
    # Exact pins (every dependency, so a rebuild is the same environment); empty for ``current``.
    requirements: tuple[str, ...] = ()

    @property
    def is_current(self) -> bool:
        return self.name == CURRENT

    def provides(self, distribution: str) -> bool:
        """Whether scoring here can import ``distribution``: ``current`` has requirements.txt (torch
        included); a pinned environment has exactly its pins."""
        if self.is_current:
            return True
        return any(pin.split("==")[0].strip().lower() == distribution.lower() for pin in self.requirements)

    @property
    def fingerprint(self) -> str:
        """Identifies the pinned contents; a built environment with another fingerprint is rebuilt."""
        text = "\n".join([self.name, f"python{sys.version_info.major}.{sys.version_info.minor}", *self.requirements])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


ENVIRONMENTS: dict[str, Environment] = {
    env.name: env for env in (
        Environment(CURRENT, "The platform's own libraries (requirements.txt)"),
        Environment(
            "dataperf-2023",
            "The 2023 DataPerf leaderboards' era: scikit-learn 1.2.2, numpy 1.24, scipy 1.10 (no torch)",
            (
                "scikit-learn==1.2.2",
                "numpy==1.24.4",
                "scipy==1.10.1",
                "joblib==1.2.0",
                "threadpoolctl==3.1.0",
                "pandas==2.0.3",
                "pyarrow==14.0.2",
                "PyYAML==6.0.1",
                "python-dateutil==2.8.2",
                "pytz==2023.3",
                "tzdata==2023.3",
                "six==1.16.0",
            ),
        ),
    )
}


class EnvironmentUnavailable(Exception):
    """An environment is unknown, not built, or failed to build. The message is a sentence for people."""


def names() -> list[str]:
    return list(ENVIRONMENTS)


def get(name: str) -> Environment:
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        raise EnvironmentUnavailable(f"unknown evaluation environment {name!r}; known: {', '.join(ENVIRONMENTS)}") from None


def incompatibility(name: str, benchmark_type, config: dict) -> str | None:
    """A sentence saying why a benchmark of ``benchmark_type`` with ``config`` cannot be scored in the
    environment ``name`` (a library it needs is not installed there), or None. Checked when an
    organizer pins or re-scores, so the benchmark is refused at once instead of failing every submission."""
    env = get(name)
    missing = {dist: why for dist, why in benchmark_type.required_libraries(config).items() if not env.provides(dist)}
    if not missing:
        return None
    return "; ".join(f"the {name} environment has no {dist}, which this {benchmark_type.slug} benchmark needs for {why}"
                     for dist, why in missing.items())


def environments_dir() -> Path:
    return Path(os.environ.get("DATAPERF_ENVIRONMENTS_DIR") or SOURCE_ROOT / "var" / "environments")


def location(name: str) -> Path:
    return environments_dir() / get(name).name


def python_executable(name: str) -> Path:
    env = get(name)
    return Path(sys.executable) if env.is_current else location(name) / "bin" / "python"


def build_command(name: str) -> str:
    return f"python manage.py build_environment {name}"


def is_built(name: str) -> bool:
    env = get(name)
    if env.is_current:
        return True
    marker = location(name) / MARKER
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("fingerprint") == env.fingerprint and python_executable(name).exists()


def require_built(name: str) -> Environment:
    env = get(name)
    if not is_built(name):
        raise EnvironmentUnavailable(
            f"the evaluation environment {name!r} is not built on this machine; "
            f"the organizers must run `{build_command(name)}` "
            f"(offline: `python -m evaluation.environments build {name}`)")
    return env


def build(name: str, *, log=print) -> bool:
    """Create the environment's virtual environment from its pins. Idempotent: returns False when it
    is already built with the same pins. Builds beside the target and renames, so a killed build never
    leaves a half environment that looks built."""
    env = get(name)
    if env.is_current or is_built(name):
        return False
    target = location(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Two builds at once (two workers' deploy scripts): the second waits, then finds it built.
    with (target.parent / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_built(name):
            return False
        _build_into(env, target, log)
    log(f"built {name} at {target}")
    return True


def _build_into(env: Environment, target: Path, log) -> None:
    name = env.name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; workers may run as another user
    try:
        base_python = getattr(sys, "_base_executable", None) or sys.executable
        log(f"creating a virtual environment for {name} ({platform.python_version()})")
        subprocess.run([base_python, "-m", "venv", "--clear", str(staging)], check=True)
        requirements = staging / "requirements.txt"
        requirements.write_text("\n".join(env.requirements) + "\n")
        log(f"installing {len(env.requirements)} pinned packages (binary wheels only)")
        # The venv sits at its final path only after the rename; pip writes absolute shebangs, so
        # scripts are not used — everything runs as `<venv>/bin/python -m ...`.
        result = subprocess.run(
            [str(staging / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-input", "--only-binary=:all:", "--no-deps", "-r", str(requirements)],
            capture_output=True, text=True)
        if result.returncode != 0:
            raise EnvironmentUnavailable(f"installing the pins of {name!r} failed:\n{result.stderr.strip()[-4000:]}")
        (staging / MARKER).write_text(json.dumps(
            {"name": name, "fingerprint": env.fingerprint, "requirements": list(env.requirements)}, indent=2))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        _fix_venv_paths(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _fix_venv_paths(old: Path, new: Path) -> None:
    """pyvenv.cfg and bin/activate name the staging path; point them at the final one."""
    for path in (new / "pyvenv.cfg", *(new / "bin").glob("activate*")):
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError):
            continue
        if str(old) in text:
            path.write_text(text.replace(str(old), str(new)))


def subprocess_env(name: str) -> dict[str, str]:
    """Environment variables for running this repository's evaluation package in ``name``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(SOURCE_ROOT)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def evaluation_command(name: str, args: list[str]) -> list[str]:
    """``python -m evaluation <args>`` with the environment's interpreter."""
    return [str(python_executable(name)), "-m", "evaluation", *args]


def running_environment() -> str:
    """The name of the environment this interpreter belongs to (``current`` unless it is a built one)."""
    try:
        recorded = json.loads((Path(sys.prefix) / MARKER).read_text())
        return str(recorded["name"])
    except (OSError, ValueError, KeyError):
        return CURRENT


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def provenance() -> dict[str, str | None]:
    """What produced a score in this process: environment, evaluator and library versions.
    Read from package metadata, so nothing heavy (torch) is imported."""
    record: dict[str, str | None] = {
        "environment": running_environment(),
        "evaluator": EVALUATOR_VERSION,
        "python": platform.python_version(),
    }
    for distribution in RECORDED:
        record[distribution] = _version(distribution)
    return record


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m evaluation.environments", description="evaluation environments")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the declared environments and whether they are built")
    build_parser = commands.add_parser("build", help="build an environment (idempotent)")
    build_parser.add_argument("name")
    commands.add_parser("provenance", help="print this interpreter's provenance record as JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for env in ENVIRONMENTS.values():
                state = "built" if is_built(env.name) else "not built"
                print(f"{env.name:16s} {state:10s} {env.title}")
        elif args.command == "build":
            if not build(args.name):
                print(f"{args.name} is already built at {location(args.name)}" if not get(args.name).is_current
                      else "current is the running interpreter; nothing to build")
        else:
            print(json.dumps(provenance(), indent=2, sort_keys=True))
    except EnvironmentUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
