/* Unit tests of src/admin/server.c over real loopback sockets: the admin server runs on a loop
 * in the main thread while a client thread talks to it. Framing errors answer JSON and close,
 * the connection bound answers 503, slow writers and slow readers are served, leftovers after
 * a request do not reset the answer, and every slot is given back. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin-int.h"
#include "config/config.h"
#include "health/state.h"
#include "test.h"

#define TOKEN "tok-42"
#define AUTH "Authorization: Bearer " TOKEN "\r\n"

static const char yaml[] =
    "server:\n  listen:\n    - address: \"127.0.0.1:8080\"\n"
    "pools:\n  p1:\n    origins:\n      - { name: a, address: \"127.0.0.1:9001\" }\n"
    "load_balancers:\n  lb1:\n    hostnames: [\"example.com\"]\n    default_pools: [p1]\n";

static atomic_int client_done;
static int port;
static struct mrd_cfg *cfg;

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int cli_connect(int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    struct timeval tv = { 5, 0 };

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until EOF (or the 5 s receive timeout); returns the bytes read, NUL-terminated. */
static size_t cli_read_all(int fd, char *out, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    out[n] = '\0';
    return n;
}

static size_t exchange(const char *req, size_t len, char *out, size_t cap)
{
    int fd = cli_connect(0);
    if (fd < 0)
        return 0;
    if (write(fd, req, len) != (ssize_t)len) {
        close(fd);
        return 0;
    }
    size_t n = cli_read_all(fd, out, cap);
    close(fd);
    return n;
}

static int status_of(const char *rsp)
{
    int st = 0;
    return sscanf(rsp, "HTTP/1.1 %d", &st) == 1 ? st : 0;
}

/* The body after the head, and a check that Content-Length matches it. */
static const char *body_of(const char *rsp, size_t n)
{
    const char *b = strstr(rsp, "\r\n\r\n");
    const char *cl = strstr(rsp, "Content-Length: ");
    if (!b || !cl)
        return NULL;
    b += 4;
    CHECK_EQ_INT(strtoul(cl + 16, NULL, 10), n - (size_t)(b - rsp));
    return b;
}

static char buf[1 << 20];

static void t_basic(void)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t n = exchange(req, sizeof(req) - 1, buf, sizeof(buf));
    CHECK_EQ_INT(status_of(buf), 200);
    CHECK(strstr(buf, "Connection: close\r\n") != NULL);
    CHECK(strstr(buf, "Content-Type: application/json\r\n") != NULL);
    CHECK_STR(body_of(buf, n), "{\"status\":\"ok\"}\n");

    static const char noauth[] = "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n";
    n = exchange(noauth, sizeof(noauth) - 1, buf, sizeof(buf));
    CHECK_EQ_INT(status_of(buf), 401);
    CHECK(strstr(buf, "WWW-Authenticate: Bearer") != NULL);
    const char *b = body_of(buf, n);
    CHECK(b && strstr(b, "\"code\":\"unauthorized\""));

    static const char ok[] = "GET /v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n";
    n = exchange(ok, sizeof(ok) - 1, buf, sizeof(buf));
    CHECK_EQ_INT(status_of(buf), 200);
    b = body_of(buf, n);
    CHECK(b && strstr(b, "\"generation\":5"));

    /* HEAD: the GET's Content-Length, no body */
    static const char head[] = "HEAD /v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n";
    n = exchange(head, sizeof(head) - 1, buf, sizeof(buf));
    CHECK_EQ_INT(status_of(buf), 200);
    CHECK(strstr(buf, "\r\n\r\n") && strstr(buf, "\r\n\r\n")[4] == '\0');
    CHECK(strstr(buf, "Content-Length: 0\r\n") == NULL);

    static const char m405[] = "DELETE /v1/pools HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n";
    exchange(m405, sizeof(m405) - 1, buf, sizeof(buf));
    CHECK_EQ_INT(status_of(buf), 405);
    CHECK(strstr(buf, "Allow: GET, HEAD\r\n") != NULL);
}

