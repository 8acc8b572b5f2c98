"""Tiny but valid wheels and sdists, made in the test (no build backend, no network)."""

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(
    directory: Path, name: str = "tinypkg", version: str = "1.0.0", requires_python: str = ">=3.8"
) -> Path:
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Summary: A test package\nRequires-Python: {requires_python}\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    path = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, data in files.items():
            wheel.writestr(member, data)
        wheel.writestr(f"{dist_info}/RECORD", record)
    return path


def build_sdist(directory: Path, name: str = "tinypkg", version: str = "1.0.0") -> Path:
    module = name.replace("-", "_")
    root = f"{module}-{version}"
    members = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{module}/__init__.py": f'VERSION = "{version}"\n'.encode(),
    }
    path = directory / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as sdist:
        for member, data in members.items():
            info = tarfile.TarInfo(f"{root}/{member}")
            info.size = len(data)
            sdist.addfile(info, io.BytesIO(data))
    return path
