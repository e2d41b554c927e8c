"""Peak memory and time of validating hostile uploads with evaluation/submission_io.py, each in a fresh
process (so ru_maxrss is that file's peak), next to a plain ``zipfile`` read of the same file (what
the readers did before the limits: inflate the member whole).

    .venv/bin/python benchmarks/bench_hostile_uploads.py [--megabytes 1024]

Prints one row per file: its size, the refusal (or result), wall seconds and peak RSS in MB, and
the baseline process's RSS (imports only) for reference.
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures import hostile_uploads  # noqa: E402


def _validate(path: str, kind: str, queue) -> None:
    from evaluation import SubmissionError, submission_io

    started = time.perf_counter()
    try:
        if kind == "baseline":
            outcome = "imports only"
        elif kind == "zipfile-read":  # the unbounded way: inflate every member whole
            with zipfile.ZipFile(path) as archive:
                outcome = f"inflated {sum(len(archive.read(i)) for i in archive.infolist()) / 2**20:.0f} MB"
        elif path.endswith(".npz"):
            submission_io.read_npz(Path(path), Path(path).name)
            outcome = "accepted"
        elif path.endswith(".json"):
            submission_io.read_json(Path(path))
            outcome = "accepted"
        else:
            submission_io.collect_files(Path(path), (".csv", ".json", ".npz"))
            outcome = "accepted"
    except SubmissionError as error:
        outcome = f"refused: {str(error)[:90]}"
    except Exception as error:  # the unbounded read's failures are part of the comparison
        outcome = f"{type(error).__name__}: {str(error)[:80]}"
    seconds = time.perf_counter() - started
    queue.put((outcome, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure(path: Path, kind: str) -> tuple[str, float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_validate, args=(str(path), kind, queue))
    process.start()
    result = queue.get(timeout=600)
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=1024, help="size the bombs inflate to")
    args = parser.parse_args()
    mb = args.megabytes
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            f"zip bomb ({mb} MB of zeros)": ("bomb.zip", hostile_uploads.zip_bomb("data.csv", mb)),
            f"npz bomb ({mb} MB float32)": ("bomb.npz", hostile_uploads.npz_bomb(mb)),
            "5 x 60 MB members (under the per-file cap)": ("bombs.zip", hostile_uploads.zip_bomb("data.csv", 60, members=5)),
            "header understates size (CRC)": ("liar.zip", hostile_uploads.lying_size_zip("a.csv", bytes(50 * 2**20), 10)),
            "1,000,000 entries": ("million.zip", hostile_uploads.million_entries()),
            "JSON nested 5,000,000 deep": ("deep.json", hostile_uploads.deep_json(5_000_000)),
        }
        base_outcome, _, base_rss = measure(Path(tmp), "baseline")
        print(f"baseline process (imports only): peak RSS {base_rss:.0f} MB")
        print(f"{'file':44s} {'size':>9s}  {'reader':13s} {'seconds':>8s} {'peak MB':>8s}  outcome")
        for label, (name, data) in files.items():
            path = Path(tmp) / name
            path.write_bytes(data)
            kinds = ["submission_io"] + (["zipfile-read"] if name.endswith((".zip", ".npz")) and "million" not in name else [])
            for kind in kinds:
                outcome, seconds, rss = measure(path, kind)
                print(f"{label:44s} {len(data) / 1024:7.0f}KB  {kind:13s} {seconds:8.2f} {rss:8.0f}  {outcome}")


if __name__ == "__main__":
    main()
