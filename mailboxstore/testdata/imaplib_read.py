"""Read a mailbox with Python's imaplib and print what it saw as JSON.

usage: imaplib_read.py HOST PORT LOGIN PASSWORD MAILBOX

LOGIN, LIST, SELECT (read-only), UID SEARCH ALL, UID FETCH (UID FLAGS
RFC822.SIZE BODY.PEEK[]), LOGOUT. Exits non-zero on any IMAP error.
"""
import imaplib
import json
import re
import sys


def main():
    host, port, login, password, mailbox = sys.argv[1:6]
    imap = imaplib.IMAP4(host, int(port))
    typ, _ = imap.login(login, password)
    assert typ == "OK", typ
    typ, listing = imap.list()
    assert typ == "OK", typ
    typ, data = imap.select('"%s"' % mailbox, readonly=True)
    assert typ == "OK", (typ, data)
    exists = int(data[0])
    uidvalidity = int(imap.response("UIDVALIDITY")[1][0])
    typ, data = imap.uid("SEARCH", None, "ALL")
    assert typ == "OK", typ
    uids = [int(u) for u in data[0].split()]
    messages = []
    if uids:
        typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK", typ
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, body = item
            meta = meta.decode()
            messages.append({
                "uid": int(re.search(r"UID (\d+)", meta).group(1)),
                "size": int(re.search(r"RFC822\.SIZE (\d+)", meta).group(1)),
                "flags": re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split(),
                "body": body.decode("utf-8"),
            })
    imap.logout()
    print(json.dumps({
        "exists": exists,
        "uidvalidity": uidvalidity,
        "search": uids,
        "list": [l.decode() for l in listing],
        "messages": messages,
    }))


if __name__ == "__main__":
    main()
