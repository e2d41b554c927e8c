"""The submission readers' limits: refusals come from declared sizes and counts, before inflating,
and what is inflated is counted while streaming."""
import json
import tracemalloc
import zipfile

import numpy as np
import pytest

from evaluation import SubmissionError, submission_io
from fixtures import hostile_uploads

MiB = 2**20


def _peak_allocated(function) -> int:
    tracemalloc.start()
    try:
        function()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_zip_bomb_is_refused_from_its_declared_size_without_inflating(tmp_path):
    path = tmp_path / "bomb.zip"
    path.write_bytes(hostile_uploads.zip_bomb("a.csv", 70))

    def collect():
        with pytest.raises(SubmissionError, match=r"bomb.zip: the entry 'a.csv' unpacks to 73400320 bytes"):
            submission_io.collect_files(path, (".csv",))

    assert _peak_allocated(collect) < 2 * MiB  # the 70 MiB were never produced


def test_headers_that_understate_sizes_are_caught_while_streaming(tmp_path):
    path = tmp_path / "liar.zip"
    path.write_bytes(hostile_uploads.lying_size_zip("a.csv", b"id,label\n" * 10_000, 10))
    with pytest.raises(SubmissionError, match="liar.zip: cannot read the entry 'a.csv': the archive is corrupt"):
        submission_io.collect_files(path, (".csv",))


def test_the_budget_counts_actual_bytes_across_members(tmp_path):
    path = tmp_path / "three.zip"
    path.write_bytes(hostile_uploads.make_zip([(f"{i}.csv", bytes(3 * MiB)) for i in range(3)]))
    with submission_io.limits(max_unpacked_bytes=8 * MiB):
        with pytest.raises(SubmissionError, match="three.zip: the archive unpacks to 9437184 bytes; the limit is 8 MB"):
            submission_io.collect_files(path, (".csv",))
    assert len(submission_io.collect_files(path, (".csv",))) == 3  # the default budget allows it


def test_npz_headers_cannot_make_us_allocate(tmp_path):
    with pytest.raises(SubmissionError, match=r"the header says shape \(1000000000000, 16\)"):
        submission_io.read_npz(hostile_uploads.npz_lying_shape(), "shape.npz")
    bomb = hostile_uploads.npz_bomb(70)
    assert _peak_allocated(lambda: pytest.raises(SubmissionError, submission_io.read_npz, bomb, "b.npz")) < 2 * MiB


def test_npz_round_trip_keeps_values_and_fortran_order():
    import io

    buffer = io.BytesIO()
    X = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    np.savez_compressed(buffer, X=X, y=np.array([0, 1, 2]))
    arrays = submission_io.read_npz(buffer.getvalue(), "ok.npz")
    assert np.array_equal(arrays["X"], X) and arrays["y"].tolist() == [0, 1, 2]


def test_json_depth_is_checked_without_recursion():
    deep = hostile_uploads.deep_json(1_000_000)
    with pytest.raises(SubmissionError, match="deep.json: JSON nested at least 1000000 levels deep; at most 64"):
        submission_io.parse_json(deep, "deep.json")
    # brackets inside strings do not count; 64 levels are fine
    tricky = {"a": "[" * 100 + '\\"{{{', "b": ["]]]"]}
    assert submission_io.parse_json(json.dumps(tricky).encode(), "s.json") == tricky
    assert submission_io.parse_json(b"[" * 64 + b"]" * 64, "ok.json") is not None
    with pytest.raises(SubmissionError, match="huge.json: a number with more than 4,300 digits"):
        submission_io.parse_json(b"1" * 5000, "huge.json")


def test_million_entry_archives_are_refused_from_the_directory_record(tmp_path):
    path = tmp_path / "many.zip"
    path.write_bytes(hostile_uploads.million_entries(100_000))

    def collect():
        with pytest.raises(SubmissionError, match="many.zip: the archive has 100000 entries; at most 10000"):
            submission_io.collect_files(path, (".csv",))

    assert _peak_allocated(collect) < 2 * MiB  # no ZipInfo objects were built


@pytest.mark.parametrize("entry", ["../x.csv", "/x.csv", "a/../../x.csv", "C:/x.csv", "..\\\\x.csv"])
def test_unsafe_entry_names_are_refused(tmp_path, entry):
    path = tmp_path / "unsafe.zip"
    path.write_bytes(hostile_uploads.make_zip([(entry, b"id\n")]))
    with pytest.raises(SubmissionError, match="unsafe.zip: the entry .* points outside the archive"):
        submission_io.collect_files(path, (".csv",))


def test_long_values_are_cut_in_messages():
    with pytest.raises(SubmissionError) as error:
        submission_io.parse_int("9" * 100_000 + "x", "big.csv, line 2")
    assert len(str(error.value)) < 300 and "more characters" in str(error.value)
    with pytest.raises(SubmissionError) as error:
        submission_io.read_csv("id," + "x" * 100_000 + "\n", "wide.csv", ["id", "label"])
    assert len(str(error.value)) < 400


def test_stored_and_deflated_members_are_read(tmp_path):
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        path = tmp_path / f"ok{method}.zip"
        path.write_bytes(hostile_uploads.make_zip([("folder/a.csv", b"id\n1\n"), ("__MACOSX/._a.csv", b"junk")], method))
        assert submission_io.collect_files(path, (".csv",)) == {"a.csv": b"id\n1\n"}


def test_overlong_entry_names_are_refused_with_a_short_message(tmp_path):
    path = tmp_path / "long.zip"
    path.write_bytes(hostile_uploads.make_zip([("d/" * 400 + "a.csv", b"id\n")]))
    with pytest.raises(SubmissionError, match="long.zip: an entry name is 805 characters long") as error:
        submission_io.collect_files(path, (".csv",))
    assert len(str(error.value)) < 200
