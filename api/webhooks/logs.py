from lib.logs.intake import MAX_BATCH
from lib.routes.logs import count_oversized, handle
from lib.web import wsgi

app = wsgi(handle, methods=("GET", "POST"), max_body=MAX_BATCH, on_oversize=count_oversized)
