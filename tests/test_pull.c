/* test_pull.c — `llmscope pull` and `llmscope list` against a local stand-in for Hugging
 * Face (tests/http_test_server.py, 127.0.0.1 only) that serves the real files in
 * ../shared/models and can misbehave on request (drop the connection, corrupt a byte,
 * ignore Range, 404).
 *
 * The expected hashes come from coreutils' sha256sum and the server's Python hashlib,
 * never from our own code, and every installed file is compared byte for byte with the
 * shared original. Each command runs in a forked child with its own stdout/stderr files
 * and an alarm, so a hang or crash is a failure, not a stuck suite. */
#include "test.h"

#include "model_catalog.h"
#include "pull.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODEL_FILE "llama-k-tiny-q8_0.gguf" /* 2.8 MB: several drop-sized pieces */
#define SMALL_FILE "stories260K.gguf"
#define CHILD_SECONDS 60

/* Everything the tests share: where the data is and the one running server. */
static struct {
    bool ready;
    char skip_reason[400];
    char tmp[256];          /* our temporary folder (removed at the end) */
    char model[512];        /* ../shared/models/MODEL_FILE */
    char small[512];        /* ../shared/models/SMALL_FILE */
    char model_sha[65];     /* from sha256sum */
    int port;
    pid_t server;
    int server_stdin;       /* closing it tells the server to exit */
    char log[512];          /* the server's request log */
    int data_homes;         /* counter for fresh XDG_DATA_HOME folders */
} fx;

typedef struct outcome {
    int status;             /* exit status, or 128+signal */
    char out[16384], err[16384];
} outcome;

/* ------------------------------------------------------------------------------------
 * Helpers */

static size_t read_file(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return n;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static bool exists(const char *path) { return file_size(path) >= 0; }

static bool same_bytes(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = false;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* Copies the first N bytes of SRC (all when N < 0) to DST, then appends EXTRA zero bytes. */
static bool copy_prefix(const char *src, const char *dst, long n, int extra) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    bool ok = in && out;
    for (long i = 0; ok && (n < 0 || i < n); i++) {
        int c = fgetc(in);
        if (c == EOF) break;
        ok = fputc(c, out) != EOF;
    }
    for (int i = 0; ok && i < extra; i++) ok = fputc(0, out) != EOF;
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = false;
    return ok;
}

static int count_lines_starting(const char *text, const char *prefix) {
    int n = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, strlen(prefix)) == 0) n++;
    return n;
}

/* A fresh XDG_DATA_HOME; MODELS gets the folder pull should use inside it. */
static void fresh_data_home(char *models, size_t cap) {
    char home[300];
    snprintf(home, sizeof home, "%s/data%d", fx.tmp, ++fx.data_homes);
    mkdir(home, 0755);
    setenv("XDG_DATA_HOME", home, 1);
    snprintf(models, cap, "%s/llmscope/models", home);
}

/* Creates MODELS (and its parent), for tests that put a .part there before pulling. */
static void make_models_dir(const char *models) {
    char parent[512];
    snprintf(parent, sizeof parent, "%s", models);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = '\0';
    mkdir(parent, 0755);
    mkdir(models, 0755);
}

static void model_paths(const char *models, const char *name, char *gguf, char *part, size_t cap) {
    snprintf(gguf, cap, "%s/%s.gguf", models, name);
    snprintf(part, cap, "%s/%s.part", models, name);
}

static void use_mode(const char *mode) {
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/%s", fx.port, mode);
    setenv("LLMSCOPE_HF_ENDPOINT", endpoint, 1);
}

/* Runs FN("cmd", ARG) in a child with stdout/stderr captured. */
static void run(outcome *o, int (*fn)(int, char **), const char *cmd, const char *arg) {
    char out_path[512], err_path[512];
    snprintf(out_path, sizeof out_path, "%s/stdout", fx.tmp);
    snprintf(err_path, sizeof err_path, "%s/stderr", fx.tmp);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0) _exit(120);
        dup2(out, 1);
        dup2(err, 2);
        alarm(CHILD_SECONDS);
        char *argv[] = {(char *)cmd, (char *)arg, NULL};
        exit(fn(arg ? 2 : 1, argv));
    }
    int ws = 0;
    o->status = pid > 0 && waitpid(pid, &ws, 0) == pid
                    ? (WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws)) : -1;
    read_file(out_path, o->out, sizeof o->out);
    read_file(err_path, o->err, sizeof o->err);
}

