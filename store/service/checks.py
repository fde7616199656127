"""The team service's start-up checks: one set of rules for `serve`, `serve --check` and the
clients, so that what one refuses the others refuse too.

- The store file, its WAL and marker belong to the service's user, mode 0600, in a folder
  nobody else can write (or, with --group, enter).
- The socket's folder can be written only by the service's user (or root): whoever can write
  it can put their own socket in its place and read every answer sent to it.
- POSIX ACLs are read too (the `system.posix_acl_access` and `system.posix_acl_default`
  extended attributes): an ACL entry naming a user or group gives access the mode bits do not
  show, and a default ACL on the socket's folder would be copied onto the socket itself.
- A connecting user must belong to --group: the socket's mode is not the only gate.

Nothing here imports DuckDB: the clients run these checks too."""

from __future__ import annotations

import errno
import grp
import os
import pwd
import socket
import stat
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from store.errors import InvalidInputError
from store.location import SOCKET_SUFFIX, marker_path, wal_path

ACCESS_ACL = "system.posix_acl_access"
DEFAULT_ACL = "system.posix_acl_default"
_ACL_VERSION = 2
_ACL_USER, _ACL_GROUP, _ACL_MASK = 0x02, 0x08, 0x10
_ACL_ENTRY = struct.Struct("<HHI")  # tag, permissions, uid/gid (see acl_ea.h)


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid-{uid}"  # a uid without a passwd entry still has a stable name


def group_label(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def resolve_group(group: str) -> int:
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise InvalidInputError(f"no group named {group!r} on this machine") from None


# -- ACLs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AclGrant:
    """An ACL entry naming one user or group, with the permissions it really gives (after the mask)."""

    kind: str  # "user" or "group"
    id: int
    perms: int  # rwx as 4|2|1

    def describe(self) -> str:
        who = f"user {user_name(self.id)}" if self.kind == "user" else f"group {group_label(self.id)}"
        rwx = "".join(letter if self.perms & bit else "-" for letter, bit in (("r", 4), ("w", 2), ("x", 1)))
        return f"{who} {rwx}"


def parse_acl(data: bytes) -> list[AclGrant]:
    """The named-user and named-group entries of a POSIX ACL extended attribute that grant anything."""
    if len(data) < 4 or (len(data) - 4) % _ACL_ENTRY.size or struct.unpack_from("<I", data)[0] != _ACL_VERSION:
        raise ValueError("not a POSIX ACL")
    entries = [_ACL_ENTRY.unpack_from(data, offset) for offset in range(4, len(data), _ACL_ENTRY.size)]
    mask = next((perms for tag, perms, _ in entries if tag == _ACL_MASK), 0o7)
    grants = []
    for tag, perms, ident in entries:
        if tag in (_ACL_USER, _ACL_GROUP) and perms & mask:
            grants.append(AclGrant("user" if tag == _ACL_USER else "group", ident, perms & mask))
    return grants


def read_acl(path: Path, default: bool = False) -> list[AclGrant]:
    """The grants of `path`'s access ACL (or its default ACL); none when it has no ACL or the
    file system has none."""
    try:
        data = os.getxattr(path, DEFAULT_ACL if default else ACCESS_ACL)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOENT, errno.EPERM):
            return []
        raise
    return parse_acl(data)


def acl_problems(path: Path, what: str) -> list[str]:
    """Every ACL entry that lets a named user or group at `path`, and, for a folder, every
    default entry that would be copied onto what is made in it."""
    problems = []
    kinds = [(False, "an ACL", "setfacl -b")]
    if path.is_dir():
        kinds.append((True, "a default ACL", "setfacl -k"))
    for default, label, fix in kinds:
        try:
            grants = read_acl(path, default)
        except (OSError, ValueError):
            problems.append(f"{path} ({what}): cannot read its ACL; remove it: {fix} {path}")
            continue
        if grants:
            problems.append(
                f"{path} ({what}) has {label} that gives {', '.join(g.describe() for g in grants)} access the "
                f"mode does not show (getfacl {path}); remove it: {fix} {path}"
            )
    return problems