static void t_garbage(void)
{
    static const struct {
        const char *req;
        int         status;
        const char *code;
    } cases[] = {
        { "GARBAGE\r\n\r\n", 400, "bad_request" },
        { "\x01\x02\x03\xff\r\n\r\n", 400, "bad_request" },
        { "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http_version_not_supported" },
        { "GET /healthz HTTP/1.1\r\n\r\n", 400, "bad_request" }, /* no Host */
        { "PATCH /v1/pools/p1/origins/a HTTP/1.1\r\nHost: x\r\n" AUTH
          "Content-Length: 100000\r\n\r\n", 413, "payload_too_large" },
        { "PATCH /v1/pools/p1/origins/a HTTP/1.1\r\nHost: x\r\n" AUTH
          "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411, "length_required" },
        { "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
          400, "bad_request" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = exchange(cases[i].req, strlen(cases[i].req), buf, sizeof(buf));
        if (status_of(buf) != cases[i].status)
            fprintf(stderr, "garbage case %zu: got %.80s\n", i, buf);
        CHECK_EQ_INT(status_of(buf), cases[i].status);
        const char *b = body_of(buf, n);
        char want[64];
        snprintf(want, sizeof(want), "\"code\":\"%s\"", cases[i].code);
        CHECK(b && strstr(b, want));
    }
    /* a head over 16 KiB */
    static char big[20000];
    int l = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + l, 'a', sizeof(big) - (size_t)l - 5);
    memcpy(big + sizeof(big) - 5, "\r\n\r\n", 4);
    exchange(big, sizeof(big) - 1, buf, sizeof(buf));
    CHECK_EQ_INT(status_of(buf), 431);
    CHECK(strstr(buf, "\"code\":\"headers_too_large\"") != NULL);
    /* a body sent exactly at the bound is read and parsed (then refused as bad JSON) */
    static char atmax[MRD_ADMIN_MAX_BODY + 512];
    l = snprintf(atmax, sizeof(atmax), "PATCH /v1/pools/p1/origins/a HTTP/1.1\r\nHost: x\r\n" AUTH
                 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                 MRD_ADMIN_MAX_BODY);
    memset(atmax + l, ' ', MRD_ADMIN_MAX_BODY);
    atmax[l] = '[';
    exchange(atmax, (size_t)l + MRD_ADMIN_MAX_BODY, buf, sizeof(buf));
    CHECK_EQ_INT(status_of(buf), 400);
    CHECK(strstr(buf, "\"code\":\"invalid_json\"") != NULL);
}

static void t_patch_dribble(void)
{
    static const char req[] = "PATCH /v1/pools/p1/origins/a HTTP/1.1\r\nHost: x\r\n" AUTH
                              "Content-Type: application/json\r\nContent-Length: 14\r\n\r\n"
                              "{\"weight\": 42}";
    int fd = cli_connect(0);
    CHECK(fd >= 0);
    for (size_t i = 0; fd >= 0 && i < sizeof(req) - 1; i++) {
        CHECK(write(fd, req + i, 1) == 1);
        if (i % 16 == 0)
            sleep_ms(1);
    }
    size_t n = cli_read_all(fd, buf, sizeof(buf));
    close(fd);
    CHECK_EQ_INT(status_of(buf), 200);
    const char *b = body_of(buf, n);
    CHECK(b && strstr(b, "\"weight\":42"));
    CHECK_EQ_INT(mrd_origin_weight(&cfg->pools[0].origins[0]), 42);

    /* Expect: 100-continue gets the interim answer before the body is sent */
    static const char exp[] = "PATCH /v1/pools/p1/origins/a HTTP/1.1\r\nHost: x\r\n" AUTH
                              "Content-Length: 15\r\nExpect: 100-continue\r\n\r\n";
    fd = cli_connect(0);
    CHECK(write(fd, exp, sizeof(exp) - 1) == (ssize_t)sizeof(exp) - 1);
    char cont[64] = { 0 };
    ssize_t r = read(fd, cont, 25);
    CHECK(r == 25 && !strncmp(cont, "HTTP/1.1 100 Continue\r\n\r\n", 25));
    CHECK(write(fd, "{\"weight\": null}", 15) == 15); /* 15 of 16 bytes: bad JSON */
    cli_read_all(fd, buf, sizeof(buf));
    close(fd);
    CHECK_EQ_INT(status_of(buf), 400);
    CHECK_EQ_INT(mrd_origin_weight(&cfg->pools[0].origins[0]), 42);
}

/* A response far bigger than the socket buffers: the server meets EAGAIN and resumes on
 * EPOLLOUT while the client is not reading. */
static void t_slow_reader(void)
{
    static const char req[] = "GET /v1/events HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n";
    int fd = cli_connect(4096);
    CHECK(fd >= 0);
    CHECK(write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1);
    sleep_ms(300);
    size_t n = cli_read_all(fd, buf, sizeof(buf));
    close(fd);
    CHECK_EQ_INT(status_of(buf), 200);
    CHECK(n > 200000);
    const char *b = body_of(buf, n);
    CHECK(b && n > 3 && !strcmp(buf + n - 3, "]}\n"));
}

/* Bytes after the request (pipelined or junk) must not reset the answer away. */
static void t_leftovers(void)
{
    static char req[70000];
    int l = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    memset(req + l, 'J', sizeof(req) - (size_t)l);
    int fd = cli_connect(0);
    CHECK(fd >= 0);
    CHECK(write(fd, req, (size_t)l) == l);
    sleep_ms(50);
    ssize_t w = write(fd, req + l, sizeof(req) - (size_t)l);
    (void)w;
    size_t n = cli_read_all(fd, buf, sizeof(buf));
    close(fd);
    CHECK_EQ_INT(status_of(buf), 200);
    CHECK_STR(body_of(buf, n), "{\"status\":\"ok\"}\n");
}

static void t_conn_bound(void)
{
    int fds[MRD_ADMIN_MAX_CONNS];
    int opened = 0;

    for (int i = 0; i < MRD_ADMIN_MAX_CONNS; i++)
        if ((fds[i] = cli_connect(0)) >= 0)
            opened++;
    CHECK_EQ_INT(opened, MRD_ADMIN_MAX_CONNS);
    for (int i = 0; i < 200 && mrd_admin_open_conns() < MRD_ADMIN_MAX_CONNS; i++)
        sleep_ms(5);
    CHECK_EQ_INT(mrd_admin_open_conns(), MRD_ADMIN_MAX_CONNS);
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t n = exchange(req, sizeof(req) - 1, buf, sizeof(buf));
    CHECK_EQ_INT(status_of(buf), 503);
    CHECK(body_of(buf, n) && strstr(buf, "\"code\":\"unavailable\""));
    for (int i = 0; i < MRD_ADMIN_MAX_CONNS; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    /* the slots come back */
    for (int i = 0; i < 200 && mrd_admin_open_conns() > 0; i++)
        sleep_ms(5);
    CHECK_EQ_INT(mrd_admin_open_conns(), 0);
    exchange(req, sizeof(req) - 1, buf, sizeof(buf));
    CHECK_EQ_INT(status_of(buf), 200);
}

static void *client(void *arg)
{
    (void)arg;
    t_basic();
    t_garbage();
    t_patch_dribble();
    t_slow_reader();
    t_leftovers();
    t_conn_bound();
    for (int i = 0; i < 200 && mrd_admin_open_conns() > 0; i++)
        sleep_ms(5);
    CHECK_EQ_INT(mrd_admin_open_conns(), 0);
    atomic_store(&client_done, 1);
    return NULL;
}

static void tick(struct mrd_loop *l, void *arg)
{
    (void)arg;
    if (atomic_load(&client_done))
        l->stop = 1;
}

static void run(void)
{
    struct mrd_cfg_errors e = { 0 };
    struct mrd_loop loop;
    pthread_t th;
    char msg[200];

    cfg = mrd_cfg_load_string("t.yaml", yaml, strlen(yaml), &e);
    mrd_cfg_errors_free(&e);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    cfg->generation = 5;
    CHECK_EQ_INT(mrd_rt_bind(cfg), 0);
    mrd_rt_set_current_cfg(cfg);
    /* a big /v1/events answer */
    memset(msg, 'e', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    for (int i = 0; i < 1100; i++)
        mrd_event("test", "%s", msg);

    /* the admin section, bound to an ephemeral loopback port */
    struct sockaddr_in *sin = (struct sockaddr_in *)&cfg->admin.addr.ss;
    cfg->admin.enabled = true;
    cfg->admin.token_file = NULL;
    memset(&cfg->admin.addr, 0, sizeof(cfg->admin.addr));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cfg->admin.addr.len = sizeof(*sin);
    cfg->admin.addr.text = "127.0.0.1:0";
    setenv("MERIDIAN_ADMIN_TOKEN", TOKEN, 1);

    CHECK_EQ_INT(mrd_loop_init(&loop), 0);
    struct mrd_admin_ctx ctx = { .n_workers = 1, .version = "t" };
    CHECK_EQ_INT(mrd_admin_start(&loop, cfg, &ctx), 0);
    port = mrd_admin_port();
    CHECK(port > 0);
    if (port <= 0)
        return;
    CHECK(pthread_create(&th, NULL, client, NULL) == 0);
    mrd_loop_run(&loop, tick, NULL);
    pthread_join(th, NULL);

    /* a reload with a new token takes effect; the old one stops working */
    setenv("MERIDIAN_ADMIN_TOKEN", "newer", 1);
    mrd_admin_reload(cfg);
    static const char req[] = "GET /v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n";
    struct mrd_admin_req r = { .method = "GET", .method_len = 3, .target = "/v1/status",
                               .target_len = 10, .auth = "Bearer newer", .auth_len = 12,
                               .has_auth = true };
    struct mrd_admin_rsp rsp;
    (void)req;
    mrd_admin_rsp_init(&rsp);
    mrd_admin_handle(&r, &rsp);
    CHECK_EQ_INT(rsp.status, 200);
    mrd_admin_rsp_free(&rsp);
    r.auth = "Bearer " TOKEN;
    r.auth_len = strlen(r.auth);
    mrd_admin_rsp_init(&rsp);
    mrd_admin_handle(&r, &rsp);
    CHECK_EQ_INT(rsp.status, 401);
    mrd_admin_rsp_free(&rsp);
    /* a reload whose token is unusable keeps the previous one */
    setenv("MERIDIAN_ADMIN_TOKEN", "two words", 1);
    mrd_admin_reload(cfg);
    r.auth = "Bearer newer";
    r.auth_len = strlen(r.auth);
    mrd_admin_rsp_init(&rsp);
    mrd_admin_handle(&r, &rsp);
    CHECK_EQ_INT(rsp.status, 200);
    mrd_admin_rsp_free(&rsp);

    mrd_admin_stop();
    CHECK_EQ_INT(mrd_admin_port(), -1);
    mrd_loop_close(&loop);
    unsetenv("MERIDIAN_ADMIN_TOKEN");
    /* the cfg's admin address points at a literal; nothing in the arena refers to it */
    mrd_rt_set_current_cfg(NULL);
    mrd_cfg_unref(cfg);
}

TEST_MAIN(run())
