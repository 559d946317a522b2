"""What the tests (and bench/) share, each in one place; imported as ``tests.helpers.<module>``.

* ``ports`` — ``free_port``: a local port nothing listens on.
* ``polling`` — ``wait_until``: poll a condition until it holds, instead of sleeping a fixed time.
* ``api`` — ``Api``: call the REST API of a test app with a token of a role; ``admin_site``.
* ``signin`` — signing in through the real forms: the Flask test client (``sign_in``, ``pin_sign_in``,
  ``try_password``, ``try_pin``, ``csrf``, ``signed_in_caller``) and a browser page (``browser_sign_in``,
  ``browser_agent_sign_in``); the one ``PASSWORD`` every test user has.
* ``web_server`` — the real app served on 127.0.0.1 (werkzeug or uvicorn) and a TCP relay a test can cut.
* ``browser`` — headless Chromium through Playwright: console-error watcher, axe-core check, screenshots,
  a softphone page signed in.
* ``cluster`` — several real ``presence-connector serve`` processes and a local webhook receiver.
* ``postgres`` — a throwaway PostgreSQL server.
* ``adapter_doubles`` — adapters with the real interface that record what they are sent.
* ``fakes`` — fake remote servers: Salesforce (``fakes.salesforce``), Skype for Business UCWA
  (``fakes.ucwa``), an Asterisk AMI peer (``fakes.ami``), Microsoft Graph presence (``fakes.graph``).

The fixtures built on them (``org``, ``people``, ``browser``, ``contexts``, ...) are in tests/conftest.py.
"""
