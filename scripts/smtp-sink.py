#!/usr/bin/python3
"""A local SMTP server that delivers nowhere: the mail catcher of `make run`
and of the test suites (Debian's python3-aiosmtpd).

    scripts/smtp-sink.py --listen 127.0.0.1:2525 --dir .run/mail

Every message is stored as DIR/<time>-<n>.eml (the message as received)
with DIR/<time>-<n>.json beside it (the envelope: mail_from, rcpt_tos), the
.eml written last and atomically.  For each message one line goes to the
console: recipient, subject and the links of the text, so that a developer
can click through password reset and email verification.

Options for the tests: --tls-cert/--tls-key offer STARTTLS, --auth
USER:PASSWORD requires AUTH (after STARTTLS), --reject-rcpt SUBSTRING
answers 550 to matching recipients, --delay-first SECONDS stores the first
message and waits that long before accepting it (a sender that dies
meanwhile sends it again: at-least-once).  Stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import re
import signal
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory, reject, quiet, delay_first=0):
        self.dir = directory
        self.reject = reject
        self.delay_first = delay_first
        self.quiet = quiet
        self.seq = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.reject and self.reject in address:
            return '550 5.1.1 <%s>: recipient rejected by the sink' % address
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.seq += 1
            base = '%d-%04d' % (time.time() * 1000, self.seq)
        path = os.path.join(self.dir, base)
        with open(path + '.json', 'w') as f:
            json.dump({'mail_from': envelope.mail_from,
                       'rcpt_tos': envelope.rcpt_tos}, f)
        with open(path + '.tmp', 'wb') as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + '.tmp', path + '.eml')
        if not self.quiet:
            self.show(envelope, path + '.eml')
        if self.delay_first:
            delay, self.delay_first = self.delay_first, 0
            await asyncio.sleep(delay)
        return '250 2.0.0 stored as %s' % base

    @staticmethod
    def show(envelope, path):
        msg = email.message_from_bytes(envelope.original_content
                                       or envelope.content,
                                       policy=email.policy.default)
        try:
            text = msg.get_body(preferencelist=('plain',)).get_content()
        except Exception:       # noqa: BLE001 - show what arrived anyway
            text = ''
        links = re.findall(r'https?://\S+', text)
        print('mail: to %s, "%s" -> %s' % (', '.join(envelope.rcpt_tos),
                                           msg.get('Subject', ''), path),
              flush=True)
        for link in links:
            print('mail:   %s' % link, flush=True)


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword)
                and auth_data.login == user.encode()
                and auth_data.password == password.encode()):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)
    return check


def main():
    # aiosmtpd 1.4 logs a warning about its own use of a deprecated
    # attribute on every AUTH
    logging.getLogger('mail.log').setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--listen', default='127.0.0.1:2525')
    ap.add_argument('--dir', required=True)
    ap.add_argument('--tls-cert')
    ap.add_argument('--tls-key')
    ap.add_argument('--auth')
    ap.add_argument('--reject-rcpt')
    ap.add_argument('--delay-first', type=float, default=0)
    ap.add_argument('--pid-file')
    ap.add_argument('--quiet', action='store_true')
    a = ap.parse_args()

    host, port = a.listen.rsplit(':', 1)
    os.makedirs(a.dir, exist_ok=True)

    kw = {}
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        kw['tls_context'] = ctx
        kw['require_starttls'] = bool(a.auth)
    if a.auth:
        user, password = a.auth.split(':', 1)
        kw['authenticator'] = authenticator(user, password)
        kw['auth_required'] = True
    else:
        kw['auth_require_tls'] = True

    ctl = Controller(Sink(a.dir, a.reject_rcpt, a.quiet, a.delay_first),
                     hostname=host,
                     port=int(port), server_hostname='fluentai-sink', **kw)
    ctl.start()

    if a.pid_file:
        with open(a.pid_file, 'w') as f:
            f.write('%d\n' % os.getpid())

    print('smtp-sink: listening on %s, storing mail in %s'
          % (a.listen, a.dir), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(1):
        pass
    ctl.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
