"""The read API's routers, one module per resource; each handler is a thin translation
from HTTP to :mod:`api.service` objects (no query or cache logic lives here)."""
