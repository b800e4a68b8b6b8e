from lib.routes.metrics import handle
from lib.web import wsgi

app = wsgi(handle, methods=("GET",))
