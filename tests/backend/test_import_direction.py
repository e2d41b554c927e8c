"""The layering of the Django apps, read from the source's imports (docs/architecture.md, "Layers"):
general apps never import the apps built on them; ``backend.orchestration`` connects them from above;
the app graph has no cycle."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "backend"
APPS = ["core", "accounts", "challenges", "jobs", "submissions", "leaderboards", "verification", "closed_division",
        "orchestration", "live"]
# What each app may import (besides itself); anything else is a wrong-way dependency.
ALLOWED = {
    "core": set(),
    "accounts": {"core"},
    "challenges": {"core", "accounts"},
    "jobs": {"core"},
    # sandbox.scratch (no Django): scoring's working directories are swept like a sandbox run's.
    "submissions": {"core", "accounts", "challenges", "jobs", "sandbox"},
    "leaderboards": {"core", "accounts", "challenges", "submissions"},
    "verification": {"core", "accounts", "challenges", "jobs", "submissions", "leaderboards"},
    "closed_division": {"core", "accounts", "challenges", "jobs", "submissions", "leaderboards", "sandbox"},
    "orchestration": set(APPS) | {"sandbox"},
    # The live-update streams check permissions with the pages' selectors; publishing is core.live.
    "live": {"core", "accounts", "challenges", "submissions", "leaderboards", "closed_division"},
}
# Known wrong-way imports still to move (each names its file); a new one fails the tests.
KNOWN_EXCEPTIONS = {
    # The challenge and benchmark pages show the leaderboard: page composition, to move to a page layer.
    ("challenges", "leaderboards"): {"backend/challenges/views.py"},
    # My submissions and the submission page show each row's standing on its (possibly hidden) board.
    ("submissions", "leaderboards"): {"backend/submissions/views.py"},
}


def imported_apps(app: str) -> dict[str, set[str]]:
    """{imported app: files importing it} for every module of ``app`` (function-level imports included)."""
    found: dict[str, set[str]] = {}
    for path in (BACKEND / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if len(parts) >= 2 and parts[0] == "backend" and parts[1] != app and parts[1] != "config":
                    found.setdefault(parts[1], set()).add(str(path.relative_to(ROOT)))
    return found


def test_apps_import_only_the_apps_below_them():
    wrong = {}
    for app in APPS:
        for target, files in imported_apps(app).items():
            files = files - KNOWN_EXCEPTIONS.get((app, target), set())
            if target not in ALLOWED[app] and files:
                wrong[f"{app} -> {target}"] = sorted(files)
    assert not wrong, f"imports against the layering: {wrong}"


def test_submissions_and_leaderboards_do_not_import_their_extensions():
    for app in ("submissions", "leaderboards"):
        assert not {"closed_division", "verification", "orchestration"} & set(imported_apps(app)), app


def test_the_app_import_graph_has_no_cycle():
    graph = {app: {target for target, files in imported_apps(app).items()
                   if target in APPS and files - KNOWN_EXCEPTIONS.get((app, target), set())} for app in APPS}
    state: dict[str, str] = {}

    def visit(app, path):
        state[app] = "open"
        for target in graph[app]:
            assert state.get(target) != "open", f"import cycle: {' -> '.join(path + [target])}"
            if target not in state:
                visit(target, path + [target])
        state[app] = "done"

    for app in APPS:
        if app not in state:
            visit(app, [app])
