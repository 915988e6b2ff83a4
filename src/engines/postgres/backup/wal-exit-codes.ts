/**
 * Exit codes of `datakeep wal push|get|check|stream`, chosen for PostgreSQL: `restore_command` exiting 1 means "not in
 * the archive" (recovery ends there), while an exit status above 125 makes recovery stop with an error. A `wal get`
 * that fails for any other reason (wrong passphrase, unreadable repository, bad arguments) must never look like the
 * end of the archive, or the server would promote early and silently lose the rest of its history.
 */
export const WAL_EXIT = Object.freeze({ ok: 0, failed: 1, notFound: 1, gap: 1, usage: 2, getError: 255 });