static void pull(outcome *o, const char *name) { run(o, pull_main, "pull", name); }

/* The server log grows; tests look only at what their own commands caused. */
static long log_mark(void) { return file_size(fx.log) > 0 ? file_size(fx.log) : 0; }

static void log_since(long mark, char *buf, size_t cap) {
    char all[65536];
    size_t n = read_file(fx.log, all, sizeof all);
    snprintf(buf, cap, "%s", (size_t)mark < n ? all + mark : "");
}

#define REQUIRE_FIXTURE()                                                              \
    do {                                                                               \
        if (!fx.ready) SKIP("%s", fx.skip_reason);                                     \
    } while (0)

#define CHECK_STATUS(o, want)                                                          \
    CHECKF((o).status == (want), "exit status %d, expected %d\n  stdout: %s\n  stderr: %s", \
           (o).status, (want), (o).out, (o).err)

/* ------------------------------------------------------------------------------------
 * Set-up: shared files, their hashes, a catalog pointing at them, the server. */

static bool sha256sum(const char *path, char hex[65]) {
    char cmd[700], line[256] = "";
    snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    if (!p) return false;
    bool ok = fgets(line, sizeof line, p) != NULL;
    pclose(p);
    if (!ok || strlen(line) < 64) return false;
    memcpy(hex, line, 64);
    hex[64] = '\0';
    return catalog_sha256_ok(hex);
}

static bool start_server(const char *root) {
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return false;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execlp("python3", "python3", "tests/http_test_server.py", root, fx.log, "300", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0) return false;
    fx.server = pid;
    fx.server_stdin = in[1];
    char line[32] = "";
    size_t n = 0;
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    while (n < sizeof line - 1 && poll(&pfd, 1, 10000) > 0) {
        ssize_t r = read(out[0], line + n, 1);
        if (r <= 0 || line[n] == '\n') break;
        n++;
    }
    line[n] = '\0';
    close(out[0]);
    fx.port = atoi(line);
    return fx.port > 0;
}

static void stop_server(void) {
    if (fx.server <= 0) return;
    close(fx.server_stdin);
    for (int i = 0; i < 50; i++) {
        if (waitpid(fx.server, NULL, WNOHANG) == fx.server) return;
        usleep(100 * 1000);
    }
    kill(fx.server, SIGTERM);
    waitpid(fx.server, NULL, 0);
}

static void setup(void) {
    char models_dir[512];
    snprintf(fx.tmp, sizeof fx.tmp, "/tmp/llmscope-test-pull-XXXXXX");
    if (!mkdtemp(fx.tmp)) {
        snprintf(fx.skip_reason, sizeof fx.skip_reason, "cannot create a temporary folder");
        fx.tmp[0] = '\0';
        return;
    }
    if (!test_shared_path(fx.model, sizeof fx.model, "models/" MODEL_FILE) ||
        !test_shared_path(fx.small, sizeof fx.small, "models/" SMALL_FILE)) {
        snprintf(fx.skip_reason, sizeof fx.skip_reason,
                 "../shared/models/" MODEL_FILE " not found (tests that need the shared models skip without it)");
        return;
    }
    char small_sha[65];
    if (!sha256sum(fx.model, fx.model_sha) || !sha256sum(fx.small, small_sha)) {
        snprintf(fx.skip_reason, sizeof fx.skip_reason, "sha256sum (coreutils) is not available");
        return;
    }
    char catalog[300];
    snprintf(catalog, sizeof catalog, "%s/catalog.json", fx.tmp);
    FILE *f = fopen(catalog, "w");
    if (!f) {
        snprintf(fx.skip_reason, sizeof fx.skip_reason, "cannot write %s", catalog);
        return;
    }
    fprintf(f,
            "{\"models\": [\n"
            " {\"name\": \"tiny\", \"repo\": \"test/tiny\", \"file\": \"%s\", \"sha256\": \"%s\",\n"
            "  \"size\": 2840736, \"description\": \"pinned hash\"},\n"
            " {\"name\": \"tiny-unpinned\", \"repo\": \"test/tiny\", \"file\": \"%s\",\n"
            "  \"description\": \"hash from the server\"},\n"
            " {\"name\": \"stories\", \"repo\": \"test/stories\", \"file\": \"%s\", \"sha256\": \"%s\"},\n"
            " {\"name\": \"missing\", \"repo\": \"test/missing\", \"file\": \"not-on-the-server.gguf\"}\n"
            "]}\n",
            MODEL_FILE, fx.model_sha, MODEL_FILE, SMALL_FILE, small_sha);
    fclose(f);
    setenv("LLMSCOPE_CATALOG", catalog, 1);

    snprintf(fx.log, sizeof fx.log, "%s/server.log", fx.tmp);
    snprintf(models_dir, sizeof models_dir, "%s/models", test_shared_dir());
    if (!start_server(models_dir)) {
        snprintf(fx.skip_reason, sizeof fx.skip_reason,
                 "could not start tests/http_test_server.py (is python3 installed?)");
        return;
    }
    fx.ready = true;
}

