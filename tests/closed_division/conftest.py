"""Closed-division fixtures: a challenge whose phase takes closed-division submissions, the speech
starter kit zipped as a participant would upload it, and the file it produces when run locally."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.sandbox import extract_code_archive, sandbox_available
from evaluation.starter_kits import make_starter_kit_zip
from tests.conftest import add_benchmark, make_challenge

needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="needs root, bwrap, prlimit and setpriv")
KIT_TOP = "dataperf-speech-selection-starter-kit"


@pytest.fixture(scope="session")
def concealed_data_dir(tmp_path_factory) -> Path:
    """Another speech task: other clips and fewer target words; participants never get it."""
    from fixtures import synthetic

    path = tmp_path_factory.mktemp("concealed") / "dataperf_xx_data"
    synthetic.write_speech_data(path, n_targets=3, train_nontargets=300, eval_nontargets=600, dim=64, seed=11)
    return path


@pytest.fixture
def closed_challenge(users, speech_data_dir):
    challenge = make_challenge(users["organizer"], slug="kws-closed", closed_division=True)
    add_benchmark(challenge, "speech-selection", speech_data_dir, slug="en-25", config={"train_size": 25})
    return challenge


def run_kit_locally(code_zip: bytes, data_dir: Path, out: Path, train_size: int = 25) -> bytes:
    """What the participant does offline: unpack the kit, run it on the downloaded data."""
    code = extract_code_archive(code_zip, out.parent / f"{out.stem}-code")
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, "run.py", "--input", str(data_dir), "--output", str(out),
                    "--train-size", str(train_size)], cwd=code, env=env, check=True, capture_output=True, timeout=120)
    return out.read_bytes()


@pytest.fixture(scope="session")
def kit_zip() -> bytes:
    return make_starter_kit_zip("speech_selection")


@pytest.fixture(scope="session")
def kit_artifact(kit_zip, speech_data_dir, tmp_path_factory) -> bytes:
    """The baseline's training set, produced locally by the unmodified starter kit."""
    return run_kit_locally(kit_zip, speech_data_dir, tmp_path_factory.mktemp("local") / "en_25_train.json")


def kit_with(kit_zip: bytes, replacements: dict[str, bytes]) -> bytes:
    """The starter kit with some files replaced or added (paths relative to the kit folder)."""
    source = zipfile.ZipFile(io.BytesIO(kit_zip))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for info in source.infolist():
            relative = info.filename.split("/", 1)[1]
            if relative not in replacements:
                out.writestr(info, source.read(info))
        for relative, content in replacements.items():
            out.writestr(f"{KIT_TOP}/{relative}", content)
    return buffer.getvalue()


def tampered(artifact: bytes, data_dir: Path) -> tuple[bytes, str, str]:
    """The same training set with one target clip swapped for another allowed clip: still a valid
    submission, but not what the code produces. Returns (file, clip removed, clip added)."""
    import yaml

    selection = json.loads(artifact)
    allowed = yaml.safe_load((data_dir / "allowed_training_set.yaml").read_text())
    word = sorted(selection["targets"])[0]
    removed = selection["targets"][word][0]
    added = next(c for c in allowed["targets"][word] if c not in selection["targets"][word])
    selection["targets"][word][0] = added
    return json.dumps(selection, sort_keys=True, indent=4).encode(), removed, added


def upload(name: str, content: bytes):
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")
