"""Notices: render (Jinja2) and send (Apprise). The only importer of apprise.

- :mod:`notifications.render` — ``render(step, context, templates_dir=)`` ->
  ``RenderedMessage``; the context contract is in its docstring.
- :mod:`notifications.markdown` — ``md_escape``, ``fit_markdown`` (pure Python).
- :mod:`notifications.send` — ``Sender``, ``SendOutcome``, ``validate_url``,
  ``privacy``, ``ContactError``.
- :mod:`notifications.wecom`, :mod:`notifications.mail` — our Apprise plugins
  (``dubanwecom://``, ``dubanwecomapp://``, ``mailto://``/``mailtos://``).

No database access here: callers pass plain data in and store outcomes themselves.
Importing this package imports nothing heavy; apprise loads with ``notifications.send``.
"""
