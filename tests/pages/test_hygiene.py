"""卫生评比 through the pages: a leader scores the grid assigned to them on the phone sheet, the admin publishes,
the week, the month and a household's history show the results; settings, assignment and exports."""
import io

import openpyxl
from sqlalchemy import select

from points.auth.models import Role
from points.claims import services as claim_services
from points.extensions import db
from points.hygiene import inspection, publishing, village_settings
from points.hygiene.models import Score
from points.ledger.queries import balance_of
from points.periods import week_label, week_of
from points.timeutil import local_today

from .. import factories
from ..hygiene.helpers import entries_of, gen_scene, last_month, score_all, weeks_of_month


def test_a_leader_scores_the_assigned_grid_and_the_admin_publishes(client, login):
    scene = gen_scene(per_grid=4)
    village = scene.village.village
    login(scene.admin)
    week = client.get(f"/villages/{village.id}/hygiene").get_data(as_text=True)
    assert "开始本周评比" in week and "由 第" in week
    # A week of last month: over, and so is its month, whose summary may then be published.
    week = weeks_of_month(last_month())[0]
    response = client.post(f"/villages/{village.id}/hygiene/rounds", data={"week": week})
    assert response.status_code == 302
    round_ = scene.round(week)
    leader = scene.inspector_of(round_, 0)
    grid = scene.village.grids[0]

    login(leader)
    listing = client.get(f"/hygiene/rounds/{round_.id}/grids/{grid.id}").get_data(as_text=True)
    assert "0/4 已评" in listing
    item = village_settings.checklist(village.id)[0]
    for index, household in enumerate(scene.households[0]):
        page = client.get(f"/hygiene/rounds/{round_.id}/households/{household.id}")
        assert page.status_code == 200 and "不扣" in page.get_data(as_text=True)
        saved = client.post(f"/hygiene/rounds/{round_.id}/households/{household.id}",
                            data={"revision": 0, f"item-{item.id}": index, "note": ""})
        assert saved.status_code == 302
    assert "4/4 已评" in client.get(f"/hygiene/rounds/{round_.id}/grids/{grid.id}").get_data(as_text=True)
    # The leader of the grid being inspected may not score it, nor the other grids.
    login(scene.leaders[0])
    refused = client.get(f"/hygiene/rounds/{round_.id}/grids/{grid.id}")
    assert refused.status_code == 403 and "你负责检查" in refused.get_data(as_text=True)
    assert client.post(f"/hygiene/rounds/{round_.id}/households/{scene.households[0][0].id}",
                       data={"revision": 1}).status_code == 403

    login(scene.admin)
    asked = client.post(f"/hygiene/rounds/{round_.id}/publish", data={"key": "k1"}).get_data(as_text=True)
    assert f"{grid.name}：3 户评为示范户各 +20 分" in asked and "确认发布" in asked
    assert [balance_of(h.id) for h in scene.households[0]] == [0, 0, 0, 0]  # asked, nothing written
    assert client.post(f"/hygiene/rounds/{round_.id}/publish", data={"key": "k1", "confirmed": "1"}).status_code == 302
    assert [balance_of(h.id) for h in scene.households[0]] == [20, 20, 20, 0]
    page = client.get(f"/villages/{village.id}/hygiene?week={round_.week}").get_data(as_text=True)
    assert "卫生保洁示范户" in page and scene.households[0][0].number in page and "张*明" in page
    history = client.get(f"/households/{scene.households[0][3].id}/inspections").get_data(as_text=True)
    assert item.name in history and "-3" in history

    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/hygiene/rounds/{round_.id}.xlsx").data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:4] == ("网格", "检查网格", "名次", "户号") and len(rows) == 5

    asked = client.post(f"/villages/{village.id}/hygiene/months/{round_.month}/publish", data={"key": "m1"})
    assert "获流动红旗（+50 分）" in asked.get_data(as_text=True) and balance_of(scene.households[0][0].id) == 20
    assert client.post(f"/villages/{village.id}/hygiene/months/{round_.month}/publish",
                       data={"key": "m1", "confirmed": "1"}).status_code == 302
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
    item = village_settings.checklist(scene.village.village.id)[0]
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
            "ties": "none", "shame_ties": "all", "shame_max": 3, "unscored": "clean", "flag_points": 60,
            "name-0": "门前卫生", "max-0": 10,
            "name-1": "杂物堆放", "max-1": 8}
    assert client.post(f"/villages/{village.id}/hygiene/settings", data=data).status_code == 302
    settings = village_settings.settings_of(village.id)
    assert (settings.model_count, settings.model_points, settings.ties.value) == (2, 30, "none")
    assert [(i.name, i.max_deduction) for i in village_settings.checklist(village.id)] == [
        ("门前卫生", 10), ("杂物堆放", 8)]
    refused = client.post(f"/villages/{village.id}/hygiene/settings", data=data | {"full_score": 10})
    assert refused.status_code == 422 and "满分" in refused.get_data(as_text=True)

    round_ = scene.round()
    db.session.commit()
    grids = scene.village.grids
    itself = client.post(f"/hygiene/rounds/{round_.id}/assignment", data={f"grid-{grids[0].id}": grids[0].id})
    assert itself.status_code == 422 and "不能检查自己" in itself.get_data(as_text=True)
    swapped = {f"grid-{grids[0].id}": grids[1].id, f"grid-{grids[1].id}": grids[0].id, f"grid-{grids[2].id}": ""}
    assert client.post(f"/hygiene/rounds/{round_.id}/assignment", data=swapped).status_code == 302
    assert inspection.assignment_of(round_, grids[2].id).inspector_grid_id is None

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
    assert client.post(f"/villages/{scene.village.village.id}/hygiene/rounds",
                       data={"week": "2026-W01"}).status_code == 403
    login(worker)
    assert client.get(f"/villages/{scene.village.village.id}/hygiene").status_code == 200