/* ------------------------------------------------------------------------------------
 * The catalog */

static void test_builtin_catalog_names_every_family(void) {
    model_catalog cat;
    char err[512];
    const char *want[] = {"smollm2-135m", "smollm2-360m", "qwen2.5-0.5b", "qwen2.5-1.5b",
                          "llama3.2-1b", "tinyllama-1.1b", "gpt2"};
    CHECKF(catalog_load_builtin(&cat, err, sizeof err) == 0, "%s", err);
    CHECK(cat.count == sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECKF(catalog_find(&cat, want[i]) != NULL, "built-in catalog lacks %s", want[i]);
    for (size_t i = 0; i < cat.count; i++) {
        const catalog_entry *e = &cat.entries[i];
        const char *why = "";
        CHECKF(catalog_name_ok(e->name, &why), "%s: %s", e->name, why);
        CHECKF(catalog_repo_ok(e->repo, &why), "%s: repo %s %s", e->name, e->repo, why);
        CHECKF(catalog_file_ok(e->file, &why), "%s: file %s %s", e->name, e->file, why);
        CHECKF(!e->sha256[0] || catalog_sha256_ok(e->sha256), "%s: bad sha256", e->name);
    }
    catalog_free(&cat);
}

static void test_catalog_rejects_unsafe_entries(void) {
    if (!fx.tmp[0]) SKIP("no temporary folder");
    static const struct { const char *json, *expect; } cases[] = {
        {"{\"models\": [{\"name\": \"../evil\", \"repo\": \"a/b\", \"file\": \"x.gguf\"}]}", "name"},
        {"{\"models\": [{\"name\": \"ok\", \"repo\": \"a/b/c\", \"file\": \"x.gguf\"}]}", "repo"},
        {"{\"models\": [{\"name\": \"ok\", \"repo\": \"a/b\", \"file\": \"../x.gguf\"}]}", "file"},
        {"{\"models\": [{\"name\": \"ok\", \"repo\": \"a/b\", \"file\": \"x.bin\"}]}", ".gguf"},
        {"{\"models\": [{\"name\": \"ok\", \"repo\": \"a/b\", \"file\": \"x.gguf\", \"sha256\": \"abc\"}]}", "sha256"},
        {"{\"models\": [{\"name\": \"ok\", \"repo\": \"a/b\", \"file\": \"x.gguf\", \"description\": \"\\u001b[2J\"}]}", "control"},
        {"{\"models\": [{\"name\": \"a\", \"repo\": \"a/b\", \"file\": \"x.gguf\"},"
         " {\"name\": \"a\", \"repo\": \"a/b\", \"file\": \"y.gguf\"}]}", "twice"},
        {"{\"models\": [{\"repo\": \"a/b\", \"file\": \"x.gguf\"}]}", "missing \"name\""},
        {"{\"models\": []}", "no models"},
        {"{\"models\": [", "not valid JSON"},
    };
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/bad-catalog.json", fx.tmp);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        if (!f) SKIP("cannot write %s", path);
        fputs(cases[i].json, f);
        fclose(f);
        model_catalog cat;
        err[0] = '\0';
        int rc = catalog_load_json(&cat, path, err, sizeof err);
        CHECKF(rc == -1, "accepted: %s", cases[i].json);
        CHECKF(strstr(err, cases[i].expect), "for %s: error '%s' does not mention '%s'",
               cases[i].json, err, cases[i].expect);
        if (rc == 0) catalog_free(&cat);
    }
}

