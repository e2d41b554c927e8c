"""Cold-command scorers side by side with the official evaluators (restated), one thread, same files.

    /work/venv/bin/python benchmarks/bench_cold_scorers.py [--only speech,vision,debugging] [--repeat 2]
        [--scales 1,4,16] [--out benchmarks/out] [--reference-steps 300]

Every measurement is a fresh subprocess (a cold command: interpreter start, imports, data load,
scoring), with ``OMP_NUM_THREADS=MKL_NUM_THREADS=OPENBLAS_NUM_THREADS=1``:

* ours: ``python -m evaluation score <type> --data DIR --submission FILE --json``;
* official: the restated official evaluator run as its own script (``official`` sub-command of this
  file): speech = harvard-edge ``eval.py`` and vision = CoactiveAI ``main.py``/``eval.py`` as restated
  line by line in ``tests/evaluation/reference_oracle.py`` (pandas instead of Spark, which only
  makes the vision reference faster); debugging = DS3Lab ``app/main.py`` (``before_acc`` training,
  then for i = 1..n: the pyarrow ``fix()`` round trip and a fresh ``LogisticClassifier``), as in
  ``benchmarks/bench_debugging.py``.

Reported per row: wall seconds, CPU seconds (user+sys of the child: the box is shared, CPU is the
steadier figure), peak RSS; the speed-up is official / ours on CPU seconds (and wall), and the
scores must be identical (selection: every digit of the printed float; debugging: the fraction of
fixes for the oracle, random and reversed rankings).

Data is generated once under ``--out`` (git-ignored) at reference size (speech: 5 targets,
10,000 train / 30,000 eval nontargets, 1024-d; vision: 200,000-row 256-d pool in 12 parts,
3 concepts x 1,000 labels; debugging: 300 train rows x 2048-d, 500 test rows, 30 % noise) and at
4x / 16x (speech: train pool; vision: pool; debugging: train rows) for the growth table, where
only ours runs (the official evaluators grow too slowly: debugging is n trainings of O(n) each;
vision 16x would need ~20 GB of Python floats). ``our first run`` is the very first command on
new data (it also writes the derived cache under ``EVALUATION_CACHE_DIR``); the other runs of
ours are cold processes with that cache present.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}


# ------------------------------------------------------------------------------------------------
# the official evaluators, restated (run in a child process by ``official``)
# ------------------------------------------------------------------------------------------------
def official_speech(data: Path, submission: Path, train_size: int) -> dict:
    from tests.evaluation import reference_oracle as oracle
    return {"score": float(oracle.speech_reference_score(data, submission, train_size))}


def official_vision(data: Path, submission: Path) -> dict:
    from tests.evaluation import reference_oracle as oracle
    concepts = ["Cupcake", "Hawk", "Sushi"]
    scores = oracle.vision_reference_scores(data, {c: submission / f"{c}.csv" for c in concepts}, 256)
    f1 = {f"f1_{c}": float(scores[c]["f1"]) for c in concepts}
    import numpy as np
    return {"score": float(np.mean(list(f1.values()))), **f1}


def official_debugging(data: Path, submission: Path, steps: int) -> dict:
    """DS3Lab app/main.py for one task: before_acc, then n fix+retrain steps, calc_auc_from_submission."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_debugging import reference_loop

    torch.set_num_threads(1)
    train_path = next((data / "embeddings").glob("*_train_*.parquet"))
    task_id = train_path.name.split("_")[0]
    train_table = pq.read_table(train_path)
    gt_df = pd.read_csv(data / "data" / f"dataset_{task_id}_train.csv")
    test_table = pq.read_table(next((data / "embeddings").glob(f"{task_id}_test_*.parquet")))
    test_X = np.vstack(test_table.column("encoding").to_numpy())
    test_y = np.vstack(test_table.column("label").to_numpy())
    ranking = [int(line) for line in submission.read_text().split()]
    # before_acc: the reference trains once on the noisy set before the loop (reported, not scored)
    reference_loop(torch, train_table, gt_df, test_X, test_y, [ranking[0]], 1)
    accuracies = reference_loop(torch, train_table, gt_df, test_X, test_y, ranking, min(steps, len(ranking)))
    if len(accuracies) < len(ranking):
        return {"score": None, "steps": len(accuracies), "accuracies": accuracies}
    target = 0.95 * accuracies[-1]
    index = next(i for i, value in enumerate(accuracies) if value >= target)
    return {"score": index / len(accuracies), "steps": len(accuracies)}


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------
def ensure(path: Path, writer) -> Path:
    marker = path / ".complete"
    if not marker.exists():
        shutil.rmtree(path, ignore_errors=True)
        start = time.perf_counter()
        writer(path)
        marker.write_text("ok")
        print(f"  generated {path.name} in {time.perf_counter() - start:.1f} s", flush=True)
    return path


