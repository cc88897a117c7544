"""One APIRouter per area of the web app, assembled by :func:`gridledger.web.app.create_app`."""
