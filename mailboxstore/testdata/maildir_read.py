"""Read a Maildir++ tree with Python's mailbox module and print it as JSON.

usage: maildir_read.py DIR

Prints {"folders": [...], "inbox": [{"subject", "flags"}], "Badmail": [...]}.
"""
import json
import mailbox
import sys


def describe(md):
    return sorted(({"subject": m["Subject"], "flags": m.get_flags()} for m in md),
                  key=lambda d: d["subject"])


def main():
    root = mailbox.Maildir(sys.argv[1], factory=None, create=False)
    out = {"folders": sorted(root.list_folders()), "inbox": describe(root)}
    for name in out["folders"]:
        out[name] = describe(root.get_folder(name))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