def speech_case(out: Path, scale: int):
    from fixtures.synthetic import random_speech_submission, write_speech_data, write_speech_submission
    data = ensure(out / f"cold_speech_x{scale}", lambda p: write_speech_data(p, train_nontargets=10_000 * scale,
                                                                              eval_nontargets=max(30_000, 10_000 * scale + 20_000)))
    sub = out / f"cold_speech_x{scale}_sub.json"
    if not sub.exists():
        write_speech_submission(sub, random_speech_submission(data, 25, seed=1))
    return data, sub


def vision_case(out: Path, scale: int):
    from fixtures.synthetic import random_vision_submission, write_vision_data, write_vision_submission
    data = ensure(out / f"cold_vision_x{scale}", lambda p: write_vision_data(p, pool_size=200_000 * scale,
                                                                              n_parts=12 * scale))
    sub = out / f"cold_vision_x{scale}_sub"
    if not (sub / "Sushi.csv").exists():
        write_vision_submission(sub, random_vision_submission(data, size=1000, seed=1))
    return data, sub


def debugging_case(out: Path, scale: int):
    import numpy as np

    from evaluation.benchmarks import debugging as dbg
    data = ensure(out / f"cold_debugging_x{scale}",
                  lambda p: dbg.write_data_dir(p, {"gen0": dbg.synthetic_task(seed=0, n_train=300 * scale)}))
    subs = {}
    noisy_clean = None
    for name in ("oracle", "random", "reversed"):
        path = out / f"cold_debugging_x{scale}_{name}.txt"
        if not path.exists():
            if noisy_clean is None:
                import pandas as pd
                import pyarrow.parquet as pq
                noisy = np.asarray(pq.read_table(next((data / "embeddings").glob("gen0_train_*.parquet")))
                                   .column("label").to_pylist())
                clean = pd.read_csv(data / "data" / "dataset_gen0_train.csv")["hv_label"].to_numpy()
                noisy_clean = noisy, clean
            noisy, clean = noisy_clean
            wrong, right = np.flatnonzero(noisy != clean), np.flatnonzero(noisy == clean)
            ranking = {"oracle": np.concatenate([wrong, right]),
                       "random": np.random.default_rng(1).permutation(len(noisy)),
                       "reversed": np.concatenate([right, wrong])}[name]
            path.write_text("\n".join(map(str, ranking.tolist())) + "\n")
        subs[name] = path
    return data, subs


# ------------------------------------------------------------------------------------------------
# running cold processes
# ------------------------------------------------------------------------------------------------
def run(cmd: list[str], env_extra: dict) -> dict:
    """Wall, CPU (user+sys) and peak RSS of a fresh process. The peak comes from /usr/bin/time when
    present: a child's own ru_maxrss would include the RSS of this (data-generating) parent at fork."""
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(ROOT), **env_extra}
    rss_file = None
    if Path("/usr/bin/time").exists():
        handle, rss_file = tempfile.mkstemp(suffix=".rss")
        os.close(handle)
        cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file, *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # children are run one at a time
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.decode()[-2000:]}")
    rss_mb = None
    if rss_file:
        text = Path(rss_file).read_text().split()
        os.unlink(rss_file)
        rss_mb = int(text[-1]) / 1024 if text else None
    if rss_mb is None:
        rss_mb = after.ru_maxrss / 1024
    return {"wall": wall, "cpu": cpu, "rss_mb": rss_mb, "out": out.decode()}


def ours(kind: str, data: Path, sub: Path, cache: Path, extra: list[str] = ()) -> dict:
    slug = {"speech": "speech-selection", "vision": "vision-selection", "debugging": "debugging"}[kind]
    cmd = [sys.executable, "-m", "evaluation", "score", slug, "--data", str(data), "--submission", str(sub),
           "--json", *extra]
    result = run(cmd, {"EVALUATION_CACHE_DIR": str(cache)})
    payload = json.loads(result["out"])
    result["score"] = payload["score"]
    result["scores"] = payload["scores"]
    result["details"] = payload["details"]
    return result


def official(kind: str, data: Path, sub: Path, *args: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "official", kind, str(data), str(sub), *args]
    result = run(cmd, {})
    result.update(json.loads(result["out"].strip().splitlines()[-1]))
    return result


def med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def line(name: str, runs: list[dict], note: str = "") -> str:
    return (f"| {name:<46} | {len(runs)} | {med(runs, 'wall'):8.2f} | {med(runs, 'cpu'):8.2f} | "
            f"{max(r['rss_mb'] for r in runs):7.0f} | {note}")


def ratio_line(name: str, ref: list[dict], mine: list[dict], same: bool) -> str:
    return (f"| {name:<46} | | {med(ref, 'wall') / med(mine, 'wall'):7.1f}x | {med(ref, 'cpu') / med(mine, 'cpu'):7.1f}x"
            f" | | identical numbers: {same}")


