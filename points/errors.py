"""DomainError, the one way a service refuses, and the HTML / JSON handlers for it and for HTTP errors."""
import time

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from .extensions import db, limiter

# A stable code for each refusal, with the message shown to people (translated at display time).
MESSAGES = {
    "forbidden": _l("您没有权限执行此操作"),
    "login_required": _l("请先登录"),
    "not_found": _l("找不到该内容"),
    "bad_request": _l("请求有误"),
    "invalid_credentials": _l("用户名或密码不正确"),
    "account_disabled": _l("该账号已停用"),
    "account_not_activated": _l("该账号还没有激活：请用手机扫描激活单上的二维码，设置密码"),
    "slip_invalid": _l("这不是有效的激活单二维码"),
    "slip_expired": _l("这张激活单已过期，请找网格员补发"),
    "slip_used": _l("这张激活单已经用过或已作废；如忘记密码，请找网格员补发"),
    "own_household_account": _l("不能为自己家的账号补发激活单"),
    "not_villager_account": _l("这是工作人员的账号，请由管理员重置密码"),
    "invalid_token": _l("令牌无效或已过期，请重新登录"),
    "too_many_requests": _l("尝试次数过多，请稍后再试"),
    "file_too_large": _l("上传的文件太大"),
    "method_not_allowed": _l("不支持该请求方法"),
    "validation_error": _l("提交的内容有误"),
    "wrong_password": _l("当前密码不正确"),
    "demo_needs_empty_database": _l("数据库里已有别的数据：演示村只能装进空数据库（或演示库）"),
    "unknown_grid_for_role": _l("请选择该角色的负责范围"),
    "role_scope_mismatch": _l("该角色不能分配在此类节点上"),
    "username_taken": _l("用户名已被使用"),
    "weak_password": _l("密码至少需要 8 位"),
    "resident_taken": _l("该村民已绑定其他账号"),
    "duplicate_assignment": _l("该用户已有此角色"),
    "server_error": _l("服务器出错了，请稍后再试"),
    "username_required": _l("用户名不能为空"),
    "unknown_resident": _l("找不到该村民，或不在您的管理范围内"),
    "role_or_resident_required": _l("请选择角色，或绑定一位村民"),
    "unknown_node": _l("找不到编码为 %(node_code)s 的节点"),
    "unknown_village": _l("找不到编码为 %(village_code)s 的村"),
    "invalid_parent": _l("网格层级不正确"),
    "code_taken": _l("编码 %(node_code)s 已被使用"),
    "town_exists": _l("数据库里已有镇（街道）%(town)s（编码 %(town_code)s）：init-town 只用于新部署的空数据库"),
    "node_name_required": _l("请填写名称"),
    "node_name_too_long": _l("名称不能超过 %(limit)d 个字"),
    "invalid_node_code": _l("编码“%(node_code)s”不可用：只能用 1 到 32 个字母、数字、- 或 _，以字母或数字开头"),
    "unknown_parent": _l("请选择上级：镇、村（社区）或网格"),
    "parent_retired": _l("%(node)s 已撤销，不能再往下添加或移入网格"),
    "node_under_itself": _l("不能移到它自己或它的下级网格下面"),
    "grid_leaves_village": _l("网格只能在本村（社区）之内移动：它的户、评比和活动都属于这个村"),
    "node_retired": _l("%(node)s 已经撤销了"),
    "town_not_retired": _l("镇（街道）不能撤销"),
    "retire_alone": _l("撤销时不能同时修改别的内容"),
    "close_alone": _l("迁出或恢复时不能同时修改别的内容"),
    "closure_without_day": _l("迁出原因要和迁出日期一起填写"),
    "departure_without_day": _l("离开原因要和离开日期一起填写"),
    "nothing_to_change": _l("没有要修改的内容"),
    "node_in_use": _l("%(node)s 里还有 %(left)s，不能撤销：请先把它们调走或结束"),
    "invalid_phone": _l("手机号格式不正确，应为 11 位手机号"),
    "invalid_id_number": _l("身份证号格式不正确（18 位，末位校验码需正确）"),
    "invalid_grid": _l("户只能放在本村的网格里"),
    "number_taken": _l("户号 %(number)s 已存在"),
    "missing_name": _l("姓名不能为空"),
    "name_too_long": _l("姓名不能超过 %(limit)d 个字符"),
    "invalid_amount": _l("积分必须是不为 0 的整数，且绝对值不超过 %(limit)d"),
    "invalid_idempotency_key": _l("幂等键无效（1 到 100 个字符）"),
    "insufficient_balance": _l("积分不足：现有 %(balance)d 分，需要 %(needed)d 分"),
    "idempotency_key_reused": _l("该幂等键已用于另一个不同的请求"),
    "already_reversed": _l("这笔积分已经冲正过了"),
    "cannot_reverse_reversal": _l("冲正记录不能再冲正"),
    "resident_not_in_household": _l("该村民不属于这一户"),
    "household_closed": _l("户号 %(number)s 已整户迁出：不再记分、扣分或兑换（以前的记录照旧保留，可以冲正）"),
    "household_open": _l("户号 %(number)s 在册，不用恢复"),
    "closed_since_preview": _l("户号 %(number)s 在预览之后已整户迁出，花名册没有导入：请重新上传，按现在的花名册核对"),
    "head_cannot_leave": _l("%(name)s 是户主：请先指定新的户主，再办理迁出；全家都走了就办“整户迁出”"),
    "head_not_member": _l("户主要从这一户现有的成员里选"),
    "relation_invalid": _l("与户主关系有误：户主在“修改户信息”里指定"),
    "missing_address": _l("请填写门牌地址"),
    "address_too_long": _l("地址不能超过 %(limit)d 个字"),
    "invalid_day": _l("请填写日期"),
    "resident_left": _l("该村民已不在这一户（迁出或去世），不能再记在他名下"),
    "unknown_rule": _l("找不到该细则，或它不属于这一户所在的村"),
    "rule_not_in_force": _l("该细则在 %(day)s 不在有效期内"),
    "rule_not_for_household_kind": _l("该细则不适用于这一户的户籍类型"),
    "rule_not_for_role": _l("您的角色不能在这一户使用该细则"),
    "invalid_quantity": _l("次数或小时数必须是 1 到 %(limit)d 之间的整数"),
    "cap_exceeded": _l("超过细则“%(rule)s”的每%(period)s上限 %(cap)d 分（已有 %(used)d 分）"),
    "rule_book_is_per_village": _l("积分细则只能建在村（社区）上，或作为镇的模板"),
    "rule_code_required": _l("请填写细则编码"),
    "rule_code_taken": _l("细则编码 %(rule_code)s 已存在"),
    "rule_name_required": _l("请填写细则名称"),
    "rule_points_zero": _l("分值不能为 0：加分填正数，扣分填负数"),
    "rule_applies_to_no_one": _l("细则至少要适用于户籍村民或外来租住人员之一"),
    "rule_cap_invalid": _l("上限必须是正整数，或留空表示不设上限"),
    "rule_window_empty": _l("失效日期必须晚于生效日期"),
    "rule_revision_backdated": _l("新版本的生效日期必须晚于 %(day)s（上一版本的生效日期）"),
    "id_number_taken": _l("身份证号已存在"),
    "no_households_chosen": _l("请至少选择一户"),
    "day_in_future": _l("日期不能晚于今天"),
    "own_household": _l("不能给自己家记分"),
    "form_already_used": _l("这张表单已经提交过了，请核对后重新提交"),
    "villagers_only": _l("只有绑定了村民的账号才能申报或申诉"),
    "rule_not_claimable": _l("该细则不能由村民自行申报"),
    "photo_required": _l("该细则需要上传照片作为证明"),
    "too_many_photos": _l("最多上传 %(limit)d 张照片"),
    "photo_too_large": _l("照片太大，每张不能超过 %(limit)d MB"),
    "not_an_image": _l("只能上传 JPEG、PNG 或 WebP 格式的照片"),
    "claim_day_invalid": _l("申报日期必须是今天或最近 %(days)d 天内"),
    "note_too_long": _l("说明不能超过 %(limit)d 个字"),
    "reason_required": _l("请填写理由"),
    "reason_too_long": _l("理由不能超过 %(limit)d 个字"),
    "own_claim": _l("不能审核自己或本户提交的申报"),
    "own_appeal": _l("不能处理自己家的申诉，请由其他管理员处理"),
    "own_reversal": _l("不能冲正自己家的积分记录，请由其他管理员处理"),
    "own_redemption": _l("不能为自己家办理兑换或作废，请由其他店员办理"),
    "invalid_location": _l("活动位置有误：纬度应在 -90 到 90 之间，经度在 -180 到 180 之间，两者都要有"),
    "invalid_fence": _l("签到范围应为 10 到 %(limit)d 米，不限请留空"),
    "location_needed": _l("本活动须在现场签到：请允许浏览器使用您的位置后再签到"),
    "too_far": _l("您离活动地点约 %(distance)d 米，须在 %(fence)d 米之内才能签到：请到现场扫码"),
    "scan_here": _l("这个签到链接只能在扫码的手机上使用：请用自己的手机扫描活动现场的二维码"),
    "own_check_in": _l("不能为自己家的人代签到，请本人扫码或由其他工作人员代签"),
    "own_check_out": _l("不能为自己家的人代签退，请本人扫码或由其他工作人员代签"),
    "claim_already_decided": _l("该申报已经处理过了"),
    "not_a_deduction": _l("只能对扣分记录提出申诉"),
    "already_appealed": _l("这笔扣分已经申诉过了"),
    "appeal_already_decided": _l("该申诉已经处理过了"),
    "invalid_idempotency_header": _l("请求头 Idempotency-Key 应为 1 到 %(limit)d 个英文字母、数字或符号"),
    "import_too_large": _l("文件太大（%(size).1f MB），上限为 %(limit)d MB"),
    "old_excel_format": _l("这是旧版 .xls 文件，请在 Excel 中“另存为” .xlsx 后再导入"),
    "unreadable_xlsx": _l("无法读取该 Excel 文件，请确认是 .xlsx 格式"),
    "not_spreadsheet": _l("该文件不是 Excel（.xlsx）或 CSV 表格"),
    "unknown_encoding": _l("无法识别文件编码，请保存为 .xlsx 或 UTF-8 / GBK 编码的 CSV"),
    "bad_csv": _l("CSV 格式有误"),
    "empty_file": _l("文件是空的"),
    "too_many_rows": _l("文件超过 %(limit)d 行，请分成几个文件导入"),
    "unknown_grid": _l("找不到网格“%(name)s”"),
    "ambiguous_household_number": _l("户号 %(number)s 对应多户：%(numbers)s。请输入完整的户号，或扫户卡"),
    "ambiguous_grid": _l("网格名称“%(name)s”不唯一，请写完整路径（如 一级网格/%(name)s）"),
    "setting_out_of_range": _l("设置的数值必须是 %(low)d 到 %(high)d 之间的整数"),
    "full_score_too_low": _l("满分 %(full)d 分少于检查项目最多可扣的 %(most)d 分，请提高满分或减少扣分"),
    "penalty_rule_invalid": _l("晾晒扣分只能选本村现行的扣分细则"),
    "checklist_empty": _l("检查项目至少要有一项"),
    "checklist_too_long": _l("检查项目最多 %(limit)d 项"),
    "item_name_invalid": _l("项目名称不能为空，且不超过 %(limit)d 个字"),
    "item_name_taken": _l("项目名称不能重复"),
    "max_deduction_invalid": _l("最多扣分必须是 1 到 %(limit)d 之间的整数"),
    "invalid_week": _l("周次格式应为 2026-W47 这样的年份和周次"),
    "invalid_month": _l("月份格式应为 2026-11 这样的年份和月份"),
    "week_in_future": _l("这一周还没到，不能开始评比"),
    "month_in_future": _l("这个月还没到，不能汇总"),
    "not_a_village": _l("卫生评比只能按村（社区）开展"),
    "assignment_invalid": _l("交叉检查的安排有误：只能在本村参加评比的网格之间安排"),
    "inspects_itself": _l("网格不能检查自己"),
    "inspector_twice": _l("一个网格每周只能检查一个网格"),
    "grid_not_in_round": _l("这个网格不在本周评比中"),
    "month_closed": _l("%(month)s汇总已发布，本周评分已锁定；如需更正请联系村管理员"),
    "round_published": _l("%(week)s%(grid)s的评分已发布，检查组不能再修改；如需更正请联系村管理员"),
    "not_your_grid": _l("%(week)s你负责检查%(grids)s，不是%(grid)s"),
    "not_inspector": _l("%(week)s%(grid)s由%(inspector)s检查：只有检查的网格长、网格员和村管理员可以评分"),
    "week_not_over": _l("%(week)s还没结束（%(end)s结束），%(unscored)s：要提前发布请确认提前发布"),
    "early_admin_only": _l("%(week)s还没结束（%(end)s结束），%(unscored)s：只有村管理员可以提前发布"),
    "month_not_over": _l("%(month)s的评比还没结束（%(end)s结束），之后才能汇总"),
    "month_weeks_unpublished": _l("%(month)s还有周没有发布：%(weeks)s。请先发布这些周的评比，再汇总"),
    "shame_max_below_count": _l("晾晒最多列出的户数不能少于晾晒户数（%(count)d 户）"),
    "unknown_item": _l("找不到该检查项目"),
    "deduction_out_of_range": _l("“%(item)s”最多扣 %(most)d 分"),
    "score_changed": _l("这一户刚被别人保存过评分，请看一下最新的评分再保存"),
    "same_grid": _l("这一户已经在该网格"),
    "event_title_required": _l("请填写活动名称（不超过 60 字）"),
    "event_place_required": _l("请填写活动地点（不超过 100 字）"),
    "event_ends_before_start": _l("结束时间必须晚于开始时间"),
    "event_too_long": _l("一场活动不能超过 %(hours)d 小时"),
    "invalid_capacity": _l("人数上限应为 1 到 100000 之间的整数，不限人数请留空"),
    "capacity_below_attendees": _l("已有 %(attendees)d 人签到，人数上限不能比这更少"),
    "rule_not_an_award": _l("活动只能选用活动当天有效的加分细则"),
    "unknown_organizer": _l("找不到该组织者"),
    "event_series_clash": _l("同一系列的另一场活动已在这个时间开始"),
    "invalid_recurrence": _l("重复规则有误：每月第 1–4 个或最后一个星期几，最多 %(months)d 个月"),
    "event_closed": _l("活动已结束，不能再签到或修改"),
    "event_not_started": _l("活动还没开始，%(starts)s 前 30 分钟开放签到"),
    "event_over": _l("活动已经结束，不能再签到"),
    "event_not_over": _l("活动还没开始，不能结束"),
    "event_not_ended": _l("活动还有 %(left)s才结束；提前结束要先确认（结束后不能再签到）"),
    "event_rule_required": _l("请选择本活动按哪条积分细则记分"),
    "checkout_too_soon": _l("签到才 %(stayed)s，满 %(minutes)d 分钟才能签退；确要现在签退请先确认"),
    "invalid_checkout_after": _l("签到后多久可签退：应为 1 到 %(limit)d 之间的整数（分钟）"),
    "event_full": _l("人数已满（上限 %(capacity)d 人）"),
    "invalid_code": _l("二维码无效，请扫描活动现场的二维码"),
    "code_expired": _l("二维码已过期，请扫描屏幕上最新的二维码"),
    "code_of_other_event": _l("这是另一场活动的二维码"),
    "not_a_villager": _l("只有绑定了村民身份的账号才能签到"),
    "not_resident_here": _l("您不是本活动所在村（网格）的村民，不能签到"),
    "attendance_removed": _l("您的签到已被组织者移除，请联系组织者"),
    "not_checked_in": _l("还没有签到，不能签退"),
    "invalid_card": _l("无法识别的户卡"),
    "card_revoked": _l("这张户卡（第 %(serial)d 张）已作废，请使用补办的新卡"),
    "shop_name_required": _l("请填写超市名称（不超过 60 字）"),
    "product_name_required": _l("请填写商品名称（不超过 60 字）"),
    "product_unit_required": _l("请填写单位，如“瓶”“袋”（不超过 10 字）"),
    "invalid_price": _l("兑换积分应为 1 到 %(limit)d 之间的整数"),
    "invalid_restock": _l("进货数量应为 1 到 %(limit)d 之间的整数"),
    "invalid_stock": _l("盘点数量应为 0 到 %(limit)d 之间的整数"),
    "card_other_village": _l("这是别的村的户卡，不能在本村超市兑换"),
    "unknown_household_number": _l("本村没有户号为 %(number)s 的户"),
    "empty_basket": _l("请先选择要兑换的商品"),
    "basket_quantity": _l("每种商品的数量应为 1 到 %(limit)d 之间的整数"),
    "too_many_lines": _l("一次最多兑换 %(limit)d 种商品"),
    "unknown_product": _l("本超市没有这件商品"),
    "product_inactive": _l("“%(name)s”已下架，不能兑换"),
    "redemption_voided_at_shop": _l("这是积分超市的兑换：请在兑换单上作废，积分和商品会一起退回"),
    "insufficient_stock": _l("“%(name)s”库存不足：还剩 %(stock)d 件，需要 %(needed)d 件"),
    "invalid_period": _l("时段“%(period)s”有误：应为 week:2026-W47、month:2026-11、quarter:2026-Q4、year:2026 或 all"),
    "invalid_category": _l("没有这个积分类别"),
    "black_board_off": _l("本村没有设置黑榜"),
    "black_board_per_village": _l("黑榜由各村自己设置：请选择一个村或网格"),
}

