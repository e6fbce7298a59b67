"""Apache Kafka in KRaft mode (one combined broker + controller) from jars fetched from Maven Central and cached.

Custom on purpose: a KRaft node must have its storage formatted with a cluster id (`kafka-storage format`) before
its first start, and the broker runs straight from the cached jars with our JVM flags (no distribution tarball).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from gridwatch.local.process import cache_root, free_port, port_open, tail
from gridwatch.local.server import Server, ServerError

KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "4.4.0")
DATA = Path(str(resources.files("gridwatch.local") / "data"))
KAFKA_FETCH_SCRIPT = DATA / "kafka-fetch.sh"
KAFKA_LOG4J_CONFIG = DATA / "kafka-log4j2.properties"


def ensure_kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """Return the cached Kafka libs dir, running data/kafka-fetch.sh first if it is missing."""
    dest = cache_root() / "kafka" / version
    libs = dest / "libs"
    if (dest / ".complete").is_file() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    env = dict(os.environ, KAFKA_VERSION=version)
    # Progress goes to stderr; stdout only repeats the libs path.
    proc = subprocess.run(["bash", str(KAFKA_FETCH_SCRIPT)], env=env, stdout=subprocess.DEVNULL, check=False)
    if proc.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
        raise ServerError(f"fetching Kafka {version} failed (exit {proc.returncode}); see output above")
    return libs


@dataclass(frozen=True)
class SaslSslListener:
    """A second, secured listener (SASL over TLS) beside the PLAINTEXT one the broker itself and its checks use.

    `keystore` is one PEM file with the broker's private key (PKCS#8, unencrypted) and certificate chain;
    `truststore`, when set, is the CA bundle client certificates are checked against, and `client_auth`
    ("none", "requested", "required") whether they are asked for. SCRAM users are written into the
    storage at format time (kafka-storage format --add-scram); PLAIN users live in the listener's JAAS line.
    """

    keystore: Path
    scram_users: Mapping[str, str] = field(default_factory=dict)
    plain_users: Mapping[str, str] = field(default_factory=dict)
    truststore: Path | None = None
    client_auth: str = "none"
    port: int = field(default_factory=free_port)

    MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")

    def config(self) -> dict[str, str]:
        """The broker properties of the listener (named SASL_SSL)."""
        plain = " ".join(f'user_{name}="{password}"' for name, password in self.plain_users.items())
        cfg = {
            "sasl.enabled.mechanisms": ",".join(self.MECHANISMS),
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "listener.name.sasl_ssl.plain.sasl.jaas.config": (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain};"
            ),
            "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
            "listener.name.sasl_ssl.ssl.keystore.location": str(self.keystore),
            "listener.name.sasl_ssl.ssl.client.auth": self.client_auth,
        }
        if self.truststore is not None:
            cfg["listener.name.sasl_ssl.ssl.truststore.type"] = "PEM"
            cfg["listener.name.sasl_ssl.ssl.truststore.location"] = str(self.truststore)
        return cfg

    def scram_args(self) -> list[str]:
        """kafka-storage format arguments that create the SCRAM credentials (both SHA variants per user)."""
        args: list[str] = []
        for name, password in self.scram_users.items():
            for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
                args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
        return args


class Kafka(Server):
    """Single-node KRaft Kafka (combined broker+controller) from jars cached by kafka/fetch.sh."""

    name = "kafka"
    start_timeout = 90.0

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        port: int | None = None,
        *,
        controller_port: int | None = None,
        version: str = KAFKA_VERSION,
        heap: str = "512m",
        extra_config: Mapping[str, str] | None = None,
        sasl_ssl: SaslSslListener | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.sasl_ssl = sasl_ssl
        self.controller_port: int = controller_port if controller_port is not None else free_port()
        self.version = version
        self.heap = heap
        self.extra_config = dict(extra_config or {})
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "server.properties"
        self.log_path = self.workdir / "server.log"  # written by log4j2
        self.stdout_path = self.workdir / "kafka.out"  # the JVM's own output (crashes, JVM warnings)
        self.cluster_id: str | None = None
        self._libs: Path | None = None
        self._cds_tmp: tuple[Path, Path] | None = None

    @property
    def bootstrap(self) -> str:
        """bootstrap.servers value, e.g. "127.0.0.1:41234"."""
        return f"127.0.0.1:{self.port}"

    @property
    def secure_bootstrap(self) -> str:
        """bootstrap.servers of the SASL_SSL listener (its certificate must name 127.0.0.1)."""
        if self.sasl_ssl is None:
            raise ServerError("this broker has no SASL_SSL listener")
        return f"127.0.0.1:{self.sasl_ssl.port}"

    def config(self) -> dict[str, str]:
        """The server.properties contents this broker runs with."""
        cfg = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "auto.create.topics.enable": "true",
            "num.partitions": "4",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "log.retention.hours": "24",
        }
        if self.sasl_ssl is not None:
            secure = f"SASL_SSL://127.0.0.1:{self.sasl_ssl.port}"
            cfg["listeners"] += f",{secure}"
            cfg["advertised.listeners"] += f",{secure}"
            cfg["listener.security.protocol.map"] += ",SASL_SSL:SASL_SSL"
            cfg.update(self.sasl_ssl.config())
        cfg.update(self.extra_config)
        return cfg

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").exists():
            return str(Path(java_home) / "bin" / "java")
        java = shutil.which("java")
        if java is None:
            raise ServerError("java not found: Kafka needs a JDK/JRE 17+ on PATH or JAVA_HOME")
        return java

    def _cds_flags(self, main_class: str) -> tuple[list[str], tuple[Path, Path] | None]:
        """Class-data-sharing flags: use the cached archive, or record one at this JVM's exit.

        Returns the JVM flags and, when recording, (temporary, final) archive paths for _publish_cds.
        Saves ~1s per JVM start on 2 cores; GRIDWATCH_KAFKA_CDS=0 turns it off.
        """
        if os.environ.get("GRIDWATCH_KAFKA_CDS", "1") == "0" or self._libs is None:
            return [], None
        java = os.path.realpath(self._java())
        try:
            libs_stamp = (self._libs.parent / ".complete").stat().st_mtime_ns
            key = f"{java}:{os.stat(java).st_mtime_ns}:{self.version}:{libs_stamp}"
        except OSError:
            return [], None
        cds_dir = self._libs.parent / "cds"
        archive = cds_dir / f"{main_class}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.jsa"
        if archive.is_file() and archive.stat().st_size > 0:
            return [f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"], None
        cds_dir.mkdir(parents=True, exist_ok=True)
        tmp = cds_dir / f".{archive.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp"
        return [f"-XX:ArchiveClassesAtExit={tmp}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"], (tmp, archive)

    @staticmethod
    def _publish_cds(paths: tuple[Path, Path] | None) -> None:
        """Move an archive recorded at JVM exit into place (atomic; concurrent runs are harmless)."""
        if paths is None:
            return
        tmp, final = paths
        with contextlib.suppress(OSError):
            if tmp.stat().st_size > 0:
                os.replace(tmp, final)
        with contextlib.suppress(OSError):
            tmp.unlink()

    def _java_cmd(self, main_class: str, *args: str, cds: Sequence[str] = ()) -> list[str]:
        assert self._libs is not None
        return [
            self._java(),
            f"-Xmx{self.heap}",
            "-Xms64m",
            "-XX:+UseSerialGC",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            *cds,
            f"-Dkafka.logs.dir={self.workdir}",
            f"-Dlog4j2.configurationFile={KAFKA_LOG4J_CONFIG}",
            "-cp",
            str(self._libs / "*"),
            main_class,
            *args,
        ]

    def _prepare(self) -> None:
        self._libs = ensure_kafka_libs(self.version)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in self.config().items()))
        meta = self.data_dir / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    self.cluster_id = line.split("=", 1)[1].strip()
            return
        # like Kafka's own Uuid.randomUuid(): never begin with "-", which argparse would read as an option
        self.cluster_id = "-"
        while self.cluster_id.startswith("-"):
            self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cds, cds_tmp = self._cds_flags("kafka.tools.StorageTool")
        with open(self.workdir / "format.log", "wb") as out:
            res = subprocess.run(
                self._java_cmd(
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={self.cluster_id}",
                    "--config",
                    str(self.config_path),
                    "--ignore-formatted",
                    *(self.sasl_ssl.scram_args() if self.sasl_ssl is not None else []),
                    cds=cds,
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                check=False,
            )
        self._publish_cds(cds_tmp)
        if res.returncode != 0:
            raise ServerError(f"kafka storage format failed:\n{tail(self.workdir / 'format.log')}")

    def _command(self) -> list[str]:
        cds, self._cds_tmp = self._cds_flags("kafka.Kafka")
        return self._java_cmd("kafka.Kafka", str(self.config_path), cds=cds)

    def stop(self) -> None:
        """Controlled shutdown (SIGTERM), SIGKILL after the start timeout; keeps a class-data archive it recorded."""
        super().stop()
        self._publish_cds(self._cds_tmp)
        self._cds_tmp = None

    def _is_ready(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            from confluent_kafka.admin import AdminClient
        except ImportError:
            try:
                return "Kafka Server started" in self.log_path.read_text(errors="replace")
            except OSError:
                return False
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0, "socket.timeout.ms": 2000})
        try:
            md = admin.list_topics(timeout=2)
        except Exception:  # KafkaException while the broker is still registering
            return False
        return len(md.brokers) >= 1

    def env(self) -> dict[str, str]:
        return {"GRIDWATCH_KAFKA_BOOTSTRAP": self.bootstrap}
