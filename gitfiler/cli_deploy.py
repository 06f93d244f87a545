"""The `release` and `deploy` verbs of the command line: parse, call `commands.release` or
`commands.deploy`, render. Imported by `cli` to register them on its group.

`git-filer deploy ...` must run on a host with no git binary and no repository: nothing here
looks for one unless the user asks for a repository's release (`--ref`, or a remote by name).
"""

from __future__ import annotations

import os
from typing import Any

import click

from . import env
from .cli import Ctx, _Group, cli, emit_json, jobs_option, json_option, pass_ctx, remote_option
from .config import is_location
from .quoting import escape_text, quote_path


def _release_name(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from .release import name_problem

    if value is not None and (problem := name_problem(value)):
        raise click.BadParameter(problem)
    return value


# -- release ----------------------------------------------------------------------------------------


@cli.group(short_help="Name, publish and list releases (a verified set of artifacts).")
def release() -> None:
    """Name a set of artifacts at one commit, publish it to a filer remote, list what is published.

    A release is what a deployment host installs with 'git-filer deploy'. Its name is
    immutable once published. See docs/deploy-hosts.md.

    \b
    Example:
      git filer release create 2026.11.1 --component model:1.4.0 --component tokenizer:2.0.0
      git filer release publish 2026.11.1
      git filer release list
    """


def _components_line(info: Any) -> str:
    parts = []
    for c in info.release.components:
        parts.append(f"{c.name} {c.version}" if c.version else c.name)
    return ", ".join(parts)


@release.command("create")
@click.argument("name", callback=_release_name)
@click.option("--component", "components", multiple=True, metavar="SEL[:VERSION]", help="An artifact type, path or path glob; with :VERSION its recorded version must match (repeatable).")
@click.option("--from", "rev", default="HEAD", show_default=True, metavar="REV", help="The commit (branch, tag or SHA) whose artifacts the release takes.")
@click.option("-I", "--include", multiple=True, metavar="GLOB", help="Without --component: only artifacts whose path matches GLOB (repeatable).")
@click.option("--force", is_flag=True, help="Replace a release of that name created earlier in this clone.")
@json_option
@pass_ctx
def release_create(c: Ctx, name: str, components: tuple[str, ...], rev: str, include: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Create release NAME from the artifacts of a commit (default HEAD), in this clone.

    Without --component, every artifact the commit tracks (narrowed by -I). Each component is
    named by its type ('add --type'), or by its file name where two share a type.

    \b
    Example:
      git filer release create 2026.11.1 --component model:1.4.0 --component tokenizer:2.0.0
      git filer release create nightly-42 --from main -I 'models/**'
    """
    from .commands.release import create
    from .ui import human_bytes

    info = create(c.project(), name, components=components, rev=rev, include=include, force=force)
    if as_json:
        emit_json(info.to_json())
        return
    commit = info.release.commit[:12] if info.release.commit else "-"
    c.say(f"created release {escape_text(name)} from {commit}: {_components_line(info)} ({human_bytes(info.release.size)})")
    c.note(f"publish it with 'git filer release publish {escape_text(name)}'")


@release.command("publish")
@click.argument("name", callback=_release_name)
@remote_option("Filer remote to publish to")
@click.option("--force", is_flag=True, help="Move a name the remote already has to this release (never needed for a new name).")
@jobs_option
@json_option
@pass_ctx
def release_publish(c: Ctx, name: str, remote: str | None, force: bool, jobs: int | None, as_json: bool) -> None:
    """Upload release NAME's objects, then its manifest, then its name to the filer remote.

    The name is written last and only if the remote does not have it: a published name never
    moves (unless --force). Publishing the same release again only checks the objects.

    \b
    Example:
      git filer release publish 2026.11.1 -r prod
    """
    from .commands.release import publish
    from .ui import human_bytes

    result = publish(c.project(), name, remote=remote, force=force, jobs=jobs, sink=c.sink())
    if as_json:
        emit_json(result.to_json())
        return
    t = result.transfer
    verb = "already published" if result.already else "published"
    c.say(f"{verb} release {escape_text(name)} to {escape_text(result.remote)} ({t.objects} object(s), {human_bytes(t.bytes)} uploaded, {t.present} already there)")


@release.command("list")
@remote_option("Filer remote to list")
@click.option("--local", "local_only", is_flag=True, help="Only the releases created in this clone (no network).")
@json_option
@pass_ctx
def release_list(c: Ctx, remote: str | None, local_only: bool, as_json: bool) -> None:
    """List releases: those published to the filer remote, and those created here but not yet published.

    Outside a repository (a deployment host), -r URL lists what that remote has published.

    \b
    Example:
      git filer release list -r s3://ml-artifacts/ranker
    """
    from .commands.release import listing
    from .config import is_location
    from .errors import FilerError
    from .ui import human_bytes

    skipped: list[tuple[str, str]] = []
    try:
        project = c.project()
    except FilerError:
        if not (remote and is_location(remote)) or local_only:
            raise
        project = None  # a host with no repository: list what the remote at that URL has published
    rows = listing(project, remote=remote, local_only=local_only, skipped=skipped)
    for name, why in skipped:
        c.note(f"warning: release {escape_text(name)} cannot be read and is not listed: {escape_text(why)}")
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    if not rows:
        c.note("no releases yet; create one with 'git filer release create NAME'")
    for r in rows:
        state = "" if r.published is not False else "  (not published)"
        commit = r.release.commit[:12] if r.release.commit else "-"
        c.say(f"{escape_text(r.release.name):<20} {r.release.created}  {human_bytes(r.release.size):>10}  {commit}  {escape_text(_components_line(r))}{state}")


# -- deploy -----------------------------------------------------------------------------------------


class _DeployGroup(_Group):
    """`deploy NAME ...` is `deploy run NAME ...`: the verb users type most needs no subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


target_option = click.option(
    "--target", "target", default=env.TARGET.raw, metavar="DIR", type=click.Path(file_okay=False),
    help="The deployment directory (releases/, current); also: GITFILER_TARGET.",
)


def _need_target(target: str | None) -> str:
    if not target:
        raise click.UsageError("give the deployment directory with --target DIR (or set GITFILER_TARGET)")
    return target


@cli.group(cls=_DeployGroup, short_help="Install a release on this host and switch to it atomically.")
def deploy() -> None:
    """Install a release into a target directory and make it live; look after what is there.

    'git-filer deploy NAME' is short for 'git-filer deploy run NAME'. No git is needed on the
    host: only the remote's URL (and, for S3, the usual AWS credential chain). See
    docs/deploy-hosts.md.

    \b
    Example:
      git-filer deploy 2026.11.1 --from s3://bucket/ranker --target /srv/ranker
      git-filer deploy status --target /srv/ranker
      git-filer deploy rollback --target /srv/ranker
    """


@deploy.command("run")
@click.argument("name", required=False, callback=_release_name)
@click.option("--from", "source", metavar="URL|REMOTE", help="Remote to fetch the published release from (s3://bucket/prefix or a directory; inside a repository also a remote's name).")
@click.option("--ref", metavar="REV", help="Deploy the artifacts of this commit, branch or tag of the current repository instead (NAME defaults to git-<commit>).")
@target_option
@click.option("-I", "--include", multiple=True, metavar="GLOB", help="Only components named GLOB or files whose release path matches GLOB (repeatable); matching nothing is an error.")
@click.option("--cache", default=env.cache_dir, type=click.Path(file_okay=False), help="Object cache to use (also: GITFILER_CACHE_DIR; default: TARGET/.filer-deploy/cache).")
@click.option("--link-components", is_flag=True, help="Also make TARGET/<component> -> current/<path> links.")
@click.option("-n", "--dry-run", is_flag=True, help="Say what would be fetched and switched; change nothing.")
@click.option("--force", is_flag=True, help="Rebuild a present (not live) release whose content differs.")
@click.option("--wait", type=click.FloatRange(0), default=0, metavar="SECONDS", help="If another deploy to TARGET is running, wait this long for it (default: refuse at once).")
@click.option("--from-env", is_flag=True, help="Take the remote, release, target and cache from GITFILER_REMOTE, GITFILER_RELEASE, GITFILER_TARGET, GITFILER_CACHE_DIR (containers).")
@jobs_option
@json_option
@pass_ctx
def deploy_run(
    c: Ctx, name: str | None, source: str | None, ref: str | None, target: str | None, include: tuple[str, ...], cache: str | None,
    link_components: bool, dry_run: bool, force: bool, wait: float, from_env: bool, jobs: int | None, as_json: bool,
) -> None:
    """Fetch release NAME, verify every byte, build it under TARGET/releases/NAME and switch TARGET/current to it.

    The switch is atomic (a new link renamed over the old one); a failed or interrupted
    deploy leaves the live release as it was. Deploying the live release again does nothing.

    \b
    Example:
      git-filer deploy 2026.11.1 --from s3://bucket/ranker --target /srv/ranker
      git-filer deploy --from-env          # GITFILER_REMOTE, GITFILER_RELEASE, GITFILER_TARGET
      git filer deploy --ref v1.4 --target /srv/ranker-staging
    """
    from .commands import deploy as d

    project = None
    if from_env:  # first: it reports every bad variable at once, GITFILER_JOBS among them
        given = [flag for flag, value in (("NAME", name), ("--from", source), ("--target", target if target != env.TARGET.raw() else None), ("--ref", ref)) if value]
        if given:
            raise click.UsageError(f"--from-env takes the release, remote and target from the environment; drop {', '.join(given)} or drop --from-env")
        settings = d.settings_from_env()
        source, name, target, cache, jobs = settings.remote, settings.release, settings.target, settings.cache or cache, jobs or settings.jobs
    jobs = jobs or env.jobs() or 16
    target = _need_target(target)
    if source and ref:
        raise click.UsageError("give either --from (a published release) or --ref (a commit of this repository), not both")
    if ref:
        from .errors import NotARepositoryError

        try:
            project = c.project(cache=cache)
        except NotARepositoryError:
            raise click.UsageError("--ref deploys a commit of the current repository: run it inside the repository, or deploy a published release with --from URL") from None
        src = d.ref_source(project, ref, name, remote=None, jobs=jobs)
    else:
        if not name:
            raise click.UsageError("name the release to deploy (or use --ref REV, or --from-env)")
        if not source or not is_location(source):
            from .errors import NotARepositoryError

            try:
                project = c.project()  # a remote's name, or the default remote: the repository's config says which
            except NotARepositoryError:
                what = f"{source!r} is not a URL" if source else "no --from given"
                raise click.UsageError(f"{what}: outside a repository, give the remote's URL, e.g. --from s3://bucket/prefix or --from /srv/filer-remote") from None
        cache_dir = d.cache_for(target, cache, dry_run=dry_run)
        src = d.remote_source(source, name, cache=cache_dir, jobs=jobs, project=project)
    result = d.deploy(target, src, include=include, jobs=jobs, dry_run=dry_run, force=force, link_components=link_components, sink=c.sink(), wait=wait)
    if as_json:
        emit_json(result.to_json())
        return
    from .ui import human_bytes

    where = quote_path(result.target)
    if result.dry_run:
        fetch = f"fetch {result.fetched_objects} object(s), {human_bytes(result.fetched_bytes)}; " if result.fetched_objects else ""
        switch = f"switch current from {escape_text(result.previous or 'nothing')}" if result.changed else "leave current as it is"
        c.say(f"would deploy {escape_text(result.release)} to {where}: {result.files} file(s), {human_bytes(result.bytes)}; {fetch}{switch}")
        return
    if not result.changed and not result.placed:
        c.say(f"{escape_text(result.release)} is already live in {where}; nothing to do")
        return
    fetched = f", fetched {result.fetched_objects} object(s) ({human_bytes(result.fetched_bytes)})" if result.fetched_objects else ""
    was = f" (was {escape_text(result.previous)})" if result.previous and result.changed else ""
    c.say(f"deployed {escape_text(result.release)} to {where}: {result.files} file(s), {human_bytes(result.bytes)}{fetched} in {result.seconds:.2f}s")
    c.say(f"current -> releases/{escape_text(result.release)}{was}")


@deploy.command("status")
@target_option
@json_option
@pass_ctx
def deploy_status(c: Ctx, target: str | None, as_json: bool) -> None:
    """Show the live release, the one rollback returns to, every release present and the disk they use.

    \b
    Example:
      git-filer deploy status --target /srv/ranker
    """
    from .commands.deploy import status
    from .deployment import age
    from .ui import human_bytes

    result = status(_need_target(target))
    if as_json:
        emit_json(result.to_json())
        return
    c.say(f"{quote_path(result.target)}: live {escape_text(result.live or 'nothing')}; releases take {human_bytes(result.disk_used)} on disk")
    for r in result.releases:
        mark = "live" if r.live else "previous" if r.previous else ""
        comps = ", ".join(f"{x['name']} {x['version']}" if x.get("version") else str(x["name"]) for x in r.components)
        commit = r.commit[:12] if r.commit else "-"
        c.say(f"{'*' if r.live else ' '} {escape_text(r.name):<20} {mark:<8} {age(r.deployed)}  {r.files:>6} file(s) {human_bytes(r.size):>10}  {commit}  {escape_text(comps)}")


@deploy.command("verify")
@target_option
@click.option("--release", "name", metavar="NAME", help="Check this present release instead of the live one.")
@click.option("--deep", is_flag=True, help="Re-hash every file (default: presence, size, type and read-only mode).")
@jobs_option
@json_option
@pass_ctx
def deploy_verify(c: Ctx, target: str | None, name: str | None, deep: bool, jobs: int | None, as_json: bool) -> None:
    """Check that the live release is exactly what was deployed; exits non-zero naming each file that is not.

    \b
    Example:
      git-filer deploy verify --target /srv/ranker --deep
    """
    from .commands.deploy import verify

    result = verify(_need_target(target), release=name, deep=deep, jobs=jobs or min(4, os.cpu_count() or 1))
    failure = result.failure()
    if as_json:
        emit_json(result.to_json())
    elif failure is None:
        how = "every byte re-hashed" if deep else "presence, size and mode; --deep re-hashes"
        c.say(f"release {escape_text(result.release)} in {quote_path(result.target)} verified: {result.files} file(s) ({how})")
    if failure is not None:
        raise failure


def _say_switch(c: Ctx, result: Any, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_json())
    elif result.changed:
        c.say(f"current -> releases/{escape_text(result.release)} in {quote_path(result.target)} (was {escape_text(result.previous or 'nothing')})")
    else:
        c.say(f"{escape_text(result.release)} is already live in {quote_path(result.target)}")


@deploy.command("rollback")
@target_option
@json_option
@pass_ctx
def deploy_rollback(c: Ctx, target: str | None, as_json: bool) -> None:
    """Switch back, atomically, to the release deployed before the live one.

    \b
    Example:
      git-filer deploy rollback --target /srv/ranker
    """
    from .commands.deploy import rollback

    _say_switch(c, rollback(_need_target(target)), as_json)


@deploy.command("switch")
@click.argument("name", callback=_release_name)
@target_option
@json_option
@pass_ctx
def deploy_switch(c: Ctx, name: str, target: str | None, as_json: bool) -> None:
    """Make the present release NAME live, atomically.

    \b
    Example:
      git-filer deploy switch 2026.10.3 --target /srv/ranker
    """
    from .commands.deploy import switch

    _say_switch(c, switch(_need_target(target), name), as_json)


@deploy.command("prune")
@target_option
@click.option("--keep", type=click.IntRange(1), default=3, show_default=True, help="How many of the most recently deployed releases to keep.")
@click.option("-n", "--dry-run", is_flag=True, help="Only say what would be removed.")
@json_option
@pass_ctx
def deploy_prune(c: Ctx, target: str | None, keep: int, dry_run: bool, as_json: bool) -> None:
    """Remove old releases, keeping the --keep most recent, and never the live one or the one rollback returns to.

    The target's own cache (.filer-deploy/cache) is trimmed to what the remaining releases use;
    a cache given with --cache or GITFILER_CACHE_DIR may be shared and is left alone.

    \b
    Example:
      git-filer deploy prune --keep 3 --target /srv/ranker
    """
    from .commands.deploy import prune
    from .ui import human_bytes

    result = prune(_need_target(target), keep=keep, dry_run=dry_run)
    if as_json:
        emit_json(result.to_json())
        return
    verb = "would remove" if dry_run else "removed"
    cached = f" and {result.cache_objects_removed} cached object(s) they alone used" if result.cache_objects_removed else ""
    if not result.removed and not result.cache_objects_removed:
        c.say(f"nothing to prune in {quote_path(result.target)} ({len(result.kept)} release(s) kept)")
    else:
        names = f": {escape_text(', '.join(result.removed))}" if result.removed else ""
        c.say(f"{verb} {len(result.removed)} release(s){cached} from {quote_path(result.target)} ({human_bytes(result.freed)}){names}")

