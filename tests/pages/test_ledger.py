"""我的积分, a household's points, manual award and penalty, the batch form and 冲正, through the pages."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from points.auth.models import Role
from points.extensions import db
from points.ledger.models import LedgerEntry
from points.ledger.queries import balance_of
from points.ledger.services import apply_rule
from points.people.models import HouseholdKind
from points.timeutil import local_today

from .. import factories


@pytest.fixture
def world(village):
    grid = village.grids[0]
    homes = [factories.gen_household(grid, head_name=f"户主{i}") for i in range(3)]
    far = factories.gen_household(village.grids[1], head_name="别处户")
    world = dict(
        village=village, homes=homes, far=far,
        villager=factories.gen_villager(homes[0], username="v1"),
        worker=factories.gen_user(Role.GRID_WORKER, grid, username="w1"),
        admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village, username="a1"),
        meeting=factories.gen_rule(village.village, "参加村民大会", 2),
        pile=factories.gen_rule(village.village, "乱堆乱放", -10),
        flag=factories.gen_rule(village.village, "流动红旗", 50, roles=frozenset({Role.VILLAGE_ADMIN})),
    )
    db.session.commit()
    return world


def entries() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry))


def award_form(world, household, **values):
    data = dict(rule_id=world["meeting"].id, quantity=1, resident_id=0, occurred_on=local_today().isoformat(),
                note="", key="form-key-1")
    data.update(values)
    return data


def test_my_points_shows_balance_entries_and_rank(world, client, login):
    apply_rule(world["worker"], world["homes"][0].id, world["meeting"].id, "a", note="三月会议")
    apply_rule(world["worker"], world["homes"][1].id, world["meeting"].id, "b", quantity=3)
    apply_rule(world["worker"], world["homes"][0].id, world["pile"].id, "c")
    login(world["villager"])
    page = client.get("/my/points").get_data(as_text=True)
    assert '<b class="balance">-8</b>' in page
    assert "参加村民大会" in page and "乱堆乱放" in page and "三月会议" in page and "w1" in page
    assert "本月得分为 0 或负分，不排名" in page  # as on the boards: a household without points has no place
    assert client.get("/").headers["Location"].endswith("/my/points")  # a villager's home
    login(world["worker"])
    other = client.get(f"/households/{world['homes'][1].id}/points").get_data(as_text=True)
    assert "<b>1</b>本月网格排名（共 3 户）" in other


def test_a_worker_awards_a_household_once_however_often_the_form_is_sent(world, client, login):
    login(world["worker"])
    home = world["homes"][1]
    assert "参加村民大会" in client.get(f"/households/{home.id}/award").get_data(as_text=True)
    for _ in range(2):
        response = client.post(f"/households/{home.id}/award", data=award_form(world, home, quantity=2, note="会议"))
        assert response.status_code == 302
    assert entries() == 1 and balance_of(home.id) == 4


@pytest.mark.parametrize(
    "values, message",
    [
        (dict(quantity=0), "次数或小时数必须是 1 到 100 之间的整数"),
        (dict(quantity=10**6), "次数或小时数必须是 1 到 100 之间的整数"),
        (dict(rule_id=0), "请选择细则"),
        (dict(occurred_on=(local_today() + timedelta(days=2)).isoformat()), "日期不能晚于今天"),
        (dict(occurred_on="2025-06-01"), "不在有效期内"),
    ],
)
def test_bad_award_input_gets_a_chinese_message_and_writes_nothing(world, client, login, values, message):
    login(world["worker"])
    home = world["homes"][1]
    response = client.post(f"/households/{home.id}/award", data=award_form(world, home, **values))
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert entries() == 0


def test_a_rule_outside_the_role_is_refused(world, client, login):
    login(world["worker"])
    home = world["homes"][1]
    response = client.post(f"/households/{home.id}/award", data=award_form(world, home, rule_id=world["flag"].id))
    assert response.status_code == 422 and entries() == 0
    assert "流动红旗" not in client.get(f"/households/{home.id}/award").get_data(as_text=True)


def test_a_household_outside_the_scope_cannot_be_awarded(world, client, login):
    login(world["worker"])
    far = world["far"]
    assert client.get(f"/households/{far.id}/award").status_code == 403
    assert client.post(f"/households/{far.id}/award", data=award_form(world, far)).status_code == 403
    assert entries() == 0


def test_villagers_cannot_award(world, client, login):
    login(world["villager"])
    home = world["homes"][0]
    assert client.post(f"/households/{home.id}/award", data=award_form(world, home)).status_code == 403
    assert entries() == 0


def test_the_batch_form_awards_everyone_chosen_once(world, client, login):
    login(world["worker"])
    page = client.get("/award").get_data(as_text=True)
    assert f"{world['homes'][0].number} · 户*0" in page  # names masked, as in every list
    assert world["far"].number not in page  # only households in the worker's grid
    data = dict(rule_id=world["meeting"].id, quantity=1, occurred_on=local_today().isoformat(), note="十一月村民大会",
                key="batch-1", household_ids=[h.id for h in world["homes"]])
    asked = client.post("/award", data=data)
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "将为 3 户各记 +2 分，共 +6 分" in page and "细则：参加村民大会" in page
    assert "户号：" + "、".join(h.number for h in world["homes"]) in page
    assert 'name="confirmed" value="1"' in page and 'name="key" value="batch-1"' in page
    assert entries() == 0  # asking wrote nothing; 取消 is only a link back
    for _ in range(2):
        assert client.post("/award", data={**data, "confirmed": "1"}).status_code == 302
    assert entries() == 3 and all(balance_of(h.id) == 2 for h in world["homes"])


def test_the_batch_list_marks_each_households_kind_and_has_the_tools_for_the_script(world, client, login):
    renter = factories.gen_household(world["village"].grids[0], head_name="租客甲", kind=HouseholdKind.RENTER)
    db.session.commit()
    login(world["worker"])
    page = client.get("/award").get_data(as_text=True)
    rows = re.findall(r'<label class="check household">.*?</label>', page, re.S)
    assert len(rows) == 4 and all('name="household_ids"' in row for row in rows)
    kinds = {re.search(r"(\d{4}) ·", row).group(1): re.search(r'<span class="tag[^"]*">(.+?)</span>', row).group(1)
             for row in rows}
    assert kinds == {**{h.number: "户籍" for h in world["homes"]}, renter.number: "外来"}
    # Search, 全选 and the count are for static/batch.js: hidden without it, the plain list posts as it did.
    assert '<div class="household-tools" hidden>' in page and 'id="household-search"' in page
    assert 'data-some="全选（显示的 # 户）"' in page and "/static/batch.js" in page
    assert 'id="household-count" role="status" data-template="已选 # 户" hidden>已选 0 户</p>' in page
    # After a refusal the households chosen stay ticked and counted.
    data = dict(rule_id=world["meeting"].id, quantity=1, occurred_on=local_today().isoformat(), key="batch-3",
                household_ids=[world["homes"][0].id, world["far"].id])
    refused = client.post("/award", data=data).get_data(as_text=True)
    assert "已选 2 户" in refused and f'value="{world["homes"][0].id}" checked' in refused


def test_a_batch_with_one_household_out_of_scope_writes_nothing(world, client, login):
    login(world["worker"])
    data = dict(rule_id=world["meeting"].id, quantity=1, occurred_on=local_today().isoformat(), key="batch-2",
                household_ids=[world["homes"][0].id, world["far"].id])
    response = client.post("/award", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "整批未记" in page
    # an id the worker sent, not a number they may not see
    assert f"#{world['far'].id}：您的角色不能在这一户使用该细则" in page
    assert entries() == 0


def test_an_admin_reverses_an_entry_once(world, client, login):
    entry = apply_rule(world["worker"], world["homes"][0].id, world["pile"].id, "p")
    db.session.commit()
    login(world["worker"])
    assert client.post(f"/entries/{entry.id}/reverse", data={"note": "误扣"}).status_code == 403
    login(world["admin"])
    assert "确认冲正" in client.get(f"/households/{world['homes'][0].id}/points").get_data(as_text=True)
    client.post(f"/entries/{entry.id}/reverse", data={"note": "误扣"})
    response = client.post(f"/entries/{entry.id}/reverse", data={"note": "误扣"}, follow_redirects=True)
    assert "已冲正" in response.get_data(as_text=True)  # a second tap answers as the first did
    response = client.post(f"/entries/{entry.id}/reverse", data={"note": "另一个理由"}, follow_redirects=True)
    assert "已经冲正过" in response.get_data(as_text=True)  # another form, with another note, came second
    assert balance_of(world["homes"][0].id) == 0 and entries() == 2


def test_an_admin_does_not_reverse_their_own_households_entry(world, client, login):
    home = world["homes"][1]
    entry = apply_rule(world["worker"], home.id, world["pile"].id, "p")
    world["admin"].resident = home.head
    db.session.commit()
    login(world["admin"])
    assert "确认冲正" not in client.get(f"/households/{home.id}/points").get_data(as_text=True)
    response = client.post(f"/entries/{entry.id}/reverse", data={"note": "误扣"}, follow_redirects=True)
    assert "不能冲正自己家的积分记录，请由其他管理员处理" in response.get_data(as_text=True)
    assert balance_of(home.id) == -10 and entries() == 1


def test_a_reversal_form_sent_for_two_entries_reverses_both(world, client, login):
    """Each entry has its own reversal key: a page's form reused for a second entry still reverses that one."""
    first = apply_rule(world["worker"], world["homes"][0].id, world["pile"].id, "p1")
    second = apply_rule(world["worker"], world["homes"][0].id, world["pile"].id, "p2")
    login(world["admin"])
    for entry in (first, second):
        client.post(f"/entries/{entry.id}/reverse", data={"note": "误扣"})
    assert balance_of(world["homes"][0].id) == 0 and entries() == 4


