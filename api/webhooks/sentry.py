from lib.routes.sources import handle_sentry
from lib.web import wsgi

app = wsgi(handle_sentry, methods=("POST",))
