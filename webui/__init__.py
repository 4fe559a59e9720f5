"""bantin's web interface: ``create_app()`` builds the Flask app served by ``bantin serve``.

Any WSGI server can call the factory, e.g.
``waitress-serve --host 127.0.0.1 --port 8080 --call webui:create_app``
(the index location then comes from ``BANTIN_INDEX`` or the per-user default).
"""

from webui.app import create_app

__all__ = ["create_app"]
