/* pull.c — `llmscope pull NAME` and `llmscope list` (see pull.h).
 *
 * A pull is: look NAME up in the catalog, download
 * ENDPOINT/REPO/resolve/main/FILE into MODELS/NAME.part, check its SHA-256 and that it
 * opens as a GGUF, then rename it to MODELS/NAME.gguf. Nothing half-done ever carries
 * the .gguf name, so every other part of the program can trust what it finds there.
 *
 * Resuming: a .part that exists already is continued with "Range: bytes=N-". A server
 * that answers 206 continues at N; one that ignores the Range answers 200 with the whole
 * file, and we start over from byte 0; 416 means N is at or past the end (the part is
 * either complete already or not this file, and is started over). A connection that
 * drops is retried a few times in-process; after that the .part stays on disk and the
 * next `pull` resumes it.
 *
 * The expected hash: the catalog's pinned sha256 when it has one, else the one Hugging
 * Face publishes. For LFS files /resolve/ answers with a redirect to its CDN whose
 * headers carry "X-Linked-Etag: \"<sha256>\"" (and often "ETag" with the same value);
 * the CDN's own ETag is something else. So the hash is collected from every response in
 * the redirect chain, X-Linked-Etag first, and any ETag that is not 64 hex digits is
 * ignored. */
#include "pull.h"
#include "error_msg.h"

#include "gguf.h"
#include "model_catalog.h"
#include "term_text.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define HF_DEFAULT_ENDPOINT "https://huggingface.co"
#define PULL_MAX_ATTEMPTS 5            /* requests per `pull` before we leave it to the user */
#define PULL_CONNECT_TIMEOUT_S 30L
#define PULL_STALL_BYTES_PER_S 1024L   /* slower than this ...                      */
#define PULL_STALL_SECONDS 60L         /* ... for this long counts as a dead connection */
#define PULL_MAX_REDIRECTS 10L
#define PULL_HASH_CHUNK (1u << 20)
#define PULL_PATH_MAX 4096
/* A download may exceed the catalog's size by this much (sizes there are approximate)... */
#define PULL_SIZE_MARGIN_PERCENT 10
#define PULL_SIZE_MARGIN_BYTES (1ull << 20)
/* ... and without any size to go by, it stops before the disk is this close to full. */
#define PULL_DISK_RESERVE (256ull << 20)
#define PULL_DISK_CHECK_EVERY (64ull << 20)

/* ------------------------------------------------------------------------------------
 * Small helpers: error lines, sizes for people, paths, printing untrusted names. */

/* "145.0 MB": decimal units, as Hugging Face shows file sizes. */
static void human_size(uint64_t bytes, char *buf, size_t cap) {
    const char *unit[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1000.0 && u < 4) v /= 1000.0, u++;
    if (u == 0) snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
    else snprintf(buf, cap, "%.1f %s", v, unit[u]);
}

/* Names in the models folder come from the disk, catalog texts from a file, status lines
 * and curl's messages from servers: all are shown through term_text.h, never sent raw. */
static void print_clean(FILE *out, const char *s) {
    char buf[1024];
    fputs(term_clean(s, buf, sizeof buf), out);
}

