"""Server-rendered challenge pages."""
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render

from backend.leaderboards import selectors as leaderboard_selectors
from evaluation.samples import SAMPLE_SUFFIX

from . import formats, selectors, services
from .api import public_data_response


KIND_ORDER = ["training-set", "test-set", "selection", "debugging", "slicing", "valuation", "acquisition"]
KIND_TITLES = {"training-set": "Training set creation", "test-set": "Test set creation", "selection": "Selection algorithm",
               "debugging": "Debugging algorithm", "slicing": "Slicing algorithm", "valuation": "Valuation algorithm",
               "acquisition": "Data acquisition"}


STATES = selectors.PHASE_STATES


def home(request):
    challenges = list(selectors.visible_challenges(request.user).prefetch_related("benchmarks", "phases"))
    # Search and filters (GET, so a filtered list can be bookmarked); unknown choices are ignored.
    query = request.GET.get("q", "")[:100].strip()
    task_filter = request.GET.get("task", "")[:100]
    kind_filter = request.GET.get("type", "")
    state_filter = request.GET.get("state", "")
    kind_filter = kind_filter if kind_filter in KIND_TITLES else ""
    state_filter = state_filter if state_filter in STATES else ""
    all_tasks = sorted({b.task or "Other" for c in challenges for b in c.benchmarks.all()})
    task_filter = task_filter if task_filter in all_tasks else ""

    def benchmark_matches(challenge, benchmark) -> bool:
        if task_filter and (benchmark.task or "Other") != task_filter:
            return False
        if kind_filter and benchmark.benchmark_type.kind != kind_filter:
            return False
        if query:
            text = " ".join([challenge.title, challenge.summary, benchmark.title, benchmark.task,
                             benchmark.benchmark_type.title]).lower()
            return all(word in text for word in query.lower().split())
        return True

    rows = []
    for challenge in challenges:
        phase = selectors.current_phase(challenge)
        state = selectors.phase_state(phase)
        if state_filter and state != state_filter:
            continue
        benchmarks = [b for b in challenge.benchmarks.all() if benchmark_matches(challenge, b)]
        if not benchmarks and (task_filter or kind_filter or query):
            continue
        rows.append({"challenge": challenge, "phase": phase, "state": state, "benchmarks": benchmarks})
    # The benchmark matrix (paper, Table 2): benchmark types x ML tasks.
    cells: dict[tuple[str, str], list] = {}
    tasks: list[str] = []
    for row in rows:
        for benchmark in row["benchmarks"]:
            task = benchmark.task or "Other"
            if task not in tasks:
                tasks.append(task)
            cells.setdefault((benchmark.benchmark_type.kind, task), []).append(benchmark)
    matrix = [(KIND_TITLES.get(kind, kind), [cells.get((kind, task), []) for task in tasks])
              for kind in KIND_ORDER if any((kind, task) in cells for task in tasks)]
    return render(request, "challenges/home.html", {
        "rows": rows, "tasks": tasks, "matrix": matrix, "filtering": bool(query or task_filter or kind_filter or state_filter),
        "filters": {"q": query, "task": task_filter, "type": kind_filter, "state": state_filter},
        "task_choices": all_tasks, "type_choices": [(k, KIND_TITLES[k]) for k in KIND_ORDER], "state_choices": STATES,
    })


def challenge_detail(request, slug: str):
    challenge = selectors.get_visible_challenge(request.user, slug)
    phase = selectors.current_phase(challenge)
    benchmarks = list(challenge.benchmarks.all())
    return render(request, "challenges/detail.html", {
        "challenge": challenge,
        "phase": phase,
        "phases": challenge.phases.all(),
        "benchmarks": benchmarks,
        "is_organizer": selectors.organizes(request.user, challenge),
        "can_view_leaderboard": phase is not None and leaderboard_selectors.can_view_leaderboard(request.user, phase),
    })


def benchmark_detail(request, slug: str, benchmark: str):
    benchmark = selectors.get_visible_benchmark(request.user, slug, benchmark)
    challenge = benchmark.challenge
    phase = selectors.current_phase(challenge)
    benchmark_type = benchmark.benchmark_type
    summary_tasks = benchmark.data_summary.get("tasks", {})
    summary_columns = sorted({key for values in summary_tasks.values() for key in values})
    return render(request, "challenges/benchmark.html", {
        "summary_columns": [c.replace("_", " ") for c in summary_columns],
        "summary_rows": [(task, [values.get(c, "") for c in summary_columns]) for task, values in summary_tasks.items()],
        "challenge": challenge,
        "benchmark": benchmark,
        "benchmark_type": benchmark_type,
        "config": benchmark.effective_config,
        "phase": phase,
        "columns": leaderboard_selectors.columns_for(benchmark),
        "can_view_leaderboard": phase is not None and leaderboard_selectors.can_view_leaderboard(request.user, phase),
        "has_public_data": selectors.public_artifacts(benchmark).exists(),
        "accept": ",".join(benchmark_type.submission_suffixes),
        "format_html": formats.submission_format_html(benchmark.type_slug),
        "doc_url": formats.doc_url_of_type(benchmark.type_slug),
        "cli_command": formats.cli_command(
            benchmark, submission=f"{benchmark.slug}-sample-submission{SAMPLE_SUFFIX.get(benchmark.type_slug, '')}",
            data=f"{benchmark.slug}-data"),
    })


@login_required
def sample_submission(request, slug: str, benchmark: str):
    benchmark = selectors.get_visible_benchmark(request.user, slug, benchmark)
    try:
        name, content = services.sample_submission(benchmark)
    except LookupError as error:
        raise Http404(str(error)) from None
    content_type = {".zip": "application/zip", ".json": "application/json"}.get(name[name.rfind("."):], "text/csv")
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def docs_page(request, name: str):
    """A page of docs/ (the benchmark definitions and file formats), rendered from the repository's Markdown."""
    path = formats.doc_path(name)
    if path is None:
        raise Http404("No such documentation page.")
    text = path.read_text(encoding="utf-8")
    title = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("# ")), name)
    base = path.parent.relative_to(formats.DOCS_ROOT.resolve()).as_posix()
    return render(request, "challenges/docs.html", {
        "title": title.replace("`", ""), "html": formats.render_markdown(text, base="" if base == "." else base),
        "source": f"docs/{path.relative_to(formats.DOCS_ROOT.resolve()).as_posix()}"})


@login_required
def public_data(request, slug: str, benchmark: str):
    return public_data_response(selectors.get_visible_benchmark(request.user, slug, benchmark))


def croissant_json(request, slug: str, benchmark: str):
    """The MLCommons Croissant description of the public download, for anyone who may see the benchmark
    page (no sign-in: dataset search engines read it; it names and describes public files only, while
    the files themselves still need a signed-in participant)."""
    benchmark = selectors.get_visible_benchmark(request.user, slug, benchmark)
    try:
        content = services.croissant_json(benchmark)
    except LookupError as error:
        raise Http404(str(error)) from None
    response = HttpResponse(content, content_type="application/ld+json")
    response["Content-Disposition"] = f'inline; filename="{benchmark.slug}-croissant.json"'
    return response
