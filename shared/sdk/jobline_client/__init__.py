"""jobline-client: the Python SDK of Jobline's canonical API and the client commands.

``Client`` (``client``) speaks ``/v1`` over ``requests`` only; ``cli`` and ``cli_apps`` are the
``jobline submit|get|list|wait|...`` and ``jobline apps|deliveries|webhook`` commands. Installable
alone (``pip install ./shared/sdk``): nothing here imports the server.
"""
