from lib.routes import cron_job
from lib.routes.escalations import handle
from lib.web import wsgi

app = wsgi(cron_job("escalations")(handle), methods=("GET",))
