from lib.routes import cron_job
from lib.routes.archive import handle
from lib.web import wsgi

app = wsgi(cron_job("archive")(handle), methods=("GET",))
