"""Starter kits: downloaded as a zip, unpacked, run in the sandbox on tiny data in the official
layouts (generated here with pandas/pyarrow), output checked for shape and for reproducibility."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from backend.sandbox import CodeArchiveError, Limits, compare_outputs, extract_code_archive, run_in_sandbox, \
    sandbox_available
from evaluation.starter_kits import KITS, get_kit, make_starter_kit_zip

GiB, MiB = 2**30, 2**20
KIT_LIMITS = Limits(wall_seconds=120, cpu_seconds=120, memory_bytes=2 * GiB, max_processes=32,
                    output_bytes=16 * MiB, log_bytes=64 * 1024, tmp_bytes=64 * MiB)
needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="needs root, bwrap, prlimit and setpriv")


# --- tiny data in the official layouts ---------------------------------------------------------

def _vectors(rng, center, n, dim):
    return [list(map(float, center + rng.normal(scale=0.3, size=dim))) for _ in range(n)]


def write_speech(root: Path) -> Path:
    rng = np.random.default_rng(1)
    dim = 16
    (root / "train_embeddings").mkdir(parents=True)
    allowed = {"targets": {}, "nontargets": []}
    for word in ("cat", "dog", "sun", "apple", "river"):
        ids = [f"{word}/common_voice_en_{i}.wav" for i in range(12)]
        pd.DataFrame({"clip_id": ids, "mswc_embedding_vector": _vectors(rng, rng.normal(size=dim), 12, dim)}) \
            .to_parquet(root / "train_embeddings" / f"{word}.parquet")
        if word in ("cat", "dog", "sun"):
            allowed["targets"][word] = ids[:10]
        else:
            allowed["nontargets"] += ids[:8]
    (root / "allowed_training_set.yaml").write_text(yaml.dump(allowed, default_flow_style=None, sort_keys=False))
    return root


def write_vision(root: Path) -> Path:
    rng = np.random.default_rng(2)
    dim = 8
    ids = [f"{i:016x}" for i in rng.choice(2**60, size=300, replace=False)]
    centers = {"Cupcake": rng.normal(size=dim) * 3, "Hawk": rng.normal(size=dim) * 3}
    vectors = _vectors(rng, np.zeros(dim), 300, dim)
    examples = {}
    for offset, (concept, center) in enumerate(centers.items()):
        members = list(range(offset * 20, offset * 20 + 20))
        for row in members:
            vectors[row] = list(map(float, center + rng.normal(scale=0.3, size=dim)))
        examples[concept] = [ids[row] for row in members[:5]]
    pool = root / "embeddings" / "train_emb_256_dataperf.parquet"  # a Spark-style directory of parts
    pool.mkdir(parents=True)
    frame = pd.DataFrame({"ImageID": ids, "embedding": vectors})
    frame.iloc[:150].to_parquet(pool / "part-00000-x.snappy.parquet")
    frame.iloc[150:].to_parquet(pool / "part-00001-x.snappy.parquet")
    (root / "examples").mkdir()
    for concept, example_ids in examples.items():
        pd.DataFrame({"LabelName": "/m/0", "ImageID": example_ids, "Confidence": 1, "OriginalURL": "https://x",
                      "DisplayName": concept}).to_csv(root / "examples" / f"alpha_example_set_{concept}.csv",
                                                      index=False)
    return root


def write_debugging(root: Path) -> Path:
    rng = np.random.default_rng(3)
    dim = 8
    (root / "embeddings").mkdir(parents=True)
    for task in ("01g317", "04hgtk-flipped"):
        labels = rng.integers(0, 2, size=80)
        encoding = [list(map(float, rng.normal(size=dim) + 2 * label)) for label in labels]
        noisy = labels.copy()
        noisy[:15] = 1 - noisy[:15]
        pd.DataFrame({"encoding": encoding[:60], "label": noisy[:60], "filename": [f"{task}-{i}" for i in range(60)]}) \
            .to_parquet(root / "embeddings" / f"{task}_train_0.3_60.parquet")
        pd.DataFrame({"encoding": encoding[60:], "label": labels[60:]}) \
            .to_parquet(root / "embeddings" / f"{task}_val_20.parquet")
    return root


def write_valuation(root: Path) -> Path:
    rng = np.random.default_rng(4)
    dim = 8

    def rows(n, flip=0.0):
        labels = rng.integers(0, 2, size=n)
        encoding = [list(map(float, rng.normal(size=dim) + 2 * label)) for label in labels]
        given = np.where(rng.random(n) < flip, 1 - labels, labels)
        return encoding, given

    (root / "candidates").mkdir(parents=True)
    (root / "samples").mkdir()
    encoding, labels = rows(20)
    pd.DataFrame({"id": [f"a-{i}" for i in range(20)], "encoding": encoding, "label": labels}) \
        .to_parquet(root / "a.parquet")
    for name, flip in (("clean", 0.0), ("noisy", 0.45), ("more", 0.0)):
        encoding, labels = rows(60 if name == "more" else 30, flip)
        ids = [f"{name}-{i}" for i in range(len(labels))]
        pd.DataFrame({"id": ids, "encoding": encoding}).to_parquet(root / "candidates" / f"{name}.parquet")
        pd.DataFrame({"id": ids[:10], "label": labels[:10]}).to_parquet(root / "samples" / f"{name}.parquet")
    return root


def write_slicing(root: Path) -> Path:
    """Two blobs the model gets wrong (the slices) among correct rows; every other row held out."""
    rng = np.random.default_rng(4)
    dim = 8
    group = np.repeat([0, 1, 2], [20, 20, 80])
    centres = rng.normal(size=(3, dim)) * 4
    labels = rng.integers(0, 2, size=len(group))
    ids = [f"row{i:03d}" for i in range(len(group))]
    root.mkdir(parents=True)
    pd.DataFrame({"id": ids, "encoding": [list(map(float, centres[g] + rng.normal(size=dim))) for g in group],
                  "label": labels, "prediction": np.where(group < 2, 1 - labels, labels)}) \
        .to_parquet(root / "data.parquet")
    (root / "heldout.csv").write_text("id\n" + "".join(f"{i}\n" for i in ids[1::2]))
    return root


def write_training_set(root: Path) -> Path:
    """Two blobs; the first 10 pool rows carry the wrong label."""
    rng = np.random.default_rng(5)
    dim = 8
    labels = np.repeat([0, 1], 40)
    given = labels.copy()
    given[:10] = 1 - given[:10]
    ids = [f"p{i:02d}" for i in range(80)]
    root.mkdir(parents=True)
    pd.DataFrame({"id": ids, "encoding": [list(map(float, rng.normal(size=dim) + 6 * label)) for label in labels],
                  "label": given}).to_parquet(root / "pool.parquet")
    (root / "baseline.csv").write_text("id\n" + "".join(f"{i}\n" for i in ids[::4]))
    return root


def write_test_set(root: Path) -> Path:
    rng = np.random.default_rng(6)
    dim = 8
    root.mkdir(parents=True)
    (root / "meta.json").write_text(json.dumps({"class_names": ["cat", "dog"], "display": "text"}))
    labels = np.repeat([0, 1], 30)
    pd.DataFrame({"encoding": [list(map(float, rng.normal(size=dim) + 3 * label)) for label in labels],
                  "label": labels}).to_parquet(root / "reference_train.parquet")
    pool = rng.normal(size=(40, dim)) * 2 + 1.5
    pd.DataFrame({"id": [f"item{i:02d}" for i in range(40)], "encoding": [list(map(float, row)) for row in pool],
                  "display": [f"item {i}" for i in range(40)]}).to_parquet(root / "pool.parquet")
    return root


def write_data_acquisition(root: Path) -> Path:
    from fixtures import synthetic

    return synthetic.write_acquisition_data(root, seed=4)


WRITERS = {"data_acquisition": write_data_acquisition, "speech_selection": write_speech, "vision_selection": write_vision, "debugging": write_debugging,
           "valuation": write_valuation, "slicing": write_slicing, "training_set": write_training_set,
           "test_set": write_test_set}


# --- the zip -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KITS))
def test_starter_kit_zip(kind):
    data = make_starter_kit_zip(kind)
    assert data == make_starter_kit_zip(KITS[kind].benchmark)  # reproducible; slug works too
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    top = f"dataperf-{kind.replace('_', '-')}-starter-kit/"
    assert {top + "algorithm.py", top + "run.py", top + "README.md"} <= set(names)
    assert all(name.startswith(top) and "__pycache__" not in name and not name.endswith(".pyc") for name in names)


def test_unknown_kit_and_sandbox_commands():
    with pytest.raises(KeyError, match="no starter kit 'nope'"):
        make_starter_kit_zip("nope")
    assert get_kit("speech-selection").command({"train_size": 60}) == [
        "python", "run.py", "--input", "/inputs/data", "--output", "/output/submission.json", "--train-size", "60"]
    assert get_kit("vision-selection").command({"concepts": ["Cupcake", "Hawk"], "max_train_size": 1000})[-4:] == [
        "--max-train-size", "1000", "--concepts", "Cupcake,Hawk"]
    assert get_kit("debugging").command({"tasks": []}) == list(KITS["debugging"].base_command)


def _zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def test_extract_code_archive_refuses_unsafe_archives(tmp_path):
    root = extract_code_archive(make_starter_kit_zip("debugging"), tmp_path / "kit")
    assert (root / "run.py").is_file() and root.name == "dataperf-debugging-starter-kit"
    assert oct((root / "run.py").stat().st_mode & 0o777) == "0o644" and oct(root.stat().st_mode & 0o777) == "0o755"
    flat = extract_code_archive(_zip({"run.py": b"print(1)", "lib/util.py": b""}), tmp_path / "flat")
    assert flat == tmp_path / "flat" and (flat / "lib" / "util.py").is_file()
    cases = {
        "zip-slip": (_zip({"../evil.py": b"x"}), "unsafe path: ../evil.py"),
        "absolute": (_zip({"/etc/cron.d/x": b"x"}), "unsafe path"),
        "symlink": (_zip({"run.py": b""}, symlink="data"), "only files and folders: data is not"),
        "bomb": (_zip({"big.bin": b"\0" * (3 * MiB)}), "unpacks to more than 1 MiB"),
        "not a zip": (b"PK\x03\x04garbage", "not a valid zip file"),
    }
    for name, (archive, message) in cases.items():
        with pytest.raises(CodeArchiveError, match=message):
            extract_code_archive(archive, tmp_path / name, max_bytes=1 * MiB)
        assert not (tmp_path / "evil.py").exists()


# --- running the kits --------------------------------------------------------------------------

def _run_locally(code: Path, command: list[str], data: Path, out: Path) -> None:
    """What the participant does on their machine (the platform's paths mapped to local ones)."""
    mapping = {"/inputs/data": str(data), "/output": str(out)}
    local = [sys.executable] + [next((arg.replace(k, v) for k, v in mapping.items() if arg.startswith(k)), arg)
                                for arg in command[1:]]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    subprocess.run(local, cwd=code, env=env, check=True, capture_output=True, timeout=300)


@pytest.mark.parametrize("kind", sorted(KITS))
@needs_sandbox
def test_kit_runs_in_the_sandbox_and_reproduces_the_local_run(kind, tmp_path):
    kit = KITS[kind]
    data = WRITERS[kind](tmp_path / "data")
    code = extract_code_archive(make_starter_kit_zip(kind), tmp_path / "code")
    config = {"speech_selection": {"train_size": 25}, "vision_selection": {"max_train_size": 40},
              "debugging": {}, "valuation": {"model": "logreg"}, "slicing": {"max_slices": 10},
              "training_set": {"max_train_size": 50}, "test_set": {"max_items": 12},
              "data_acquisition": {}}[kind]
    command = kit.command(config)

    result = run_in_sandbox(code, command, {"data": data}, tmp_path / "sandbox-out", KIT_LIMITS)
    assert result.status == "ok", (result.message, result.stderr)
    produced = result.output_dir / kit.output if kit.output else result.output_dir
    _check_shape(kind, produced, data)

    local_out = tmp_path / "local-out"
    local_out.mkdir()
    _run_locally(code, command, data, local_out)
    submitted = local_out / kit.output if kit.output else local_out
    same, message = compare_outputs(submitted, produced)
    assert same, message


def _check_shape(kind: str, produced: Path, data: Path) -> None:
    if kind == "speech_selection":
        selection = json.loads(produced.read_text())
        allowed = yaml.safe_load((data / "allowed_training_set.yaml").read_text())
        assert sorted(selection["targets"]) == ["cat", "dog", "sun"]
        assert sum(map(len, selection["targets"].values())) + len(selection["nontargets"]) == 25
        for word, ids in selection["targets"].items():
            assert set(ids) <= set(allowed["targets"][word]) and len(ids) == 25 // 4
        assert set(selection["nontargets"]) <= set(allowed["nontargets"])
    elif kind == "vision_selection":
        pool = set(pd.read_parquet(data / "embeddings" / "train_emb_256_dataperf.parquet")["ImageID"])
        assert sorted(p.name for p in produced.iterdir()) == ["Cupcake.csv", "Hawk.csv"]
        for concept in ("Cupcake", "Hawk"):
            rows = list(csv.reader(open(produced / f"{concept}.csv")))
            assert rows[0] == ["ImageID", "Confidence"] and 2 <= len(rows) - 1 <= 40
            assert {label for _, label in rows[1:]} == {"0", "1"}
            assert {image_id for image_id, _ in rows[1:]} <= pool
    elif kind == "valuation":
        rows = list(csv.reader(open(produced)))
        assert rows[0] == ["candidate_id", "predicted_accuracy"]
        assert sorted(cid for cid, _ in rows[1:]) == ["clean", "more", "noisy"]
        assert all(0.0 <= float(value) <= 1.0 for _, value in rows[1:])
    elif kind == "data_acquisition":
        rows = list(csv.reader(open(produced)))
        market = json.loads((data / "market.json").read_text())
        assert rows[0] == ["seller_id", "count"] and [sid for sid, _ in rows[1:]] == list(market["sellers"])
        cost = sum(market["sellers"][sid]["price"] * int(n) for sid, n in rows[1:])
        assert 0.9 * market["budget"] < cost <= market["budget"]
    elif kind == "slicing":
        rows = list(csv.reader(open(produced)))
        ids = list(pd.read_parquet(data / "data.parquet")["id"])
        assert rows[0][0] == "id" and 2 <= len(rows[0]) <= 11 and [row[0] for row in rows[1:]] == ids
        errors = [float(max(row[1:], key=float)) > 0 for row in rows[1:]]
        assert errors == [i < 40 for i in range(len(ids))]  # the model's errors (the two blobs) are scored
    elif kind == "training_set":
        rows = list(csv.reader(open(produced)))
        ids = set(pd.read_parquet(data / "pool.parquet")["id"])
        assert rows[0] == ["id", "label"] and 1 <= len(rows) - 1 <= 50
        assert {row[0] for row in rows[1:]} <= ids and {row[1] for row in rows[1:]} <= {"0", "1"}
        kept_wrong = {f"p{i:02d}" for i in range(10)} & {row[0] for row in rows[1:]}
        assert len(kept_wrong) <= 4, kept_wrong  # confident learning drops flagged rows (a random 50 keeps ~6)
    elif kind == "test_set":
        rows = list(csv.reader(open(produced)))
        ids = set(pd.read_parquet(data / "pool.parquet")["id"])
        assert rows[0] == ["item_id", "label"] and len(rows) - 1 == 12
        assert len({row[0] for row in rows[1:]}) == 12 and {row[0] for row in rows[1:]} <= ids
        assert {row[1] for row in rows[1:]} <= {"cat", "dog"}
    else:
        assert sorted(p.name for p in produced.iterdir()) == ["01g317.txt", "04hgtk-flipped.txt"]
        for ranking in produced.iterdir():
            order = [int(line) for line in ranking.read_text().splitlines()]
            assert sorted(order) == list(range(60))
            assert sum(i < 15 for i in order[:20]) >= 8  # the flipped rows (0-14) come early


@needs_sandbox
def test_reproduction_check_catches_a_hand_edited_submission(tmp_path):
    kit = KITS["speech_selection"]
    data = write_speech(tmp_path / "data")
    code = extract_code_archive(make_starter_kit_zip("speech_selection"), tmp_path / "code")
    result = run_in_sandbox(code, kit.command({"train_size": 25}), {"data": data}, tmp_path / "out",
                            replace(KIT_LIMITS, wall_seconds=60))
    assert result.ok, result.stderr
    submitted = json.loads((result.output_dir / "submission.json").read_text())
    dropped = submitted["targets"]["dog"].pop()
    (tmp_path / "submission.json").write_text(json.dumps(submitted))
    assert compare_outputs(tmp_path / "submission.json", result.output_dir / "submission.json") == (
        False, f"submission.json: targets['dog'] differs: submitted 5 ids, the code produced 6; first extra id: {dropped}")
