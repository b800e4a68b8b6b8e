from lib.routes.sources import handle_alerts
from lib.web import wsgi

app = wsgi(handle_alerts, methods=("POST",))
