"""DomainError, the one way a service refuses, and the HTML / JSON handlers for it and for HTTP errors."""
from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

# A stable code for each refusal, with the message shown to people (translated at display time).
MESSAGES = {
    "forbidden": _l("您没有权限执行此操作"),
    "login_required": _l("请先登录"),
    "not_found": _l("找不到该内容"),
    "bad_request": _l("请求有误"),
    "invalid_credentials": _l("用户名或密码不正确"),
    "account_disabled": _l("该账号已停用"),
    "invalid_token": _l("令牌无效或已过期，请重新登录"),
    "too_many_requests": _l("尝试次数过多，请稍后再试"),
    "file_too_large": _l("上传的文件太大"),
    "method_not_allowed": _l("不支持该请求方法"),
    "validation_error": _l("提交的内容有误"),
    "unknown_grid": _l("找不到该网格"),
    "unknown_role": _l("未知的角色"),
    "role_scope_mismatch": _l("该角色不能分配在此类节点上"),
    "username_taken": _l("用户名已被使用"),
    "weak_password": _l("密码至少需要 8 位"),
    "resident_taken": _l("该村民已绑定其他账号"),
    "duplicate_assignment": _l("该用户已有此角色"),
    "import_invalid": _l("导入文件有误，未导入任何数据"),
    "server_error": _l("服务器出错了，请稍后再试"),
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


class DomainError(Exception):
    """A refusal by a business rule: a stable code, an HTTP status and a message for people."""

    def __init__(self, code: str, message: str | None = None, status: int = 400, details: list | None = None):
        super().__init__(code)
        self.code = code
        self.status = status
        self.details = details or []
        self._message = message

    @property
    def message(self) -> str:
        return str(self._message or MESSAGES.get(self.code, MESSAGES["bad_request"]))


class NotFound(DomainError):
    def __init__(self, message: str | None = None):
        super().__init__("not_found", message, status=404)


class Forbidden(DomainError):
    def __init__(self, message: str | None = None):
        super().__init__("forbidden", message, status=403)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(code: str, message: str, status: int, details: list | None = None):
    """One shape for every error: JSON under /api, a plain page elsewhere."""
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if details:
            body["error"]["details"] = details
        return jsonify(body), status
    return render_template("error.html", code=code, message=message, status=status), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        return error_response(error.code, error.message, error.status, error.details)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        code = HTTP_CODES.get(error.code or 500, "bad_request")
        # webargs puts the field-by-field messages of a rejected body or query here.
        messages = (getattr(error, "data", None) or {}).get("messages")
        details = [messages] if messages else None
        return error_response(code, str(MESSAGES[code]), error.code or 500, details)

    @app.errorhandler(500)
    def handle_server_error(error):
        return error_response("server_error", str(MESSAGES["server_error"]), 500)
