"""The packaging verbs of the command line (`pack`, `unpack`): parse, call `commands.pack`,
render. Imported by `cli` to register them on its group. See docs/packaging.md."""

from __future__ import annotations

import click

from .cli import Ctx, cli, emit_json, jobs_option, json_option, pass_ctx, remote_option
from .quoting import quote_path

COMPRESSION_CHOICES = ("gzip", "bz2", "xz", "zstd", "none")


@cli.command(short_help="Build a serving archive: model at the root, code under code/, verified.")
@click.argument("model", type=click.Path())
@click.option("--code", metavar="PATH", help="Inference code (a directory or a file), placed under code/ with the executable bit kept.")
@click.option("-o", "--output", required=True, metavar="FILE", help="The archive to write (replaced whole if it exists).")
@click.option("--compression", type=click.Choice(COMPRESSION_CHOICES), default="gzip", show_default=True, help="gzip is what SageMaker expects; zstd needs pip install 'gitfiler[zstd]'.")
@click.option("--level", type=int, default=None, help="Compression level (gzip 1-9, default 6; bz2 1-9, 9; xz 0-9, 6; zstd 1-22, 3).")
@click.option("--ref", metavar="REV", help="Pack MODEL and --code as commit REV holds them, without checking it out.")
@click.option("--add", "track", is_flag=True, help="Track the archive with gitfiler (meta type=package and the input oids).")
@remote_option("Filer remote to fetch what --ref needs from")
@jobs_option
@json_option
@pass_ctx
def pack(
    c: Ctx, model: str, code: str | None, output: str, compression: str, level: int | None, ref: str | None, track: bool,
    remote: str | None, jobs: int | None, as_json: bool,
) -> None:
    """Write a model archive as SageMaker-style hosts serve it: MODEL's files at the root,
    --code under code/, and gitfiler-manifest.json (path, oid, size, exec of every file) first.

    MODEL is a directory, a file, or a model tarball (told by its content), whose members go
    to the root. The same inputs give the same bytes; the archive is read back and checked
    against the inputs before it replaces OUTPUT. Links in the inputs are refused.

    \b
    Example:
      git filer pack models/ranker/ --code src/inference/ -o dist/model.tar.gz
      git filer pack models/model.tar.gz --code src/inference/ -o dist/model.tar.gz --compression zstd
      git filer pack models/ranker/ --code src/inference/ -o dist/model.tar.gz --ref v1.2 --add
    """
    from .commands.pack import pack as do_pack
    from .errors import FilerError
    from .pack import check_level

    try:
        check_level(compression, level)
    except FilerError as err:
        raise click.BadParameter(str(err), param_hint="--level") from None
    if ref or track:
        project = c.project()
    else:
        try:
            project = c.project()  # inside a repository, its stat cache knows the digests of unchanged files
        except FilerError:
            project = None
    result = do_pack(
        project, model, output=output, code=code, compression=compression, level=level, ref=ref, add=track,
        remote=remote, jobs=jobs, sink=None if as_json else c.sink(),
    )
    if as_json:
        emit_json(result.to_json())
        return
    from .ui import human_bytes

    at = f" of {result.commit[:12]}" if result.commit else ""
    c.say(
        f"packed {result.files} file(s){at}, {human_bytes(result.input_bytes)} -> {quote_path(output)} {human_bytes(result.archive_bytes)} "
        f"({result.compression}{'' if result.level is None else f' -{result.level}'}, ratio {result.ratio:.2f}) in {result.seconds:.2f}s, read back and verified"
    )
    c.note(f"{result.sha256}")
    if result.registry:
        c.note(f"tracked as {quote_path(result.registry)} (type package); commit it to share the archive")


@cli.command(short_help="Extract an archive safely into an empty directory; --verify checks its manifest.")
@click.argument("archive", type=click.Path())
@click.argument("dest", type=click.Path())
@click.option("--verify", is_flag=True, help="Check every member against the embedded gitfiler-manifest.json; an extra, missing or changed member is an error.")
@click.option("--max-size", metavar="SIZE", help="Refuse a member larger than SIZE (e.g. 500M, 20G), from its header, before writing it (default: the free space of DEST).")
@json_option
@pass_ctx
def unpack(c: Ctx, archive: str, dest: str, verify: bool, max_size: str | None, as_json: bool) -> None:
    """Extract ARCHIVE (tar, gzip, bz2, xz or zstd, told by content) into DEST, which must be
    empty or absent. Nothing is kept unless every member is: links, devices, absolute paths,
    '..', setuid bits and sizes beyond the free space are refused.

    \b
    Example:
      git filer unpack dist/model.tar.gz /opt/ml/model --verify
      git filer unpack untrusted.tar.zst out/ --max-size 20G
    """
    from .commands.pack import unpack as do_unpack
    from .tarsafe import Limits

    limits = Limits(member_bytes=_size(max_size)) if max_size else None
    result = do_unpack(archive, dest, verify=verify, limits=limits, sink=None if as_json else c.sink())
    if as_json:
        emit_json(result.to_json())
        return
    from .ui import human_bytes

    checked = ", verified against its manifest" if result.verified else ""
    c.say(f"unpacked {result.files} file(s), {human_bytes(result.bytes)} into {quote_path(dest)} in {result.seconds:.2f}s{checked}")


def _size(text: str) -> int:
    """Bytes from '500M', '20G', '1.5T' or a plain number (binary units), as a usage error when it is not one."""
    from .config import parse_size
    from .errors import FilerError

    try:
        return parse_size(text)
    except FilerError as err:
        raise click.BadParameter(str(err), param_hint="--max-size") from None