def test_publishing_early_is_an_explicit_choice_confirmed_with_the_unscored_counts(client, login):
    scene = gen_scene(per_grid=4)
    village, grid = scene.village.village, scene.village.grids[0]
    round_ = scene.round(week_of(local_today()))  # never over
    score_all(scene, round_, 0, [0, 1])
    login(scene.admin)
    week = client.get(f"/villages/{village.id}/hygiene").get_data(as_text=True)
    assert week_label(round_.monday) in week and round_.week not in week.split("<main")[-1]
    assert f"{grid.name} 2 户" in week and "提前发布全部网格" in week

    plain = client.post(f"/hygiene/rounds/{round_.id}/publish", data={"key": "k1"}, follow_redirects=True)
    assert f"{grid.name}还有 2 户没有评分：要提前发布请确认提前发布" in plain.get_data(as_text=True)
    asked = client.post(f"/hygiene/rounds/{round_.id}/publish", data={"key": "k2", "early": "1"})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "确认提前发布" in page
    assert "提前发布：本周还没结束" in page and f"{grid.name}还有 2 户没有评分" in page
    assert f"{grid.name}：2 户评为示范户各 +20 分，另有 2 户未评分" in page
    assert f'href="/villages/{village.id}/hygiene?week={round_.week}"' in page  # 取消: back, nothing written
    assert [balance_of(h.id) for h in scene.households[0]] == [0, 0, 0, 0]
    assert inspection.assignment_of(round_, grid.id).published_at is None

    done = client.post(f"/hygiene/rounds/{round_.id}/publish", data={"key": "k2", "early": "1", "confirmed": "1"})
    assert done.status_code == 302
    assert [balance_of(h.id) for h in scene.households[0]] == [20, 20, 0, 0]
    again = client.post(f"/hygiene/rounds/{round_.id}/publish", data={"key": "k3", "early": "1"}).get_data(as_text=True)
    assert "此前已发布过，已记的积分不会重复记：这次新记 0 笔，更正冲回 0 笔" in again


