from lib.routes import cron_job
from lib.routes.rules import handle
from lib.web import wsgi

app = wsgi(cron_job("rules")(handle), methods=("GET",))
