"""Safe defaults: no start-up without a secret key outside the embedded mode, the embedded key made
once and kept private, secure cookies / HSTS / redirect / CSP behind HTTPS, `check --deploy` clean."""
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

from backend.config.secret_key import embedded_secret_key

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_KEY = "k" * 20 + "-production-key-for-tests-0123456789abcdefghijklmnop"


def run_django(code: str, env_overrides: dict, *, drop=("DATABASE_URL", "DJANGO_SECRET_KEY")) -> subprocess.CompletedProcess:
    """Python with the production settings module (not the tests'), in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("DJANGO_")}
    env.update({"DJANGO_SETTINGS_MODULE": "backend.config.settings", **env_overrides})
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_missing_secret_key_refuses_to_start_outside_embedded_mode(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"},
             "DJANGO_SETTINGS_MODULE": "backend.config.settings", "DATAPERF_VAR_DIR": str(tmp_path),
             "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/not_used_by_check"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_embedded_mode_makes_a_private_key_once_and_reuses_it(tmp_path):
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    first = run_django(code, {"DATAPERF_VAR_DIR": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.stdout.strip()
    assert len(key) >= 50 and key == key_file.read_text().strip()
    second = run_django(code, {"DATAPERF_VAR_DIR": str(tmp_path)})
    assert second.stdout.strip() == key
    other = run_django(code, {"DATAPERF_VAR_DIR": str(tmp_path / "elsewhere")})
    assert other.stdout.strip() != key  # random, not a fixed default


def test_processes_starting_together_agree_on_one_key(tmp_path):
    path = tmp_path / "var" / "secret_key"
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(embedded_secret_key(path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"]  # no temporary file left


HEADERS_SCRIPT = """
import django; django.setup()
from django.conf import settings
from django.test import Client
client = Client()
plain = client.get("/accounts/login/")
print("plain", plain.status_code, plain.get("Location", ""))
secure = client.get("/accounts/login/", secure=True)
print("secure", secure.status_code)
print("hsts", secure.get("Strict-Transport-Security", ""))
print("csp", secure.get("Content-Security-Policy", ""))
print("csrf-cookie-secure", bool(secure.cookies["csrftoken"]["secure"]))
print("session-cookie-secure", settings.SESSION_COOKIE_SECURE)
"""


def _lines(output: str) -> dict:
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] if " " in line else "" for line in output.splitlines()}


def test_behind_https_cookies_are_secure_with_hsts_redirect_and_csp(tmp_path):
    result = run_django(HEADERS_SCRIPT, {"DATAPERF_VAR_DIR": str(tmp_path), "DJANGO_HTTPS": "true",
                                         "DJANGO_HSTS_SECONDS": "600", "DJANGO_ALLOWED_HOSTS": "testserver"})
    assert result.returncode == 0, result.stderr
    out = _lines(result.stdout)
    assert out["plain"] == "301 https://testserver/accounts/login/"
    assert out["secure"] == "200"
    assert out["hsts"] == "max-age=600; includeSubDomains"
    assert "script-src 'self'" in out["csp"] and "frame-ancestors 'none'" in out["csp"] and "unsafe-eval" not in out["csp"]
    assert out["csrf-cookie-secure"] == "True" and out["session-cookie-secure"] == "True"


def test_without_https_no_redirect_and_no_hsts_but_still_a_csp(tmp_path):
    result = run_django(HEADERS_SCRIPT.replace('secure=True', 'secure=False'),
                        {"DATAPERF_VAR_DIR": str(tmp_path), "DJANGO_ALLOWED_HOSTS": "testserver"})
    assert result.returncode == 0, result.stderr
    out = _lines(result.stdout)
    assert out["plain"].startswith("200")
    assert out["hsts"] == "" and "script-src 'self'" in out["csp"]


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    """The environment docs/operations.md gives for production (CI runs the same command)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
        capture_output=True, text=True, timeout=180,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
             "DJANGO_SETTINGS_MODULE": "backend.config.settings", "DATAPERF_VAR_DIR": str(tmp_path),
             "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/dataperf", "DJANGO_SECRET_KEY": PRODUCTION_KEY,
             "DJANGO_HTTPS": "true", "DJANGO_ALLOWED_HOSTS": "dataperf.example.org"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
