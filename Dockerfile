# The graphql_repl server. docker-compose.yml runs it against a MongoDB replica set.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY graphql_repl ./graphql_repl
RUN pip install --no-cache-dir ".[mongodb]"

ENV GRAPHQL_REPL_HOST=0.0.0.0 \
    GRAPHQL_REPL_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["graphql-repl", "serve"]
