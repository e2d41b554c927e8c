"""Time the Croissant metadata of every demo layout: generation (``evaluation.croissant.describe``) and
validation by the mlcroissant reference library, with the size of the JSON.

    /work/venv/bin/python benchmarks/bench_croissant.py            # all four tasks' default layouts
    /work/venv/bin/python benchmarks/bench_croissant.py --tasks ocr

Layouts come from the prebuilt task datasets (``fixtures.builders.layouts``, seed 0); building them is
not timed. Wall-clock seconds on whatever machine runs this.
"""
from __future__ import annotations

import argparse
import copy
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="image,ocr,keyword,nlp")
    args = parser.parse_args()
    logging.getLogger("absl").setLevel(logging.ERROR)
    import mlcroissant as mlc

    from evaluation import croissant, registry
    from fixtures.builders import layouts, load_prebuilt

    print(f"{'task':8s} {'layout':17s} {'files':>5s} {'sets':>4s} {'KiB':>6s} {'describe s':>10s} {'validate s':>10s}")
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            ds = load_prebuilt(task)
            for layout in layouts.DEFAULT_LAYOUTS[task]:
                data_dir = Path(tmp) / task / layout
                layouts.write_layout(ds, layout, data_dir, **({} if layout == "speech-selection" else {"seed": 0}))
                start = time.perf_counter()
                metadata = croissant.describe(data_dir, is_hidden=registry.get(layout).is_hidden)
                described = time.perf_counter()
                mlc.Dataset(jsonld=copy.deepcopy(metadata))
                validated = time.perf_counter()
                print(f"{task:8s} {layout:17s} {len(metadata['distribution']):5d} {len(metadata['recordSet']):4d} "
                      f"{len(croissant.dumps(metadata)) / 1024:6.1f} {described - start:10.3f} "
                      f"{validated - described:10.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
