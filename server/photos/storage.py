"""Content-addressed photo storage: the key is the SHA-256 of the bytes.

A worker on a weak 4G link retries uploads; with the hash as the key a retried or duplicated
photo lands on the same object, so storage is idempotent and needs no cleanup of copies.
Both backends use the same layout, `ab/cd/abcd…`, so a media directory can be copied to a
bucket (or back) as is.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from server.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from server.config import Settings

_KEY = re.compile(r"[0-9a-f]{64}")


@runtime_checkable
class PhotoStorage(Protocol):
    """Where photo bytes live; the database keeps only the key."""

    def put(self, data: bytes, *, content_type: str) -> str: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...


def photo_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_key(key: str) -> str:
    """Refuse anything but 64 lowercase hex chars: keys reach file paths and object names."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):  # fullmatch: "$" would allow a trailing "\n"
        raise InvalidInput("invalid photo key", "照片标识无效", code="invalid_photo_key")
    return key


def key_path(key: str) -> str:
    """Two-level fan-out so no directory holds millions of entries."""
    check_key(key)
    return f"{key[:2]}/{key[2:4]}/{key}"


def _not_found(key: str) -> NotFound:
    return NotFound("photo not found", "照片不存在", code="photo_not_found", detail={"key": key})


class FileSystemStorage:
    """Photos under `root`; writes are atomic, so a reader never sees half a photo."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key_path(key)

    def put(self, data: bytes, *, content_type: str) -> str:
        """Store once; the content type is not kept, since it is sniffed from the bytes anyway."""
        key = photo_key(data)
        target = self.path(key)
        if target.is_file():
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; a web server may serve these files
            os.replace(tmp, target)  # concurrent puts of the same photo replace equal bytes
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return key

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise _not_found(key) from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        """Idempotent: deleting a missing photo is not an error."""
        self.path(key).unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable, not only the file's bytes (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Storage:
    """Photos in an S3-compatible bucket (AWS, MinIO, Aliyun OSS, Tencent COS…)."""

    def __init__(self, bucket: str, *, client: Any, prefix: str = "") -> None:
        self.bucket = bucket
        self.client = client
        self.prefix = prefix

    def object_key(self, key: str) -> str:
        return self.prefix + key_path(key)

    def put(self, data: bytes, *, content_type: str) -> str:
        """A HEAD first skips re-sending bytes we already have; S3 PUTs are atomic anyway."""
        key = photo_key(data)
        if not self.exists(key):
            self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data,
                                   ContentType=content_type)
        return key

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except self.client.exceptions.NoSuchKey:
            raise _not_found(key) from None
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))


def storage_from_settings(settings: Settings) -> PhotoStorage:
    """Build the configured backend; boto3 is imported only when S3 is chosen."""
    backend = settings.media_backend.lower()
    if backend == "filesystem":
        return FileSystemStorage(Path(settings.media_root))
    if backend != "s3":
        raise ValueError(f"GRIDOPS_MEDIA_BACKEND must be 'filesystem' or 's3', not {settings.media_backend!r}")
    if not settings.s3_bucket:
        raise ValueError("GRIDOPS_S3_BUCKET is required when GRIDOPS_MEDIA_BACKEND=s3")
    secret = settings.s3_secret_access_key
    if bool(settings.s3_access_key_id) != bool(secret):
        raise ValueError("set both or neither of GRIDOPS_S3_ACCESS_KEY_ID and GRIDOPS_S3_SECRET_ACCESS_KEY")
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise RuntimeError("S3 media storage needs boto3: pip install 'gridops[s3]'") from exc
    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url or None,
        region_name=settings.s3_region or None,
        aws_access_key_id=settings.s3_access_key_id or None,  # None: boto3's usual credential chain
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=Config(s3={"addressing_style": settings.s3_addressing_style}),
    )
    return S3Storage(settings.s3_bucket, client=client, prefix=settings.s3_prefix)
