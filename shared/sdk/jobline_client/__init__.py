"""jobline-client: the Python SDK of Jobline's canonical API and the client commands.

``Client`` (``client``) speaks ``/v1`` over ``requests`` only; ``cli`` and ``cli_apps`` are the
``jobline submit|get|list|wait|...`` and ``jobline apps|deliveries|webhook`` commands, put
together by ``main`` (the SDK's own ``jobline``); ``local`` finds a ``jobline up`` running in
this folder. Installable alone (``pip install ./shared/sdk``): nothing here imports the server
(import-linter), and its one dependency is ``requests`` (``rich``, for progress bars, with the
``cli`` extra).
"""

from jobline_client.client import ApiError, Client

__all__ = ["ApiError", "Client"]
