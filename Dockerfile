# One image for web, worker and beat. bubblewrap sandboxes closed-division code on workers.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATAPERF_VAR_DIR=/var/lib/dataperf
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Build-time only key: collectstatic needs settings, not a secret; the real key comes from the environment.
RUN DJANGO_SECRET_KEY=build-only DJANGO_STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput -v0
# Pinned evaluation environments live next to the code (DATAPERF_ENVIRONMENTS_DIR), so every worker has them.
RUN DJANGO_SECRET_KEY=build-only python manage.py build_environment dataperf-2023
ENV DJANGO_STATIC_ROOT=/app/staticfiles
EXPOSE 8000
CMD ["gunicorn", "backend.config.asgi:application", "-k", "uvicorn_worker.UvicornWorker", "-b", "0.0.0.0:8000", "-w", "4", "--timeout", "120", "--keep-alive", "15"]