/* "llmscope WHO: MESSAGE" on stderr, the message shown safely. */
static void print_error(const char *who, const char *msg) {
    fprintf(stderr, "llmscope %s: ", who);
    print_clean(stderr, msg);
    fputc('\n', stderr);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int pull_models_dir(char *buf, size_t cap, char *err, size_t errlen) {
    /* The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored. */
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/') n = snprintf(buf, cap, "%s/llmscope/models", xdg);
    else if (home && home[0] == '/') n = snprintf(buf, cap, "%s/.local/share/llmscope/models", home);
    else {
        err_set(err, errlen, "cannot find a data directory: set XDG_DATA_HOME or HOME to an absolute path");
        return -1;
    }
    if (n < 0 || (size_t)n >= cap) {
        err_set(err, errlen, "the data directory path is too long");
        return -1;
    }
    return 0;
}

/* DIR/NAME.EXT into BUF; false when it does not fit. */
static bool model_path(char *buf, size_t cap, const char *dir, const char *name, const char *ext) {
    int n = snprintf(buf, cap, "%s/%s%s", dir, name, ext);
    return n > 0 && (size_t)n < cap;
}

int pull_installed_path(const char *name, char *buf, size_t cap) {
    char dir[PULL_PATH_MAX], err[256];
    struct stat st;
    if (!catalog_name_ok(name, NULL) || pull_models_dir(dir, sizeof dir, err, sizeof err) ||
        !model_path(buf, cap, dir, name, ".gguf"))
        return -1;
    return stat(buf, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -1;
}

/* mkdir -p PATH (0755). */
static int make_dirs(const char *path, char *err, size_t errlen) {
    char tmp[PULL_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
            err_set(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
            return -1;
        }
        *p = saved;
        if (!saved) break;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        err_set(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        err_set(err, errlen, "cannot create %s: a file is in the way", path);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------
 * The progress bar: redrawn in place on a terminal, absent otherwise (the caller prints
 * plain lines at the start and the end instead). */

typedef struct progress {
    bool tty;
    const char *name;
    double started, last_draw;
    uint64_t bytes_this_run;  /* for the speed: what this process received */
    bool on_screen;           /* a bar is drawn and its line not yet ended */
} progress;

static void progress_draw(progress *p, uint64_t done, uint64_t total, bool force) {
    if (!p->tty) return;
    double t = now_seconds();
    if (!force && t - p->last_draw < 0.1) return;
    p->last_draw = t;
    char have[32], all[32], speed[32];
    human_size(done, have, sizeof have);
    human_size(total, all, sizeof all);
    double secs = t - p->started;
    human_size(secs > 0 ? (uint64_t)((double)p->bytes_this_run / secs) : 0, speed, sizeof speed);
    enum { WIDTH = 24 };
    char bar[WIDTH + 1];
    int filled = total ? (int)((double)done / (double)total * WIDTH) : 0;
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    if (total)
        fprintf(stderr, "\r%s [%s] %3d%%  %s / %s  %s/s\033[K", p->name, bar,
                (int)((double)done * 100.0 / (double)total), have, all, speed);
    else
        fprintf(stderr, "\r%s  %s  %s/s\033[K", p->name, have, speed);
    fflush(stderr);
    p->on_screen = true;
}

static void progress_end_line(progress *p) {
    if (p->on_screen) fputc('\n', stderr);
    p->on_screen = false;
}

/* A status line on stderr that does not collide with the bar. */
static void note(progress *p, const char *fmt, ...) {
    progress_end_line(p);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    print_clean(stderr, line);
    fputc('\n', stderr);
}

/* ------------------------------------------------------------------------------------
 * One HTTP request, and what its callbacks learn. */

typedef struct transfer {
    int fd;                    /* the locked .part file */
    const char *part_path;
    const char *dir;           /* for the free-space check */
    uint64_t offset;           /* bytes the .part held when the request was sent */
    uint64_t limit;            /* the most the file may hold: the catalog's size with a
                                  margin (0: unknown) */
    progress *prog;

    /* From the headers of the response being received; reset at each status line, since
     * a redirect chain brings several responses. */
    long status;
    char status_line[128];
    int64_t content_length;    /* -1: not sent */
    bool range_known;
    uint64_t range_start;      /* Content-Range: bytes START-END/TOTAL */
    int64_t range_total;       /* TOTAL, also from "bytes * /TOTAL" on a 416; -1 unknown */

    /* Hashes the server advertised anywhere in the chain (lowercase hex, or ""). */
    char linked_sha[65];
    char etag_sha[65];

    /* The body. */
    bool body_started;         /* headers of a 200/206 seen and the file positioned */
    bool http_error;           /* final status was not 200/206: the body was refused */
    uint64_t base;             /* file offset the body is written at */
    uint64_t received;         /* body bytes written by this request */
    uint64_t next_disk_check;  /* received bytes at which free space is looked at again */
    bool too_big;              /* stopped for sending more than the file can be */
    char fail[512];            /* why a callback aborted the transfer, or "" */
} transfer;

/* The sha256 inside an ETag-like header value: W/"<64 hex>" or "<64 hex>". */
static void take_sha(const char *value, char out[65]) {
    if (strncmp(value, "W/", 2) == 0) value += 2;
    if (*value == '"') value++;
    char hex[65];
    int n = 0;
    while (n < 64 && isxdigit((unsigned char)value[n])) hex[n] = (char)tolower((unsigned char)value[n]), n++;
    hex[n] = '\0';
    char after = value[n];
    if (n == 64 && (after == '"' || after == '\0' || after == '\r' || after == '\n' || after == ' '))
        memcpy(out, hex, 65);
}

static bool header_is(const char *line, const char *name, const char **value) {
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':') return false;
    *value = line + n + 1;
    while (**value == ' ' || **value == '\t') (*value)++;
    return true;
}

/* Called at the end of the headers of a 200 or 206: decide where the body goes. */
static bool start_body(transfer *t) {
    if (t->status == 206) {
        if (!t->range_known || t->range_start != t->offset) {
            err_set(t->fail, sizeof t->fail,
                     "the server answered a request for byte %llu onwards with a different range",
                     (unsigned long long)t->offset);
            return false;
        }
        t->base = t->offset;
    } else {
        /* 200 carries the whole file. After a Range request that means the server ignored
         * it: the bytes we have would be duplicated, so start over. */
        if (t->offset > 0) {
            note(t->prog, "%s: the server ignored the resume request; downloading from the start",
                 t->prog->name);
            if (ftruncate(t->fd, 0) != 0) {
                err_set(t->fail, sizeof t->fail, "cannot truncate %s: %s", t->part_path, strerror(errno));
                return false;
            }
        }
        t->base = 0;
    }
    if (lseek(t->fd, (off_t)t->base, SEEK_SET) < 0) {
        err_set(t->fail, sizeof t->fail, "cannot seek in %s: %s", t->part_path, strerror(errno));
        return false;
    }
    /* A file announced larger than the catalog says is not the file we want. */
    if (t->limit && t->content_length >= 0 && t->base + (uint64_t)t->content_length > t->limit) {
        char announced[32], expected[32];
        human_size(t->base + (uint64_t)t->content_length, announced, sizeof announced);
        human_size(t->limit, expected, sizeof expected);
        err_set(t->fail, sizeof t->fail, "the server announces %s, more than the %s the catalog allows for "
                "this model: not downloaded", announced, expected);
        t->too_big = true;
        return false;
    }
    /* Fail now rather than after filling the disk. */
    struct statvfs vfs;
    if (t->content_length > 0 && fstatvfs(t->fd, &vfs) == 0) {
        uint64_t free_bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
        if ((uint64_t)t->content_length > free_bytes) {
            char need[32], have[32];
            human_size((uint64_t)t->content_length, need, sizeof need);
            human_size(free_bytes, have, sizeof have);
            err_set(t->fail, sizeof t->fail, "not enough disk space in %s: the download needs %s, %s free",
                     t->dir, need, have);
            return false;
        }
    }
    t->body_started = true;
    return true;
}

static size_t on_header(char *data, size_t size, size_t count, void *user) {
    transfer *t = user;
    size_t n = size * count;
    char line[1024];
    size_t len = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, data, len);
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    const char *v;

    if (strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (the first, or the next hop of a redirect). */
        const char *sp = strchr(line, ' ');
        t->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        /* the reason phrase is the server's text: kept only as shown (term_text.h) */
        char reason[101];
        snprintf(reason, sizeof reason, "%.100s", sp ? sp + 1 : line);
        term_clean(reason, t->status_line, sizeof t->status_line);
        t->content_length = -1;
        t->range_known = false;
        t->range_total = -1;
    } else if (line[0] == '\0') {
        /* End of this response's headers. 1xx (e.g. 103 Early Hints) come before the
         * real answer and redirects are followed by curl; a 200/206 brings our body;
         * anything else is refused here so its body (an error page) never reaches the
         * file. */
        if (t->status < 200 || (t->status >= 300 && t->status < 400)) return n;
        if (t->status == 200 || t->status == 206) return start_body(t) ? n : 0;
        t->http_error = true;
        return 0;
    } else if (header_is(line, "Content-Length", &v)) {
        char *end;
        errno = 0;
        long long cl = strtoll(v, &end, 10);
        t->content_length = errno || end == v || cl < 0 ? -1 : cl;
    } else if (header_is(line, "Content-Range", &v)) {
        unsigned long long a, b, total;
        if (sscanf(v, "bytes %llu-%llu/%llu", &a, &b, &total) == 3) {
            t->range_known = true;
            t->range_start = a;
            t->range_total = (int64_t)total;
        } else if (sscanf(v, "bytes */%llu", &total) == 1) {
            t->range_total = (int64_t)total;
        }
    } else if (header_is(line, "X-Linked-Etag", &v)) {
        take_sha(v, t->linked_sha);
    } else if (header_is(line, "ETag", &v)) {
        take_sha(v, t->etag_sha);
    }
    return n;
}

static int write_all(int fd, const char *data, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t on_body(char *data, size_t size, size_t count, void *user) {
    transfer *t = user;
    size_t n = size * count;
    if (!t->body_started) {
        err_set(t->fail, sizeof t->fail, "the server sent data before a usable response");
        return 0;
    }
    /* An endless or oversized body: stop at the catalog's size (with its margin), and
     * without one before the disk fills (Content-Length itself curl holds the server to). */
    if (t->limit && t->base + t->received + n > t->limit) {
        char expected[32];
        human_size(t->limit, expected, sizeof expected);
        err_set(t->fail, sizeof t->fail, "the server sent more than the %s the catalog allows for this model: "
                "stopped, and the partial download was deleted", expected);
        t->too_big = true;
        return 0;
    }
    if (!t->limit && t->content_length < 0 && t->received >= t->next_disk_check) {
        struct statvfs vfs;
        t->next_disk_check = t->received + PULL_DISK_CHECK_EVERY;
        if (fstatvfs(t->fd, &vfs) == 0 && (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize < PULL_DISK_RESERVE + n) {
            err_set(t->fail, sizeof t->fail, "stopped: the disk holding %s is nearly full", t->part_path);
            return 0;
        }
    }
    if (write_all(t->fd, data, n) != 0) {
        err_set(t->fail, sizeof t->fail, "cannot write %s: %s", t->part_path,
                 errno == ENOSPC ? "the disk is full" : strerror(errno));
        return 0;
    }
    t->received += n;
    t->prog->bytes_this_run += n;
    uint64_t total = t->content_length >= 0 ? t->base + (uint64_t)t->content_length : 0;
    progress_draw(t->prog, t->base + t->received, total, false);
    return n;
}

typedef enum {
    REQ_DONE,     /* the .part holds the whole file */
    REQ_RETRY,    /* transient: the connection dropped, or the server was busy */
    REQ_RESTART,  /* the .part is unusable for resuming: empty it and ask again */
    REQ_FAILED,   /* give up (ERR says why) */
} request_result;

/* Sends one request for URL, resuming at the .part's current size. */
static request_result request_once(CURL *curl, transfer *t, const char *url, char *err, size_t errlen) {
    struct stat st;
    if (fstat(t->fd, &st) != 0) {
        err_set(err, errlen, "cannot read %s: %s", t->part_path, strerror(errno));
        return REQ_FAILED;
    }
    t->offset = (uint64_t)st.st_size;
    t->status = 0;
    t->status_line[0] = '\0';
    t->body_started = t->http_error = false;
    t->base = t->received = t->next_disk_check = 0;
    t->too_big = false;
    t->fail[0] = '\0';

    char range[32];
    snprintf(range, sizeof range, "%llu-", (unsigned long long)t->offset);
    curl_easy_setopt(curl, CURLOPT_RANGE, t->offset > 0 ? range : NULL);
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);

    CURLcode rc = curl_easy_perform(curl);
    uint64_t total = t->content_length >= 0 ? t->base + (uint64_t)t->content_length : 0;
    if (t->body_started) progress_draw(t->prog, t->base + t->received, total, true);
    progress_end_line(t->prog);
    const char *why = curl_err[0] ? curl_err : curl_easy_strerror(rc);

    if (t->fail[0]) { /* one of our callbacks stopped the transfer */
        err_set(err, errlen, "%s", t->fail);
        return REQ_FAILED;
    }
    if (t->http_error) {
        long s = t->status;
        if (s == 416) {
            /* Range Not Satisfiable: the part is as long as the file (done) or longer
             * (not this file). */
            if (t->offset > 0 && t->range_total == (int64_t)t->offset) return REQ_DONE;
            err_set(err, errlen, "the partial download %s does not fit the file on the server",
                     t->part_path);
            return REQ_RESTART;
        }
        if (s == 429 || s >= 500) {
            err_set(err, errlen, "the server is busy or failing (HTTP %s) for %s", t->status_line, url);
            return REQ_RETRY;
        }
        const char *hint = s == 404 ? " (the file is not there: the catalog entry may be out of date)"
                         : s == 401 || s == 403 ? " (the repository may be gated or private; pull does not log in)"
                         : "";
        err_set(err, errlen, "HTTP %s for %s%s", t->status_line, url, hint);
        return REQ_FAILED;
    }
    switch (rc) {
    case CURLE_OK:
        if (!t->body_started) {
            err_set(err, errlen, "unexpected answer HTTP %s for %s", t->status_line, url);
            return REQ_FAILED;
        }
        return REQ_DONE;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
        err_set(err, errlen, "the connection dropped: %s", why);
        return REQ_RETRY;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        err_set(err, errlen, "cannot resolve the server's name (no network?): %s", why);
        return REQ_FAILED;
    case CURLE_COULDNT_CONNECT:
        err_set(err, errlen, "cannot connect (no network, or the server is down): %s", why);
        return REQ_FAILED;
    case CURLE_TOO_MANY_REDIRECTS:
        err_set(err, errlen, "too many redirects for %s", url);
        return REQ_FAILED;
    case CURLE_OUT_OF_MEMORY:
        /* what curl says about a header line over its 100 kB limit, before any body */
        if (!t->body_started) {
            err_set(err, errlen, "the server at %s sent a header too large to accept (over 100 kB): not a "
                    "download server pull can use", url);
            return REQ_FAILED;
        }
        err_set(err, errlen, "download of %s failed: out of memory", url);
        return REQ_FAILED;
    case CURLE_WEIRD_SERVER_REPLY:
        err_set(err, errlen, "the server at %s does not answer in HTTP: %s", url, why);
        return REQ_FAILED;
    default:
        err_set(err, errlen, "download of %s failed: %s", url, why);
        return REQ_FAILED;
    }
}

/* Requests URL until the .part is complete, at most PULL_MAX_ATTEMPTS times. */
static int download(CURL *curl, transfer *t, const char *name, const char *url, char *err,
                    size_t errlen) {
    char why[768] = "";
    for (int attempt = 1; attempt <= PULL_MAX_ATTEMPTS; attempt++) {
        struct stat st;
        if (fstat(t->fd, &st) == 0 && st.st_size > 0) {
            char have[32];
            human_size((uint64_t)st.st_size, have, sizeof have);
            note(t->prog, "%s: resuming at %s", name, have);
        }
        request_result r = request_once(curl, t, url, why, sizeof why);
        if (r == REQ_DONE) return 0;
        if (r == REQ_FAILED) {
            err_set(err, errlen, "%s", why);
            return -1;
        }
        if (r == REQ_RESTART && ftruncate(t->fd, 0) != 0) {
            err_set(err, errlen, "cannot truncate %s: %s", t->part_path, strerror(errno));
            return -1;
        }
        if (attempt < PULL_MAX_ATTEMPTS) {
            note(t->prog, "%s: %s; trying again (%d of %d)", name, why, attempt + 1, PULL_MAX_ATTEMPTS);
            /* A failed request that got nothing waits before the next (a busy server);
             * one that made progress, or a restart, goes again at once. */
            if (r == REQ_RETRY && t->received == 0) sleep((unsigned)attempt);
        }
    }
    struct stat st;
    char have[32] = "0 B";
    if (fstat(t->fd, &st) == 0) human_size((uint64_t)st.st_size, have, sizeof have);
    err_set(err, errlen, "gave up after %d attempts (%s); %s kept in %s: run `llmscope pull %s` "
            "again to resume", PULL_MAX_ATTEMPTS, why, have, t->part_path, name);
    return -1;
}

/* ------------------------------------------------------------------------------------
 * Verification. */

/* SHA-256 of everything in FD, as lowercase hex. */
static int sha256_of_fd(int fd, char hex[65], char *err, size_t errlen) {
    unsigned char *buf = malloc(PULL_HASH_CHUNK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -1;
    if (!buf || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        err_set(err, errlen, "cannot start SHA-256 (out of memory?)");
        goto done;
    }
    for (off_t at = 0;;) {
        ssize_t n = pread(fd, buf, PULL_HASH_CHUNK, at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err_set(err, errlen, "cannot read back the download: %s", strerror(errno));
            goto done;
        }
        if (n == 0) break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        at += n;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 32) {
        err_set(err, errlen, "SHA-256 failed");
        goto done;
    }
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    rc = 0;
done:
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------------------
 * pull */

/* The endpoint from the environment, without a trailing '/'. */
static int hf_endpoint(char *buf, size_t cap, char *err, size_t errlen) {
    const char *e = getenv("LLMSCOPE_HF_ENDPOINT");
    if (!e || !*e) e = HF_DEFAULT_ENDPOINT;
    if (strncmp(e, "http://", 7) != 0 && strncmp(e, "https://", 8) != 0) {
        err_set(err, errlen, "LLMSCOPE_HF_ENDPOINT must start with http:// or https://");
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)e; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) {
            err_set(err, errlen, "LLMSCOPE_HF_ENDPOINT contains a space or control character");
            return -1;
        }
    size_t n = strlen(e);
    while (n > 0 && e[n - 1] == '/') n--;
    if (n >= cap) {
        err_set(err, errlen, "LLMSCOPE_HF_ENDPOINT is too long");
        return -1;
    }
    memcpy(buf, e, n);
    buf[n] = '\0';
    return 0;
}

/* Removes PATH when it is empty: a failed first request should leave no litter. */
static void unlink_if_empty(int fd, const char *path) {
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size == 0) unlink(path);
}

static int pull_entry(const catalog_entry *e, char *err, size_t errlen) {
    char dir[PULL_PATH_MAX], final_path[PULL_PATH_MAX], part_path[PULL_PATH_MAX];
    char endpoint[1024], url[2048];
    if (pull_models_dir(dir, sizeof dir, err, errlen)) return -1;
    if (!model_path(final_path, sizeof final_path, dir, e->name, ".gguf") ||
        !model_path(part_path, sizeof part_path, dir, e->name, ".part")) {
        err_set(err, errlen, "the data directory path is too long");
        return -1;
    }
    if (hf_endpoint(endpoint, sizeof endpoint, err, errlen)) return -1;
    /* repo and file were checked to hold only URL-safe characters (model_catalog.c). */
    snprintf(url, sizeof url, "%s/%s/resolve/main/%s", endpoint, e->repo, e->file);

    struct stat st;
    if (stat(final_path, &st) == 0) {
        char size[32];
        human_size((uint64_t)st.st_size, size, sizeof size);
        printf("%s is already installed: %s (%s)\n", e->name, final_path, size);
        return 0;
    }
    if (make_dirs(dir, err, errlen)) return -1;

    int fd = open(part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_set(err, errlen, "cannot write %s: %s", part_path, strerror(errno));
        return -1;
    }
    /* Two pulls of one model would interleave their writes into one .part. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        err_set(err, errlen, "another `llmscope pull %s` is downloading into %s right now",
                 e->name, part_path);
        close(fd);
        return -1;
    }

    progress prog = {.tty = isatty(STDERR_FILENO), .name = e->name, .started = now_seconds()};
    transfer t = {.fd = fd, .part_path = part_path, .dir = dir, .prog = &prog,
                  .content_length = -1, .range_total = -1};
    if (e->approx_bytes)
        t.limit = e->approx_bytes + e->approx_bytes / 100 * PULL_SIZE_MARGIN_PERCENT + PULL_SIZE_MARGIN_BYTES;
    CURL *curl = curl_easy_init();
    int rc = -1;
    if (!curl) {
        err_set(err, errlen, "cannot start libcurl");
        goto done;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, PULL_MAX_REDIRECTS);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, PULL_CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, PULL_STALL_BYTES_PER_S);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, PULL_STALL_SECONDS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "llmscope-pull/1");
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);

    char approx[32] = "size unknown";
    if (e->approx_bytes) {
        approx[0] = '~';
        human_size(e->approx_bytes, approx + 1, sizeof approx - 1);
    }
    note(&prog, "pulling %s (%s) from %s/%s", e->name, approx, endpoint, e->repo);
    if (download(curl, &t, e->name, url, err, errlen)) {
        if (t.too_big) unlink(part_path); /* bytes of something else: resuming it is pointless */
        else unlink_if_empty(fd, part_path);
        goto done;
    }
    if (fsync(fd) != 0) {
        err_set(err, errlen, "cannot write %s: %s", part_path,
                 errno == ENOSPC ? "the disk is full" : strerror(errno));
        goto done;
    }

    const char *expected = e->sha256[0] ? e->sha256 : t.linked_sha[0] ? t.linked_sha
                         : t.etag_sha[0] ? t.etag_sha : NULL;
    const char *from = e->sha256[0] ? "pinned in the catalog" : "sent by the server";
    char actual[65];
    if (sha256_of_fd(fd, actual, err, errlen)) goto done;
    if (expected && strcmp(expected, actual) != 0) {
        unlink(part_path);
        err_set(err, errlen, "SHA-256 mismatch for %s: expected %s (%s), got %s; the download was "
                 "deleted, run `llmscope pull %s` to try again", e->name, expected, from, actual, e->name);
        goto done;
    }
    if (!expected)
        note(&prog, "warning: %s: the server sent no SHA-256 and the catalog pins none; "
             "installing unverified (sha256 %s)", e->name, actual);

    /* The hash says these are the bytes that were published; this says they are a GGUF
     * we can read (it matters most when there was no hash to check). */
    gguf_file g;
    char gerr[512];
    if (gguf_open(&g, part_path, gerr, sizeof gerr) != 0) {
        unlink(part_path);
        err_set(err, errlen, "the download of %s is not a usable GGUF file and was deleted: %s",
                 e->name, gerr);
        goto done;
    }
    gguf_close(&g);

    if (rename(part_path, final_path) != 0) {
        err_set(err, errlen, "cannot move %s to %s: %s", part_path, final_path, strerror(errno));
        goto done;
    }
    /* the rename is durable once the folder is on disk too */
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        fsync(dir_fd);
        close(dir_fd);
    }
    if (fstat(fd, &st) != 0) st.st_size = 0;
    char size[32];
    human_size((uint64_t)st.st_size, size, sizeof size);
    printf("%s installed: %s (%s, sha256 %s%s)\n", e->name, final_path, size, actual,
           expected ? " verified" : " not verified");
    rc = 0;
done:
    if (curl) curl_easy_cleanup(curl);
    close(fd); /* also releases the lock */
    return rc;
}

static void pull_usage(FILE *out) {
    fprintf(out,
            "usage: llmscope pull NAME\n"
            "Downloads a known model (`llmscope list` shows them) from Hugging Face into\n"
            "$XDG_DATA_HOME/llmscope/models (default ~/.local/share/llmscope/models). An\n"
            "interrupted download is resumed by running the same command again; the file is\n"
            "installed only after its SHA-256 matches.\n"
            "Environment: LLMSCOPE_HF_ENDPOINT (default " HF_DEFAULT_ENDPOINT "),\n"
            "             LLMSCOPE_CATALOG (a JSON file that replaces the built-in catalog)\n");
}

int pull_main(int argc, char **argv) {
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            pull_usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' || name) {
            fprintf(stderr, "llmscope pull: unexpected argument '%s' (usage: llmscope pull NAME)\n", argv[i]);
            return 2;
        }
        name = argv[i];
    }

    char err[1024];
    model_catalog cat;
    if (catalog_load(&cat, err, sizeof err)) {
        print_error("pull", err);
        return 1;
    }
    char names[1024];
    catalog_names(&cat, names, sizeof names);
    if (!name) {
        fprintf(stderr, "llmscope pull: which model? usage: llmscope pull NAME, one of: %s\n", names);
        catalog_free(&cat);
        return 2;
    }
    const catalog_entry *e = catalog_find(&cat, name);
    if (!e) {
        fprintf(stderr, "llmscope pull: unknown model '");
        print_clean(stderr, name);
        fprintf(stderr, "'; known models: %s\n", names);
        catalog_free(&cat);
        return 1;
    }

    int rc = 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "llmscope pull: cannot initialise libcurl\n");
        rc = 1;
    } else {
        fflush(stdout);
        if (pull_entry(e, err, sizeof err)) {
            print_error("pull", err);
            rc = 1;
        }
        curl_global_cleanup();
    }
    catalog_free(&cat);
    return rc;
}

