"""The embedded mode's secret key: made up once, kept in a file only the owner can read."""
import os
import secrets
from pathlib import Path


def embedded_secret_key(path: Path) -> str:
    """Read the key at ``path``, creating it (mode 600) on first use. Several processes may start at
    once (web workers, the Celery worker): the file is written aside and linked into place, so all of
    them end up with the one key that won."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won the race: use its key
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    return path.read_text().strip()
