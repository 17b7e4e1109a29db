/* atomic_file.c — temporary file, fsync, rename, fsync of the folder (see atomic_file.h). */
#include "atomic_file.h"
#include "error_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *reason(int e) { return e == ENOSPC ? "the disk is full" : strerror(e); }

/* The folder of PATH ("." when it has none), malloc'd. */
static char *folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* The mode a new file gets from open(..., 0666): the umask applied. */
static mode_t new_file_mode(void) {
    mode_t mask = umask(022);
    umask(mask);
    return 0666 & ~mask;
}

static bool under(const char *path, const char *folder) { return strncmp(path, folder, strlen(folder)) == 0; }

static int open_in_place(atomic_file *a, const char *path, char *err, size_t errlen) {
    a->f = fopen(path, "wb");
    if (!a->f) return err_fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
    a->path = strdup(path);
    if (a->path) return 0;
    atomic_file_abort(a);
    return err_fail(err, errlen, "out of memory");
}

int atomic_file_open(atomic_file *a, const char *path, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    struct stat st;
    bool exists = stat(path, &st) == 0;
    char resolved[PATH_MAX];
    struct stat lst;
    const char *target = path;
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) && realpath(path, resolved)) target = resolved;
    /* a device or a pipe: nothing to replace; /dev/stdout > file, /proc/self/fd/N: the file
     * behind an open descriptor, which would keep the old one if it were replaced */
    if (exists && (!S_ISREG(st.st_mode) || under(path, "/dev/") || under(path, "/proc/") ||
                   under(target, "/dev/") || under(target, "/proc/")))
        return open_in_place(a, path, err, errlen);
    a->path = strdup(target);
    char *dir = folder_of(target);
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    size_t cap = (dir ? strlen(dir) : 0) + strlen(base) + 16;
    a->tmp = malloc(cap);
    if (!a->path || !dir || !a->tmp) {
        free(dir);
        atomic_file_abort(a);
        return err_fail(err, errlen, "out of memory");
    }
    snprintf(a->tmp, cap, "%s/%s.tmp-XXXXXX", dir, base);
    free(dir);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        int e = errno;
        free(a->tmp);
        a->tmp = NULL;
        atomic_file_abort(a);
        return err_fail(err, errlen, "cannot write %s: %s", path, reason(e));
    }
    /* mkstemp makes the file private; give it the mode the target has, or a new file's */
    fchmod(fd, exists ? (st.st_mode & 07777) : new_file_mode());
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        atomic_file_abort(a);
        return err_fail(err, errlen, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

/* Makes the rename durable: fsync of the folder that holds PATH (best effort: some file
 * systems refuse to sync a folder, and the rename has happened either way). */
static void sync_folder(const char *path) {
    char *dir = folder_of(path);
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int atomic_file_commit(atomic_file *a, char *err, size_t errlen) {
    if (!a->f) {
        atomic_file_abort(a);
        return err_fail(err, errlen, "internal error: no file open");
    }
    int e = 0;
    if (fflush(a->f) != 0 || ferror(a->f)) e = errno ? errno : EIO;
    if (!e && a->tmp && fsync(fileno(a->f)) != 0) e = errno;
    if (fclose(a->f) != 0 && !e) e = errno ? errno : EIO;
    a->f = NULL;
    if (!e && a->tmp && rename(a->tmp, a->path) != 0) e = errno;
    if (e) {
        int rc = err_fail(err, errlen, "cannot write %s: %s%s", a->path, reason(e),
                          a->tmp ? " (the file there is unchanged)" : "");
        atomic_file_abort(a);
        return rc;
    }
    if (a->tmp) sync_folder(a->path);
    free(a->tmp);
    a->tmp = NULL;
    atomic_file_abort(a); /* frees the rest; nothing left to remove */
    return 0;
}

void atomic_file_abort(atomic_file *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}
