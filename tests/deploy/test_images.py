"""The container images' runtime stages install the shared libraries that the
binaries they copy need, and no others: every library a binary names (its
NEEDED entries) comes from a package the stage installs or the base image
has, and every `lib*` package the stage installs provides a library one of
its binaries loads (ldd: libraries of libraries count). The binaries are this checkout's build, on a
Debian host like the images' base (dpkg says which package ships a file)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, binary

BASE_PACKAGES = {"libc6", "zlib1g", "libgcc-s1", "libstdc++6"}  # in debian:*-slim
# A sanitizer build's runtimes (make SANITIZER=...): the images build without one.
SANITIZER_RUNTIMES = ("libasan.", "libubsan.", "liblsan.", "libtsan.")


def runtime_stage(dockerfile):
    """(apt packages, binaries copied from the build stage) of the last stage."""
    text = dockerfile.read_text()
    last = text[text.rindex("\nFROM ${BASE}\n"):]
    install = re.search(r"apt-get install -y --no-install-recommends \\\n(.*?)\n \&\&", last,
                        re.S).group(1)
    packages = set(install.replace("\\", " ").split())
    copied = [Path(p).name for m in re.finditer(r"COPY --from=build (.*)", last)
              for p in m.group(1).split()[:-1]]
    return packages, copied


def named(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", out))


def loaded(path):
    """The shared libraries a binary loads, with their paths."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    return {m.group(1): m.group(2) for m in re.finditer(r"^\s*(\S+) => (/\S+)", out, re.M)
            if not m.group(1).startswith(SANITIZER_RUNTIMES)}


def packages_of(paths):
    """Path -> the package that ships it (dpkg -S; merged /usr: either name)."""
    ask = {}
    for p in paths:
        for q in (p, str(Path(p).resolve())):
            ask[q] = p
            ask[q.replace("/usr/lib/", "/lib/", 1) if q.startswith("/usr/lib/")
                else q.replace("/lib/", "/usr/lib/", 1)] = p
    out = subprocess.run(["dpkg", "-S", *ask], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        pkgs, _, path = line.partition(": ")
        if path in ask:
            found[ask[path]] = pkgs.split(",")[0].split(":")[0].strip()
    return found


@pytest.mark.parametrize("name", ["worker", "dispatcher"])
def test_runtime_libraries_are_the_ones_the_binaries_load(name):
    if shutil.which("dpkg") is None or shutil.which("ldd") is None:
        pytest.skip("needs a Debian host (dpkg, ldd) like the images' base")
    packages, copied = runtime_stage(ROOT / "deploy" / f"Dockerfile.{name}")
    assert copied, name
    libs = {b: (named(binary(b)), loaded(binary(b))) for b in copied}
    owner = packages_of({p for _, lib in libs.values() for p in lib.values()})
    direct, anyhow = {}, set()
    for b, (names, lib) in libs.items():
        for soname, path in lib.items():
            pkg = owner.get(path)
            assert pkg, (b, soname, path)
            anyhow.add(pkg)
            if soname in names:
                direct.setdefault(pkg, set()).add(soname)
    unused = {p for p in packages if p.startswith("lib") and p not in anyhow}
    assert not unused, f"Dockerfile.{name} installs {sorted(unused)}, which no binary loads"
    missing = set(direct) - packages - BASE_PACKAGES
    assert not missing, f"Dockerfile.{name} lacks {sorted(missing)} ({direct})"
