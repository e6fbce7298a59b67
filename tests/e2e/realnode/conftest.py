"""Session fixture: a control plane with a real node (kubelet, containerd, CoreDNS) beside one kwok node.

Teardown checks that nothing of the node (processes, mounts, cgroups, veths, iptables chains,
sysctls) is left on the machine.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.cluster import Cluster
from tests.e2e.realnode.sample_site import Site, running_site
from tests.infra.controlplane import K8S_SCRIPTS, ControlPlane

IMAGES_BUILD = K8S_SCRIPTS.parent / "images" / "build.sh"


@dataclass(frozen=True)
class Image:
    """An image built by `make images`: its name and its OCI layout tar."""

    name: str
    tar: Path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test here may build the node and the images (cached after that): allow it the time.

    The sample site is one fixture for this package (`site`): its tests run last here and together, so it is up only
    while they run and no other real-node test shares the two cores with it; test_site.py's first, as its first test
    brings the site up and checks it as it came up (test_api_hpa.py changes the site and then restores it)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(1800))

    def group(item: pytest.Item) -> int:
        module = Path(str(item.fspath)).name
        if module == "test_site.py":
            return 1
        # a module of whose tests any uses the site stays whole after test_site.py (its module fixtures set up once)
        return 2 if module in site_modules else 0

    mine = [i for i, item in enumerate(items) if here in Path(str(item.fspath)).parents]
    site_modules = {Path(str(items[i].fspath)).name for i in mine if "site" in getattr(items[i], "fixturenames", ())}
    # Reordered among the places they had (other directories' tests stay where they are); stable within a group.
    for at, item in zip(mine, sorted((items[i] for i in mine), key=group), strict=True):
        items[at] = item


@pytest.fixture(scope="session")
def real_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A plane whose real node runs pods; its kwok node carries kwok's NoSchedule taint."""
    if os.geteuid() != 0:
        pytest.skip("a real node needs root (docs/control-plane.md, 'A real node')")
    plane = ControlPlane(real_node=True, nodes=1, start_timeout=120)
    plane.ensure_built()
    workdir: Path = tmp_path_factory.mktemp("realnode") / "k8s"
    plane.start(workdir)
    yield plane
    plane.stop()
    leftovers = plane.node_leftovers()
    assert leftovers == [], f"the real node left things behind: {leftovers}"


@pytest.fixture(scope="session")
def real_cluster(real_plane: ControlPlane) -> Cluster:
    """kubectl/helm helpers on the real-node plane."""
    return Cluster(real_plane)


@pytest.fixture(scope="session")
def built_images() -> dict[str, Image]:
    """`tests/infra/images/build.sh` (cached by content hash): the workloads and operator images."""
    if os.geteuid() != 0:
        pytest.skip("the Docker-free image build needs root (mmdebstrap, chroot)")
    proc = subprocess.run(["bash", str(IMAGES_BUILD)], stdout=subprocess.PIPE, text=True, check=False, timeout=1500)
    assert proc.returncode == 0, f"images/build.sh failed ({proc.returncode})"
    images = {}
    for line in proc.stdout.strip().splitlines():
        name, tar = line.split()
        images["operator" if "operator" in name else "workloads"] = Image(name, Path(tar))
    assert set(images) == {"workloads", "operator"}
    return images


@pytest.fixture(scope="session")
def node_images(real_plane: ControlPlane, built_images: dict[str, Image]) -> dict[str, Image]:
    """The two images, loaded into the real node's containerd."""
    for image in built_images.values():
        real_plane.ctr("images", "import", str(image.tar), timeout=600)
    return built_images


@pytest.fixture(scope="package")
def site(
    real_plane: ControlPlane,
    real_cluster: Cluster,
    node_images: dict[str, Image],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    """The sample site on real pods (sample_site.py), brought up once for every module here that uses it."""
    with running_site(real_plane, real_cluster, node_images, tmp_path_factory) as site:
        yield site