HTTP_CODES = {
    400: "bad_request",
    401: "login_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "file_too_large",
    422: "validation_error",
    429: "too_many_requests",
}


def register_messages(codes: dict) -> None:
    """Add a domain's refusal codes and their messages (at the end of its models module, like its audit words)."""
    clash = set(codes) & set(MESSAGES)
    if clash:
        raise ValueError(f"refusal codes given twice: {sorted(clash)}")
    MESSAGES.update(codes)


class DomainError(Exception):
    """A refusal by a business rule: a stable code, an HTTP status, and the parameters of its message.

    The message is MESSAGES[code] filled with params, translated when it is read.
    """

    def __init__(self, code: str, status: int = 400, details: list | None = None, **params):
        super().__init__(code)
        self.code = code
        self.status = status
        self.details = details or []
        self.params = params

    @property
    def message(self) -> str:
        template = str(MESSAGES.get(self.code, MESSAGES["bad_request"]))
        return template % self.params if self.params else template


class NotFound(DomainError):
    def __init__(self):
        super().__init__("not_found", status=404)


class Forbidden(DomainError):
    def __init__(self):
        super().__init__("forbidden", status=403)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(code: str, message: str, status: int, details: list | None = None, headers: list | None = None):
    """One shape for every error: JSON under /api, a plain page elsewhere."""
    headers = list(headers or [])
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if details:
            body["error"]["details"] = details
        if status == 401:  # RFC 9110 asks every 401 to name the scheme that would be accepted
            headers.append(("WWW-Authenticate", "Bearer"))
        return jsonify(body), status, headers
    return render_template("error.html", code=code, message=message, status=status), status, headers


