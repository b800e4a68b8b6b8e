from lib.routes.slack_actions import handle
from lib.web import wsgi

app = wsgi(handle, methods=("POST",))
