"""docker-compose.yml and the Dockerfile: a plain `docker compose up` needs no GPU, the GPU workers are a profile.

`docker compose config` checks the file where the compose plugin is installed (it needs no engine); the YAML
checks below run everywhere (PyYAML).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (the dev extra) reads docker-compose.yml")

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DEFAULT_SERVICES = {"redis", "seaweedfs", "api", "worker", "trainer"}
OURS = ("api", "worker", "trainer", "worker-gpu0", "worker-gpu1")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # safe_load resolves the `<<: *anchor` merges


def _services(compose: dict, profiles: set[str] = frozenset()) -> dict[str, dict]:
    """The services `docker compose [--profile P ...] up` starts."""
    return {name: svc for name, svc in compose["services"].items()
            if not svc.get("profiles") or set(svc["profiles"]) & set(profiles)}


def _needs_gpu(svc: dict) -> bool:
    devices = svc.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    env = svc.get("environment") or {}
    return (any("gpu" in d.get("capabilities", []) or d.get("driver") == "nvidia" for d in devices)
            or "gpus" in svc or svc.get("runtime") == "nvidia" or env.get("DGAE_DEVICE") == "cuda"
            or "NVIDIA_VISIBLE_DEVICES" in env)


def _env(svc: dict) -> dict:
    env = svc.get("environment") or {}
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_plain_up_starts_redis_the_api_and_a_cpu_worker_and_needs_no_gpu(compose):
    default = _services(compose)
    assert set(default) == DEFAULT_SERVICES
    assert [name for name, svc in default.items() if _needs_gpu(svc)] == []
    worker = default["worker"]
    assert worker["command"] == ["diffusegae", "worker"] and _env(worker)["DGAE_DEVICE"] == "cpu"
    assert "TORCH_INDEX" not in (worker.get("build") or {}).get("args", {}), "the default worker gets the CPU torch"


def test_gpu_workers_are_profiles(compose):
    gpu = {name: svc for name, svc in compose["services"].items() if _needs_gpu(svc)}
    assert gpu, "no GPU worker is offered at all"
    for name, svc in gpu.items():
        assert svc.get("profiles"), f"{name} needs a GPU but starts without a profile"
        assert svc["command"] == ["diffusegae", "worker"]
        assert _env(svc)["DGAE_DEVICE"] == "cuda"
    assert set(_services(compose, {"gpu"})) - DEFAULT_SERVICES == {"worker-gpu0"}
    assert set(_services(compose, {"multi-gpu"})) - DEFAULT_SERVICES == {"worker-gpu0", "worker-gpu1"}
    ids = [svc["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] for svc in gpu.values()]
    assert sorted(map(tuple, ids)) == [("0",), ("1",)], "each GPU worker reserves a GPU of its own"


def test_services_share_redis_and_the_object_store_and_no_volume(compose):
    for name in OURS:
        svc = compose["services"][name]
        env = _env(svc)
        assert env["DGAE_REDIS_URL"] == "redis://redis:6379/0", name
        assert env["DGAE_STORE_URL"].startswith("s3://") and env["DGAE_S3_ENDPOINT"] == "http://seaweedfs:8333", name
        assert not svc.get("volumes"), f"{name} mounts a volume: the API and workers share only Redis and the store"
        assert {svc["depends_on"][d]["condition"] for d in ("redis", "seaweedfs")} == {"service_healthy"}, name
        assert env["DGAE_MODEL_DIR"].startswith("/app/models/"), name  # the shipped models are in the image
    mounts = [v.split(":")[0] for svc in compose["services"].values() for v in svc.get("volumes", [])
              if not v.startswith("./")]
    assert sorted(mounts) == ["redis", "seaweedfs"] == sorted(compose["volumes"]), "each volume has one service"
    weed = compose["services"]["seaweedfs"]
    assert weed["command"][:2] == ["weed", "server"] and "-s3" in weed["command"] and "-s3.port=8333" in weed["command"]
    assert "redis:/data" in compose["services"]["redis"]["volumes"]


def test_healthchecks(compose):
    services = compose["services"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    api = services["api"]["healthcheck"]["test"]
    assert api[0] == "CMD" and "http://127.0.0.1:8000/docs" in " ".join(api), "the API's check needs no API key"
    assert services["api"]["ports"] == ["${DGAE_PORT:-8000}:8000"]


def test_monitoring_profile_adds_prometheus_scraping_the_api(compose):
    assert set(_services(compose, {"monitoring"})) - DEFAULT_SERVICES == {"prometheus"}
    prom = compose["services"]["prometheus"]
    assert prom["profiles"] == ["monitoring"] and prom["image"].startswith("prom/prometheus:")
    assert not _needs_gpu(prom)
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prom["volumes"]
    assert [p.split(":")[0] for p in prom["ports"]] == ["127.0.0.1"], "Prometheus has no login: bound to this machine"
    assert "api" in prom["depends_on"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    api_port = compose["services"]["api"]["command"][compose["services"]["api"]["command"].index("--port") + 1]
    assert [t for sc in job["static_configs"] for t in sc["targets"]] == [f"api:{api_port}"]
    assert "scheme" not in job and "basic_auth" not in job and "authorization" not in job, "/metrics is public"


def test_every_referenced_file_exists(compose):
    text = COMPOSE.read_text()
    referenced = set()
    for svc in compose["services"].values():
        build = svc.get("build")
        if build:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            assert context.is_dir(), context
            referenced.add(context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"))
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(("./", "../", "/")):
                referenced.add(ROOT / source)
    # Files the comments send the reader to (e.g. README.md), and the default model.
    referenced |= {ROOT / m for m in re.findall(r"[\w./-]+\.(?:md|yml|yaml|sh|py|toml)\b", text)
                   if ("/" in m or m[0].isupper()) and not m.startswith("/")}  # /etc/...: a path inside a container
    referenced.add(ROOT / "models" / re.search(r"DGAE_MODEL:-([\w.-]+)", text).group(1) / "model.json")
    missing = sorted(str(p.relative_to(ROOT)) for p in referenced if not p.exists())
    assert missing == [], f"docker-compose.yml refers to files that do not exist: {missing}"
    assert "docs/SERVICE.md" not in text


def test_dockerfile_copies_every_package_and_runs_unprivileged():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    copied = {line.split()[1] for line in lines if line.startswith("COPY ")}
    assert {"diffusegae", "core", "backend", "worker", "server", "frontend", "models", "pyproject.toml"} <= copied
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the container runs as root"
    assert lines.index(f"USER {users[-1]}") < max(i for i, line in enumerate(lines) if line.startswith("CMD"))
    assert any(line.startswith("ARG TORCH_INDEX") for line in lines), "the GPU workers' build arg is declared"
    ignored = (ROOT / ".dockerignore").read_text().split()
    for package in ("diffusegae", "core", "backend", "worker", "server", "frontend", "models"):
        assert package not in ignored


def _compose_cli() -> tuple[list[str], str] | None:
    """The compose command here and its version (`docker compose` v2, else a standalone `docker-compose`)."""
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) is None:
            continue
        r = subprocess.run([*cmd, "version", "--short"], capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            return cmd, r.stdout.strip().lstrip("v")
    return None


@pytest.mark.parametrize("profiles", [[], ["gpu"], ["multi-gpu"], ["monitoring"]])
def test_docker_compose_config_accepts_the_file(profiles):
    found = _compose_cli()
    if found is None:
        pytest.skip("no docker compose here (the YAML checks above still ran)")
    cmd, version = found
    flags = [x for p in profiles for x in ("--profile", p)]
    r = subprocess.run([*cmd, "-f", str(COMPOSE), *flags, "config", "--services"], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    expected = DEFAULT_SERVICES | {"gpu": {"worker-gpu0"}, "multi-gpu": {"worker-gpu0", "worker-gpu1"},
                                   "monitoring": {"prometheus"}}.get((profiles or [""])[0], set())
    services = set(r.stdout.split())
    if version.startswith("1."):  # compose v1 lists every service, whatever the profiles
        assert expected <= services
    else:
        assert services == expected
