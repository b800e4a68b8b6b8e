from __future__ import annotations

from lib.routes import cron_job
from lib.routes.minute import handle
from lib.web import wsgi

app = wsgi(cron_job("minute")(handle), methods=("GET",))
