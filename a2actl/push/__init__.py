"""Push notifications: ``push listen``, a webhook receiver that checks every delivery (``checks``),
registers itself with an agent (``register``) and serves over uvicorn (``app``, imported only by the
command body: starlette and uvicorn are imported inside its functions)."""
