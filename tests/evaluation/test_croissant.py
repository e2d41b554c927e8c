"""Croissant metadata of every benchmark type's public data, on the demo's real layouts (prebuilt tasks):
valid for the mlcroissant reference library, readable record by record, and silent about hidden files."""
from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evaluation import croissant, registry
from evaluation.__main__ import main

mlc = pytest.importorskip("mlcroissant")

# The demo builds speech selection from the keyword task, the other types from any task (OCR here).
LAYOUT_TASK = {"speech-selection": "keyword", "vision-selection": "ocr", "debugging": "ocr", "valuation": "ocr",
               "slicing": "ocr", "training-set": "ocr", "test-set": "ocr", "data-acquisition": "ocr"}


@pytest.fixture(scope="module")
def layout_dirs(tmp_path_factory) -> dict[str, Path]:
    from fixtures.builders import layouts, load_prebuilt

    root = tmp_path_factory.mktemp("croissant")
    datasets = {task: load_prebuilt(task) for task in set(LAYOUT_TASK.values())}
    out = {}
    for layout, task in LAYOUT_TASK.items():
        out[layout] = root / layout
        layouts.write_layout(datasets[task], layout, out[layout],
                             **({} if layout == "speech-selection" else {"seed": 0}))
    return out


def _files(data_dir: Path) -> list[str]:
    return sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file())


def test_every_builtin_type_is_covered():
    assert sorted(LAYOUT_TASK) == registry.builtin_slugs()


@pytest.mark.parametrize("slug", sorted(LAYOUT_TASK))
def test_metadata_is_valid_croissant_of_the_public_files_only(slug, layout_dirs):
    data_dir = layout_dirs[slug]
    benchmark_type = registry.get(slug)
    metadata = croissant.describe(data_dir, is_hidden=benchmark_type.is_hidden, name=f"OCR {slug}",
                                  url=f"/challenges/demo/{slug}/")

    dataset = mlc.Dataset(jsonld=copy.deepcopy(metadata))  # raises on any validation error
    assert not dataset.metadata.ctx.issues.errors
    assert not dataset.metadata.ctx.issues.warnings, dataset.metadata.ctx.issues.report()

    files = _files(data_dir)
    hidden = [f for f in files if benchmark_type.is_hidden(f)]
    public = [f for f in files if not benchmark_type.is_hidden(f)]
    assert hidden, f"the {slug} layout has hidden files: the test must be able to fail"
    described = {entry["contentUrl"]: entry for entry in metadata["distribution"]}
    assert sorted(described) == public
    text = json.dumps(metadata)
    public_names = {Path(f).name for f in public}
    for name in hidden:
        assert name not in text
        if Path(name).name not in public_names:  # e.g. eval.yaml, test_sets/alpha_test_set_x_256.parquet
            assert Path(name).name not in text
    for relative, entry in described.items():
        assert entry["sha256"] == hashlib.sha256((data_dir / relative).read_bytes()).hexdigest()

    # Every public Parquet file has a record set with exactly its columns.
    record_sets = {rs["name"]: rs for rs in metadata["recordSet"]}
    for relative in public:
        if relative.endswith(".parquet"):
            columns = pq.read_schema(data_dir / relative).names
            assert [f["name"] for f in record_sets[relative]["field"]] == columns

    # Provenance from the task builder's documented source (SOURCE.json).
    source = json.loads((data_dir / "SOURCE.json").read_text())
    assert metadata["license"] == source["license"] and metadata["license"]
    assert metadata["citeAs"] == source["citation"]
    assert metadata["conformsTo"] == "http://mlcommons.org/croissant/1.0"


def test_records_are_readable_through_mlcroissant(layout_dirs, tmp_path):
    data_dir = tmp_path / "training-set"
    shutil.copytree(layout_dirs["training-set"], data_dir)
    metadata = croissant.describe(data_dir, is_hidden=registry.get("training-set").is_hidden)
    (data_dir / croissant.FILE_NAME).write_text(croissant.dumps(metadata))
    dataset = mlc.Dataset(jsonld=str(data_dir / croissant.FILE_NAME))
    first = next(iter(dataset.records("records/pool.parquet")))
    pool = pq.read_table(data_dir / "pool.parquet")
    assert first["records/pool.parquet/id"].decode() == pool.column("id")[0].as_py()
    assert len(first["records/pool.parquet/encoding"]) == len(pool.column("encoding")[0].as_py())
    embedding = next(f for f in next(rs for rs in metadata["recordSet"] if rs["name"] == "pool.parquet")["field"]
                     if f["name"] == "encoding")
    assert embedding["dataType"] == "sc:Float" and embedding["repeated"] is True
    # Describing a directory that already holds croissant.json does not describe the file itself.
    again = croissant.describe(data_dir, is_hidden=registry.get("training-set").is_hidden)
    assert croissant.FILE_NAME not in [d["name"] for d in again["distribution"]]


def test_caller_overrides_and_defaults(tmp_path):
    (tmp_path / "table.csv").write_text("id,score,flag\na,1.5,true\nb,2,false\n")
    metadata = croissant.describe(tmp_path, name="Mine", license="CC-BY-4.0", citation="Me 2026.")
    assert (metadata["name"], metadata["license"], metadata["citeAs"]) == ("Mine", "CC-BY-4.0", "Me 2026.")
    fields = {f["name"]: f["dataType"] for f in metadata["recordSet"][0]["field"]}
    assert fields == {"id": "sc:Text", "score": "sc:Float", "flag": "sc:Boolean"}
    bare = croissant.describe(tmp_path)  # no SOURCE.json, no caller values: says so
    assert bare["license"] == croissant.UNSPECIFIED_LICENSE
    mlc.Dataset(jsonld=copy.deepcopy(bare))
    (tmp_path / "table.csv").write_text("id,score,flag\na,1.5,true\nc,3,false\n")
    assert croissant.describe(tmp_path)["version"] != bare["version"]  # the version follows the data


def test_cli_prints_the_metadata_and_guesses_the_type(layout_dirs, capsys):
    data_dir = layout_dirs["speech-selection"]
    assert main(["croissant", "--data", str(data_dir), "--license", "CC-BY-4.0"]) == 0
    metadata = json.loads(capsys.readouterr().out)
    names = [d["name"] for d in metadata["distribution"]]
    assert "eval.yaml" not in names and not any(n.startswith("eval_embeddings/") for n in names)
    assert "allowed_training_set.yaml" in names and metadata["license"] == "CC-BY-4.0"
    mlc.Dataset(jsonld=metadata)


def test_cli_bad_input_is_one_sentence(tmp_path, capsys):
    assert main(["croissant", "--data", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    (tmp_path / "x.csv").write_text("a\n1\n")
    assert main(["croissant", "--data", str(tmp_path)]) == 2
    assert "--type" in capsys.readouterr().err
    assert main(["croissant", "--data", str(tmp_path), "--type", "nonsense"]) == 2
    assert "unknown benchmark type" in capsys.readouterr().err
    assert main(["croissant", "--data", str(tmp_path), "--type", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["distribution"][0]["name"] == "x.csv"
