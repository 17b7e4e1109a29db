/* test_atomic_file.c — model/atomic_file.h: the target is the old file or the new one,
 * never a mix, whatever goes wrong while writing.
 *
 * Failures are real ones, made without privileges: a file-size limit (RLIMIT_FSIZE, what
 * `ulimit -f` sets) in a child process makes write() fail with EFBIG part-way, as a full
 * disk would with ENOSPC; /dev/full fails every write. */
#include "atomic_file.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static void write_plain(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *slurp(const char *path) {
    static char buf[65536];
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Files in DIR other than the ones named (NULL-terminated list). */
static int strays(const char *const *keep) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        bool kept = false;
        for (const char *const *k = keep; *k; k++) kept |= strcmp(e->d_name, *k) == 0;
        if (!kept) {
            fprintf(stderr, "  stray file: %s\n", e->d_name);
            n++;
        }
    }
    if (d) closedir(d);
    return n;
}

static void path_of(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", dir, name); }

static void test_new_file(void) {
    char p[300], err[512];
    path_of(p, sizeof p, "new.txt");
    atomic_file a;
    CHECKF(atomic_file_open(&a, p, err, sizeof err) == 0, "%s", err);
    fputs("hello\n", a.f);
    CHECKF(atomic_file_commit(&a, err, sizeof err) == 0, "%s", err);
    const char *got = slurp(p);
    CHECK(got && strcmp(got, "hello\n") == 0);
    mode_t mask = umask(0);
    umask(mask);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask));
    CHECK(strays((const char *const[]){"new.txt", NULL}) == 0);
    unlink(p);
}

static void test_replace_keeps_mode(void) {
    char p[300], err[512];
    path_of(p, sizeof p, "old.txt");
    write_plain(p, "old contents\n");
    chmod(p, 0640);
    atomic_file a;
    CHECKF(atomic_file_open(&a, p, err, sizeof err) == 0, "%s", err);
    fputs("new contents\n", a.f);
    CHECK(strcmp(slurp(p), "old contents\n") == 0); /* nothing visible before the commit */
    CHECKF(atomic_file_commit(&a, err, sizeof err) == 0, "%s", err);
    CHECK(strcmp(slurp(p), "new contents\n") == 0);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640);
    CHECK(strays((const char *const[]){"old.txt", NULL}) == 0);
    unlink(p);
}

static void test_abort_leaves_the_old_file(void) {
    char p[300], err[512];
    path_of(p, sizeof p, "kept.txt");
    write_plain(p, "precious\n");
    atomic_file a;
    CHECKF(atomic_file_open(&a, p, err, sizeof err) == 0, "%s", err);
    fputs("half a new", a.f);
    atomic_file_abort(&a);
    CHECK(strcmp(slurp(p), "precious\n") == 0);
    CHECK(strays((const char *const[]){"kept.txt", NULL}) == 0);
    unlink(p);
}

/* The child writes BYTES under a file-size limit of LIMIT bytes; returns the child's
 * exit status: 0 committed, 1 the commit reported the failure (ERR gets its message). */
static int write_limited(const char *p, size_t bytes, rlim_t limit, char *err, size_t errlen) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG instead of killing us */
        struct rlimit rl = {limit, limit};
        setrlimit(RLIMIT_FSIZE, &rl);
        char e[512] = "";
        atomic_file a;
        int rc = atomic_file_open(&a, p, e, sizeof e);
        for (size_t i = 0; rc == 0 && i < bytes; i++) fputc('x', a.f);
        if (rc == 0) rc = atomic_file_commit(&a, e, sizeof e);
        if (write(fds[1], e, strlen(e)) < 0) _exit(3);
        _exit(rc == 0 ? 0 : 1);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], err, errlen - 1);
    err[n > 0 ? n : 0] = 0;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_write_failure_keeps_the_old_file(void) {
    char p[300], err[512];
    path_of(p, sizeof p, "conversation.jsonl");
    char old[4000];
    memset(old, 'o', sizeof old - 1);
    old[sizeof old - 1] = 0;
    write_plain(p, old); /* 4 kB, written before any limit */
    int rc = write_limited(p, 100000, 8192, err, sizeof err);
    CHECKF(rc == 1, "the child ended with %d (1: a reported failure)", rc);
    CHECKF(strstr(err, p) && strstr(err, "unchanged"), "message: %s", err);
    const char *got = slurp(p);
    CHECK(got && strcmp(got, old) == 0);
    CHECK(strays((const char *const[]){"conversation.jsonl", NULL}) == 0);
    /* and under the limit the same write goes through */
    CHECKF(write_limited(p, 5000, 8192, err, sizeof err) == 0, "%s", err);
    got = slurp(p);
    CHECK(got && strlen(got) == 5000);
    unlink(p);
}

static void test_symlink_is_followed(void) {
    char p[300], link[300], err[512];
    path_of(p, sizeof p, "real.txt");
    path_of(link, sizeof link, "link.txt");
    write_plain(p, "before\n");
    CHECK(symlink("real.txt", link) == 0);
    atomic_file a;
    CHECKF(atomic_file_open(&a, link, err, sizeof err) == 0, "%s", err);
    fputs("after\n", a.f);
    CHECKF(atomic_file_commit(&a, err, sizeof err) == 0, "%s", err);
    struct stat st;
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(strcmp(slurp(p), "after\n") == 0);
    unlink(link);
    unlink(p);
}

static void test_devices_are_written_in_place(void) {
    char err[512];
    atomic_file a;
    CHECKF(atomic_file_open(&a, "/dev/null", err, sizeof err) == 0, "%s", err);
    fputs("gone\n", a.f);
    CHECKF(atomic_file_commit(&a, err, sizeof err) == 0, "%s", err);
    if (access("/dev/full", W_OK) != 0) return;
    CHECKF(atomic_file_open(&a, "/dev/full", err, sizeof err) == 0, "%s", err);
    fputs("no room\n", a.f);
    CHECK(atomic_file_commit(&a, err, sizeof err) == -1 && strstr(err, "/dev/full") && strstr(err, "disk is full"));
}

static void test_missing_folder_is_a_clear_error(void) {
    char p[300], err[512];
    path_of(p, sizeof p, "no/such/folder/x.txt");
    atomic_file a;
    CHECK(atomic_file_open(&a, p, err, sizeof err) == -1 && strstr(err, "cannot write") && strstr(err, p));
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/llmscope-atomic-XXXXXX");
    if (!mkdtemp(dir)) {
        printf("FAIL set-up: cannot create a temporary folder\n");
        return 1;
    }
    RUN(test_new_file);
    RUN(test_replace_keeps_mode);
    RUN(test_abort_leaves_the_old_file);
    RUN(test_write_failure_keeps_the_old_file);
    RUN(test_symlink_is_followed);
    RUN(test_devices_are_written_in_place);
    RUN(test_missing_folder_is_a_clear_error);
    rmdir(dir);
    return test_exit_code();
}
