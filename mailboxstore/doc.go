// Package mailboxstore is bridgehead's minimal durable mail store: Maildir on
// disk, served over IMAP4rev1/IMAP4rev2 with go-imap/v2's imapserver.
//
// # On disk
//
// Under Options.Dir there is one Maildir++ tree per mailbox owner (a
// lower-cased login, or "postmaster"):
//
//	DIR/alice/{tmp,new,cur}/               INBOX
//	DIR/alice/bridgehead-uidlist           INBOX's UIDVALIDITY, next UID and UID list
//	DIR/alice/.Badmail/{tmp,new,cur}/      the Badmail folder
//	DIR/alice/.Badmail/maildirfolder
//	DIR/alice/.Badmail/bridgehead-uidlist
//
// Messages are written to tmp/, fsynced, renamed into new/ and the directory
// fsynced before Append returns, so a delivered message survives a crash. A
// message whose flags change moves to cur/ with the Maildir info suffix
// ":2,FLAGS" (D draft, F flagged, P passed = $Forwarded, R answered, S seen,
// T trashed = \Deleted); letters the store does not know are kept as found.
// Any Maildir reader (mutt, Dovecot, a shell) can read the tree.
//
// The uidlist file is rewritten atomically (temp file, fsync, rename, fsync
// directory) whenever UIDs are assigned or messages removed. A message file
// that the uidlist does not know (a crash between the rename into new/ and the
// uidlist write, or a file dropped in by hand) gets the next UID when the
// folder is loaded; a uidlist entry without a file is dropped. UIDVALIDITY
// never changes for the life of a folder.
//
// While a Store is open it assumes it is the only writer of its tree.
//
// # IMAP names
//
// A login sees its own mailbox: "INBOX", "Badmail" and any folder it creates,
// with "/" as the hierarchy delimiter (folders are flat; "/" and "." may not
// appear in a folder name). An admin additionally sees the postmaster mailbox
// as "Postmaster" (its INBOX) and "Postmaster/Badmail" etc. (its folders),
// unless the admin's login is "postmaster", who sees it as its own. The name
// "Postmaster" is reserved and cannot be created as a folder.
//
// # Wiring
//
//	st, err := mailboxstore.Open(mailboxstore.Options{Dir: filepath.Join(stateDir, "mailboxes"), Retention: 30 * 24 * time.Hour})
//	go st.RunJanitor(ctx)
//	srv, err := st.NewIMAPServer(mailboxstore.ServerOptions{TLSConfig: tlsConf, Auth: dirAuth, Admins: []string{"alice"}})
//	go srv.Serve(ctx, ln) // returns once ctx is done and every session has ended
//	uid, err := st.Append(ctx, mailboxstore.PostmasterOwner, mailboxstore.Inbox, report)
//
// Messages are stored byte for byte as given; hand them over with CRLF line
// ends, as IMAP clients expect.
package mailboxstore
