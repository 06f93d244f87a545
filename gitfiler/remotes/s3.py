"""S3 and S3-compatible remotes (MinIO, Ceph RGW, R2, GCS interop) through boto3.

Credentials come only from boto3's standard chain (env, profile, instance role).
boto3 never retries a connection reset after the response headers, so body reads
are retried here, resuming with a Range request; the SHA-256 check at the end
covers every byte whichever attempt delivered it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from typing import Any, Iterator

from ..config import RemoteConfig
from ..errors import IntegrityError, ObjectMissingError, RemoteError
from ..objects import OID_PREFIX, ObjectStore, Progress, hash_file, oid_of_relpath, relpath_of
from . import Remote

SMALL_OBJECT = 8 * 1024 * 1024
DEFAULT_MAX_ATTEMPTS = 5
BODY_RETRIES = 5


class S3Remote(Remote):
    LIST_PAGE = 1000

    def __init__(self, cfg: RemoteConfig, location: str, *, jobs: int = 8) -> None:
        import boto3
        import botocore.config
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        self.name = cfg.name
        self.url = cfg.url
        self.jobs = jobs
        # A multipart transfer already runs its parts in parallel; several at once only
        # contend for the same connections, so large objects go one at a time.
        self._large = threading.Semaphore(1)
        self._estimate: int | None = None
        self.bucket, _, prefix = location.partition("/")
        self.prefix = prefix.strip("/")
        self.endpoint_url = os.environ.get("GITFILER_S3_ENDPOINT_URL") or cfg.endpoint_url
        self._errors = (BotoCoreError, ClientError)
        attempts = int(os.environ.get("GITFILER_S3_MAX_ATTEMPTS") or cfg.max_attempts or DEFAULT_MAX_ATTEMPTS)
        try:
            session = boto3.session.Session(profile_name=cfg.profile, region_name=cfg.region)
            self.client = session.client(
                "s3",
                endpoint_url=self.endpoint_url,
                config=botocore.config.Config(
                    retries={"max_attempts": attempts, "mode": "adaptive"},
                    max_pool_connections=max(10, jobs * 2),
                    connect_timeout=10,
                    read_timeout=60,
                ),
            )
        except BotoCoreError as err:
            raise RemoteError(f"remote '{self.name}': cannot set up S3 access: {err}") from None
        # Uploads: boto3's 8 MiB parts. Downloads: 64 MiB ranges, because some S3-compatible
        # servers (moto among them) re-read the whole object for every ranged GET.
        self.upload_config = TransferConfig(multipart_threshold=SMALL_OBJECT, multipart_chunksize=8 * 1024 * 1024, max_concurrency=10)
        self.transfer_config = TransferConfig(multipart_threshold=64 * 1024 * 1024, multipart_chunksize=64 * 1024 * 1024, max_concurrency=8)

    # -- helpers ------------------------------------------------------------------

    def key(self, oid: str) -> str:
        rel = relpath_of(oid)
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"{self.name} ({self.url}{where})"

    def _fail(self, err: Exception, doing: str) -> RemoteError:
        from botocore.exceptions import (
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ProfileNotFound,
        )

        where = f"remote '{self.name}' ({self.url})"
        if isinstance(err, EndpointConnectionError):
            return RemoteError(f"{where}: cannot reach {self.endpoint_url or 'S3'} while {doing}; check the endpoint URL and your network")
        if isinstance(err, (NoCredentialsError, PartialCredentialsError)):
            return RemoteError(f"{where}: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        if isinstance(err, ProfileNotFound):
            return RemoteError(f"{where}: {err}; fix 'profile' with 'git filer remote add --force' or set AWS_PROFILE")
        if isinstance(err, ClientError):
            code = str(err.response.get("Error", {}).get("Code", ""))
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return RemoteError(f"{where}: bucket '{self.bucket}' does not exist; create it or fix the remote URL")
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken") or status == 403:
                return RemoteError(f"{where}: access denied ({code or status}) while {doing}; check your AWS credentials and the bucket policy")
            return RemoteError(f"{where}: S3 error {code or status} while {doing}")
        return RemoteError(f"{where}: {type(err).__name__} while {doing}: {err}")

    # -- interface ----------------------------------------------------------------

    def check_access(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except self._errors as err:
            if _status(err) == 404:
                raise RemoteError(f"remote '{self.name}' ({self.url}): bucket '{self.bucket}' does not exist; create it or fix the remote URL") from None
            raise self._fail(err, "checking the bucket") from None

    @property
    def list_threshold(self) -> int:  # type: ignore[override]
        """Listing costs one request per 1,000 keys; a HEAD costs one per object, `jobs` at a time.

        Estimate the remote's size from one shard (objects spread evenly over 256)
        and list when that is cheaper, as DVC does.
        """
        if self._estimate is None:
            base = f"{self.prefix}/" if self.prefix else ""
            try:
                page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=f"{base}objects/sha256/00/", MaxKeys=self.LIST_PAGE)
            except self._errors as err:
                raise self._fail(err, "listing objects") from None
            per_shard = page.get("KeyCount", 0)
            self._estimate = self.LIST_PAGE * 256 if page.get("IsTruncated") else per_shard * 256
        # Pages are sequential and ~3x a HEAD; HEADs run `jobs` wide.
        pages = self._estimate // self.LIST_PAGE + 1
        return max(1, pages * 3 * self.jobs)

    def exists(self, oid: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(oid))
            return True
        except self._errors as err:
            if _status(err) == 404 and _code(err) != "NoSuchBucket":
                return False
            raise self._fail(err, f"checking {oid}") from None

    def list_oids(self) -> Iterator[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base + "objects/sha256/"):
                for item in page.get("Contents", []):
                    oid = oid_of_relpath(item["Key"][len(base):])
                    if oid:
                        yield oid
        except self._errors as err:
            raise self._fail(err, "listing objects") from None

    def upload(self, store: ObjectStore, oid: str, progress: Progress | None = None) -> None:
        path = store.path(oid)
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            raise ObjectMissingError(f"object {oid} is not in the cache; cannot upload it") from None
        try:
            if size <= SMALL_OBJECT:
                with open(path, "rb") as f:
                    data = f.read()
                digest = hashlib.sha256(data).digest()
                if OID_PREFIX + digest.hex() != oid:
                    raise _corrupt_cache(path, oid)
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.key(oid),
                    Body=data,
                    ChecksumSHA256=base64.b64encode(digest).decode(),
                )
                if progress:
                    progress(size)
                return
            # Large objects: check the cache copy first, then let boto3 do a multipart upload.
            if oid not in store.verified and not store.verify(oid):
                raise _corrupt_cache(path, oid)
            with self._large:
                self.client.upload_file(path, self.bucket, self.key(oid), Config=self.upload_config, Callback=progress)
        except self._errors as err:
            raise self._fail(err, f"uploading {oid}") from None

    def download(self, oid: str, store: ObjectStore, progress: Progress | None = None, size: int | None = None) -> None:
        try:
            if size is not None and size > self.transfer_config.multipart_threshold:
                # Large objects: parallel ranged GETs into a temp file, hashed before it is renamed into the cache.
                def fill(tmp: str) -> tuple[str, int]:
                    try:
                        with self._large:
                            self.client.download_file(self.bucket, self.key(oid), tmp, Config=self.transfer_config, Callback=progress)
                    except self._errors as err:
                        if _status(err) == 404 and _code(err) != "NoSuchBucket":
                            raise ObjectMissingError(f"remote '{self.name}' does not have object {oid}") from None
                        raise self._fail(err, f"downloading {oid}") from None
                    return hash_file(tmp)

                store.write_with(oid, fill)
                return
            reader = _ResumingBody(self, oid)
            try:
                store.write_stream(reader, expected=oid, progress=progress)
            finally:
                reader.close()
        except IntegrityError:
            raise IntegrityError(
                f"remote '{self.name}': object s3://{self.bucket}/{self.key(oid)} is corrupt (its bytes do not hash to {oid}); nothing was written",
                oid=oid,
            ) from None

    def delete(self, oid: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(oid))
        except self._errors as err:
            raise self._fail(err, f"deleting {oid}") from None


class _ResumingBody:
    """A file-like GET body that survives connection resets by re-requesting from the current offset."""

    def __init__(self, remote: S3Remote, oid: str) -> None:
        self.remote = remote
        self.oid = oid
        self.offset = 0
        self.body: Any = None
        self.failures = 0

    def _open(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.remote.bucket, "Key": self.remote.key(self.oid)}
        if self.offset:
            kwargs["Range"] = f"bytes={self.offset}-"
        try:
            self.body = self.remote.client.get_object(**kwargs)["Body"]
        except self.remote._errors as err:
            if _status(err) == 404 and _code(err) != "NoSuchBucket":
                raise ObjectMissingError(f"remote '{self.remote.name}' does not have object {self.oid}") from None
            if _status(err) == 416:  # asked past the end: the object is shorter than what we already read
                self.body = None
                return
            raise self.remote._fail(err, f"downloading {self.oid}") from None

    def readinto(self, buf: bytearray) -> int:
        from botocore.exceptions import ConnectionClosedError, ReadTimeoutError, ResponseStreamingError
        from urllib3.exceptions import ProtocolError

        while True:
            if self.body is None:
                self._open()
                if self.body is None:
                    return 0
            try:
                chunk = self.body.read(len(buf))
            except (ResponseStreamingError, ConnectionClosedError, ReadTimeoutError, ProtocolError, ConnectionError, OSError):
                self.failures += 1
                if self.failures > BODY_RETRIES:
                    raise RemoteError(
                        f"remote '{self.remote.name}': connection kept dropping while downloading {self.oid}; retry later"
                    ) from None
                self.close()
                time.sleep(min(0.2 * 2**self.failures, 5))
                continue
            n = len(chunk)
            buf[:n] = chunk
            self.offset += n
            return n

    def close(self) -> None:
        if self.body is not None:
            try:
                self.body.close()
            except Exception:  # closing a broken stream must not mask the real error
                pass
            self.body = None


def _status(err: Exception) -> int | None:
    resp = getattr(err, "response", None) or {}
    status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status is None:
        code = _code(err)
        return int(code) if code.isdigit() else None
    return int(status)


def _code(err: Exception) -> str:
    resp = getattr(err, "response", None) or {}
    return str(resp.get("Error", {}).get("Code", ""))


def _corrupt_cache(path: str, oid: str) -> IntegrityError:
    return IntegrityError(
        f"corrupt cache object {path}: its bytes do not hash to {oid}; not uploaded (run 'git filer fsck')", oid=oid, path=path
    )
