"""docker-compose.sharded.yml: a config server replica set, two shard replica sets, mongos,
a job that adds the shards and shards the documents collection by the store's shard key,
and the server through mongos. Validated by `docker compose config` where the Compose
plugin exists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from graphql_repl.stores.mongodb.schema import SHARD_KEY

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.sharded.yml"


def _services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_config_server_and_both_shards_are_replica_sets_their_health_checks_initiate():
    services = _services()
    roles = {"configsvr": "--configsvr", "shard1": "--shardsvr", "shard2": "--shardsvr"}
    for name, role in roles.items():
        service = services[name]
        assert role in service["command"]
        replica_set = _option(service["command"], "--replSet")
        assert service["environment"]["RS"] == replica_set
        assert service["environment"]["CONFIGSVR"] == str(role == "--configsvr").lower()
        assert service["environment"]["HOSTNAME_PORT"] == f"{name}:27017"
        check = " ".join(service["healthcheck"]["test"])
        assert "rs.initiate" in check
        assert "isWritablePrimary" in check


def test_mongos_routes_to_the_config_servers_once_every_member_is_healthy():
    services = _services()
    mongos = services["mongos"]
    config_set = _option(services["configsvr"]["command"], "--replSet")
    assert mongos["command"][0] == "mongos"
    assert _option(mongos["command"], "--configdb") == f"{config_set}/configsvr:27017"
    assert {name: dep["condition"] for name, dep in mongos["depends_on"].items()} == {
        "configsvr": "service_healthy",
        "shard1": "service_healthy",
        "shard2": "service_healthy",
    }


def test_the_init_job_adds_both_shards_and_shards_documents_by_the_stores_key():
    services = _services()
    init = services["init"]
    script = init["command"][-1]
    assert init["depends_on"]["mongos"]["condition"] == "service_healthy"
    assert _option(init["command"], "--host") == "mongos:27017"
    for shard in ("shard1", "shard2"):
        assert shard == _option(services[shard]["command"], "--replSet")
        assert f'"{shard}"' in script
    assert 'sh.addShard(name + "/" + name + ":27017")' in script
    call = re.search(r'sh\.shardCollection\("graphql_repl\.documents", (\{.*?\})\)', script)
    assert call is not None
    key = json.loads(re.sub(r"(\w+):", r'"\1":', call.group(1)))
    assert key == SHARD_KEY


def test_the_server_uses_mongos_once_the_cluster_is_set_up():
    server = _services()["server"]
    assert server["environment"]["GRAPHQL_REPL_STORE"] == "mongodb://mongos:27017/graphql_repl"
    assert server["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert (ROOT / server["build"] / "Dockerfile").exists()


def test_docker_compose_config_accepts_the_file():
    docker = shutil.which("docker")
    plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True)
    if not plugin or plugin.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    done = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
