# syntax=docker/dockerfile:1
# Build: docker build -t sigurna .
# Run:   docker run -e SIGURNA_MODE=production -e SIGURNA_SECRET_KEY=... \
#          -e SIGURNA_DATABASE_URL=postgresql+psycopg://... -p 8000:8000 sigurna

# The console's front-end packages, from the npm registry as package-lock.json pins them.
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY core ./core
COPY hotline ./hotline
COPY shelters ./shelters
COPY notifications ./notifications
COPY referrals ./referrals
COPY safety_plans ./safety_plans
COPY console ./console
COPY --from=assets /src/node_modules/htmx.org/dist/htmx.min.js ./console/static/vendor/htmx.min.js
# Exactly the pinned direct dependencies of pyproject.toml, and the project itself.
RUN /opt/venv/bin/pip install . && /opt/venv/bin/pip check

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SIGURNA_MODE=production \
    SIGURNA_HOST=0.0.0.0 \
    SIGURNA_PORT=8000 \
    SIGURNA_MIGRATIONS_DIR=/app/alembic
RUN groupadd --system --gid 10001 sigurna \
 && useradd --system --uid 10001 --gid sigurna --home-dir /app --shell /usr/sbin/nologin sigurna
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY alembic ./alembic
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN mkdir -p /app/var && chown sigurna:sigurna /app/var && chmod 0755 /usr/local/bin/docker-entrypoint.sh
USER sigurna
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["sigurna", "serve"]