/* ------------------------------------------------------------------------------------
 * pull */

static void test_clean_pull_verifies_and_installs(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600], log[8192];
    fresh_data_home(models, sizeof models);
    model_paths(models, "tiny", gguf, part, sizeof gguf);
    use_mode("ok");
    long mark = log_mark();
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 0);
    CHECKF(same_bytes(gguf, fx.model), "%s differs from %s", gguf, fx.model);
    CHECK(!exists(part));
    CHECKF(strstr(o.out, fx.model_sha) && strstr(o.out, " verified"), "stdout: %s", o.out);
    CHECKF(!strchr(o.err, '\r'), "stderr is not a terminal, yet a progress bar was drawn");
    log_since(mark, log, sizeof log);
    CHECKF(count_lines_starting(log, "GET ") == 1 && strstr(log, "range=- status=200"), "log: %s", log);
}

static void test_hash_from_hugging_face_redirect_headers(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600], log[8192];
    fresh_data_home(models, sizeof models);
    model_paths(models, "tiny-unpinned", gguf, part, sizeof gguf);
    use_mode("hf");
    long mark = log_mark();
    outcome o;
    pull(&o, "tiny-unpinned");
    CHECK_STATUS(o, 0);
    CHECK(same_bytes(gguf, fx.model));
    CHECKF(strstr(o.out, " verified") && !strstr(o.out, "not verified"), "stdout: %s", o.out);
    log_since(mark, log, sizeof log);
    CHECKF(strstr(log, "status=302") && strstr(log, "GET /cdn/" MODEL_FILE " range=- status=200"),
           "log: %s", log);
}

static void check_mismatch(const char *mode, const char *name, const char *source) {
    char models[512], gguf[600], part[600];
    fresh_data_home(models, sizeof models);
    model_paths(models, name, gguf, part, sizeof gguf);
    use_mode(mode);
    outcome o;
    pull(&o, name);
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "SHA-256 mismatch") && strstr(o.err, fx.model_sha) && strstr(o.err, source),
           "stderr: %s", o.err);
    CHECKF(count_lines_starting(o.err, "llmscope pull:") == 1, "stderr: %s", o.err);
    CHECKF(!exists(gguf) && !exists(part), "a corrupted download was left on disk");
}

static void test_corrupted_file_fails_against_pinned_hash(void) {
    REQUIRE_FIXTURE();
    check_mismatch("corrupt", "tiny", "pinned");
}

static void test_corrupted_file_fails_against_server_hash(void) {
    REQUIRE_FIXTURE();
    check_mismatch("corrupt", "tiny-unpinned", "server");
}

static void test_no_hash_anywhere_installs_with_a_warning(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600];
    fresh_data_home(models, sizeof models);
    model_paths(models, "tiny-unpinned", gguf, part, sizeof gguf);
    use_mode("nohash");
    outcome o;
    pull(&o, "tiny-unpinned");
    CHECK_STATUS(o, 0);
    CHECK(same_bytes(gguf, fx.model));
    CHECKF(strstr(o.err, "warning") && strstr(o.err, fx.model_sha), "stderr: %s", o.err);
    CHECKF(strstr(o.out, "not verified"), "stdout: %s", o.out);
}