/* ------------------------------------------------------------------------------------
 * list */

typedef struct found_file {
    char name[256];
    uint64_t size;
    bool partial;
} found_file;

static int by_name(const void *a, const void *b) {
    return strcmp(((const found_file *)a)->name, ((const found_file *)b)->name);
}

/* Collects DIR's *.gguf and *.part regular files. Returns the count (0 when DIR does not
 * exist yet), or -1 with ERR filled. *OUT is malloc'd. */
static int scan_models(const char *dir, found_file **out, char *err, size_t errlen) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        err_set(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        return -1;
    }
    found_file *files = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        bool gguf = len > 5 && strcmp(de->d_name + len - 5, ".gguf") == 0;
        bool part = len > 5 && strcmp(de->d_name + len - 5, ".part") == 0;
        char path[PULL_PATH_MAX];
        struct stat st;
        if ((!gguf && !part) || len >= sizeof files->name ||
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            found_file *grown = realloc(files, cap * sizeof *files);
            if (!grown) {
                err_set(err, errlen, "out of memory listing %s", dir);
                rc = -1;
                break;
            }
            files = grown;
        }
        memcpy(files[n].name, de->d_name, len - 5);
        files[n].name[len - 5] = '\0';
        files[n].size = (uint64_t)st.st_size;
        files[n].partial = part;
        n++;
    }
    closedir(d);
    if (rc) {
        free(files);
        return -1;
    }
    qsort(files, n, sizeof *files, by_name);
    *out = files;
    return (int)n;
}

