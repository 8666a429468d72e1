"""The server's ``jobline`` command: migrations, accounts and keys, credits,
and ``jobline up`` (the whole service on one machine, on embedded servers: ``stack``,
``embedded``). The API client commands come from the SDK (``jobline_client``).
"""
