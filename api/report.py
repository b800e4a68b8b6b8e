from lib.routes.report import handle
from lib.web import wsgi

app = wsgi(handle, methods=("GET",))
