"""An nginx configuration per test: everything nginx writes goes under the test's directory.

``daemon off`` keeps nginx's master in the foreground (the init's child); the error log goes to
stderr at ``notice``, the level of nginx's signal lines ("signal 15 (SIGTERM) received from 1,
exiting", "gracefully shutting down"), so the test output shows which stop nginx was given.
``worker_shutdown_timeout`` is left unset: on SIGQUIT, nginx's workers finish every request in
flight before exiting, however long it takes (a true drain).
"""

import os

TEMPLATE = """\
daemon off;
master_process on;
worker_processes 2;
pid {dir}/nginx.pid;
error_log stderr notice;
{user}
events {{
    worker_connections 256;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    upstream model {{
        server {upstream};
    }}

    server {{
        listen 127.0.0.1:{port};
        keepalive_timeout 5;
        proxy_read_timeout 60s;

        location ~ ^/(ping|invocations)$ {{
            proxy_pass http://model;
        }}

        location / {{
            return 404 "{{}}";
        }}
    }}
}}
"""


def write_conf(directory, port, upstream):
    """Write <directory>/nginx.conf proxying 127.0.0.1:port to upstream ("HOST:PORT" or
    "unix:PATH"); return its path."""
    os.makedirs(directory, exist_ok=True)
    # As root, nginx's workers would run as nobody, who cannot enter pytest's 0700 temporary
    # directories (temp paths, the gunicorn socket).
    user = "user root;" if os.geteuid() == 0 else ""
    path = os.path.join(directory, "nginx.conf")
    with open(path, "w") as f:
        f.write(TEMPLATE.format(dir=directory, port=port, upstream=upstream, user=user))
    return path
