"""A real SMTP server for the notifier's tests: aiosmtpd on loopback, STARTTLS required.

Usage: smtp_receiver.py PORT CERT_PEM KEY_PEM. Prints READY once listening, then one JSON
line per message received (envelope and content), until killed.
"""
import json
import ssl
import sys
import time

from aiosmtpd.controller import Controller


class Handler:
    async def handle_DATA(self, server, session, envelope):
        print(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "content": envelope.content.decode("utf-8", "replace"),
                    "tls": session.ssl is not None,
                }
            ),
            flush=True,
        )
        return "250 Message accepted"


def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
    )
    controller.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