static void test_dropped_download_resumes_on_next_pull(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600], log[8192], want[128];
    fresh_data_home(models, sizeof models);
    model_paths(models, "tiny", gguf, part, sizeof gguf);

    /* Every response is cut short: pull retries (resuming each time), then gives up and
     * keeps what it has. */
    use_mode("drop");
    long mark = log_mark();
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "again to resume"), "stderr: %s", o.err);
    CHECKF(count_lines_starting(o.err, "llmscope pull:") == 1, "stderr: %s", o.err);
    long kept = file_size(part);
    CHECKF(kept > 0 && kept < file_size(fx.model), ".part holds %ld bytes", kept);
    CHECK(!exists(gguf));
    log_since(mark, log, sizeof log);
    /* http_test_server.py's drop mode sends 262144 bytes per response. */
    CHECKF(strstr(log, "range=bytes=262144- status=206"), "no in-process resume in log: %s", log);

    /* The next pull continues where the .part ends. */
    use_mode("ok");
    mark = log_mark();
    pull(&o, "tiny");
    CHECK_STATUS(o, 0);
    log_since(mark, log, sizeof log);
    snprintf(want, sizeof want, "range=bytes=%ld- status=206", kept);
    CHECKF(strstr(log, want) && count_lines_starting(log, "GET ") == 1, "expected '%s' in log: %s", want, log);
    CHECKF(strstr(o.err, "resuming"), "stderr: %s", o.err);
    CHECK(same_bytes(gguf, fx.model));
    CHECK(!exists(part));
}

static void test_connection_dropped_once_is_resumed_in_process(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600], log[8192], want[128];
    fresh_data_home(models, sizeof models);
    model_paths(models, "stories", gguf, part, sizeof gguf);
    use_mode("dropfirst");
    long mark = log_mark();
    outcome o;
    pull(&o, "stories");
    CHECK_STATUS(o, 0);
    CHECK(same_bytes(gguf, fx.small));
    log_since(mark, log, sizeof log);
    snprintf(want, sizeof want, "range=bytes=%ld- status=206", file_size(fx.small) / 2);
    CHECKF(strstr(log, want), "expected '%s' in log: %s", want, log);
}

static void test_server_ignoring_range_restarts_download(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600];
    fresh_data_home(models, sizeof models);
    model_paths(models, "tiny", gguf, part, sizeof gguf);
    /* A .part of the wrong bytes: appending the server's full answer to it, or keeping
     * it, would fail the hash; starting over succeeds. */
    make_models_dir(models);
    CHECK(copy_prefix("/dev/null", part, 0, 5000));
    use_mode("norange");
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 0);
    CHECKF(strstr(o.err, "ignored the resume request"), "stderr: %s", o.err);
    CHECK(same_bytes(gguf, fx.model));
}

static void test_complete_part_is_installed_after_416(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600], log[8192];
    fresh_data_home(models, sizeof models);
    model_paths(models, "tiny", gguf, part, sizeof gguf);
    make_models_dir(models);
    CHECK(copy_prefix(fx.model, part, -1, 0));
    use_mode("ok");
    long mark = log_mark();
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 0);
    CHECK(same_bytes(gguf, fx.model));
    log_since(mark, log, sizeof log);
    CHECKF(strstr(log, "status=416") && count_lines_starting(log, "GET ") == 1, "log: %s", log);
}

static void test_overlong_part_is_started_over(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600], log[8192];
    fresh_data_home(models, sizeof models);
    model_paths(models, "tiny", gguf, part, sizeof gguf);
    make_models_dir(models);
    CHECK(copy_prefix(fx.model, part, -1, 100));
    use_mode("ok");
    long mark = log_mark();
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 0);
    CHECK(same_bytes(gguf, fx.model));
    log_since(mark, log, sizeof log);
    CHECKF(strstr(log, "status=416") && strstr(log, "range=- status=200"), "log: %s", log);
}

static void test_404_is_a_clear_error(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600];
    fresh_data_home(models, sizeof models);
    model_paths(models, "missing", gguf, part, sizeof gguf);
    use_mode("ok");
    outcome o;
    pull(&o, "missing");
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "HTTP 404") && strstr(o.err, "not-on-the-server.gguf"), "stderr: %s", o.err);
    CHECKF(count_lines_starting(o.err, "llmscope pull:") == 1, "stderr: %s", o.err);
    CHECKF(!exists(gguf) && !exists(part), "a failed pull left files behind");
}

