"""flask --app points backup DEST: a copy of the database that restores (SQLite: the file; PostgreSQL: pg_restore)
into a database that verifies and holds the same rows, the uploads beside it, and nothing half-written on failure."""
import os
import shutil
import subprocess
import tarfile
import threading

import pytest
from sqlalchemy import create_engine, func, select, text

from points import create_app
from points.extensions import db
from points.ledger.models import EntrySource, HouseholdBalance, LedgerEntry
from points.ledger.services import post_entry

from . import factories
from .test_verify import build_activity


def snapshot() -> dict:
    """Every table's row count, and every household's balance, in the current app's database."""
    counts = {table.name: db.session.scalar(select(func.count()).select_from(table))
              for table in db.metadata.sorted_tables}
    balances = dict(db.session.execute(select(HouseholdBalance.household_id, HouseholdBalance.balance)).all())
    return {"counts": counts, "balances": balances}


def restored_state(uri: str, tmp_path) -> tuple[int, str, dict]:
    """Open the restored database as the app would (create_app pointing there): verify's exit code and output, and
    its snapshot."""
    restored = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "test",
                           "UPLOAD_FOLDER": str(tmp_path / "restored-uploads")})
    with restored.app_context():
        try:
            result = restored.test_cli_runner().invoke(args=["verify"])
            return result.exit_code, result.output, snapshot()
        finally:
            db.session.remove()
            db.engine.dispose()


def written(output: str) -> list[str]:
    """The paths the backup command says it wrote."""
    return [line.split(" ")[1].split("（")[0] for line in output.splitlines() if line.startswith("已写入 ")]


@pytest.fixture
def state(app, village):
    """Activity in the database, a photo in the upload folder, and the snapshot of both."""
    build_activity(village)
    photo = os.path.join(app.config["UPLOAD_FOLDER"], "claims", "backup-test.jpg")
    os.makedirs(os.path.dirname(photo), exist_ok=True)
    with open(photo, "wb") as handle:
        handle.write(b"\xff\xd8 a photo")
    yield snapshot()
    os.remove(photo)


def test_a_sqlite_backup_restores_to_the_same_database(runner, state, tmp_path):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's backup: the test database is PostgreSQL")

    result = runner.invoke(args=["backup", str(tmp_path / "backups")])

    assert result.exit_code == 0, result.output
    database, uploads = written(result.output)
    assert os.path.basename(database).startswith("points-") and database.endswith("Z.db")
    assert os.path.basename(uploads) == os.path.basename(database).replace("points-", "uploads-")[:-3] + ".tar.gz"
    assert sorted(os.listdir(tmp_path / "backups")) == sorted(map(os.path.basename, (database, uploads)))
    # The restore: the app stopped, the copy put where DATABASE_URL points, the uploads untarred into UPLOAD_FOLDER.
    (tmp_path / "instance").mkdir()
    shutil.copy(database, tmp_path / "instance" / "points.db")
    with tarfile.open(uploads) as archive:
        archive.extractall(tmp_path / "restored-uploads", filter="data")
    exit_code, output, restored = restored_state("sqlite:///" + str(tmp_path / "instance" / "points.db"), tmp_path)

    assert exit_code == 0, output
    assert restored == state
    assert restored["counts"]["ledger_entries"] > 10 and restored["counts"]["redemptions"] == 2
    assert (tmp_path / "restored-uploads" / "claims" / "backup-test.jpg").read_bytes() == b"\xff\xd8 a photo"


def test_a_postgresql_backup_restores_to_the_same_database(runner, state, tmp_path):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("pg_dump and pg_restore: the test database is SQLite")
    target = db.engine.url.set(database=f"{db.engine.url.database}_restore")
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))

    try:
        result = runner.invoke(args=["backup", str(tmp_path / "backups")])
        assert result.exit_code == 0, result.output
        dump, uploads = written(result.output)
        assert dump.endswith("Z.dump") and uploads.endswith("Z.tar.gz")
        libpq = target.set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={libpq}", dump], check=True)
        exit_code, output, restored = restored_state(target.render_as_string(hide_password=False), tmp_path)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        admin.dispose()

    assert exit_code == 0, output
    assert restored == state
    assert restored["counts"]["ledger_entries"] > 10 and restored["counts"]["redemptions"] == 2


def test_a_sqlite_backup_while_entries_are_posted_is_consistent(app, runner, village, tmp_path):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's online backup: the test database is PostgreSQL")
    household = factories.gen_household(village.grids[0])
    db.session.commit()
    household_id = household.id
    stop, posted = threading.Event(), []

    def keep_posting():
        with app.app_context():
            while not stop.is_set():
                post_entry(household_id, 1, EntrySource.MANUAL, factories.unique("busy-"))
                db.session.commit()
                posted.append(1)
            db.session.remove()

    writer = threading.Thread(target=keep_posting)
    writer.start()
    copies = []
    try:
        for number in range(3):
            while len(posted) < 20 * (number + 1) and writer.is_alive():
                stop.wait(0.01)
            assert writer.is_alive()  # still posting while the copy is taken
            result = runner.invoke(args=["backup", str(tmp_path / f"backup{number}")])
            assert result.exit_code == 0, result.output
            copies.append(written(result.output)[0])
    finally:
        stop.set()
        writer.join()

    entries = []
    for copy in copies:
        exit_code, output, restored = restored_state("sqlite:///" + copy, tmp_path)
        assert exit_code == 0, output
        entries.append(restored["counts"]["ledger_entries"])
        assert restored["balances"] == {household_id: entries[-1]}
    assert entries == sorted(entries) and entries[0] >= 20
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == len(posted)


def test_without_pg_dump_the_backup_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    exit_code, output = backup_of("postgresql+psycopg://points:s3cret@127.0.0.1:1/points", tmp_path)

    assert exit_code == 1
    assert "找不到 pg_dump" in output
    assert os.listdir(tmp_path / "backups") == []


def test_a_failing_pg_dump_leaves_nothing_and_shows_no_password(tmp_path):
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")

    exit_code, output = backup_of("postgresql+psycopg://points:s3cret@127.0.0.1:1/points", tmp_path)

    assert exit_code == 1
    assert "pg_dump 失败" in output and "s3cret" not in output
    assert os.listdir(tmp_path / "backups") == []


def backup_of(uri: str, tmp_path) -> tuple[int, str]:
    """Run the backup command of an app whose database is uri; its exit code and output."""
    other = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "test", "UPLOAD_FOLDER": str(tmp_path / "none")})
    with other.app_context():
        result = other.test_cli_runner().invoke(args=["backup", str(tmp_path / "backups")])
    return result.exit_code, result.output


def test_the_uploads_archive_leaves_out_waiting_imports_and_thumbnails():
    import tarfile

    from points.backup import _kept

    def kept(name: str) -> bool:
        return _kept(tarfile.TarInfo(name)) is not None

    assert kept("./claims") and kept("./claims/3f2a.jpg") and kept("./thumbsup.jpg")
    assert not any(kept(name) for name in ("./imports", "./imports/a1b2", "./thumbs", "./thumbs/3f2a.jpg"))
