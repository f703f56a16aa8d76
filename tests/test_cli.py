"""The command line refuses to run where it would do harm."""
from sqlalchemy import func, select

from points.auth.models import User
from points.extensions import db

from . import factories


def test_demo_refuses_a_database_with_real_data(runner):
    factories.gen_village()
    db.session.commit()
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0 and "演示村只能装进空数据库" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