def bench(args) -> int:
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    cache = out / ("cold_cache_" + args.only.replace(",", "_"))
    kinds = args.only.split(",")
    scales = [int(s) for s in args.scales.split(",")]
    class Table(list):  # rows are also printed as they come (a long run can be read while it goes)
        def append(self, row):
            print(row, flush=True)
            super().append(row)

    table = Table(["| measurement (cold subprocess, 1 thread) | n | wall s | CPU s | peak MB | note",
                   "|---|---|---|---|---|---|"])
    summary = []

    def fresh_cache():
        shutil.rmtree(cache, ignore_errors=True)

    for kind in kinds:
        for scale in scales:
            print(f"{kind} x{scale} ...", flush=True)
            if kind == "debugging":
                data, subs = debugging_case(out, scale)
                mine_all, ref_all, same_all = [], [], True
                if scale > 1:  # growth: one ranking, first run only (torch cost grows ~n^2: n trainings of O(n))
                    subs = {"random": subs["random"]}
                for name, sub in subs.items():
                    fresh_cache()
                    first = ours(kind, data, sub, cache, ["--model", "dataperf-torch"])
                    mine = [ours(kind, data, sub, cache, ["--model", "dataperf-torch"])
                            for _ in range(args.repeat if scale == 1 else 0)] or [first]
                    trainings = first["details"]["tasks"]["gen0"]["trainings"]
                    table.append(line(f"debugging x{scale} {name}: our first run", [first],
                                      f"fraction {first['score']:.4f}, {trainings} trainings (+2 clean/noisy)"))
                    table.append(line(f"debugging x{scale} {name}: ours", mine))
                    mine_all += mine
                    if scale == 1 and not args.no_official:
                        ref = [official(kind, data, sub, str(args.reference_steps))]
                        if ref[0]["score"] is None:  # partial reference: extrapolate its time to n steps
                            factor = (300 * scale + 1) / (ref[0]["steps"] + 1)
                            for r in ref:
                                r["wall"] *= factor
                                r["cpu"] *= factor
                            same = None
                            note = f"{ref[0]['steps']} steps run, time extrapolated to {300 * scale}"
                        else:
                            same = ref[0]["score"] == first["score"] == mine[0]["score"]
                            note = f"fraction {ref[0]['score']:.4f}"
                        table.append(line(f"debugging x{scale} {name}: official", ref, note))
                        table.append(ratio_line(f"debugging x{scale} {name}: speed-up", ref, mine, same))
                        summary.append((f"debugging {name}", ref, mine, same))
                        ref_all += ref
                        same_all = same_all and bool(same)
                continue
            data, sub = (speech_case if kind == "speech" else vision_case)(out, scale)
            fresh_cache()
            first = ours(kind, data, sub, cache)
            mine = [ours(kind, data, sub, cache) for _ in range(args.repeat)]
            table.append(line(f"{kind} x{scale}: our first run (writes the cache)", [first], f"score {first['score']!r}"))
            table.append(line(f"{kind} x{scale}: ours", mine, f"score {mine[0]['score']!r}"))
            if scale == 1 and not args.no_official:
                ref = [official(kind, data, sub, "25") if kind == "speech" else official(kind, data, sub)
                       for _ in range(args.official_repeat)]
                same = all(r["score"] == m["score"] for r in ref for m in [first, *mine])
                if kind == "vision":
                    same = same and all(r[k] == m["scores"][k] for r in ref for m in mine for k in r if k.startswith("f1_"))
                table.append(line(f"{kind} x{scale}: official", ref, f"score {ref[0]['score']!r}"))
                table.append(ratio_line(f"{kind} x{scale}: speed-up", ref, mine, same))
                table.append(ratio_line(f"{kind} x{scale}: speed-up, first run", ref, [first], same))
                summary.append((kind, ref, mine, same))
    print("\n".join(table))
    print("\nSpeed-ups (official / ours, CPU seconds; wall in brackets):")
    for name, ref, mine, same in summary:
        print(f"  {name:20s} {med(ref, 'cpu') / med(mine, 'cpu'):6.1f}x  ({med(ref, 'wall') / med(mine, 'wall'):.1f}x wall)"
              f"  identical: {same}")
    (out / "bench_cold_scorers.md").write_text("\n".join(table) + "\n")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "official":
        kind, data, sub, *rest = argv[1:]
        sys.path.insert(0, str(ROOT))
        fn = {"speech": lambda: official_speech(Path(data), Path(sub), int(rest[0])),
              "vision": lambda: official_vision(Path(data), Path(sub)),
              "debugging": lambda: official_debugging(Path(data), Path(sub), int(rest[0]))}[kind]
        print(json.dumps(fn()))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--only", default="speech,vision,debugging")
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--repeat", type=int, default=2, help="cold runs of ours per case (after the first)")
    parser.add_argument("--official-repeat", type=int, default=1)
    parser.add_argument("--reference-steps", type=int, default=300,
                        help="debugging: official steps to run (fewer = time extrapolated, no score check)")
    parser.add_argument("--no-official", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