# -- the socket's folder ------------------------------------------------------------------
def socket_folder_problems(folder: Path, gid: int | None, owners: Iterable[int]) -> list[str]:
    """Why the socket's folder is unsafe, with the command that fixes each; [] when it is safe.

    `owners`: the users who may own and write it (the service's user and root). With `gid`,
    the group must be able to enter it. `serve` refuses to start, `serve --check` reports, and a
    client refuses to talk to a socket there, on the same list."""
    try:
        st = folder.stat()
    except OSError as exc:
        return [f"{folder} (the socket's folder): {exc.strerror or exc}"]
    owners = tuple(owners)
    owner = next((uid for uid in owners if uid != 0), os.geteuid())
    problems = []
    if st.st_mode & 0o022 or st.st_uid not in owners:
        problems.append(
            f"{folder} (the socket's folder) can be written by others (mode {st.st_mode & 0o7777:o}, owner "
            f"{user_name(st.st_uid)}); give the socket a folder only the service's user writes: "
            f"chown {user_name(owner)} {folder} && chmod 750 {folder}"
        )
    problems += acl_problems(folder, "the socket's folder")
    if gid is not None and not (st.st_mode & 0o010 and st.st_gid == gid) and not st.st_mode & 0o001:
        problems.append(
            f"{folder} (the socket's folder) cannot be entered by group {group_label(gid)}: "
            f"chgrp {group_label(gid)} {folder} && chmod 750 {folder}"
        )
    return problems


# -- the store's files -------------------------------------------------------------------
def store_problems(store_path: Path, socket_path: Path, gid: int | None) -> list[str]:
    """What makes this layout unsafe for `serve`, each with the command that fixes it."""
    problems = []
    me = os.geteuid()
    if store_path.name.endswith(SOCKET_SUFFIX) or stat.S_ISSOCK(_lstat_mode(store_path)):
        problems.append(f"{store_path} is a socket's name, not a store's: give the store file as --store")
    for path in (store_path, wal_path(store_path), marker_path(store_path)):
        if path.is_symlink():
            if path == store_path:
                problems.append(f"{path} is a symbolic link; give the real path: --store {path.resolve()}")
            else:  # the store's WAL or marker: the service would write through the link
                problems.append(
                    f"{path} is a symbolic link (to {os.readlink(path)}); the service writes this file itself, "
                    f"so remove the link while the service is down: rm {path}"
                )
            continue
        if not path.exists():
            continue
        st = path.stat()
        if st.st_uid != me:
            problems.append(
                f"{path} belongs to {user_name(st.st_uid)}, not to the service's user {user_name(me)}: "
                f"chown {user_name(me)} {path}"
            )
        if st.st_mode & 0o077:
            problems.append(f"{path} is open to others (mode {st.st_mode & 0o777:o}): chmod 600 {path}")
        problems += acl_problems(path, "the store" if path == store_path else "the store's own file")
    folder = store_path.absolute().parent
    folder_st = folder.stat()
    if folder_st.st_mode & 0o022 or folder_st.st_uid not in (me, 0):
        # Others who can write there can plant links where the service writes its marker and WAL.
        problems.append(
            f"{folder} (the store's folder) can be written by others (mode {folder_st.st_mode & 0o777:o}, owner "
            f"{user_name(folder_st.st_uid)}); keep it for the service's user: chown {user_name(me)} {folder} "
            f"&& chmod 700 {folder}"
        )
    problems += acl_problems(folder, "the store's folder")
    if gid is not None:
        folder_mode = folder_st.st_mode & 0o777
        if folder_mode & 0o077:
            problems.append(
                f"{folder} (the store's folder) can be entered by others (mode {folder_mode:o}); "
                f"keep it for the service's user alone: chmod 700 {folder}"
            )
        if socket_path.resolve().parent == folder:
            problems.append(
                f"the socket {socket_path} is in the store's private folder, where the group cannot reach it; "
                "give it a folder of its own: --socket /run/rlhf-tui/NAME.sock"
            )
    return problems


def _lstat_mode(path: Path) -> int:
    try:
        return path.lstat().st_mode
    except OSError:
        return 0