@pytest.mark.parametrize("field", ["rule_id", "note", "resident_id"])
def test_a_form_sent_again_with_other_values_says_so_and_takes_a_fresh_key(world, client, login, field):
    login(world["worker"])
    home = world["homes"][1]
    first = award_form(world, home, note="村民大会")
    client.post(f"/households/{home.id}/award", data=first)
    changed = {**first, field: {"rule_id": world["pile"].id, "note": "另一件事", "resident_id": home.head.id}[field]}
    again = client.post(f"/households/{home.id}/award", data=changed)
    page = again.get_data(as_text=True)
    assert again.status_code == 422 and "这张表单已经提交过了" in page and entries() == 1
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    client.post(f"/households/{home.id}/award", data={**changed, "key": key, "confirmed": "1"})
    assert entries() == 2


def test_a_penalty_is_confirmed_first_naming_the_household_and_the_points(world, client, login):
    login(world["worker"])
    home = world["homes"][1]
    form = award_form(world, home, rule_id=world["pile"].id, quantity=2)
    asked = client.post(f"/households/{home.id}/award", data=form)
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and f"将给户号 {home.number}（户*1）扣 20 分：乱堆乱放" in page
    assert f'href="/households/{home.id}/points"' in page and entries() == 0
    assert client.post(f"/households/{home.id}/award", data={**form, "confirmed": "1"}).status_code == 302
    assert balance_of(home.id) == -20


