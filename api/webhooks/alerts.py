from lib.routes.sources import ALERTS_MAX_BODY, alerts_too_large, handle_alerts
from lib.web import wsgi

app = wsgi(handle_alerts, methods=("POST",), max_body=ALERTS_MAX_BODY, too_large=alerts_too_large)
