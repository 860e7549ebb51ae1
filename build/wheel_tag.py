"""The sparkdl wheel's platform tag, read from what its native libraries need of the C library.

    python3 build/wheel_tag.py python/sparkdl/jars/*.jar     # prints e.g. manylinux_2_34_x86_64

The wheel is Python code plus jars, and the jars carry native libraries for Linux x86-64 (the
Rust library, Arrow's C Data JNI library). The tag is ``manylinux_2_<N>_x86_64`` (PEP 600), where
2.N is the newest ``GLIBC_2.N`` symbol version that any x86-64 library in the jars requires (its
ELF ``.gnu.version_r`` section, as ``objdump -p`` lists under "Version References"; weak
references are left out, as the dynamic loader allows them to be missing). pip then installs the
wheel exactly where the C library is new enough to load them. A library that needs anything
beyond the C and C++ runtimes PEP 600 lets a wheel assume fails here, with its name, because the
tag would then promise more than the wheel keeps. Standard library only (make dist and the wheel
test run it).
"""

from __future__ import annotations

import re
import struct
import sys
import zipfile
from pathlib import Path
from typing import Dict, Iterable, Set, Tuple

EM_X86_64 = 62
SHT_DYNAMIC = 6
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NEEDED = 1
VER_FLG_WEAK = 0x2

# The system libraries a manylinux wheel may link against on x86-64 without bundling them
# (PEP 600 defers to the auditwheel policy's list; these are the ones a Rust or C++ library uses).
SYSTEM_LIBRARIES = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "ld-linux-x86-64.so.2",
}


class ElfNeeds:
    """What one ELF shared library needs at load time: its DT_NEEDED libraries and the symbol
    versions it requires from each (strong references only)."""

    def __init__(self, machine: int, needed: Tuple[str, ...], versions: Set[Tuple[str, str]]):
        self.machine = machine
        self.needed = needed
        self.versions = versions

    def glibc(self) -> Tuple[int, int]:
        """The newest GLIBC_x.y it requires, as (x, y); (2, 0) when it requires none."""
        found = [(2, 0)]
        for _, version in self.versions:
            m = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", version)
            if m:
                found.append((int(m.group(1)), int(m.group(2))))
        return max(found)


def read_elf(data: bytes) -> ElfNeeds:
    """Parses a 64-bit little-endian ELF file's section headers, dynamic section and version
    needs. Raises ValueError for anything else."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (machine,) = struct.unpack_from("<H", data, 18)
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        _, sh_type, _, _, offset, size, link, info, _, _ = struct.unpack_from(
            "<IIQQQQIIQQ", data, shoff + i * shentsize
        )
        sections.append((sh_type, offset, size, link, info))

    def string(section: int, offset: int) -> str:
        start = sections[section][1] + offset
        return data[start : data.index(b"\0", start)].decode()

    needed = []
    versions = set()
    for sh_type, offset, size, link, info in sections:
        if sh_type == SHT_DYNAMIC:
            for pos in range(offset, offset + size, 16):
                tag, value = struct.unpack_from("<qQ", data, pos)
                if tag == DT_NEEDED:
                    needed.append(string(link, value))
        elif sh_type == SHT_GNU_VERNEED:
            pos = offset
            for _ in range(info):  # sh_info: the number of Elf64_Verneed entries
                _, count, file_name, aux, next_need = struct.unpack_from("<HHIII", data, pos)
                library = string(link, file_name)
                aux_pos = pos + aux
                for _ in range(count):
                    _, flags, _, name, next_aux = struct.unpack_from("<IHHII", data, aux_pos)
                    if not flags & VER_FLG_WEAK:
                        versions.add((library, string(link, name)))
                    aux_pos += next_aux
                pos += next_need
    return ElfNeeds(machine, tuple(needed), versions)


def jar_libraries(jar: Path) -> Dict[str, ElfNeeds]:
    """The x86-64 ELF libraries inside a jar (other architectures' are skipped), by entry name."""
    found = {}
    with zipfile.ZipFile(jar) as z:
        for name in z.namelist():
            if name.endswith(".so"):
                data = z.read(name)
                if data[:4] == b"\x7fELF":
                    elf = read_elf(data)
                    if elf.machine == EM_X86_64:
                        found[name] = elf
    return found


def platform_tag(jars: Iterable[Path]) -> str:
    """``manylinux_2_<N>_x86_64`` for the x86-64 native libraries of ``jars``.

    :raises ValueError: when the jars hold no x86-64 library, or one needs a library outside
        :data:`SYSTEM_LIBRARIES` (the tag would not be true).
    """
    newest = None
    for jar in jars:
        for name, elf in jar_libraries(Path(jar)).items():
            extra = sorted(set(elf.needed) - SYSTEM_LIBRARIES)
            if extra:
                raise ValueError(
                    f"{jar}!{name} needs {', '.join(extra)}, which a manylinux wheel may not assume is "
                    "installed: link it statically into the native library (or bundle it and widen "
                    "SYSTEM_LIBRARIES in build/wheel_tag.py with the reason)"
                )
            newest = max(newest or elf.glibc(), elf.glibc())
    if newest is None:
        raise ValueError("no x86-64 native library in the jars: build them with `make jars`")
    return f"manylinux_{newest[0]}_{newest[1]}_x86_64"


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python3 build/wheel_tag.py JAR...")
    print(platform_tag(Path(a) for a in sys.argv[1:]))