def test_an_award_needs_no_confirmation(world, client, login):
    login(world["worker"])
    home = world["homes"][1]
    assert client.post(f"/households/{home.id}/award", data=award_form(world, home)).status_code == 302
    assert balance_of(home.id) == 2


def test_ids_beyond_any_household_in_a_batch_are_not_a_crash(world, client, login):
    login(world["worker"])
    data = dict(rule_id=world["meeting"].id, quantity=1, occurred_on=local_today().isoformat(), key="b",
                household_ids=[str(2**70), "2147483648"])
    response = client.post("/award", data=data)
    assert response.status_code == 422 and "请至少选择一户" in response.get_data(as_text=True)


# ---- issue 23: the words the household reads, and 加分 / 扣分 by side (helper 23-E) ----


def test_a_voided_redemption_reads_as_points_given_back_without_record_ids(world, client, login):
    from points.shop import services as shop

    home = world["homes"][0]
    factories.gen_points(home, 100)
    store = factories.gen_shop(world["village"].village)
    soap = factories.gen_product(store, "肥皂", price=35)
    clerk = factories.gen_user(Role.SHOP_CLERK, world["village"].village)
    redeemed = shop.redeem(clerk, store, [(soap.id, 1)], household_id=home.id).redemption
    shop.void(clerk, redeemed, "拿错了")
    db.session.commit()
    login(world["villager"])
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get("/my/points").get_data(as_text=True)))
    assert "+35 兑换作废，退回积分" in page and "拿错了" in page
    assert "−35" not in page and "-35 积分兑换" in page and "已作废，积分已退回" in page
    assert "冲正" not in page and "号记录" not in page
    login(world["admin"])  # staff keep their word and the record it undid
    staff = client.get(f"/households/{home.id}/points").get_data(as_text=True)
    assert "兑换作废，退回积分" in staff and f"冲正第 {redeemed.entry_id} 号记录" in staff and "已冲正" in staff


