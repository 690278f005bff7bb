#!/usr/bin/python3
"""A real SMTP server for the mail notification tests (Debian's python3-aiosmtpd).

usage: smtp_server.py starttls|plain OUTDIR CERT KEY HOST
Requires AUTH (SMTP_TEST_USER / SMTP_TEST_PASSWORD from the environment); with `starttls` it
offers STARTTLS and refuses MAIL and AUTH before it. Each message received is written to
OUTDIR/mail-N.json (sender, recipients, content, whether TLS and AUTH were used). Prints
"listening PORT" once it accepts connections.
"""
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Recorder:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        record = {"from": envelope.mail_from, "to": envelope.rcpt_tos,
                  "content": envelope.original_content.decode("utf-8", "replace"),
                  "tls": session.ssl is not None, "authenticated": bool(session.authenticated)}
        path = os.path.join(self.outdir, "mail-%d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False)
    return check


async def main():
    mode, outdir, cert, key, host = sys.argv[1:6]
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    recorder = Recorder(outdir)
    auth = authenticator(os.environ["SMTP_TEST_USER"], os.environ["SMTP_TEST_PASSWORD"])

    def factory():
        if mode == "starttls":
            return SMTP(recorder, tls_context=tls, require_starttls=True, auth_require_tls=True,
                        authenticator=auth, auth_required=True)
        return SMTP(recorder, auth_require_tls=False, authenticator=auth, auth_required=True)

    server = await asyncio.get_running_loop().create_server(factory, host, 0)
    print("listening %d" % server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


asyncio.run(main())
