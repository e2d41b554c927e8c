"""Run participants' untrusted code in a bubblewrap sandbox (closed division). No Django here.

    root = extract_code_archive(uploaded_zip, workdir / "code")
    result = run_in_sandbox(root, ["python", "run.py", ...], {"data": public_dir}, workdir / "out", Limits())
    same, sentence = compare_outputs(submitted_file, workdir / "out" / "submission.json")
    sweep()  # at worker start and periodically: clean up after runs whose worker died

See docs/sandbox.md.
"""
from .archive import CodeArchiveError, extract_code_archive
from .runner import (
    ALLOWED_PACKAGES, Limits, RunResult, SandboxError, check_sandbox, run_in_sandbox, sandbox_available,
)
from .scratch import scratch_directory
from .sweeper import sweep
from .verify import compare_outputs, output_problem

__all__ = [
    "ALLOWED_PACKAGES", "CodeArchiveError", "Limits", "RunResult", "SandboxError", "check_sandbox",
    "compare_outputs", "extract_code_archive", "output_problem", "run_in_sandbox", "sandbox_available",
    "scratch_directory", "sweep",
]