def test_an_inspector_locked_out_is_told_why_in_chinese(client, login):
    scene = gen_scene(per_grid=2)
    round_ = scene.round()
    grid = scene.village.grids[0]
    inspector = scene.inspector_of(round_, 0)
    score_all(scene, round_, 0, [0, 1])
    publishing.publish_round(scene.admin, round_)
    login(inspector)
    for path in (f"/hygiene/rounds/{round_.id}/grids/{grid.id}",
                 f"/hygiene/rounds/{round_.id}/households/{scene.households[0][0].id}"):
        page = client.get(path)
        assert page.status_code == 409 and f"{grid.name}的评分已发布" in page.get_data(as_text=True)
        assert "forbidden" not in page.get_data(as_text=True)


def test_the_month_page_says_why_it_cannot_be_summed_up_yet(client, login):
    scene = gen_scene(per_grid=2)
    village = scene.village.village
    month = last_month()
    round_ = scene.round(weeks_of_month(month)[0])
    score_all(scene, round_, 1, [0, 1])
    login(scene.admin)
    page = client.get(f"/villages/{village.id}/hygiene/months/{month}").get_data(as_text=True)
    waiting = f"{week_label(round_.monday, dates=False)}（{scene.village.grids[1].name}）"
    assert waiting in page and "发布本月汇总" not in page
    refused = client.post(f"/villages/{village.id}/hygiene/months/{month}/publish", data={"key": "m"})
    assert refused.status_code == 409 and "还有周没有发布" in refused.get_data(as_text=True)
    this_month = f"{local_today():%Y-%m}"
    assert "之后才能汇总" in client.get(f"/villages/{village.id}/hygiene/months/{this_month}").get_data(as_text=True)


def test_the_week_page_states_the_shame_rule_and_lists_the_worst_first_without_appealed_penalties(client, login):
    scene = gen_scene(per_grid=4)
    village = scene.village.village
    rule = factories.gen_rule(village, "卫生评比晾晒", -5)
    village_settings.update_settings(scene.admin, village, model_count=1, shame_count=2, shame_max=4,
                                     penalty_rule_id=rule.id)
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 4, 5, 1])
    publishing.publish_round(scene.admin, round_)
    h = scene.households[0]
    villager = factories.gen_villager(h[2])
    claim_services.submit_appeal(villager, entries_of(h[2])[0].id, "当天不在家")
    login(scene.admin)
    page = client.get(f"/villages/{village.id}/hygiene?week={round_.week}").get_data(as_text=True)
    assert "每个网格扣分最多的 2 户（有扣分的）列入晾晒名单，并按细则扣分；并列时全部列出，最多 4 户" in page
    shamed = page.split('class="list shamed"')[1].split("</ul>")[0]
    assert h[1].number in shamed and h[2].number not in shamed
    assert "另有 1 户的扣分正在申诉" in page


def test_an_inspector_publishes_before_the_week_ends_only_a_grid_fully_scored(client, login):
    scene = gen_scene(per_grid=2)
    round_ = scene.round(week_of(local_today()))
    grid = scene.village.grids[0]
    inspector = scene.inspector_of(round_, 0)
    score_all(scene, round_, 0, [0])
    login(inspector)
    listing = client.get(f"/hygiene/rounds/{round_.id}/grids/{grid.id}").get_data(as_text=True)
    assert "全部评完或本周结束后可以发布" in listing and "发布本网格结果" not in listing
    refused = client.post(f"/hygiene/rounds/{round_.id}/publish", data={"key": "a", "grid_id": grid.id, "early": "1"},
                          follow_redirects=True).get_data(as_text=True)
    assert "只有村管理员可以提前发布" in refused and inspection.assignment_of(round_, grid.id).published_at is None
    score_all(scene, round_, 0, [0, 2])
    db.session.commit()
    listing = client.get(f"/hygiene/rounds/{round_.id}/grids/{grid.id}").get_data(as_text=True)
    assert "发布本网格结果" in listing
    data = {"key": "b", "grid_id": grid.id}
    assert "2 户评为示范户各 +20 分" in client.post(f"/hygiene/rounds/{round_.id}/publish",
                                                    data=data).get_data(as_text=True)
    assert client.post(f"/hygiene/rounds/{round_.id}/publish", data=data | {"confirmed": "1"}).status_code == 302
    assert [balance_of(h.id) for h in scene.households[0]] == [20, 20]


