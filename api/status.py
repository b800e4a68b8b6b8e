from __future__ import annotations

from lib.routes.status import handle
from lib.web import wsgi

app = wsgi(handle, methods=("GET",))
