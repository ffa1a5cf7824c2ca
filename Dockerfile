# Production image: the web server by default, or a worker with `python manage.py worker`.
#   docker build -t taskqueue .
#   docker compose up            (compose.yaml: PostgreSQL, web, two workers, Prometheus)
# Runtime dependencies only: the test tools at the end of requirements.txt and the
# embedded-PostgreSQL wheel (pgserver; production sets DATABASE_URL) stay out.

FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /build
COPY requirements.txt .
RUN sed -e '/^# Tests/,$d' -e '/^pgserver==/d' requirements.txt > runtime.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r runtime.txt

FROM python:3.12-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=queueproject.settings \
    LOG_FORMAT=json \
    HOST=0.0.0.0 \
    PORT=8000
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Code and collected static files belong to root: the app user can read, not change them.
COPY . .
RUN DATABASE_URL=postgresql://build@localhost/build SECRET_KEY=build-only \
    python manage.py collectstatic --no-input --verbosity 0
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=2)"]
# granian serving the WSGI application (queueproject/webserver.py): WEB_THREADS threads per
# process. Open /api/events streams never end by themselves, so shutdown waits for them 5 s at most.
CMD ["python", "-m", "queueproject.webserver", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
