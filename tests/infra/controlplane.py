"""A real, Docker-free Kubernetes control plane for tests.

Thin typed wrapper around the shell scripts in ``tests/infra/k8s/``:

* ``build.sh`` builds (once, cached under ``~/.cache/gridwatch/k8s/<version>/bin``)
  kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok, helm and etcd;
* ``start.sh DIR`` starts etcd, the three control-plane components and kwok on
  127.0.0.1, creates fake kwok Nodes and writes ``DIR/kubeconfig``;
* ``stop.sh DIR`` stops them again;
* with ``real_node=True``, ``build-node.sh`` / ``start-node.sh DIR`` add a real node (kubelet,
  containerd, runc, bridge CNI, kube-proxy, CoreDNS) that runs real containers; ``stop.sh``
  removes it and checks that nothing of it is left on the machine (:meth:`ControlPlane.node_leftovers`).

Usage::

    with ControlPlane() as cp:            # ensure_built() + start() on a temp dir
        cp.kubectl("get", "nodes")
        cp.helm("install", "x", "chart/")

See ``docs/control-plane.md`` for versions, timings and gotchas.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

__all__ = ["DEFAULT_K8S_VERSION", "K8S_SCRIPTS", "ControlPlane", "ControlPlaneError"]

K8S_SCRIPTS = Path(__file__).resolve().parent / "k8s"
DEFAULT_K8S_VERSION = "v1.37.2"


class ControlPlaneError(RuntimeError):
    """Building, starting or talking to the control plane failed."""


def _cache_root() -> Path:
    env = os.environ.get("GRIDWATCH_K8S_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "gridwatch" / "k8s"


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok on loopback.

    ``bin_dir`` is known up front (the version-keyed cache directory); ``kubeconfig`` and
    ``workdir`` are available once :meth:`start` returned.  Not thread-safe.
    """

    def __init__(
        self,
        *,
        k8s_version: str | None = None,
        nodes: int = 2,
        start_timeout: float = 90,
        env: Mapping[str, str] | None = None,
        real_node: bool = False,
    ) -> None:
        self.k8s_version = k8s_version or os.environ.get("K8S_VERSION") or DEFAULT_K8S_VERSION
        self.nodes = nodes
        self.start_timeout = start_timeout
        self.bin_dir: Path = _cache_root() / self.k8s_version / "bin"
        self._extra_env = dict(env or {})
        self._workdir: Path | None = None
        self._owns_workdir = False
        self._kubeconfig: Path | None = None
        self._built = False
        self.real_node = real_node
        self._leftovers: list[str] | None = None

    # -- state -------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (client certs embedded) of the running plane."""
        if self._kubeconfig is None:
            raise ControlPlaneError("control plane not started")
        return self._kubeconfig

    @property
    def workdir(self) -> Path:
        """Directory holding kubeconfig, pki/, logs/ and pids/ of the running plane."""
        if self._workdir is None:
            raise ControlPlaneError("control plane not started")
        return self._workdir

    @property
    def running(self) -> bool:
        return self._kubeconfig is not None

    def env(self) -> dict[str, str]:
        """Environment for subprocesses: cached binaries first on PATH, KUBECONFIG set,
        kubectl/helm caches and config kept inside the work dir (not in $HOME)."""
        env = dict(os.environ)
        env.update(self._extra_env)
        env["K8S_VERSION"] = self.k8s_version
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        if self._workdir is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
            env["KUBECACHEDIR"] = str(self._workdir / "kube-cache")
            for name in ("CACHE", "CONFIG", "DATA"):
                env[f"HELM_{name}_HOME"] = str(self._workdir / "helm" / name.lower())
        return env

    # -- lifecycle ---------------------------------------------------------------------
    def ensure_built(self) -> Path:
        """Run ``build.sh`` (a no-op taking well under a second when cached); returns ``bin_dir``.

        The first build compiles Kubernetes from the Go module proxy (tens of minutes on
        two cores); progress goes to this process's stderr.
        """
        proc = subprocess.run(
            [str(K8S_SCRIPTS / "build.sh")],
            env=self.env(),
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ControlPlaneError(f"build.sh failed with exit code {proc.returncode}")
        lines = proc.stdout.strip().splitlines()
        if not lines:
            raise ControlPlaneError("build.sh printed no bin directory")
        self.bin_dir = Path(lines[-1])
        if self.real_node:
            node = subprocess.run(
                [str(K8S_SCRIPTS / "build-node.sh")], env=self.env(), stdout=subprocess.PIPE, text=True, check=False
            )
            if node.returncode != 0:
                raise ControlPlaneError(f"build-node.sh failed with exit code {node.returncode}")
        self._built = True
        return self.bin_dir

    def start(self, workdir: str | os.PathLike[str] | None = None) -> Path:
        """Start the plane in ``workdir`` (a fresh temp dir when None, removed by :meth:`stop`).

        Blocks until ``/readyz`` is ok, the fake Nodes are Ready and the ``default``
        ServiceAccount exists; returns the kubeconfig path.  On failure the component logs
        are left in ``workdir/logs`` and everything started is stopped again.
        """
        if self.running:
            raise ControlPlaneError(f"already running in {self._workdir}")
        if not self._built:
            self.ensure_built()
        if workdir is None:
            path = Path(tempfile.mkdtemp(prefix="gridwatch-k8s-"))
            owns = True
        else:
            path = Path(workdir).resolve()
            path.mkdir(parents=True, exist_ok=True)
            owns = False
        env = self.env()
        env.update(
            K8S_BIN_DIR=str(self.bin_dir),
            K8S_NODES=str(self.nodes),
            K8S_START_TIMEOUT=str(int(self.start_timeout)),
            # A watchdog stops the plane should this process die without calling stop().
            K8S_OWNER_PID=str(os.getpid()),
            K8S_REAL_NODE="1" if self.real_node else "0",
        )
        proc = subprocess.run(
            [str(K8S_SCRIPTS / "start.sh"), str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=self.start_timeout * 3 + 60,
        )
        if proc.returncode != 0:
            raise ControlPlaneError(
                f"start.sh failed with exit code {proc.returncode} (logs in {path / 'logs'}):\n{proc.stderr}"
            )
        self._workdir = path
        self._owns_workdir = owns
        self._kubeconfig = path / "kubeconfig"
        self._leftovers = None
        if self.real_node:
            node = subprocess.run(
                [str(K8S_SCRIPTS / "start-node.sh"), str(path)],
                env={**env, "K8S_NODE_BIN_DIR": str(self.bin_dir)},
                capture_output=True,
                text=True,
                check=False,
                timeout=self.start_timeout * 3 + 60,
            )
            if node.returncode != 0:
                self.stop()
                raise ControlPlaneError(
                    f"start-node.sh failed with exit code {node.returncode} (logs in {path / 'node' / 'logs'}):\n"
                    f"{node.stderr}"
                )
        return self._kubeconfig

    @property
    def node_dir(self) -> Path:
        """State of the real node (``workdir/node``): env, logs/, pids/, containerd.sock."""
        return self.workdir / "node"

    def ctr(self, *args: str, timeout: float | None = 300) -> subprocess.CompletedProcess[str]:
        """Run ``ctr`` against the real node's containerd, namespace k8s.io (e.g. ``images import``)."""
        cmd = [str(self.bin_dir / "ctr"), "--address", str(self.node_dir / "containerd.sock"), "-n", "k8s.io", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
        if proc.returncode != 0:
            raise ControlPlaneError(f"ctr {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
        return proc

    def node_leftovers(self) -> list[str]:
        """What the last stop() found left of the real node (processes, mounts, cgroups, veths, chains)."""
        if self._leftovers is None:
            raise ControlPlaneError("no real node was stopped yet")
        return list(self._leftovers)

    def stop(self) -> None:
        """Stop every process of the plane (idempotent); removes the work dir if we made it."""
        if self._workdir is None:
            return
        subprocess.run([str(K8S_SCRIPTS / "stop.sh"), str(self._workdir)], check=False, timeout=180)
        leftovers = self._workdir / "node" / "leftovers"
        if leftovers.exists():
            self._leftovers = [line for line in leftovers.read_text().splitlines() if line.strip()]
        if self._owns_workdir and not os.environ.get("GRIDWATCH_K8S_KEEP"):
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None
        self._kubeconfig = None
        self._owns_workdir = False

    def __enter__(self) -> ControlPlane:
        self.ensure_built()
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- clients -----------------------------------------------------------------------
    def _run(
        self,
        binary: str,
        args: tuple[str, ...],
        *,
        check: bool,
        input: str | None,
        timeout: float | None,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / binary), "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(
            cmd,
            env=self.env(),
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise ControlPlaneError(
                f"{binary} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
            )
        return proc

    def kubectl(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this plane; output captured as text.

        Raises :class:`ControlPlaneError` on a non-zero exit unless ``check=False``.
        """
        return self._run("kubectl", args, check=check, input=input, timeout=timeout)

    def helm(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run helm against this plane (helm's cache/config/data live in the work dir)."""
        return self._run("helm", args, check=check, input=input, timeout=timeout)
