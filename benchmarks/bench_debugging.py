"""Time the debugging evaluator against the plain n-retraining loop on reference-sized generated data.

    .venv/bin/python benchmarks/bench_debugging.py [--tasks 2] [--torch-tasks 1] [--reference-steps 20] [--full]

Per task (300 train rows x 2048 dims, 500 test rows, 30 % label noise) and per ranking (oracle =
mislabelled rows first, random, reversed = mislabelled rows last):
- k-NN (our default model): the plain loop refits scikit-learn n times; ours must give the same score.
- dataperf-torch (if torch is installed): the reference loop restated (per step: the pyarrow
  ``fix()`` round trip, a DataLoader-fed LogisticClassifier, as in DS3Lab app/main.py). It takes
  ~0.3 s per step, so by default only ``--reference-steps`` steps are timed and the n-step time is
  extrapolated (their accuracies are checked against ours); ``--full`` runs all n steps and compares scores.
One core: OMP_NUM_THREADS=1 and torch.set_num_threads(1).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evaluation.benchmarks import debugging as dbg  # noqa: E402

BENCH = dbg.Debugging()


def rankings(task, seed):
    wrong = np.flatnonzero(task.noisy != task.clean)
    right = np.flatnonzero(task.noisy == task.clean)
    return {"oracle": np.concatenate([wrong, right]), "random": np.random.default_rng(seed).permutation(task.size),
            "reversed": np.concatenate([right, wrong])}


def timed(function, *args):
    # CPU seconds of this (single-threaded) process: other jobs on a shared machine do not count
    start = time.process_time()
    value = function(*args)
    return value, time.process_time() - start


def ours(problem, task_id, ranking, cfg, cold=True):
    """evaluate_task; cold = as for the first submission of a freshly loaded problem (no cached trainings)."""
    if cold:
        problem.tasks[task_id].scorers.clear()
    solution = dbg.DebugSolution({task_id: ranking}, {})
    return BENCH.evaluate_task(problem, solution, task_id, cfg)


def bench_knn(problem, task_ids):
    cfg = BENCH.config({"model": "knn"})
    print("\n== k-NN (k=%d, default model) ==" % cfg["n_neighbors"])
    print("CPU seconds; cold = neighbour index and clean/noisy accuracies included, warm = problem already scored once")
    print(f"{'task':8} {'ranking':9} {'plain':>7} {'cold':>7} {'warm':>7} {'x cold':>7} {'x warm':>7} {'score':>7} {'same':>5}")
    for task_id in task_ids:
        task = problem.tasks[task_id]
        for name, ranking in rankings(task, seed=len(task_id)).items():
            result, cold = timed(ours, problem, task_id, ranking, cfg)
            _, warm = timed(ours, problem, task_id, ranking, cfg, False)
            plain, slow = timed(dbg.plain_loop, problem, task_id, ranking, cfg)
            same = dbg.fraction_from_curve(plain)[0] == result["fraction_fixes"]
            print(f"{task_id:8} {name:9} {slow:7.2f} {cold:7.3f} {warm:7.4f} {slow / cold:6.0f}x {slow / max(warm, 1e-4):6.0f}x "
                  f"{result['fraction_fixes']:7.4f} {str(same):>5}")
        print(f"{'':8} noisy {result['noisy_accuracy']:.2f} -> clean {result['clean_accuracy']:.2f} "
              f"(accuracy gap {result['accuracy_gap']:.2f})")


def reference_loop(torch, train_table, gt_df, test_X, test_y, ranking, steps):
    """DS3Lab app/main.py + utils.fix + classifier.LogisticClassifier, restated; accuracies of steps 1..steps."""
    import pyarrow as pa
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    def fix(proposed, train):
        fixed_points = train.take(proposed).to_pydict()
        train = train.to_pydict()
        gt_labels = [gt_df[gt_df["ImageID"] == f]["hv_label"].values[0] for f in fixed_points["filename"]]
        for row_id, each in enumerate(proposed):
            train["label"][each] = gt_labels[row_id]
        return pa.Table.from_pydict(train)

    def classifier_accuracy(X, y):
        torch.manual_seed(42)
        model = nn.Sequential()
        model.fc1, model.fc2 = nn.Linear(X.shape[1], 128), nn.Linear(128, 1)
        features, labels = torch.tensor(X), torch.tensor(y)
        loader = DataLoader(TensorDataset(features, labels), batch_size=64, shuffle=False)
        criterion = nn.BCEWithLogitsLoss()
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.9)
        model.train(True)
        for _ in range(20):
            for xb, yb in loader:
                optimizer.zero_grad()
                criterion(model(xb.float()).reshape(yb.shape), yb.float()).backward()
                optimizer.step()

        def evaluate(X, y, threshold):
            model.eval()
            X = X if isinstance(X, torch.Tensor) else torch.tensor(X).float()
            with torch.no_grad():
                out = torch.sigmoid(model(X))
            out = np.where(out <= threshold, 0, out)
            out = np.where(out > threshold, 1, out).ravel()
            y = y.ravel()
            return round((out == (y.numpy() if isinstance(y, torch.Tensor) else y)).mean(), 2)

        best_acc, best_thres = 0, 0
        for threshold in list(np.arange(0.1, 1, 0.05)):
            acc = evaluate(features, labels, threshold)
            if acc > best_acc:
                best_acc, best_thres = acc, threshold
        return evaluate(test_X, test_y, best_thres)

    accuracies = []
    for i in range(1, steps + 1):
        table = fix(list(ranking[:i]), train_table)
        X = np.vstack(table.column("encoding").to_numpy()).astype(np.float32)
        y = np.vstack(table.column("label").to_numpy()).astype(np.float32)
        accuracies.append(classifier_accuracy(X, y))
    return accuracies


def bench_torch(data_dir, task_ids, reference_steps, full):
    try:
        import torch
    except ImportError:
        print("\n== dataperf-torch: torch not installed, skipped (pip install -r requirements.txt) ==")
        return
    import pandas as pd
    import pyarrow.parquet as pq

    torch.set_num_threads(1)
    cfg = BENCH.config({"model": "dataperf-torch"})
    problem = BENCH.load_problem(data_dir, cfg)
    print("\n== dataperf-torch (reference model) ==")
    print("CPU seconds; ours is cold (clean/noisy trainings included); trainings = label-changing steps up to i* + 2")
    print(f"{'task':8} {'ranking':9} {'reference':>12} {'ours':>7} {'speed-up':>9} {'trainings':>9} {'score':>7} {'check':>16}")
    for task_id in task_ids:
        task = problem.tasks[task_id]
        train_table = pq.read_table(next((data_dir / "embeddings").glob(f"{task_id}_train_*.parquet")))
        gt_df = pd.read_csv(data_dir / "data" / f"dataset_{task_id}_train.csv")
        test_table = pq.read_table(next((data_dir / "embeddings").glob(f"{task_id}_test_*.parquet")))
        test_X = np.vstack(test_table.column("encoding").to_numpy())
        test_y = np.vstack(test_table.column("label").to_numpy())
        for name, ranking in rankings(task, seed=len(task_id)).items():
            result, fast = timed(ours, problem, task_id, ranking, cfg)
            steps = task.size if full else reference_steps
            reference, slow = timed(reference_loop, torch, train_table, gt_df, test_X, test_y, ranking, steps)
            slow_total = slow * task.size / steps
            if full:
                check = "score same" if dbg.fraction_from_curve(reference)[0] == result["fraction_fixes"] else "SCORE DIFFERS"
            else:
                mine = list(itertools.islice(dbg.get_scorer(task, cfg).steps(ranking), steps))
                check = f"{steps} steps {'same' if mine == reference else 'DIFFER'}"
            label = f"{slow_total:8.1f}{'' if full else ' est'}"
            print(f"{task_id:8} {name:9} {label:>12} {fast:7.2f} {slow_total / fast:8.1f}x {result['trainings'] + 2:9d} "
                  f"{result['fraction_fixes']:7.4f} {check:>16}")
        print(f"{'':8} noisy {result['noisy_accuracy']:.2f} -> clean {result['clean_accuracy']:.2f} (gap {result['accuracy_gap']:.2f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--torch-tasks", type=int, default=1)
    parser.add_argument("--reference-steps", type=int, default=20)
    parser.add_argument("--full", action="store_true", help="run the whole reference torch loop (~100 s per ranking)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        task_ids = [f"gen{seed}" for seed in range(args.tasks)]
        dbg.write_data_dir(data_dir, {tid: dbg.synthetic_task(seed=seed) for seed, tid in enumerate(task_ids)})
        problem = BENCH.load_problem(data_dir, BENCH.config())
        print(f"{args.tasks} generated task(s): 300 train x 2048 dims, 500 test, 30% label noise; one thread")
        bench_knn(problem, task_ids)
        bench_torch(data_dir, task_ids[:args.torch_tasks], args.reference_steps, args.full)


if __name__ == "__main__":
    main()