def test_after_saving_the_next_unscored_household_after_this_one_opens_and_the_last_goes_back_to_the_list(
        client, login):
    scene = gen_scene(per_grid=4)
    round_ = scene.round(week_of(local_today()))
    db.session.commit()
    h = scene.households[0]
    grid = scene.village.grids[0]
    item = village_settings.checklist(scene.village.village.id)[0]
    login(scene.inspector_of(round_, 0))
    sheet = f"/hygiene/rounds/{round_.id}/households/"

    def save(household, **data):
        response = client.post(sheet + str(household.id), data={"revision": 0} | data)
        assert response.status_code == 302
        return response.headers["Location"]

    # 0002 first (0001 was not at home): then 0003, after it; from the last, round to the skipped 0001.
    assert save(h[1], **{f"item-{item.id}": 2}) == sheet + str(h[2].id)
    assert "已保存 %s 户：扣 2 分" % h[1].number in client.get(sheet + str(h[2].id)).get_data(as_text=True)
    assert save(h[3]) == sheet + str(h[0].id)
    assert save(h[0]) == sheet + str(h[2].id)
    assert save(h[2]).endswith(f"/hygiene/rounds/{round_.id}/grids/{grid.id}")
    listing = client.get(f"/hygiene/rounds/{round_.id}/grids/{grid.id}").get_data(as_text=True)
    assert "4/4 已评" in listing and "本网格已全部评完" in listing


def test_the_clean_button_saves_nothing_deducted_whatever_was_tapped(client, login):
    scene = gen_scene(per_grid=3)
    round_ = scene.round(week_of(local_today()))
    db.session.commit()
    h = scene.households[0]
    items = village_settings.checklist(scene.village.village.id)
    login(scene.inspector_of(round_, 0))
    path = f"/hygiene/rounds/{round_.id}/households/{h[0].id}"
    assert client.post(path, data={"revision": 0, f"item-{items[0].id}": 3}).status_code == 302
    # A correction: the door was clean after all. 无扣分 clears the saved deductions, the note stays.
    again = client.post(path, data={"revision": 1, "clean": "1", f"item-{items[0].id}": 3, f"item-{items[1].id}": 2,
                                    "note": "已清理"})
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/households/{h[1].id}")
    score = db.session.scalar(select(Score).where(Score.household_id == h[0].id))
    db.session.refresh(score)
    assert (score.deductions, score.items, score.note, score.revision) == (0, [], "已清理", 2)
    assert "已保存 %s 户：扣 0 分" % h[0].number in client.get(again.headers["Location"]).get_data(as_text=True)
    # The revision check holds for 无扣分 too: a sheet saved by someone else since is not overwritten.
    stale = client.post(path, data={"revision": 1, "clean": "1"})
    assert stale.status_code == 409 and "刚被别人保存过" in stale.get_data(as_text=True)


def test_the_sheet_has_its_save_bar_and_a_way_to_skip_to_the_next_unscored_household(client, login):
    scene = gen_scene(per_grid=3)
    round_ = scene.round(week_of(local_today()))
    score_all(scene, round_, 0, [0, 0])  # 0001 and 0002 scored, 0003 left
    h = scene.households[0]
    login(scene.inspector_of(round_, 0))
    sheet = f"/hygiene/rounds/{round_.id}/households/"
    page = client.get(sheet + str(h[0].id)).get_data(as_text=True)
    bar = page.split('class="save-bar"')[1]
    assert h[0].number in bar and 'name="clean" value="1" class="clean">无扣分，保存并下一户' in bar
    assert bar.index("保存，评下一户") < bar.index('name="clean"')  # the button Enter presses saves what was tapped
    assert 'src="/static/sheet.js' in page and "data-shrink" in page
    assert f'class="skip" href="{sheet}{h[2].id}"' in page
    assert 'class="skip"' not in client.get(sheet + str(h[2].id)).get_data(as_text=True)  # the last one left
    listing = client.get(f"/hygiene/rounds/{round_.id}/grids/{scene.village.grids[0].id}").get_data(as_text=True)
    assert f'href="{sheet}{h[2].id}">评下一户（未评）' in listing
