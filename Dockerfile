# syntax=docker/dockerfile:1
# Production image: gunicorn serves helpdesk.wsgi on :8000; the same image runs the Celery
# worker, beat and migrations (see docker-compose.yml). All settings come from the
# environment (helpdesk/settings.py); nothing secret is baked in.

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

# --- build: a virtualenv with the pinned dependencies and the project -----------------------
FROM base AS build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, in their own layer, so a source-only change does not reinstall them.
# Only the runtime dependencies of pyproject.toml are installed (no dev extras), at the
# versions pinned in requirements.lock.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/runtime-deps.txt \
 && pip install --no-cache-dir -c requirements.lock -r /tmp/runtime-deps.txt
COPY . .
RUN pip install --no-cache-dir -c requirements.lock .

# --- runtime ----------------------------------------------------------------------------------
FROM base AS runtime
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
# WEB_CONCURRENCY is gunicorn's own variable for its number of workers: override it per host
# (about 2 x CPU cores + 1).
ENV PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=helpdesk.settings \
    HELPDESK_VAR_DIR=/app/var \
    WEB_CONCURRENCY=3
WORKDIR /app
# The code stays root-owned and read-only for the app user; only var/ is writable. The
# processes run from /app, so templates, static sources and migrations come from here.
COPY . .
RUN python -m compileall -q /app/helpdesk /app/guides /app/tickets \
 && install -d -o app -g app -m 0750 /app/var
# The compiled catalogues (locale/*/LC_MESSAGES/*.mo) are not in git and not in the build
# context (.dockerignore): compile them from the .po files here, in pure Python (polib), or
# every page and e-mail of the image would be in English. A missing catalogue fails the build.
RUN python -m helpdesk.i18n
USER app
# STATIC_ROOT is $HELPDESK_VAR_DIR/static; whitenoise serves it. The key is a throwaway one,
# used by this step only.
RUN SECRET_KEY=build-only DEBUG=false ALLOWED_HOSTS=x python manage.py collectstatic --noinput

EXPOSE 8000
# No HEALTHCHECK here: the worker and beat run this image too and serve no HTTP. The checks
# live in docker-compose.yml.
CMD ["gunicorn", "helpdesk.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--access-logfile", "-", \
     "--error-logfile", "-", \
     "--worker-tmp-dir", "/dev/shm", \
     "--timeout", "30", \
     "--graceful-timeout", "25"]
