"""``python -m evaluation`` on hostile input: one sentence on stderr naming the file, exit code 2, no traceback."""
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.__main__ import main
from fixtures import hostile_uploads, synthetic

ROOT = Path(__file__).resolve().parents[2]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "evaluation", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


class Ran:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli_in_process(capsys, *args):
    """The same entry point without a new interpreter (an escaping exception would fail the test)."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


@pytest.fixture(scope="module")
def training_data(tmp_path_factory):
    return synthetic.write_training_set_data(tmp_path_factory.mktemp("ts") / "data", seed=1)


def _assert_refused(result, name: str) -> None:
    assert result.returncode == 2, result.stderr[-500:]
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and name in lines[0] and len(lines[0]) < 700


def test_deep_json_is_a_sentence_not_a_recursion_traceback(speech_data_dir, tmp_path):
    path = tmp_path / "deep.json"
    path.write_bytes(hostile_uploads.deep_json(1_000_000))
    result = cli("score", "speech-selection", "--data", speech_data_dir, "--submission", path, "--train-size", 25)
    _assert_refused(result, "deep.json")
    assert "nested at least 1000000 levels deep" in result.stderr


def test_vision_zip_with_deep_json_and_corrupt_zip(vision_data_dir, tmp_path, capsys):
    nested = tmp_path / "nested.zip"
    nested.write_bytes(hostile_uploads.make_zip([("Cupcake.json", hostile_uploads.deep_json())]))
    _assert_refused(cli_in_process(capsys, "validate", "vision-selection", "--data", vision_data_dir, "--submission", nested),
                   "nested.zip: Cupcake.json")
    crc = tmp_path / "crc.zip"
    crc.write_bytes(hostile_uploads.corrupt_crc_zip("Cupcake.csv", b"ImageID,Confidence\n" * 20))
    _assert_refused(cli_in_process(capsys, "validate", "vision-selection", "--data", vision_data_dir, "--submission", crc),
                   "crc.zip")


@pytest.mark.parametrize("name, content", [
    ("bomb.npz", lambda: hostile_uploads.npz_bomb(70)),
    ("shape.npz", hostile_uploads.npz_lying_shape),
    ("escape.zip", lambda: hostile_uploads.make_zip([("../set.csv", b"id,label\n")])),
    ("locked.zip", lambda: hostile_uploads.encrypted_zip("set.csv", b"id,label\n")),
    ("nul.csv", lambda: b"id,label\n\x00,1\n"),
    ("latin.csv", lambda: b"\xff\xfe\xc3\x28"),
    ("line.csv", lambda: b"a" * (5 * 2**20)),
])
def test_training_set_hostile_files(training_data, tmp_path, capsys, name, content):
    path = tmp_path / name
    path.write_bytes(content())
    _assert_refused(cli_in_process(capsys, "validate", "training-set", "--data", training_data, "--submission", path), name)


def test_missing_submission_and_data_are_sentences(training_data, tmp_path, capsys):
    _assert_refused(cli_in_process(capsys, "validate", "training-set", "--data", training_data,
                                   "--submission", tmp_path / "nope.csv"), "nope.csv")
    _assert_refused(cli_in_process(capsys, "validate", "training-set", "--data", tmp_path / "nodata",
                                   "--submission", tmp_path), "nodata")
