# The platform's image for `docker-compose up` (web, worker, control and beat all run from it).
#
# BASE_IMAGE is any Debian-based image with Python 3.11: the public `python:3.11-slim` by default;
# machines that cannot reach Docker Hub pass the image `make provision` builds with debootstrap
# (`--build-arg BASE_IMAGE=chronoverse/python:3.11`, Debian's python3 and nothing else).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# The dependencies go into a virtualenv of their own: Debian's python3 refuses system-wide pip
# installs (PEP 668), and `python` on PATH is then the same on either base (Debian has only python3).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
# Debian's python3 ships `venv` without `ensurepip` (that is the python3-venv package); the public
# image has both, and skips apt.
RUN if ! python3 -c 'import ensurepip' 2>/dev/null; then \
        apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv "$VIRTUAL_ENV"

WORKDIR /app
COPY requirements.txt .
# Every requirement installs from a wheel (psycopg's binary wheel carries libpq): no compiler, no
# system libraries. PIP_INSTALL_ARGS reaches a mirror or a wheel folder when the public index cannot
# be used, e.g. `--index-url https://mirror.example/simple` or `--no-index --find-links http://...`.
ARG PIP_INSTALL_ARGS=""
RUN pip install --no-cache-dir --disable-pip-version-check $PIP_INSTALL_ARGS -r requirements.txt

COPY . .
# collectstatic reads the settings, which refuse to load without a real SECRET_KEY: this throwaway
# one exists only for this step (the containers get theirs from the environment at run time).
RUN SECRET_KEY="collectstatic-only-$(python -c 'import secrets; print(secrets.token_hex(24))')" \
    python manage.py collectstatic --noinput -v 0
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "chronoverse.asgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