static void test_unknown_name_lists_known_ones(void) {
    REQUIRE_FIXTURE();
    char models[512];
    fresh_data_home(models, sizeof models);
    outcome o;
    pull(&o, "no-such-model");
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "unknown model 'no-such-model'") && strstr(o.err, "tiny, tiny-unpinned, stories, missing"),
           "stderr: %s", o.err);
    int newlines = 0;
    for (const char *c = o.err; *c; c++) newlines += *c == '\n';
    CHECKF(newlines == 1, "stderr is not one line: %s", o.err);
    run(&o, pull_main, "pull", NULL);
    CHECK_STATUS(o, 2);
    CHECKF(strstr(o.err, "tiny, tiny-unpinned"), "stderr: %s", o.err);
}

static void test_connection_refused_is_a_clear_error(void) {
    REQUIRE_FIXTURE();
    /* A port that was free a moment ago: nothing listens there. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &len))
        SKIP("cannot find a free port");
    close(s);
    char endpoint[64], models[512];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", ntohs(a.sin_port));
    setenv("LLMSCOPE_HF_ENDPOINT", endpoint, 1);
    fresh_data_home(models, sizeof models);
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "cannot connect"), "stderr: %s", o.err);
    CHECKF(count_lines_starting(o.err, "llmscope pull:") == 1, "stderr: %s", o.err);

    setenv("LLMSCOPE_HF_ENDPOINT", "ftp://example.org", 1);
    pull(&o, "tiny");
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "LLMSCOPE_HF_ENDPOINT"), "stderr: %s", o.err);
}

static void test_unwritable_data_dir_is_a_clear_error(void) {
    REQUIRE_FIXTURE();
    /* A file where a folder should be (a permission test would not fail as root). */
    char blocker[512];
    snprintf(blocker, sizeof blocker, "%s/a-file", fx.tmp);
    CHECK(copy_prefix("/dev/null", blocker, 0, 10));
    setenv("XDG_DATA_HOME", blocker, 1);
    use_mode("ok");
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "cannot create") && strstr(o.err, blocker), "stderr: %s", o.err);
}

/* ------------------------------------------------------------------------------------
 * Hostile servers */

/* Whether TEXT holds a byte a terminal would act on: ESC, BEL, or 0x9B (the 8-bit CSI,
 * alone or as the second byte of its UTF-8 form C2 9B). */
static bool has_terminal_controls(const char *text) {
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p == 0x1b || *p == 0x07 || *p == 0x9b) return true;
    return false;
}

static void test_reason_phrase_is_shown_not_obeyed(void) {
    REQUIRE_FIXTURE();
    char models[512];
    fresh_data_home(models, sizeof models);
    use_mode("evil");
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "HTTP 404 Not Found"), "stderr: %s", o.err);
    CHECKF(!has_terminal_controls(o.err), "the server's escape sequences reached the terminal: %s", o.err);
    CHECKF(strstr(o.err, "\\x1b]0;pwned") && strstr(o.err, "\\u009b"), "not shown escaped: %s", o.err);
}

static void test_endless_body_stops_at_the_catalog_size(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600], log[4096];
    fresh_data_home(models, sizeof models);
    model_paths(models, "tiny", gguf, part, sizeof gguf);
    use_mode("endless");
    long mark = log_mark();
    time_t t0 = time(NULL);
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "sent more than") && strstr(o.err, "catalog"), "stderr: %s", o.err);
    CHECKF(!exists(part) && !exists(gguf), "a .part or .gguf was left behind");
    CHECKF(time(NULL) - t0 < 30, "took %ld s", (long)(time(NULL) - t0));
    /* the server stopped soon after the 2.8 MB file and its 10% + 1 MiB margin */
    usleep(300 * 1000);
    log_since(mark, log, sizeof log);
    const char *sent = strstr(log, "sent=");
    CHECKF(sent && atol(sent + 5) < 64L << 20, "the server sent %s bytes", sent ? sent + 5 : "?");
}