def test_a_reversed_deduction_reads_as_taken_back_naming_the_rule(world, client, login):
    entry = apply_rule(world["worker"], world["homes"][0].id, world["pile"].id, "p")
    award = apply_rule(world["worker"], world["homes"][0].id, world["meeting"].id, "m")
    db.session.commit()
    login(world["admin"])
    client.post(f"/entries/{entry.id}/reverse", data={"note": "误扣"}, follow_redirects=True)  # its flash read
    client.post(f"/entries/{award.id}/reverse", data={"note": "记错户"}, follow_redirects=True)
    login(world["villager"])
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get("/my/points").get_data(as_text=True)))
    assert "+10 撤销扣分：乱堆乱放" in page and "-2 撤销加分：参加村民大会" in page and "误扣" in page
    assert page.count("已撤销") == 2 and "冲正" not in page and "号记录" not in page


def test_the_award_page_offers_one_side_for_the_add_and_deduct_buttons(world, client, login):
    login(world["worker"])
    home = world["homes"][1]
    points = client.get(f"/households/{home.id}/points").get_data(as_text=True)
    assert f'href="/households/{home.id}/award?side=award"' in points
    assert f'href="/households/{home.id}/award?side=deduct"' in points
    deduct = client.get(f"/households/{home.id}/award?side=deduct").get_data(as_text=True)
    assert "乱堆乱放" in deduct and "参加村民大会" not in deduct
    award = client.get(f"/households/{home.id}/award?side=award").get_data(as_text=True)
    assert "参加村民大会" in award and "乱堆乱放" not in award
    both = client.get(f"/households/{home.id}/award").get_data(as_text=True)
    assert "参加村民大会" in both and "乱堆乱放" in both
    # The side is kept by the form (it posts to its own address): a penalty there is asked and done as before.
    form = award_form(world, home, rule_id=world["pile"].id)
    assert client.post(f"/households/{home.id}/award?side=deduct", data={**form, "confirmed": "1"}).status_code == 302
    assert balance_of(home.id) == -10


def test_staff_are_offered_no_award_on_their_own_household(world, client, login):
    world["worker"].resident = world["homes"][2].head
    db.session.commit()
    login(world["worker"])
    own = client.get(f"/households/{world['homes'][2].id}/points").get_data(as_text=True)
    assert "side=award" not in own and "side=deduct" not in own
    assert "side=award" in client.get(f"/households/{world['homes'][1].id}/points").get_data(as_text=True)