def serve_problems(store_path: Path, socket_path: Path, gid: int | None) -> list[str]:
    """Everything `serve` refuses to start on, and `serve --check` reports: the store's files,
    the socket's name and whatever is at its path, and the socket's folder (when it exists;
    `serve` creates a missing one itself)."""
    problems = store_problems(store_path, socket_path, gid)
    if not socket_path.name.endswith(SOCKET_SUFFIX):
        problems.append(
            f"{socket_path}: a socket's name ends in {SOCKET_SUFFIX}, so that no command takes it for a store file "
            f"while the service is down: --socket {socket_path.with_name(socket_path.name + SOCKET_SUFFIX)}"
        )
    mode = _lstat_mode(socket_path)
    if mode and not stat.S_ISSOCK(mode):
        problems.append(
            f"{socket_path} exists and is not a socket (a store made there by mistake?); serve replaces only a "
            "socket: move that file away, or give another --socket"
        )
    if socket_path.parent.exists():
        problems += socket_folder_problems(socket_path.parent, gid, (os.geteuid(), 0))
    return problems


def socket_in_use(socket_path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(str(socket_path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def running_socket_problems(socket_path: Path, gid: int | None) -> list[str]:
    """What is wrong with the socket a running service made (its group, mode and ACL)."""
    if not stat.S_ISSOCK(_lstat_mode(socket_path)):
        return []
    st = socket_path.lstat()
    problems = []
    if gid is not None and (st.st_gid != gid or st.st_mode & 0o777 != 0o660):
        problems.append(f"{socket_path} should be group {group_label(gid)}, mode 660 (restart the service)")
    if st.st_mode & 0o007:
        problems.append(f"{socket_path} is open to everyone: restart the service, which makes it 660 or 600")
    return problems + acl_problems(socket_path, "the socket")


# -- who may connect ---------------------------------------------------------------------
def _process_groups(pid: int) -> set[int] | None:
    """The groups the kernel gives process `pid` (None when /proc does not say)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Groups:"):
                    return {int(g) for g in line.split()[1:]}
    except (OSError, ValueError):
        return None
    return None


def is_group_member(uid: int, peer_gid: int, pid: int, gid: int) -> bool:
    """Whether the connecting process (its uid, gid and pid from SO_PEERCRED) belongs to group
    `gid`: by the kernel's groups of that process, or else by the group database."""
    if peer_gid == gid:
        return True
    groups = _process_groups(pid)
    if groups is not None and gid in groups:
        return True
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return False
    try:
        members = grp.getgrgid(gid).gr_mem
    except KeyError:
        members = []
    return entry.pw_gid == gid or entry.pw_name in members


def member_names(gid: int) -> list[str]:
    try:
        members = set(grp.getgrgid(gid).gr_mem)
    except KeyError:
        return []
    members |= {p.pw_name for p in pwd.getpwall() if p.pw_gid == gid}
    return sorted(members)


def check_report(store_path: Path, socket_path: Path | None, group: str | None) -> tuple[list[str], list[str]]:
    """(facts, problems) about a served store, for `rlhf-tui serve --check`: the same problems
    `serve` refuses to start on, and what is wrong with the socket of a running service."""
    from store.location import default_socket_path, read_marker

    marker = read_marker(store_path)
    socket_path = socket_path or (Path(marker.socket) if marker else default_socket_path(store_path))
    gid = resolve_group(group) if group else (marker.group if marker else None)
    facts = []
    for path in (store_path.absolute().parent, store_path, wal_path(store_path), socket_path.parent, socket_path):
        if path.exists():
            st = path.stat()
            facts.append(
                f"{path}: owner {user_name(st.st_uid)}, group {group_label(st.st_gid)}, mode {st.st_mode & 0o7777:o}"
            )
        else:
            facts.append(f"{path}: does not exist")
    running = stat.S_ISSOCK(_lstat_mode(socket_path)) and socket_in_use(socket_path)
    facts.append(f"service running: {'yes' if running else 'no'}")
    if gid is not None:
        members = member_names(gid)
        facts.append(f"group {group_label(gid)} (may connect): {', '.join(members) or 'no members'}")
    else:
        facts.append("no --group: only the service's own user may connect")
    admins = marker.admins if marker else (user_name(os.geteuid()),)
    facts.append(f"admins: {', '.join(admins)}")
    problems = serve_problems(store_path, socket_path, gid)
    if running:
        problems += running_socket_problems(socket_path, gid)
    return facts, problems