int list_main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: llmscope list\n"
                   "Shows the models pulled into $XDG_DATA_HOME/llmscope/models (name, size, path)\n"
                   "and the ones `llmscope pull NAME` can download.\n");
            return 0;
        }
        fprintf(stderr, "llmscope list: unexpected argument '%s' (usage: llmscope list)\n", argv[i]);
        return 2;
    }

    char err[1024], dir[PULL_PATH_MAX];
    if (pull_models_dir(dir, sizeof dir, err, sizeof err)) {
        print_error("list", err);
        return 1;
    }
    found_file *files;
    int n = scan_models(dir, &files, err, sizeof err);
    if (n < 0) {
        print_error("list", err);
        return 1;
    }

    printf("Installed models (%s):\n", dir);
    int installed = 0;
    for (int i = 0; i < n; i++) {
        if (files[i].partial) continue;
        char size[32];
        human_size(files[i].size, size, sizeof size);
        printf("  %-16s %10s  ", files[i].name, size);
        print_clean(stdout, dir);
        fputc('/', stdout);
        print_clean(stdout, files[i].name);
        printf(".gguf\n");
        installed++;
    }
    if (!installed) printf("  none yet: `llmscope pull NAME` downloads one of the models below\n");
    for (int i = 0; i < n; i++) {
        if (!files[i].partial) continue;
        char size[32];
        human_size(files[i].size, size, sizeof size);
        printf("  %-16s %10s  partial download; `llmscope pull ", files[i].name, size);
        print_clean(stdout, files[i].name);
        printf("` resumes it\n");
    }

    model_catalog cat;
    int rc = 0;
    if (catalog_load(&cat, err, sizeof err)) {
        print_error("list", err);
        rc = 1;
    } else {
        printf("\nModels you can pull (llmscope pull NAME; catalog: %s):\n", cat.source);
        for (size_t i = 0; i < cat.count; i++) {
            const catalog_entry *e = &cat.entries[i];
            char size[32] = "?";
            if (e->approx_bytes) {
                size[0] = '~';
                human_size(e->approx_bytes, size + 1, sizeof size - 1);
            }
            bool have = false;
            for (int j = 0; j < n; j++)
                have |= !files[j].partial && strcmp(files[j].name, e->name) == 0;
            char desc[CATALOG_DESC_MAX * 6];
            printf("  %-16s %10s  %s%s\n", e->name, size, term_clean(e->description, desc, sizeof desc),
                   have ? "  [installed]" : "");
            printf("  %-16s %10s  %s/%s\n", "", "", e->repo, e->file);
        }
        catalog_free(&cat);
    }
    free(files);
    return rc;
}
