from lib.routes.archive import handle
from lib.web import wsgi

app = wsgi(handle, methods=("GET",))
