"""gunicorn's settings for 村务积分, read from the working directory: `gunicorn "points:create_app()"`.

Environment: BIND (127.0.0.1:8000: a reverse proxy in front), WEB_CONCURRENCY (worker processes, 2: one per core
of a small server), WEB_THREADS (threads per worker, 1), ACCESS_LOG (a file, "-" for stderr, the default).
"""
import os

from gunicorn.glogging import Logger

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads in each worker: 1 (sync workers). With 4, bench/load.py measured 26 % fewer check-ins and 15 % fewer
# redemptions a second on 2 cores (and 10 % more health checks).
threads = int(os.environ.get("WEB_THREADS", "1"))
# Importing a whole town's 花名册 through the page takes 20–30 s on a small server (bench/README.md).
timeout = 120
graceful_timeout = 30
# A worker is replaced after this many requests, so that memory a long life gathers goes back.
max_requests = 10_000
max_requests_jitter = 1_000
accesslog = os.environ.get("ACCESS_LOG", "-")
# The path without its query string: a search (/households?q=…) may carry a name or a phone number.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


class MaskingLogger(Logger):
    """The access log with an activation slip's token masked: until it is used, a slip sets an account's password."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        if atoms["U"].startswith("/activate/"):
            atoms["U"] = "/activate/…"
        return atoms


logger_class = MaskingLogger


def on_starting(server):
    """Refuse to start several workers that would each count login and check-in attempts on their own."""
    from points.config import Config  # the app's reading of the same environment

    storage = Config.RATELIMIT_STORAGE_URI
    if Config.RATELIMIT_ENABLED and storage.startswith("memory://") and server.cfg.workers > 1:
        raise SystemExit(
            f"{server.cfg.workers} workers with RATELIMIT_STORAGE_URI={storage}: each would count login and "
            "check-in attempts on its own, multiplying every limit. Set RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379 "
            "(see the README's deployment), or run WEB_CONCURRENCY=1."
        )
