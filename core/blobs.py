"""Blobs: named byte strings that every process of a deployment reads and writes (core.store names them).

Two backends behind one interface:

- `FolderBlobs`: a folder (the embedded default, `DGAE_STORE_DIR`); a key is a relative path. A write goes to a
  temporary name first and is renamed into place, so a reader never sees half a blob.
- `S3Blobs`: a bucket of an S3 server (`DGAE_STORE_URL=s3://BUCKET/PREFIX`, `DGAE_S3_ENDPOINT` for a server other
  than AWS, credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); a key is an object name under PREFIX. S3
  PUT is atomic: a reader sees the old object or the new one. The client is boto3, AWS's own SDK: it signs requests,
  retries throttled and dropped ones with backoff (botocore's "standard" mode) and streams bodies, all of which we
  would otherwise write by hand; the bucket is created when missing.

A backend that cannot be reached raises `StoreUnavailable` (the API answers 503 "store unavailable"); a missing
blob is `BlobNotFound`.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

CHUNK = 1 << 16  # bytes per piece when a blob is streamed


class StoreUnavailable(RuntimeError):
    """The object store does not answer (or refuses us); the message says which and why."""


class BlobNotFound(FileNotFoundError):
    pass


class Blobs(ABC):
    where: str  # for people: the folder or the s3:// URL

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write `key` whole (a reader sees the old value or the new one, never a part)."""

    @abstractmethod
    def put_new(self, key: str, data: bytes) -> bool:
        """Write `key` only when it does not exist -> whether this call wrote it."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The blob's bytes (BlobNotFound when there is none)."""

    @abstractmethod
    def stream(self, key: str) -> Iterator[bytes]:
        """The blob in pieces of at most CHUNK bytes (BlobNotFound when there is none, before the first piece)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key` (nothing happens when there is none)."""

    @abstractmethod
    def keys(self, prefix: str) -> Iterator[str]:
        """Every key that starts with `prefix`."""

    def delete_prefix(self, prefix: str) -> None:
        for key in list(self.keys(prefix)):
            self.delete(key)

    @abstractmethod
    def check(self) -> None:
        """StoreUnavailable, with the reason, unless the store answers."""


class FolderBlobs(Blobs):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.where = str(self.root)

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def put_new(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        try:
            os.link(tmp, path)  # never replaces what another process wrote first
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink()

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key) from None

    def stream(self, key: str) -> Iterator[bytes]:
        try:
            f = self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key) from None
        return _pieces(f)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        for p in base.rglob("*"):
            key = p.relative_to(self.root).as_posix()
            if p.is_file() and key.startswith(prefix) and not p.name.endswith(".tmp"):
                yield key

    def delete_prefix(self, prefix: str) -> None:
        super().delete_prefix(prefix)
        if prefix.endswith("/"):  # and the folder itself (empty now)
            shutil.rmtree(self._path(prefix.rstrip("/")), ignore_errors=True)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreUnavailable(f"store unavailable: the folder {self.root} cannot be used: {e}") from None


def _pieces(f) -> Iterator[bytes]:
    with f:
        while piece := f.read(CHUNK):
            yield piece


class S3Blobs(Blobs):
    def __init__(self, bucket: str, prefix: str = "", endpoint: str | None = None, timeout: float = 5.0) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.where = f"s3://{bucket}/{self.prefix}" + (f" at {endpoint}" if endpoint else "")
        config = Config(connect_timeout=timeout, read_timeout=max(timeout, 30.0),
                        retries={"max_attempts": 4, "mode": "standard"}, s3={"addressing_style": "path"},
                        # integrity: TCP, and the SHA-256 of every model file (diffusegae.registry); no CRC per request
                        request_checksum_calculation="when_required", response_checksum_validation="when_required")
        self._s3 = boto3.client("s3", endpoint_url=endpoint or None, config=config,
                                region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
        self._bucket_made = False
        self._lock = threading.Lock()

    def _call(self, op: str, **kw):
        """One S3 call -> its answer; connection failures and server errors become StoreUnavailable."""
        from botocore.exceptions import BotoCoreError, ClientError

        self._ensure_bucket()
        try:
            return getattr(self._s3, op)(Bucket=self.bucket, **kw)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise BlobNotFound(kw.get("Key", "")) from None
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise FileExistsError(kw.get("Key", "")) from None
            raise StoreUnavailable(f"store unavailable: {self.where} answered {code or e}") from None
        except BotoCoreError as e:
            raise StoreUnavailable(f"store unavailable: {self.where}: {e}") from None

    def _ensure_bucket(self) -> None:
        if self._bucket_made:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        with self._lock:
            if self._bucket_made:
                return
            try:
                self._s3.head_bucket(Bucket=self.bucket)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                    raise StoreUnavailable(f"store unavailable: {self.where}: {e}") from None
                try:
                    self._s3.create_bucket(Bucket=self.bucket)
                except ClientError as made:  # another process made it first
                    code = made.response.get("Error", {}).get("Code")
                    if code == "InvalidBucketName":
                        raise StoreUnavailable(f"store unavailable: {self.bucket!r} is not a valid S3 bucket name (3-63 "
                                               "lowercase letters, digits, dots and hyphens): fix DGAE_STORE_URL") from None
                    if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise StoreUnavailable(f"store unavailable: cannot create {self.where}: {made}") from None
            except BotoCoreError as e:
                raise StoreUnavailable(f"store unavailable: {self.where}: {e}") from None
            self._bucket_made = True

    def _key(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"not a blob key: {key!r}")
        return self.prefix + key

    def put(self, key: str, data: bytes) -> None:
        self._call("put_object", Key=self._key(key), Body=data)

    def put_new(self, key: str, data: bytes) -> bool:
        try:
            self._call("put_object", Key=self._key(key), Body=data, IfNoneMatch="*")
            return True
        except FileExistsError:
            return False

    def get(self, key: str) -> bytes:
        return self._call("get_object", Key=self._key(key))["Body"].read()

    def stream(self, key: str) -> Iterator[bytes]:
        body = self._call("get_object", Key=self._key(key))["Body"]
        return body.iter_chunks(CHUNK)

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=self._key(key))
            return True
        except BlobNotFound:
            return False

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=self._key(key))

    def keys(self, prefix: str) -> Iterator[str]:
        token = None
        while True:
            page = self._call("list_objects_v2", Prefix=self.prefix + prefix,
                              **({"ContinuationToken": token} if token else {}))
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self.prefix):]
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def check(self) -> None:
        self._bucket_made = False  # ask the server now, not what a past call found
        self._ensure_bucket()


def open_blobs(store_url: str, store_dir: Path, endpoint: str | None = None, timeout: float = 5.0) -> Blobs:
    """The backend `DGAE_STORE_URL` names: "" -> the folder `store_dir`; s3://BUCKET/PREFIX -> that bucket."""
    if not store_url:
        return FolderBlobs(store_dir)
    parts = urlsplit(store_url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"DGAE_STORE_URL {store_url!r} is not s3://BUCKET/PREFIX (leave it empty for the folder "
                         "DGAE_STORE_DIR)")
    return S3Blobs(parts.netloc, parts.path, endpoint, timeout)
