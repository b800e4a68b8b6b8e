from lib.routes.sources import handle_vercel
from lib.web import wsgi

app = wsgi(handle_vercel, methods=("POST",))
