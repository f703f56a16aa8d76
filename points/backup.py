"""flask --app points backup: a consistent copy of the database, and an archive of the uploaded photos, in a folder."""
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.engine import URL

from .media import THUMB_FOLDER


class BackupError(Exception):
    """A backup that could not be made; the message tells the operator why, in Chinese."""


def back_up(url: URL, upload_folder: str | None, dest: str, now: datetime) -> list[str]:
    """Write the database (SQLite: points-STAMP.db; PostgreSQL: points-STAMP.dump) and, when the folder exists, the
    uploads (uploads-STAMP.tar.gz) into dest, STAMP being now (UTC) as 20261124T031500Z; return the paths written.

    Each file is written under a temporary name and renamed when complete, so a failure leaves no partial file.
    Raises BackupError.
    """
    os.makedirs(dest, exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = os.path.join(dest, f"points-{stamp}.db")
        with _writing(path) as partial:
            _copy_sqlite(url.database, partial)
    elif backend == "postgresql":
        path = os.path.join(dest, f"points-{stamp}.dump")
        with _writing(path) as partial:
            _dump_postgres(url, partial)
    else:
        raise BackupError(f"不支持备份 {backend} 数据库")
    written = [path]
    if upload_folder and os.path.isdir(upload_folder):
        path = os.path.join(dest, f"uploads-{stamp}.tar.gz")
        with _writing(path) as partial:
            with tarfile.open(partial, "w:gz") as archive:
                # Untarred into UPLOAD_FOLDER as it stands; a 花名册 waiting for its preview's confirmation is not kept,
                # nor the photos' thumbnails, which are made again when first asked for.
                archive.add(upload_folder, arcname=".", filter=_kept)
        written.append(path)
    return written


def _kept(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    left_out = ("./imports", f"./{THUMB_FOLDER}")
    return None if member.name in left_out or member.name.startswith(tuple(f"{d}/" for d in left_out)) else member


@contextmanager
def _writing(path: str) -> Iterator[str]:
    """A temporary file beside path (readable by the owner only: a backup holds personal data), renamed to path once
    the block is done, removed if it fails."""
    if os.path.exists(path):
        raise BackupError(f"{path} 已存在，未覆盖")
    descriptor, partial = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.",
                                           suffix=".part")
    os.close(descriptor)
    try:
        yield partial
        os.replace(partial, path)
    except BaseException:
        os.remove(partial)
        raise


def _copy_sqlite(database: str | None, target: str) -> None:
    """An online copy through SQLite's backup API, in one step: it reads one snapshot of the database, whatever the
    app writes meanwhile (in WAL mode a reader neither waits for a writer nor holds one up)."""
    if not database or database == ":memory:" or not os.path.isfile(database):
        raise BackupError(f"找不到数据库文件 {database or '(内存数据库)'}")
    source = sqlite3.connect(database, timeout=30)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
    except sqlite3.Error as error:
        raise BackupError(f"复制 SQLite 数据库失败：{error}") from error
    finally:
        source.close()


def _dump_postgres(url: URL, target: str) -> None:
    """pg_dump --format=custom of the database, given to libpq as a postgresql:// URL without the password, which
    goes in PGPASSWORD: a command line is visible to every user of the machine."""
    program = shutil.which("pg_dump")
    if program is None:
        raise BackupError("找不到 pg_dump：请安装 PostgreSQL 客户端（版本不低于服务器，Debian 上为 postgresql-client）")
    libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    result = subprocess.run([program, "--format=custom", "--no-password", f"--file={target}", f"--dbname={libpq}"],
                            env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"pg_dump 失败（退出码 {result.returncode}）：{result.stderr.strip()}")
