"""卫生评比 through the pages: a leader scores the grid assigned to them on the phone sheet, the admin publishes,
the week, the month and a household's history show the results; settings, assignment and exports."""
import io

import openpyxl
from sqlalchemy import select

from points.auth.models import Role
from points.extensions import db
from points.hygiene import services
from points.hygiene.models import Score
from points.ledger.queries import balance_of

from .. import factories
from .helpers import gen_scene, week_ago


def test_a_leader_scores_the_assigned_grid_and_the_admin_publishes(client, login):
    scene = gen_scene(per_grid=4)
    village = scene.village.village
    login(scene.admin)
    week = client.get(f"/villages/{village.id}/hygiene").get_data(as_text=True)
    assert "开始本周评比" in week and "由 第" in week
    # Last week's round: this week may count in a month not yet begun (Thursday 2 March on 29 February), whose
    # summary cannot be published yet.
    response = client.post(f"/villages/{village.id}/hygiene/rounds", data={"week": week_ago(1)})
    assert response.status_code == 302
    round_ = scene.round(week_ago(1))
    leader = scene.inspector_of(round_, 0)
    grid = scene.village.grids[0]

    login(leader)
    listing = client.get(f"/hygiene/rounds/{round_.id}/grids/{grid.id}").get_data(as_text=True)
    assert "0/4 已评" in listing
    item = services.checklist(village.id)[0]
    for index, household in enumerate(scene.households[0]):
        page = client.get(f"/hygiene/rounds/{round_.id}/households/{household.id}")
        assert page.status_code == 200 and "不扣" in page.get_data(as_text=True)
        saved = client.post(f"/hygiene/rounds/{round_.id}/households/{household.id}",
                            data={"revision": 0, f"item-{item.id}": index, "note": ""})
        assert saved.status_code == 302
    assert "4/4 已评" in client.get(f"/hygiene/rounds/{round_.id}/grids/{grid.id}").get_data(as_text=True)
    # The leader of the grid being inspected may not score it, nor the other grids.
    login(scene.leaders[0])
    assert client.get(f"/hygiene/rounds/{round_.id}/grids/{grid.id}").status_code == 403
    assert client.post(f"/hygiene/rounds/{round_.id}/households/{scene.households[0][0].id}",
                       data={"revision": 1}).status_code == 403

    login(scene.admin)
    assert client.post(f"/hygiene/rounds/{round_.id}/publish", data={"key": "k1"}).status_code == 302
    assert [balance_of(h.id) for h in scene.households[0]] == [20, 20, 20, 0]
    page = client.get(f"/villages/{village.id}/hygiene?week={round_.week}").get_data(as_text=True)
    assert "卫生保洁示范户" in page and scene.households[0][0].number in page and "张*明" in page
    history = client.get(f"/households/{scene.households[0][3].id}/inspections").get_data(as_text=True)
    assert item.name in history and "-3" in history

    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/hygiene/rounds/{round_.id}.xlsx").data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:4] == ("网格", "检查网格", "名次", "户号") and len(rows) == 5

    assert client.post(f"/villages/{village.id}/hygiene/months/{round_.month}/publish",
                       data={"key": "m1"}).status_code == 302
    month = client.get(f"/villages/{village.id}/hygiene/months/{round_.month}").get_data(as_text=True)
    assert "流动红旗" in month and "网格排名" in month
    assert balance_of(scene.households[0][0].id) == 70
    assert "🚩" in client.get(f"/households/{scene.households[0][0].id}/inspections").get_data(as_text=True)
    month_book = openpyxl.load_workbook(io.BytesIO(
        client.get(f"/villages/{village.id}/hygiene/months/{round_.month}.xlsx").data))
    assert month_book.sheetnames[0] == "网格排名"


def test_a_stale_sheet_is_not_saved_over(client, login):
    scene = gen_scene(per_grid=2)
    round_ = scene.round()
    db.session.commit()
    household = scene.households[0][0]
    item = services.checklist(scene.village.village.id)[0]
    login(scene.admin)
    assert client.post(f"/hygiene/rounds/{round_.id}/households/{household.id}",
                       data={"revision": 0, f"item-{item.id}": 2}).status_code == 302
    stale = client.post(f"/hygiene/rounds/{round_.id}/households/{household.id}",
                        data={"revision": 0, f"item-{item.id}": 5})
    assert stale.status_code == 409 and "刚被别人保存过" in stale.get_data(as_text=True)
    assert db.session.scalar(select(Score.deductions)) == 2


def test_settings_checklist_and_assignment(client, login):
    scene = gen_scene(per_grid=1)
    village = scene.village.village
    login(scene.admin)
    assert "门前卫生" in client.get(f"/villages/{village.id}/hygiene/settings").get_data(as_text=True)
    data = {"full_score": 100, "model_count": 2, "model_points": 30, "shame_count": 1, "penalty_rule_id": 0,
            "ties": "none", "unscored": "clean", "flag_points": 60, "name-0": "门前卫生", "max-0": 10,
            "name-1": "杂物堆放", "max-1": 8}
    assert client.post(f"/villages/{village.id}/hygiene/settings", data=data).status_code == 302
    settings = services.settings_of(village.id)
    assert (settings.model_count, settings.model_points, settings.ties.value) == (2, 30, "none")
    assert [(i.name, i.max_deduction) for i in services.checklist(village.id)] == [("门前卫生", 10), ("杂物堆放", 8)]
    refused = client.post(f"/villages/{village.id}/hygiene/settings", data=data | {"full_score": 10})
    assert refused.status_code == 422 and "满分" in refused.get_data(as_text=True)

    round_ = scene.round()
    db.session.commit()
    grids = scene.village.grids
    itself = client.post(f"/hygiene/rounds/{round_.id}/assignment", data={f"grid-{grids[0].id}": grids[0].id})
    assert itself.status_code == 422 and "不能检查自己" in itself.get_data(as_text=True)
    swapped = {f"grid-{grids[0].id}": grids[1].id, f"grid-{grids[1].id}": grids[0].id, f"grid-{grids[2].id}": ""}
    assert client.post(f"/hygiene/rounds/{round_.id}/assignment", data=swapped).status_code == 302
    assert services.assignment_of(round_, grids[2].id).inspector_grid_id is None

    login(scene.leaders[0])
    assert client.get(f"/villages/{village.id}/hygiene/settings").status_code == 403


def test_villagers_see_results_of_their_own_village_only(client, login):
    scene = gen_scene(per_grid=1)
    other = gen_scene(per_grid=1)
    villager = factories.gen_villager(scene.households[0][0])
    worker = factories.gen_user(Role.GRID_WORKER, scene.village.grids[1])
    db.session.commit()
    login(villager)
    assert client.get("/hygiene").headers["Location"].endswith(f"/villages/{scene.village.village.id}/hygiene")
    assert client.get(f"/villages/{scene.village.village.id}/hygiene").status_code == 200
    assert client.get(f"/villages/{other.village.village.id}/hygiene").status_code == 403
    assert client.post(f"/villages/{scene.village.village.id}/hygiene/rounds", data={"week": "2026-W01"}).status_code == 403
    login(worker)
    assert client.get(f"/villages/{scene.village.village.id}/hygiene").status_code == 200
