from lib.routes.rules import handle
from lib.web import wsgi

app = wsgi(handle, methods=("GET",))
