/* atomic_file.h — writing a file a user cares about so that it is never half there.
 *
 * A saved conversation, a trace, a picture, a synthesised model: when the disk fills, the
 * process dies or the power goes while one is written, the user must find either the old
 * file or the new one, never a truncated mix (a /save that truncated the target first
 * lost the previous conversation on a full disk). So the bytes go to a temporary file in
 * the target's own folder (a rename is atomic only within one file system), which is
 * flushed and fsynced, then renamed over the target, and the folder is fsynced so the
 * rename itself survives a crash. Any failure removes the temporary file and leaves the
 * target as it was.
 *
 * A target that exists and is not a regular file (a terminal, a pipe), or is reached
 * through /dev or /proc (/dev/stdout redirected to a file), is written in place: there is
 * nothing to replace atomically. Another symbolic link is followed, so the link stays and
 * the file it names is replaced. */
#ifndef LLMSCOPE_ATOMIC_FILE_H
#define LLMSCOPE_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct atomic_file {
    FILE *f;        /* write here */
    char *path;     /* the target (a link resolved) */
    char *tmp;      /* the temporary file, or NULL when writing in place */
} atomic_file;

/* Opens a temporary file beside PATH for writing (binary). Returns 0, or -1 with ERR
 * ("cannot write PATH: reason"). */
int atomic_file_open(atomic_file *a, const char *path, char *err, size_t errlen);
/* Flushes, fsyncs and closes the temporary file, renames it over the target and fsyncs
 * the folder. Returns 0, or -1 with ERR; either way A is closed, and on failure the target
 * is untouched and the temporary file gone. */
int atomic_file_commit(atomic_file *a, char *err, size_t errlen);
/* Gives up: closes and removes the temporary file (the target is untouched). */
void atomic_file_abort(atomic_file *a);

#endif
