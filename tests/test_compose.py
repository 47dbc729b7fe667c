"""docker-compose.yml: a MongoDB replica set (initiated by its health check) and the server
connected to it. Validated by `docker compose config` where the Compose plugin exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_mongo_runs_as_a_replica_set_initiated_by_its_health_check():
    mongo = _compose()["services"]["mongo"]
    assert "--replSet" in mongo["command"]
    replica_set = mongo["command"][mongo["command"].index("--replSet") + 1]
    check = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate" in check
    assert f'_id: "{replica_set}"' in check
    assert "isWritablePrimary" in check


def test_server_waits_for_a_healthy_replica_set_and_uses_it():
    compose = _compose()
    server = compose["services"]["server"]
    command = compose["services"]["mongo"]["command"]
    replica_set = command[command.index("--replSet") + 1]
    assert server["depends_on"]["mongo"]["condition"] == "service_healthy"
    store = server["environment"]["GRAPHQL_REPL_STORE"]
    assert store.startswith("mongodb://mongo:27017/")
    assert f"replicaSet={replica_set}" in store
    assert (ROOT / server["build"] / "Dockerfile").exists()


def test_dockerfile_installs_the_mongodb_extra_and_serves():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '".[mongodb]"' in dockerfile
    assert 'CMD ["graphql-repl", "serve"]' in dockerfile
    assert "GRAPHQL_REPL_HOST=0.0.0.0" in dockerfile


def _compose_plugin() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="the docker compose plugin is not installed")
def test_docker_compose_config_accepts_the_file():
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
