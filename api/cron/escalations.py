from lib.routes.escalations import handle
from lib.web import wsgi

app = wsgi(handle, methods=("GET",))