static void test_announced_size_over_the_catalog_is_refused(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600];
    fresh_data_home(models, sizeof models);
    model_paths(models, "tiny", gguf, part, sizeof gguf);
    use_mode("hugecl");
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "announces 10.0 GB"), "stderr: %s", o.err);
    CHECKF(!exists(part) && !exists(gguf), "a .part or .gguf was left behind");
}

static void test_giant_header_is_a_clear_error(void) {
    REQUIRE_FIXTURE();
    char models[512];
    fresh_data_home(models, sizeof models);
    use_mode("bighdr");
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 1);
    CHECKF(strstr(o.err, "header too large") && !strstr(o.err, "ut of memory"), "stderr: %s", o.err);
    CHECKF(count_lines_starting(o.err, "llmscope pull:") == 1, "stderr: %s", o.err);
}

static void test_list_shows_pulled_model_and_catalog(void) {
    REQUIRE_FIXTURE();
    char models[512], gguf[600], part[600], line[700];
    fresh_data_home(models, sizeof models);
    model_paths(models, "tiny", gguf, part, sizeof gguf);
    use_mode("ok");
    outcome o;
    pull(&o, "tiny");
    CHECK_STATUS(o, 0);
    /* A partial download of another model. */
    char other[600];
    snprintf(other, sizeof other, "%s/stories.part", models);
    CHECK(copy_prefix(fx.small, other, 1000, 0));

    run(&o, list_main, "list", NULL);
    CHECK_STATUS(o, 0);
    snprintf(line, sizeof line, "2.8 MB  %s\n", gguf);
    CHECKF(strstr(o.out, "  tiny ") && strstr(o.out, line), "stdout lacks '%s': %s", line, o.out);
    CHECKF(strstr(o.out, "partial download; `llmscope pull stories` resumes it"), "stdout: %s", o.out);
    CHECKF(strstr(o.out, "pinned hash  [installed]"), "stdout: %s", o.out);
    CHECKF(strstr(o.out, "tiny-unpinned") && strstr(o.out, "test/missing/not-on-the-server.gguf"),
           "stdout: %s", o.out);

    /* Pulling it again asks the server nothing. */
    long mark = log_mark();
    pull(&o, "tiny");
    CHECK(o.status == 0 && strstr(o.out, "already installed"));
    CHECK(log_mark() == mark);
}

static void test_list_with_nothing_installed(void) {
    REQUIRE_FIXTURE();
    char models[512];
    fresh_data_home(models, sizeof models);
    outcome o;
    run(&o, list_main, "list", NULL);
    CHECK(o.status == 0);
    CHECKF(strstr(o.out, "none yet") && strstr(o.out, "stories"), "stdout: %s", o.out);
}

int main(void) {
    setup();
    RUN(test_builtin_catalog_names_every_family);
    RUN(test_catalog_rejects_unsafe_entries);
    RUN(test_clean_pull_verifies_and_installs);
    RUN(test_hash_from_hugging_face_redirect_headers);
    RUN(test_corrupted_file_fails_against_pinned_hash);
    RUN(test_corrupted_file_fails_against_server_hash);
    RUN(test_no_hash_anywhere_installs_with_a_warning);
    RUN(test_dropped_download_resumes_on_next_pull);
    RUN(test_connection_dropped_once_is_resumed_in_process);
    RUN(test_server_ignoring_range_restarts_download);
    RUN(test_complete_part_is_installed_after_416);
    RUN(test_overlong_part_is_started_over);
    RUN(test_404_is_a_clear_error);
    RUN(test_unknown_name_lists_known_ones);
    RUN(test_connection_refused_is_a_clear_error);
    RUN(test_unwritable_data_dir_is_a_clear_error);
    RUN(test_reason_phrase_is_shown_not_obeyed);
    RUN(test_endless_body_stops_at_the_catalog_size);
    RUN(test_announced_size_over_the_catalog_is_refused);
    RUN(test_giant_header_is_a_clear_error);
    RUN(test_list_shows_pulled_model_and_catalog);
    RUN(test_list_with_nothing_installed);
    stop_server();
    if (fx.tmp[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx.tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", fx.tmp);
    }
    return test_exit_code();
}
