from lib.routes.ack import handle
from lib.web import wsgi

app = wsgi(handle, methods=("GET", "POST"))
