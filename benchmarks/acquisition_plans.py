"""Data acquisition (DAM) cells: every shipped baseline against degenerate plans, per real-data task.

    .venv/bin/python benchmarks/acquisition_plans.py [--tasks image,ocr] [--seeds 0,1,2,3,4]

Cuts each prebuilt task into the ``data-acquisition`` layout (seed 0, as the demo), runs the baselines on
the public copy and scores them, then scores plans that need no judgement: nothing bought, the whole
budget on each single seller (the best one is shown), the budget split evenly over every pair of sellers,
the cheapest seller only, the dearest seller only, the largest seller only, every seller bought out
cheapest first, the budget split in proportion to seller size, split evenly over all sellers, and 20
seeded random (Dirichlet) splits (their mean and best). Prints one
table row per task; the best degenerate plan must stay strictly under the best baseline.
"""
from __future__ import annotations

import argparse
import itertools
import math
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation import registry  # noqa: E402
from evaluation.baselines import BASELINES, run_baseline  # noqa: E402
from evaluation.baselines import data_acquisition as dam  # noqa: E402


def degenerate_plans(problem, random_draws: int = 20) -> dict[str, dict[str, int]]:
    """Plans chosen without looking at any seller's quality, each within budget and sizes."""
    sellers = problem.sellers
    market = {"budget": problem.budget, "sellers": {s: {"size": v.size, "price": v.price} for s, v in sellers.items()}}
    nothing = {s: 0 for s in sellers}

    def spend(shares: dict[str, float]) -> dict[str, int]:
        plan = dict(nothing)
        plan.update({s: min(sellers[s].size, int(math.floor(problem.budget * w / sellers[s].price + 1e-9)))
                     for s, w in shares.items()})
        return dam.affordable(market, plan)

    plans = {"nothing bought": nothing}
    for s in sellers:
        plans[f"all on {s}"] = spend({s: 1.0})
    for a, b in itertools.combinations(sellers, 2):
        plans[f"pair {a}+{b}"] = spend({a: 0.5, b: 0.5})
    plans["cheapest only"] = spend({min(sellers, key=lambda s: (sellers[s].price, s)): 1.0})
    plans["dearest only"] = spend({max(sellers, key=lambda s: (sellers[s].price, s)): 1.0})
    plans["largest only"] = spend({max(sellers, key=lambda s: (sellers[s].size, s)): 1.0})
    # every seller bought out in order of price, cheapest first, until the budget is gone
    left, cheap_first = problem.budget, dict(nothing)
    for s in sorted(sellers, key=lambda s: (sellers[s].price, s)):
        cheap_first[s] = min(sellers[s].size, int(math.floor(left / sellers[s].price + 1e-9)))
        left -= cheap_first[s] * sellers[s].price
    plans["cheapest first, bought out"] = dam.affordable(market, cheap_first)
    total = sum(v.size for v in sellers.values())
    plans["proportional to size"] = spend({s: v.size / total for s, v in sellers.items()})
    plans["even split"] = spend({s: 1 / len(sellers) for s in sellers})
    for seed in range(random_draws):
        plans[f"random {seed}"] = dam.random_plan(market, seed=1000 + seed)
    return plans


def measure(task: str, config: dict, work: Path) -> dict:
    from fixtures.builders import layouts, load_prebuilt

    bench = registry.get("data-acquisition")
    data, public = work / task / "data", work / task / "public"
    info = layouts.write_layout(load_prebuilt(task), "data-acquisition", data, seed=0)
    shutil.copytree(data, public, ignore=shutil.ignore_patterns("hidden", "BUILD_INFO.json"))
    problem = bench.load_problem(data, config)

    def accuracy(plan):
        return bench.evaluate(problem, plan, config).scores["accuracy"]

    baselines, plans = {}, {}
    for name in BASELINES["data-acquisition"]:
        path = run_baseline("data-acquisition", name, public, work / task / "baselines" / name, config)
        plans[name] = bench.load_submission(problem, path, config)
        baselines[name] = accuracy(plans[name])
    degenerate = {name: accuracy(plan) for name, plan in degenerate_plans(problem).items()}
    return {"info": info, "baselines": baselines, "plans": plans, "degenerate": degenerate}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="image,ocr,keyword,nlp")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--verbose", action="store_true", help="every plan's score and each seller's recipe")
    args = parser.parse_args(argv)
    bench = registry.get("data-acquisition")
    config = bench.config({"seeds": [int(s) for s in args.seeds.split(",")]})
    print("| task | best baseline | uniform | random (mean of 20) | best degenerate plan | margin |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            out = measure(task, config, Path(tmp))
            base, deg = out["baselines"], out["degenerate"]
            best_name = max(base, key=base.get)
            worst = max(deg, key=deg.get)
            randoms = [v for k, v in deg.items() if k.startswith("random ")]
            print(f"| {task} | {best_name} {base[best_name]:.3f} | {base['uniform']:.3f} | "
                  f"{sum(randoms) / len(randoms):.3f} (best {max(randoms):.3f}) | {worst} {deg[worst]:.3f} | "
                  f"{base[best_name] - deg[worst]:+.3f} |", flush=True)
            if args.verbose:
                print("   baselines:", {k: round(v, 3) for k, v in base.items()})
                print("   best baseline's plan:", {s: n for s, n in out["plans"][best_name].items() if n})
                for sid, meta in sorted(out["info"]["sellers"].items()):
                    print(f"   {sid}: {meta}  all-on={deg.get('all on ' + sid, float('nan')):.3f}")
                named = ("nothing bought", "cheapest only", "dearest only", "largest only", "cheapest first, bought out",
                         "proportional to size", "even split")
                print("   named plans:", {k: round(deg[k], 3) for k in named})
                print("   best single:", max((v, k) for k, v in deg.items() if k.startswith("all on ")),
                      " best pair:", max((v, k) for k, v in deg.items() if k.startswith("pair ")))
                top = sorted(deg.items(), key=lambda kv: -kv[1])[:8]
                print("   top degenerate:", [(k, round(v, 3)) for k, v in top])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