def _retry_after() -> list[tuple[str, str]]:
    """When the window of the limit that refused resets, as flask-limiter's headers said it: read from the limits'
    storage, so left out if it cannot be read (a refusal is no place for a 500)."""
    refused = limiter.current_limit
    if refused is None or not refused.breached:
        return []
    try:
        return [("Retry-After", str(max(1, refused.reset_at - int(time.time()))))]
    except Exception:  # noqa: BLE001 - the storage's errors are its driver's (Redis, memcached …)
        return []


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        # A service may have flushed part of its work before it refused (a batch: the households before the one
        # refused); a refusal leaves nothing behind.
        db.session.rollback()
        return error_response(error.code, error.message, error.status, error.details)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        code = HTTP_CODES.get(error.code or 500, "bad_request")
        # webargs puts the field-by-field messages of a rejected body or query here.
        messages = (getattr(error, "data", None) or {}).get("messages")
        details = [messages] if messages else None
        # Keep what the exception says besides its body, such as the Allow header of a 405.
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        if error.code == 429:
            headers += _retry_after()
        return error_response(code, str(MESSAGES[code]), error.code or 500, details, headers)

    @app.errorhandler(500)
    def handle_server_error(error):
        return error_response("server_error", str(MESSAGES["server_error"]), 500)
