"""S3 and S3-compatible remotes (MinIO, Ceph RGW, R2, GCS interop) through boto3.

Credentials come only from boto3's standard chain (env, profile, instance role).
boto3 never retries a connection reset after the response headers, so body reads
are retried here, resuming with a Range request; the SHA-256 check at the end
covers every byte whichever attempt delivered it.

A remote is untrusted: no read goes past the size the registry or manifest declares
(a directory manifest, whose size nothing declares, is capped at MAX_MANIFEST_BYTES).
Every upload carries its SHA-256 (per part for multipart uploads), so the server rejects
a body damaged in transit; a multipart upload that fails or is interrupted is aborted.
Errors that may pass (throttling, 5xx, dropped connections, timeouts) are raised as
TransientRemoteError, which the transfer engine retries; the rest stop the run.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, BinaryIO, TypeVar, cast

from .. import env
from ..chunks import MAX_INDEX_BYTES, index_relpath, oid_of_index_relpath
from ..config import RemoteConfig
from ..errors import FilerError, IntegrityError, ObjectMissingError, OversizeError, RemoteError, TransientRemoteError
from ..objects import CHUNK, MAX_MANIFEST_BYTES, OID_PREFIX, ObjectStore, Progress, oid_of_relpath, relpath_of
from ..release import MAX_POINTER_BYTES, check_name, name_problem
from . import LOCKS_DIR, RELEASES_DIR, Listed, LockRecord, Remote, check_lock_name, is_lock_name

SMALL_OBJECT = 8 * 1024 * 1024  # up to this, one PUT; above it, a multipart upload
PART_SIZE = 8 * 1024 * 1024
PART_WORKERS = 10
# Downloads above this use parallel ranges of RANGE_SIZE; below it one streamed GET, hashed in
# the same pass. Ranges are large because every ranged GET is a request, and some S3-compatible
# servers (moto among them) read the whole object for each one: against moto, a 256 MiB object
# came fastest as 2 x 128 MiB ranges (bench/bench_compare.py's raw boto3 rows), and 1 GiB is
# still 8 ranges in parallel on S3 itself.
RANGED_THRESHOLD = 128 * 1024 * 1024
RANGE_SIZE = 128 * 1024 * 1024
RANGE_WORKERS = 8
DEFAULT_MAX_ATTEMPTS = 5
BODY_RETRIES = 5
# One request of a larger transfer (a part, a range, a resumed body) is retried this many times
# through transient errors, on top of boto3's own attempts, before the whole object is retried.
REQUEST_ATTEMPTS = 6
ABORT_ATTEMPTS = 8  # an orphaned multipart upload is billed until a lifecycle rule removes it
# Error codes that say "try again later", whatever the HTTP status.
TRANSIENT_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestThrottled", "RequestLimitExceeded",
    "TooManyRequestsException", "RequestTimeout", "RequestTimeoutException", "InternalError",
    "ServiceUnavailable", "OperationAborted", "BadDigest", "XAmzContentSHA256Mismatch", "IncompleteBody",
    "NoSuchUpload",
})
T = TypeVar("T")
R = TypeVar("R")


class S3Remote(Remote):
    LIST_PAGE = 1000
    supports_chunks = True

    def __init__(self, cfg: RemoteConfig, location: str, *, jobs: int = 8) -> None:
        import boto3
        import botocore.config
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
        self.endpoint_url = env.s3_endpoint_url() or cfg.endpoint_url
        # A server on this machine (MinIO or moto for development and CI): one streamed GET is
        # fastest whatever the size, as there is no per-connection bandwidth for ranges to add up
        # and each range only makes the server read more (bench/bench_compare.py, raw boto3 rows).
        self._one_stream = _is_loopback(self.endpoint_url)
        self._errors = (BotoCoreError, ClientError)
        attempts = env.s3_max_attempts() or (env.whole_number(f"remote {self.name!r}: max_attempts", cfg.max_attempts) if cfg.max_attempts is not None else DEFAULT_MAX_ATTEMPTS)
        try:
            session = boto3.session.Session(profile_name=cfg.profile, region_name=cfg.region)
            self.client = session.client(
                "s3",
                endpoint_url=self.endpoint_url,
                # "standard", not "adaptive": the transfer engine retries with its own backoff,
                # and adaptive's client-wide rate limiter turned random faults into a crawl
                # (bench/drill_s3_faults.py: pull 3x slower at 50% faults than with "standard").
                config=botocore.config.Config(
                    retries={"max_attempts": attempts, "mode": "standard"},
                    max_pool_connections=max(10, jobs * 2),
                    connect_timeout=10,
                    read_timeout=60,
                ),
            )
        except BotoCoreError as err:
            raise RemoteError(f"remote '{self.name}': cannot set up S3 access: {err}") from None

    # -- helpers ------------------------------------------------------------------

    def key(self, oid: str) -> str:
        rel = relpath_of(oid)
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"'{self.name}' ({self.url}{where})"

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
            if _transient(err):
                return TransientRemoteError(f"{where}: S3 error {code or status} while {doing}")
            return RemoteError(f"{where}: S3 error {code or status} while {doing}")
        if _transient(err):
            return TransientRemoteError(f"{where}: {type(err).__name__} while {doing}: {err}")
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
        return (listed.oid for listed in self.list_objects())

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
            # Large objects: check the cache copy first, then a multipart upload with a SHA-256 per part.
            if oid not in store.verified and not store.verify(oid):
                raise _corrupt_cache(path, oid)
            with self._large:
                self._upload_multipart(path, oid, size, progress)
        except self._errors as err:
            raise self._fail(err, f"uploading {oid}") from None

    def _upload_multipart(self, path: str, oid: str, size: int, progress: Progress | None) -> None:
        """Parts in parallel, each sent with the SHA-256 of its bytes. Any failure or interrupt
        aborts the upload, so no invisible (and billed) parts stay behind."""
        key = self.key(oid)
        part_size = max(PART_SIZE, -(-size // 10_000))  # S3 takes at most 10,000 parts
        try:
            created = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256")
        except BaseException:
            self._abort_lost_creates(key, None)
            raise
        upload_id = created["UploadId"]
        if created.get("ResponseMetadata", {}).get("RetryAttempts"):
            self._abort_lost_creates(key, upload_id)
        try:
            with open(path, "rb") as f:

                def part(number: int) -> dict[str, Any]:
                    offset = (number - 1) * part_size
                    data = os.pread(f.fileno(), min(part_size, size - offset), offset)
                    if len(data) != min(part_size, size - offset):
                        raise _corrupt_cache(path, oid)  # the cache file shrank under us
                    checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
                    resp = self._again(lambda: self.client.upload_part(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data, ChecksumSHA256=checksum,
                    ))
                    if progress:
                        progress(len(data))
                    return {"PartNumber": number, "ETag": resp["ETag"], "ChecksumSHA256": checksum}

                parts = _parallel(part, range(1, -(-size // part_size) + 1), PART_WORKERS)
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
        except BaseException:
            self._abort(key, upload_id)
            raise

    def _abort_lost_creates(self, key: str, ours: str | None) -> None:
        """A create whose answer was lost (reset, timeout) may have started an upload we never
        heard of: abort every other open upload of this key. The key is content-addressed, so
        another clone's concurrent upload of it (the only other kind) carries the same bytes,
        and its next part or completion fails with NoSuchUpload, which it retries. Only runs
        after a create was retried or failed, never on the normal path."""
        listed = self._persist(lambda: self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key))
        for up in (listed or {}).get("Uploads", []):
            if up.get("Key") == key and up.get("UploadId") != ours:
                self._abort(key, up["UploadId"])

    def _abort(self, key: str, upload_id: str) -> None:
        self._persist(lambda: self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id))

    def _again(self, call: Callable[[], R]) -> R:
        """One request of a larger transfer, retried through transient errors REQUEST_ATTEMPTS
        times: a 64 MiB upload need not start over for one throttled part."""
        for attempt in range(1, REQUEST_ATTEMPTS + 1):
            try:
                return call()
            except self._errors as err:
                if attempt == REQUEST_ATTEMPTS or _status(err) == 404 or not _transient(err):
                    raise
            time.sleep(_jitter(attempt))
        raise AssertionError("unreachable")

    def _persist(self, call: Callable[[], R]) -> R | None:
        """`call()` for cleanup, which gets no later chance: retried through transient errors
        up to ABORT_ATTEMPTS times; None if it still fails, is denied, or finds nothing (404)."""
        for attempt in range(ABORT_ATTEMPTS):
            try:
                return call()
            except self._errors as err:
                if _status(err) == 404 or not _transient(err):
                    return None
            time.sleep(random.uniform(0, min(0.2 * 2**attempt, 4.0)))
        return None

    def download(self, oid: str, store: ObjectStore, progress: Progress | None = None, size: int | None = None) -> None:
        """`size` is the declared size and a hard cap; None means a directory manifest."""
        cap = MAX_MANIFEST_BYTES if size is None else size
        try:
            if size is not None and size > RANGED_THRESHOLD and not self._one_stream:
                self._download_ranged(oid, store, progress, cap)
                return
            reader = _ResumingBody(self, oid, cap)
            try:
                store.write_stream(cast(BinaryIO, reader), expected=oid, progress=progress, limit=cap)
            finally:
                reader.close()
        except _Oversized as big:
            raise self._oversized(oid, size, big.actual) from None
        except OversizeError:
            raise self._oversized(oid, size, None) from None
        except IntegrityError:
            raise IntegrityError(
                f"remote '{self.name}': object s3://{self.bucket}/{self.key(oid)} is corrupt (its bytes do not hash to {oid}); nothing was written",
                oid=oid,
            ) from None

    def _oversized(self, oid: str, size: int | None, actual: int | None) -> OversizeError:
        declared = f"{size} bytes were declared" if size is not None else f"a directory manifest may have at most {MAX_MANIFEST_BYTES} bytes"
        got = f"is {actual} bytes" if actual is not None else f"sent more than {MAX_MANIFEST_BYTES if size is None else size} bytes"
        return OversizeError(
            f"remote '{self.name}': object s3://{self.bucket}/{self.key(oid)} {got} but {declared}; refused it, nothing was written",
            oid=oid,
        )

    def _download_ranged(self, oid: str, store: ObjectStore, progress: Progress | None, cap: int) -> None:
        """Parallel ranged GETs into a temp file, hashed before it is renamed into the cache.
        The object's length is checked against the cap before any byte is fetched, and no
        range reads more than its own length."""
        key = self.key(oid)
        try:
            actual = int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except self._errors as err:
            raise self._missing_or_fail(err, oid) from None
        if actual > cap:
            raise _Oversized(actual)

        def fill(tmp: str) -> tuple[str, int]:
            spans = [(start, min(start + RANGE_SIZE, actual)) for start in range(0, actual, RANGE_SIZE)]
            done = [threading.Event() for _ in spans]
            failed = threading.Event()
            h = hashlib.sha256()

            def fetch(i: int) -> None:
                self._fetch_range(oid, out.fileno(), spans[i], progress)
                done[i].set()

            def hash_in_order() -> None:
                # The digest follows the ranges as they complete, in order, from the page cache:
                # hashing overlaps the download instead of following it as a second pass.
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    for i, (pos, stop) in enumerate(spans):
                        while not done[i].wait(0.05):
                            if failed.is_set():
                                return
                        while pos < stop:
                            block = os.pread(fd, min(CHUNK, stop - pos), pos)
                            if not block:
                                return
                            h.update(block)
                            pos += len(block)
                finally:
                    os.close(fd)

            with self._large, open(tmp, "wb") as out:
                out.truncate(actual)
                hasher = threading.Thread(target=hash_in_order, name="gitfiler-range-hash", daemon=True)
                hasher.start()
                try:
                    _parallel(fetch, list(range(len(spans))), RANGE_WORKERS)
                except BaseException:
                    failed.set()
                    raise
                finally:
                    hasher.join()
            return OID_PREFIX + h.hexdigest(), actual

        store.write_with(oid, fill)

    def _fetch_range(self, oid: str, fd: int, span: tuple[int, int], progress: Progress | None) -> None:
        """Bytes [start, stop) of the object into `fd` at the same offsets, resuming after dropped connections."""
        pos, stop = span
        failures = 0
        while pos < stop:
            try:
                def ranged(start: int = pos) -> Any:
                    return self.client.get_object(Bucket=self.bucket, Key=self.key(oid), Range=f"bytes={start}-{stop - 1}")

                body = self._again(ranged)["Body"]
            except self._errors as err:
                if _status(err) == 416:
                    return  # the object is shorter than its HEAD said: the hash check refuses it
                raise self._missing_or_fail(err, oid) from None
            try:
                while pos < stop:
                    chunk = _read(body, min(CHUNK, stop - pos))
                    if not chunk:
                        break
                    os.pwrite(fd, chunk, pos)
                    pos += len(chunk)
                    if progress:
                        progress(len(chunk))
            except _Dropped:
                pass
            finally:
                _close_quietly(body)
            if pos < stop:
                failures += 1
                if failures > BODY_RETRIES:
                    raise TransientRemoteError(f"remote '{self.name}': connection kept dropping while downloading {oid}; retry later")
                time.sleep(_jitter(failures))

    def _missing_or_fail(self, err: Exception, oid: str) -> FilerError:
        if _status(err) == 404 and _code(err) != "NoSuchBucket":
            return ObjectMissingError(f"remote '{self.name}' does not have object {oid}")
        return self._fail(err, f"downloading {oid}")

    def delete(self, oid: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(oid))
        except self._errors as err:
            raise self._fail(err, f"deleting {oid}") from None

    # -- chunked objects: an index per file at chunks/sha256/.., chunks as ordinary objects ---------

    def _index_key(self, oid: str) -> str:
        return self._base() + index_relpath(oid)

    def put_index(self, oid: str, data: bytes) -> None:
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._index_key(oid), Body=data, ChecksumSHA256=checksum)
        except self._errors as err:
            raise self._fail(err, f"writing the chunk index of {oid}") from None

    def get_index(self, oid: str, limit: int = MAX_INDEX_BYTES) -> bytes | None:
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._index_key(oid), Range=f"bytes=0-{limit}")
        except self._errors as err:
            if _status(err) == 404 and _code(err) != "NoSuchBucket":
                return None
            raise self._fail(err, f"reading the chunk index of {oid}") from None
        body = resp["Body"]
        try:
            return _read(body, limit + 1)
        except _Dropped:
            raise TransientRemoteError(f"remote '{self.name}': connection dropped while reading the chunk index of {oid}") from None
        finally:
            _close_quietly(body)

    def has_index(self, oid: str) -> bool:
        try:
            return self._head(self._index_key(oid))
        except self._errors as err:
            raise self._fail(err, f"checking the chunk index of {oid}") from None

    def list_indexes(self) -> Iterator[Listed]:
        base = self._base()
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base + "chunks/sha256/"):
                for item in page.get("Contents", []):
                    oid = oid_of_index_relpath(item["Key"][len(base):])
                    if oid:
                        yield Listed(oid, int(item["Size"]), item["LastModified"].timestamp())
        except self._errors as err:
            raise self._fail(err, "listing chunk indexes") from None

    def delete_index(self, oid: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._index_key(oid))
        except self._errors as err:
            raise self._fail(err, f"deleting the chunk index of {oid}") from None

    def upload_chunk(self, oid: str, data: bytes, progress: Progress | None = None, *, hashed: bool = False) -> None:
        digest = bytes.fromhex(oid[len(OID_PREFIX):]) if hashed else hashlib.sha256(data).digest()
        if OID_PREFIX + digest.hex() != oid:
            raise IntegrityError(f"chunk {oid} read from the cache does not hash to its name; not uploaded (run 'git filer fsck')", oid=oid)
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(oid), Body=data, ChecksumSHA256=base64.b64encode(digest).decode())
        except self._errors as err:
            raise self._fail(err, f"uploading chunk {oid}") from None
        if progress:
            progress(len(data))

    def download_chunk(self, oid: str, size: int) -> bytes:
        try:
            # One byte past the declared size proves a longer object; nothing more is read.
            resp = self.client.get_object(Bucket=self.bucket, Key=self.key(oid), Range=f"bytes=0-{size}")
        except self._errors as err:
            raise self._missing_or_fail(err, oid) from None
        body = resp["Body"]
        try:
            data = _read(body, size + 1)
        except _Dropped:
            raise TransientRemoteError(f"remote '{self.name}': connection dropped while downloading chunk {oid}") from None
        finally:
            _close_quietly(body)
        if len(data) != size:
            raise IntegrityError(f"remote '{self.name}': chunk {self.chunk_location(oid)} is corrupt (not the {size} bytes its index says)", oid=oid)
        return data

    def chunk_location(self, oid: str) -> str:
        return f"s3://{self.bucket}/{self.key(oid)}"

    # -- listing with mtimes and lock records (gc's grace period and the gc/push lock) ------------

    def _base(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def list_objects(self) -> Iterator[Listed]:
        base = self._base()
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base + "objects/sha256/"):
                for item in page.get("Contents", []):
                    oid = oid_of_relpath(item["Key"][len(base):])
                    if oid:
                        yield Listed(oid, int(item["Size"]), item["LastModified"].timestamp())
        except self._errors as err:
            raise self._fail(err, "listing objects") from None

    def _lock_key(self, name: str) -> str:
        check_lock_name(name)
        return f"{self._base()}{LOCKS_DIR}/{name}"

    def put_lock(self, name: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._lock_key(name), Body=data)
        except self._errors as err:
            raise self._fail(err, f"writing lock {LOCKS_DIR}/{name}") from None

    def list_locks(self) -> list[LockRecord]:
        return self._list_records(LOCKS_DIR, is_lock_name, "listing locks")

    def _list_records(self, directory: str, accept: Callable[[str], bool], doing: str) -> list[LockRecord]:
        """The small records below `<prefix>/<directory>/` whose names `accept` takes, with their times."""
        prefix = f"{self._base()}{directory}/"
        out = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix):]
                    if accept(name):
                        out.append(LockRecord(name, item["LastModified"].timestamp()))
        except self._errors as err:
            raise self._fail(err, doing) from None
        return out

    def delete_lock(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._lock_key(name))
        except self._errors as err:
            raise self._fail(err, f"deleting lock {LOCKS_DIR}/{name}") from None


    # -- release pointers ----------------------------------------------------------------------

    def _release_key(self, name: str) -> str:
        check_name(name)
        return f"{self._base()}{RELEASES_DIR}/{name}"

    def put_release(self, name: str, data: bytes, *, replace: bool = False) -> bool:
        key = self._release_key(name)
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        try:
            if replace:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ChecksumSHA256=checksum)
                return True
            # A conditional write (If-None-Match: *) refuses an existing key on the server side, so
            # two publishers of one name cannot both win. A server that ignores the header still
            # gets the HEAD before it.
            if self._head(key):
                return False
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ChecksumSHA256=checksum, IfNoneMatch="*")
        except self._errors as err:
            if _status(err) in (409, 412):
                return False
            raise self._fail(err, f"writing {RELEASES_DIR}/{name}") from None
        return True

    def _head(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except self._errors as err:
            if _status(err) == 404 and _code(err) != "NoSuchBucket":
                return False
            raise

    def get_release(self, name: str) -> bytes | None:
        key = self._release_key(name)
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{MAX_POINTER_BYTES}")
        except self._errors as err:
            if _status(err) == 404 and _code(err) != "NoSuchBucket":
                return None
            raise self._fail(err, f"reading {RELEASES_DIR}/{name}") from None
        body = resp["Body"]
        try:
            return _read(body, MAX_POINTER_BYTES + 1)
        finally:
            _close_quietly(body)

    def list_releases(self) -> list[LockRecord]:
        return self._list_records(RELEASES_DIR, lambda name: name_problem(name) is None, "listing releases")


class _ResumingBody:
    """A file-like GET body that survives connection resets by re-requesting from the current
    offset, and never reads more than `limit` + 1 bytes (the +1 proves an object too large)."""

    def __init__(self, remote: S3Remote, oid: str, limit: int) -> None:
        self.remote = remote
        self.oid = oid
        self.limit = limit
        self.offset = 0
        self.body: Any = None
        self.failures = 0

    def _open(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.remote.bucket, "Key": self.remote.key(self.oid)}
        if self.offset:
            kwargs["Range"] = f"bytes={self.offset}-"
        try:
            # Resuming is retried here, so a large object need not start over from byte 0.
            resp = self.remote._again(lambda: self.remote.client.get_object(**kwargs)) if self.offset else self.remote.client.get_object(**kwargs)
        except self.remote._errors as err:
            if _status(err) == 416:  # asked past the end: the object is shorter than what we already read
                self.body = None
                return
            raise self.remote._missing_or_fail(err, self.oid) from None
        self.body = resp["Body"]
        total = _total_length(resp)
        if total is not None and total > self.limit:
            self.close()
            raise _Oversized(total)  # refused on the headers, before a byte of the body is read

    def readinto(self, buf: bytearray) -> int:
        while True:
            if self.body is None:
                self._open()
                if self.body is None:
                    return 0
            try:
                chunk = _read(self.body, min(len(buf), self.limit + 1 - self.offset))
            except _Dropped:
                self.failures += 1
                if self.failures > BODY_RETRIES:
                    raise TransientRemoteError(
                        f"remote '{self.remote.name}': connection kept dropping while downloading {self.oid}; retry later"
                    ) from None
                self.close()
                time.sleep(_jitter(self.failures))
                continue
            n = len(chunk)
            buf[:n] = chunk
            self.offset += n
            if self.offset > self.limit:
                raise _Oversized(None)  # the headers understated the length
            return n

    def close(self) -> None:
        if self.body is not None:
            _close_quietly(self.body)
            self.body = None


class _Oversized(Exception):
    """The remote object is larger than its declared size (`actual` when the headers said so)."""

    def __init__(self, actual: int | None) -> None:
        super().__init__(actual)
        self.actual = actual


class _Dropped(Exception):
    """A response body broke off (reset, timeout, truncated)."""


class _Skipped(Exception):
    """A parallel task not started because another one failed."""


def _read(body: Any, amount: int) -> bytes:
    from botocore.exceptions import ConnectionClosedError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError
    from urllib3.exceptions import HTTPError as Urllib3Error

    try:
        return body.read(amount)
    except (ResponseStreamingError, ConnectionClosedError, ReadTimeoutError, IncompleteReadError, Urllib3Error, OSError):
        raise _Dropped() from None


def _close_quietly(body: Any) -> None:
    try:
        body.close()
    except Exception:  # noqa: BLE001 - closing a broken stream must not mask the real error
        pass


def _total_length(resp: dict[str, Any]) -> int | None:
    """The object's whole length from a GET response: Content-Range's total, else Content-Length."""
    rng = str(resp.get("ContentRange") or "")
    total = rng.rpartition("/")[2]
    if total.isdigit():
        return int(total)
    length = resp.get("ContentLength")
    return int(length) if length is not None else None


def _parallel(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """`fn` over `items` on up to `workers` threads, results in order. The first failure (or an
    interrupt) cancels what has not started and is raised once the running calls have returned,
    so a caller that cleans up (aborts an upload) does so after the last request."""
    todo = list(items)
    if len(todo) <= 1:
        return [fn(item) for item in todo]
    stop = threading.Event()

    def guarded(item: T) -> R:
        if stop.is_set():
            raise _Skipped()
        return fn(item)

    pool = ThreadPoolExecutor(max_workers=min(workers, len(todo)))
    try:
        futures = [pool.submit(guarded, item) for item in todo]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and f.exception() is not None), None)
        if failed is not None:
            stop.set()
            raise failed.exception()  # type: ignore[misc]
        return [f.result() for f in futures]
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _transient(err: Exception) -> bool:
    """Whether an error may pass on a later attempt: throttling, 5xx, dropped or timed-out
    connections. A refused connection (nothing listens there) is not: botocore already retried it."""
    from botocore.exceptions import (
        ChecksumError,
        ClientError,
        ConnectTimeoutError,
        FlexibleChecksumError,
        HTTPClientError,
        IncompleteReadError,
    )

    if isinstance(err, ClientError):
        status = _status(err)
        return _code(err) in TRANSIENT_CODES or (status is not None and (status >= 500 or status in (408, 429)))
    return isinstance(err, (ConnectTimeoutError, HTTPClientError, IncompleteReadError, ChecksumError, FlexibleChecksumError))


def _jitter(failures: int) -> float:
    """Full-jitter backoff before resuming a dropped body: usually a blip, so start small."""
    return random.uniform(0, min(0.1 * 2**failures, 5.0))


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


def _is_loopback(endpoint_url: str | None) -> bool:
    """Whether the endpoint is this machine (localhost, 127.0.0.0/8, ::1)."""
    if not endpoint_url:
        return False
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(endpoint_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
