/* YAML -> struct mrd_cfg: owns the libfyaml event parse into a small located tree, the
 * schema walk that fills and validates one config generation (collecting every error, and
 * opening what it names: the admin token file, the geo database), and the reference counting
 * that frees a generation with its arena. */
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libfyaml.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geo/geo.h"
#include "health/state.h"
#include "tls/tls.h"
#include "ws/ws.h"

#define CFG_MAX_ERRORS 1000        /* per load; more are counted, not stored */
#define CFG_MAX_ITEMS  1000000     /* entries visited, alias re-uses included */
#define CFG_HBUCKETS   4096        /* name -> object hash of one load */
#define CFG_MAX_FILE   (64u << 20) /* bytes */
#define CFG_MAX_DEPTH  128         /* YAML nesting */

#define CFG_MS_MIN 1ull
#define CFG_MS_7D  (7ull * 86400000)

#define CFG_MAX_CODES      32      /* monitors.<m>.expected_codes entries */
#define CFG_MAX_MON_HDRS   32      /* monitors.<m>.header entries */
#define CFG_MAX_MON_PATH   2048    /* bytes of a probe path */
#define CFG_MAX_MON_BODY   1024    /* bytes of expected_body: probes read a bounded body */
#define CFG_MAX_HDR_NAME   128
#define CFG_MAX_HDR_VALUE  4096
#define CFG_MAX_AFF_HDRS   16      /* session_affinity_attributes.headers */
#define CFG_MAX_TOKEN_SCAN (64u << 10) /* bytes of a token file looked at for a token */
#define CFG_MAX_TLS_CERTS  10000   /* server.listen[].tls.certificates entries */
#define CFG_MAX_ALPN       8       /* server.listen[].tls.alpn entries */

enum cfg_kind { CFG_SCALAR, CFG_MAP, CFG_SEQ };

struct cfg_item;

/* One YAML node, located; lives in the per-load tree arena. Aliases share nodes. */
struct cfg_node {
    enum cfg_kind    kind;
    int              line, col;    /* 1-based */
    bool             null;         /* plain "", "~" or "null" */
    const char      *text;         /* scalar; NUL-terminated (may hold NULs: see len) */
    size_t           len;
    struct cfg_item *first, *last; /* mapping / sequence entries, in order */
    size_t           n;
};

struct cfg_item {
    struct cfg_node *key;  /* NULL in a sequence */
    struct cfg_node *val;
    struct cfg_item *next;
    bool             skip; /* duplicate or non-scalar key: already reported */
};

struct cfg_frame {
    struct cfg_node *node;
    struct cfg_node *key;    /* mapping: key waiting for its value */
    const char      *anchor; /* registered when the collection ends */
    size_t           anchor_len;
};

/* Name -> object entry of the per-load hash tables (pools, hostnames). */
struct cfg_hent {
    const char      *key;
    void            *val;
    struct cfg_hent *next;
};

struct cfg_ctx {
    struct mrd_cfg        *cfg;
    struct mrd_cfg_errors *errs;
    const char            *name;      /* caller's; stored errors borrow it */
    size_t                 first_err; /* errs->n when this load started */
    size_t                 n_err;     /* errors of this load, stored or not */
    bool                   failed;
    bool                   truncated; /* stopped at CFG_MAX_ERRORS */
    bool                   oom;
    size_t                 visits;
    bool                   too_big;
    struct mrd_arena       tmp;       /* the YAML tree; freed at the end of the load */
    struct cfg_hent      **anchor_h; /* CFG_HBUCKETS; in tmp; newest first */
    int                    last_line, last_col;
    struct cfg_hent      **pool_h;  /* CFG_HBUCKETS; in tmp */
    struct cfg_hent      **host_h;  /* CFG_HBUCKETS; in tmp */
    struct cfg_hent      **mon_h;   /* CFG_HBUCKETS; in tmp */
    struct cfg_hent      **net_h;   /* geo.networks prefixes; in tmp */
    char                  *scratch; /* malloc'ed; token text assembly */
    size_t                 scratch_cap;
};

/* A located key/value of a section, NULL when absent. */
struct cfg_field {
    struct cfg_node *key, *val;
};

/* Scratch for quoting a user value into a message. */
struct cfg_q {
    char s[72];
};

/* ---- errors ---- */

/* Appends one error of this load at line:col (0 = no place). */
__attribute__((format(printf, 4, 5)))
static void cfg_err_at(struct cfg_ctx *ctx, int line, int col, const char *fmt, ...)
{
    struct mrd_cfg_errors *e = ctx->errs;
    struct mrd_cfg_error *v;
    va_list ap;

    ctx->failed = true;
    if (ctx->n_err++ >= CFG_MAX_ERRORS) {
        ctx->truncated = true;
        return;
    }
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        v = realloc(e->v, cap * sizeof(*v));
        if (!v)
            return;
        e->v = v;
        e->cap = cap;
    }
    v = &e->v[e->n++];
    v->loc.file = ctx->name;
    v->loc.line = line;
    v->loc.col = col;
    va_start(ap, fmt);
    if (vsnprintf(v->msg, sizeof(v->msg), fmt, ap) >= (int)sizeof(v->msg))
        memcpy(v->msg + sizeof(v->msg) - 4, "...", 4); /* show that it was cut */
    va_end(ap);
}

/* Appends one error located at node <n>. */
__attribute__((format(printf, 3, 4)))
static void cfg_err(struct cfg_ctx *ctx, const struct cfg_node *n, const char *fmt, ...)
{
    char msg[sizeof(((struct mrd_cfg_error *)0)->msg)];
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) >= (int)sizeof(msg))
        memcpy(msg + sizeof(msg) - 4, "...", 4);
    va_end(ap);
    cfg_err_at(ctx, n ? n->line : 0, n ? n->col : 0, "%s", msg);
}

/* Records an allocation failure once. */
static void cfg_oom(struct cfg_ctx *ctx)
{
    if (!ctx->oom)
        cfg_err_at(ctx, 0, 0, "out of memory while loading the configuration");
    ctx->oom = true;
}

/* Sorts this load's errors by place (stable) and notes the ones not stored. */
static void cfg_sort_errors(struct cfg_ctx *ctx)
{
    struct mrd_cfg_error *v = ctx->errs->v;
    size_t lo = ctx->first_err, hi = ctx->errs->n;

    for (size_t i = lo + 1; i < hi; i++) {
        struct mrd_cfg_error tmp = v[i];
        size_t j = i;
        while (j > lo && (v[j - 1].loc.line > tmp.loc.line ||
                          (v[j - 1].loc.line == tmp.loc.line && v[j - 1].loc.col > tmp.loc.col))) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = tmp;
    }
    if (ctx->truncated) {
        ctx->n_err = CFG_MAX_ERRORS - 1; /* let the note itself be stored */
        cfg_err_at(ctx, 0, 0, "too many errors; stopped after the first %d (fix these first)",
                   CFG_MAX_ERRORS);
    }
}

void mrd_cfg_errors_print(const struct mrd_cfg_errors *errs, FILE *out)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++) {
        const struct mrd_cfg_error *e = &errs->v[i];
        const char *file = e->loc.file ? e->loc.file : "<config>";
        if (e->loc.line > 0)
            fprintf(out, "%s:%d:%d: %s\n", file, e->loc.line, e->loc.col, e->msg);
        else
            fprintf(out, "%s: %s\n", file, e->msg);
    }
}

void mrd_cfg_errors_free(struct mrd_cfg_errors *errs)
{
    if (!errs)
        return;
    free(errs->v);
    errs->v = NULL;
    errs->n = errs->cap = 0;
}

/* ---- message helpers ---- */

/* Renders user text as a short double-quoted, escaped string for messages. */
static const char *cfg_quote(struct cfg_q *q, const char *t, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, cap = sizeof(q->s) - 5; /* room for `..."` and NUL */

    q->s[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        char esc[5];
        size_t el = 0;
        if (c == '"' || c == '\\') {
            esc[el++] = '\\';
            esc[el++] = (char)c;
        } else if (c == '\n') {
            esc[el++] = '\\';
            esc[el++] = 'n';
        } else if (c == '\t') {
            esc[el++] = '\\';
            esc[el++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            esc[el++] = '\\';
            esc[el++] = 'x';
            esc[el++] = hex[c >> 4];
            esc[el++] = hex[c & 15];
        } else {
            esc[el++] = (char)c;
        }
        if (o + el > cap) {
            memcpy(q->s + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(q->s + o, esc, el);
        o += el;
    }
    q->s[o++] = '"';
    q->s[o] = 0;
    return q->s;
}

/* Says what a node is, for "expected X, got Y". */
static const char *cfg_got(struct cfg_q *q, const struct cfg_node *n)
{
    if (!n || (n->kind == CFG_SCALAR && n->null))
        return "nothing (null)";
    if (n->kind == CFG_MAP)
        return "a mapping";
    if (n->kind == CFG_SEQ)
        return "a sequence";
    return cfg_quote(q, n->text, n->len);
}

/* Formats a path into <buf>. */
__attribute__((format(printf, 3, 4)))
static const char *cfg_path(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return buf;
}

/* Copies a user name into <buf> for use inside a path: printable, at most 48 chars. */
static const char *cfg_label(char *buf, size_t size, const struct cfg_node *n)
{
    size_t o = 0;

    if (!n || n->kind != CFG_SCALAR)
        return "?";
    for (size_t i = 0; i < n->len && o + 1 < size && o < 48; i++) {
        unsigned char c = (unsigned char)n->text[i];
        buf[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
    }
    buf[o] = 0;
    return buf;
}

/* ---- the YAML tree ---- */

/* Allocates from the tree arena; records OOM on failure. */
static void *cfg_tmp_calloc(struct cfg_ctx *ctx, size_t n)
{
    void *p = mrd_arena_calloc(&ctx->tmp, n);
    if (!p)
        cfg_oom(ctx);
    return p;
}

/* ---- per-load name tables ---- */

/* FNV-1a of <s>, reduced to a bucket. */
static size_t cfg_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h % CFG_HBUCKETS);
}

/* Looks <key> up in table <t> (NULL table: nothing yet). */
static void *cfg_hget(struct cfg_hent **t, const char *key)
{
    for (struct cfg_hent *e = t ? t[cfg_hash(key)] : NULL; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->val;
    return NULL;
}

/* Adds <key> -> <val> to *<t> (creating the table on first use); a newer entry hides an older one. */
static bool cfg_hput(struct cfg_ctx *ctx, struct cfg_hent ***t, const char *key, void *val)
{
    struct cfg_hent *e;
    size_t b;

    if (!*t && !(*t = cfg_tmp_calloc(ctx, CFG_HBUCKETS * sizeof(**t))))
        return false;
    if (!(e = cfg_tmp_calloc(ctx, sizeof(*e))))
        return false;
    b = cfg_hash(key);
    e->key = key;
    e->val = val;
    e->next = (*t)[b];
    (*t)[b] = e;
    return true;
}

/* ---- YAML events -> tree ---- */

/* Creates a node located at <m> (0-based) or, when the event has no place, at the last one. */
static struct cfg_node *cfg_new_node(struct cfg_ctx *ctx, enum cfg_kind kind, const struct fy_mark *m)
{
    struct cfg_node *n = cfg_tmp_calloc(ctx, sizeof(*n));

    if (!n)
        return NULL;
    n->kind = kind;
    if (m) {
        ctx->last_line = m->line + 1;
        ctx->last_col = m->column + 1;
    }
    n->line = ctx->last_line;
    n->col = ctx->last_col;
    return n;
}

/* Copies the text of token <t> into the tree arena. The chunk iterator is used rather than
 * fy_token_get_text(), which leaks its buffer for some quoted scalars in libfyaml 0.7.12. */
static const char *cfg_token_text(struct cfg_ctx *ctx, struct fy_token *t, size_t *len)
{
    struct fy_token_iter *iter;
    const struct fy_iter_chunk *c = NULL;
    size_t n = 0;
    int err = 0;
    char *out;

    *len = 0;
    if (!t)
        return mrd_arena_strndup(&ctx->tmp, "", 0);
    if (!(iter = fy_token_iter_create(t))) {
        cfg_oom(ctx);
        return NULL;
    }
    while ((c = fy_token_iter_chunk_next(iter, c, &err))) {
        if (n + c->len + 1 > ctx->scratch_cap) {
            size_t cap = (n + c->len + 1) * 2;
            char *nb = realloc(ctx->scratch, cap);
            if (!nb) {
                err = -1;
                break;
            }
            ctx->scratch = nb;
            ctx->scratch_cap = cap;
        }
        memcpy(ctx->scratch + n, c->str, c->len);
        n += c->len;
    }
    fy_token_iter_destroy(iter);
    if (err) {
        cfg_oom(ctx);
        return NULL;
    }
    out = mrd_arena_strndup(&ctx->tmp, n ? ctx->scratch : "", n);
    if (!out)
        cfg_oom(ctx);
    *len = n;
    return out;
}

/* Decodes the single-quoted scalar whose raw content (between the quotes) is raw[0..n):
 * '' becomes ', and lines fold as YAML says. libfyaml 0.7.12 gets runs of '' wrong. */
static const char *cfg_squote(struct cfg_ctx *ctx, const char *raw, size_t n, size_t *len)
{
    char *out = mrd_arena_alloc(&ctx->tmp, n + 1);
    size_t o = 0, i = 0, breaks = 0;
    bool first = true;

    if (!out) {
        cfg_oom(ctx);
        return NULL;
    }
    while (i <= n) {
        size_t e = i, ls, le;
        bool last;
        while (e < n && raw[e] != '\n')
            e++;
        last = e == n;
        ls = i;
        le = e;
        if (le > ls && raw[le - 1] == '\r')
            le--;
        if (!first)
            while (ls < le && (raw[ls] == ' ' || raw[ls] == '\t'))
                ls++;
        if (!last)
            while (le > ls && (raw[le - 1] == ' ' || raw[le - 1] == '\t'))
                le--;
        if (!first && !last && ls == le) {
            breaks++; /* an empty line keeps one line break */
        } else {
            if (!first) {
                if (!breaks)
                    out[o++] = ' ';
                for (; breaks; breaks--)
                    out[o++] = '\n';
            }
            for (size_t k = ls; k < le; k++) {
                out[o++] = raw[k];
                if (raw[k] == '\'' && k + 1 < le && raw[k + 1] == '\'')
                    k++;
            }
            first = false;
        }
        i = e + 1;
    }
    out[o] = 0;
    *len = o;
    return out;
}

/* Orders key items by text, then by place, to find duplicates in n log n. */
static int cfg_cmp_keys(const void *a, const void *b)
{
    const struct cfg_node *x = (*(const struct cfg_item *const *)a)->key;
    const struct cfg_node *y = (*(const struct cfg_item *const *)b)->key;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);

    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return (x->col > y->col) - (x->col < y->col);
}

/* Checks the keys of a finished mapping: scalar keys only, each at most once. */
static void cfg_check_keys(struct cfg_ctx *ctx, struct cfg_node *map)
{
    struct cfg_item **v;
    size_t n = 0;

    if (map->n < 2) {
        if (map->first && map->first->key->kind != CFG_SCALAR) {
            cfg_err(ctx, map->first->key, "mapping keys must be plain strings");
            map->first->skip = true;
        }
        return;
    }
    v = mrd_arena_alloc(&ctx->tmp, map->n * sizeof(*v));
    if (!v) {
        cfg_oom(ctx);
        return;
    }
    for (struct cfg_item *it = map->first; it; it = it->next) {
        if (it->key->kind != CFG_SCALAR) {
            cfg_err(ctx, it->key, "mapping keys must be plain strings");
            it->skip = true;
        } else {
            v[n++] = it;
        }
    }
    qsort(v, n, sizeof(*v), cfg_cmp_keys);
    for (size_t i = 1, first = 0; i < n; i++) {
        const struct cfg_node *a = v[first]->key, *b = v[i]->key;
        if (a->len == b->len && memcmp(a->text, b->text, a->len) == 0) {
            struct cfg_q q;
            cfg_err(ctx, b, "duplicate key %s (first defined at line %d, column %d)",
                    cfg_quote(&q, b->text, b->len), a->line, a->col);
            v[i]->skip = true;
        } else {
            first = i;
        }
    }
}

/* Hangs a finished node under the open collection, or makes it the root. */
static bool cfg_attach(struct cfg_ctx *ctx, struct cfg_frame *stack, int depth,
                       struct cfg_node **root, struct cfg_node *node)
{
    struct cfg_frame *f;
    struct cfg_item *it;

    if (depth == 0) {
        *root = node;
        return true;
    }
    f = &stack[depth - 1];
    if (f->node->kind == CFG_MAP && !f->key) {
        f->key = node;
        return true;
    }
    it = cfg_tmp_calloc(ctx, sizeof(*it));
    if (!it)
        return false;
    it->key = f->node->kind == CFG_MAP ? f->key : NULL;
    it->val = node;
    f->key = NULL;
    if (f->node->last)
        f->node->last->next = it;
    else
        f->node->first = it;
    f->node->last = it;
    f->node->n++;
    return true;
}

/* Silences libfyaml's own printing; errors are collected instead. */
static void cfg_fy_quiet(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

/* Length of the UTF-8 sequence at <p> (at most <n> bytes), or 0 if it is malformed. */
static size_t cfg_utf8_len(const unsigned char *p, size_t n)
{
    uint32_t cp;
    size_t len;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Refuses input libfyaml would silently cut short or skip: bad UTF-8, NUL, control bytes. */
static bool cfg_check_text(struct cfg_ctx *ctx, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    int line = 1, col = 1;

    for (size_t i = 0; i < len; col++) {
        size_t n = cfg_utf8_len(p + i, len - i);
        if (n == 0) {
            cfg_err_at(ctx, line, col, "invalid UTF-8 byte 0x%02x; the file must be UTF-8 text",
                       p[i]);
            return false;
        }
        if (n == 1 && ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') ||
                       p[i] == 0x7f)) {
            cfg_err_at(ctx, line, col, "control character 0x%02x is not allowed in the file%s",
                       p[i], p[i] ? "" : " (NUL byte)");
            return false;
        }
        if (p[i] == '\n') {
            line++;
            col = 0;
        }
        i += n;
    }
    return true;
}

/* Parses <text> into a located tree. NULL after a syntax or structure error (reported). */
static struct cfg_node *cfg_build(struct cfg_ctx *ctx, const char *text, size_t len)
{
    struct cfg_frame stack[CFG_MAX_DEPTH];
    struct cfg_node *root = NULL;
    struct fy_diag_cfg dc;
    struct fy_parse_cfg pc;
    struct fy_diag *diag;
    struct fy_parser *fyp;
    struct fy_event *ev;
    int depth = 0, docs = 0;
    bool bad = false;

    if (!cfg_check_text(ctx, text, len))
        return NULL;

    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = cfg_fy_quiet;
    dc.colorize = false;
    dc.level = FYET_ERROR;
    diag = fy_diag_create(&dc);
    if (!diag) {
        cfg_oom(ctx);
        return NULL;
    }
    fy_diag_set_collect_errors(diag, true);
    memset(&pc, 0, sizeof(pc));
    pc.flags = FYPCF_QUIET;
    pc.diag = diag;
    fyp = fy_parser_create(&pc);
    if (!fyp || fy_parser_set_string(fyp, text, len) != 0) {
        if (fyp)
            fy_parser_destroy(fyp);
        fy_diag_destroy(diag);
        cfg_oom(ctx);
        return NULL;
    }
    ctx->last_line = ctx->last_col = 1;

    while (!bad && (ev = fy_parser_parse(fyp))) {
        const struct fy_mark *m = fy_event_start_mark(ev);
        struct cfg_node *n = NULL;
        struct fy_token *anchor = NULL;

        switch (ev->type) {
        case FYET_DOCUMENT_START:
            if (++docs > 1) {
                if (m) {
                    ctx->last_line = m->line + 1;
                    ctx->last_col = m->column + 1;
                }
                cfg_err_at(ctx, ctx->last_line, ctx->last_col,
                           "only one YAML document per file is supported; remove this '---'");
                bad = true;
            }
            break;
        case FYET_MAPPING_START:
        case FYET_SEQUENCE_START:
            if (depth == CFG_MAX_DEPTH) {
                cfg_err_at(ctx, m ? m->line + 1 : ctx->last_line, m ? m->column + 1 : ctx->last_col,
                           "nesting deeper than %d levels", CFG_MAX_DEPTH);
                bad = true;
                break;
            }
            n = cfg_new_node(ctx, ev->type == FYET_MAPPING_START ? CFG_MAP : CFG_SEQ, m);
            if (!n) {
                bad = true;
                break;
            }
            anchor = ev->type == FYET_MAPPING_START ? ev->mapping_start.anchor
                                                    : ev->sequence_start.anchor;
            stack[depth].node = n;
            stack[depth].key = NULL;
            stack[depth].anchor = NULL;
            stack[depth].anchor_len = 0;
            if (anchor && !(stack[depth].anchor = cfg_token_text(ctx, anchor, &stack[depth].anchor_len)))
                bad = true;
            depth++;
            break;
        case FYET_MAPPING_END:
        case FYET_SEQUENCE_END:
            if (depth == 0) {
                bad = true;
                break;
            }
            n = stack[--depth].node;
            if (n->kind == CFG_MAP)
                cfg_check_keys(ctx, n);
            if (stack[depth].anchor &&
                !cfg_hput(ctx, &ctx->anchor_h, stack[depth].anchor, n))
                bad = true;
            if (!bad && !cfg_attach(ctx, stack, depth, &root, n))
                bad = true;
            break;
        case FYET_SCALAR: {
            enum fy_scalar_style st = fy_token_scalar_style(ev->scalar.value);
            const struct fy_mark *me = fy_token_end_mark(ev->scalar.value);
            n = cfg_new_node(ctx, CFG_SCALAR, m);
            if (n && st == FYSS_SINGLE_QUOTED && m && me && m->input_pos <= me->input_pos &&
                me->input_pos <= len)
                n->text = cfg_squote(ctx, text + m->input_pos, me->input_pos - m->input_pos, &n->len);
            else if (n)
                n->text = cfg_token_text(ctx, ev->scalar.value, &n->len);
            if (!n || !n->text) {
                bad = true;
                break;
            }
            /* Point at the opening quote, as editors and linters do. */
            if ((st == FYSS_SINGLE_QUOTED || st == FYSS_DOUBLE_QUOTED) && m && n->col > 1)
                n->col--;
            n->null = st == FYSS_PLAIN &&
                      (n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
                       strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0);
            if (ev->scalar.anchor) {
                size_t al;
                const char *an = cfg_token_text(ctx, ev->scalar.anchor, &al);
                if (!an || !cfg_hput(ctx, &ctx->anchor_h, an, n)) {
                    bad = true;
                    break;
                }
            }
            if (!cfg_attach(ctx, stack, depth, &root, n))
                bad = true;
            break;
        }
        case FYET_ALIAS: {
            size_t al = 0;
            const char *an = cfg_token_text(ctx, ev->alias.anchor, &al);
            struct cfg_node *target = an ? cfg_hget(ctx->anchor_h, an) : NULL;
            if (!target) {
                struct cfg_q q;
                cfg_err_at(ctx, m ? m->line + 1 : ctx->last_line, m ? m->column : ctx->last_col,
                           "alias *%s refers to no earlier anchor (&name)",
                           cfg_quote(&q, an ? an : "", al));
                bad = true;
                break;
            }
            if (m && m->column > 0)
                ctx->last_col = m->column; /* the mark is after the '*' */
            if (!cfg_attach(ctx, stack, depth, &root, target))
                bad = true;
            break;
        }
        default:
            break;
        }
        fy_parser_event_free(fyp, ev);
    }

    if (!bad && fy_parser_get_stream_error(fyp)) {
        void *iter = NULL;
        struct fy_diag_error *de;
        size_t n = 0;
        while ((de = fy_diag_errors_iterate(diag, &iter))) {
            if (de->type < FYET_ERROR)
                continue;
            /* libfyaml's collected positions are already 1-based. */
            cfg_err_at(ctx, de->line > 0 ? de->line : 1, de->column > 0 ? de->column : 1,
                       "YAML syntax error: %s", de->msg ? de->msg : "unknown");
            n++;
        }
        if (!n)
            cfg_err_at(ctx, ctx->last_line, ctx->last_col, "YAML syntax error");
        bad = true;
    }
    fy_parser_destroy(fyp);
    fy_diag_destroy(diag);
    free(ctx->scratch);
    ctx->scratch = NULL;
    if (bad)
        return NULL;
    if (!root || (root->kind == CFG_SCALAR && root->null)) {
        cfg_err_at(ctx, 1, 1, "the file is empty; expected a mapping with at least server.listen");
        return NULL;
    }
    return root;
}

/* ---- schema helpers ---- */

/* Counts one visited entry; false once the load grew too big (aliases can multiply work). */
static bool cfg_tick(struct cfg_ctx *ctx, const struct cfg_node *at)
{
    if (ctx->n_err >= CFG_MAX_ERRORS) {
        ctx->truncated = true; /* nothing more would be shown; keep the work bounded */
        return false;
    }
    if (ctx->too_big)
        return false;
    if (++ctx->visits <= CFG_MAX_ITEMS)
        return true;
    ctx->too_big = true;
    cfg_err(ctx, at, "configuration too large: more than %d entries once aliases are expanded",
            CFG_MAX_ITEMS);
    return false;
}

/* Checks that <n> is of <kind>; reports "<path>: expected ..., got ..." if not. */
static bool cfg_want(struct cfg_ctx *ctx, const struct cfg_node *n, enum cfg_kind kind,
                     const char *path)
{
    static const char *const what[] = { "a string", "a mapping", "a sequence" };
    struct cfg_q q;

    if (n && n->kind == kind && !(kind == CFG_SCALAR && n->null))
        return true;
    cfg_err(ctx, n, "%s: expected %s, got %s", path, what[kind], cfg_got(&q, n));
    return false;
}

/* Returns the NUL-free text of scalar <n>, or NULL after reporting that <what> was expected. */
static const char *cfg_scalar(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path,
                              const char *what)
{
    struct cfg_q q;

    if (!n || n->kind != CFG_SCALAR || n->null) {
        cfg_err(ctx, n, "%s: expected %s, got %s", path, what, cfg_got(&q, n));
        return NULL;
    }
    if (strlen(n->text) != n->len) {
        cfg_err(ctx, n, "%s: value contains a NUL byte", path);
        return NULL;
    }
    return n->text;
}

/* cfg_scalar() for plain strings. */
static const char *cfg_text(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path)
{
    return cfg_scalar(ctx, n, path, "a string");
}

/* Copies <s> into the generation's arena. */
static const char *cfg_keep(struct cfg_ctx *ctx, const char *s, size_t len)
{
    char *c = mrd_arena_strndup(&ctx->cfg->arena, s, len);
    if (!c)
        cfg_oom(ctx);
    return c;
}

/* Zeroed array of <n> elements of <size> from the generation's arena. */
static void *cfg_array(struct cfg_ctx *ctx, size_t n, size_t size)
{
    void *p;

    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / size) {
        cfg_oom(ctx);
        return NULL;
    }
    p = mrd_arena_calloc(&ctx->cfg->arena, n * size);
    if (!p)
        cfg_oom(ctx);
    return p;
}

/* Location of <n> inside the generation. */
static struct mrd_cfg_loc cfg_loc(struct cfg_ctx *ctx, const struct cfg_node *n)
{
    struct mrd_cfg_loc l = { ctx->cfg->file, n ? n->line : 0, n ? n->col : 0 };
    return l;
}

/* Writes "a, b, c" (or "a, b<last>c") from the NULL-terminated <names> into <buf>. */
static void cfg_join(char *buf, size_t size, const char *const *names, const char *last)
{
    size_t o = 0;

    buf[0] = 0;
    for (int i = 0; names[i] && o < size; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] ? ", " : last;
        int w = snprintf(buf + o, size - o, "%s%s", sep, names[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Splits <map> into the <known> keys (out[i] zeroed when absent). Keys in <planned> are
 * reported as not supported yet ("key=message" overrides the message); anything else as
 * unknown. Returns how many planned keys were present. */
static int cfg_fields(struct cfg_ctx *ctx, const struct cfg_node *map, const char *section,
                      const char *const *known, const char *const *planned, struct cfg_field *out)
{
    int n_known = 0, n_planned = 0;

    while (known[n_known])
        n_known++;
    memset(out, 0, (size_t)n_known * sizeof(*out));
    for (struct cfg_item *it = map->first; it; it = it->next) {
        const struct cfg_node *k = it->key;
        bool done = false;
        if (!cfg_tick(ctx, map))
            break;
        if (it->skip)
            continue;
        for (int i = 0; i < n_known && !done; i++) {
            if (strlen(known[i]) == k->len && memcmp(known[i], k->text, k->len) == 0) {
                out[i].key = it->key;
                out[i].val = it->val;
                done = true;
            }
        }
        for (int i = 0; planned && planned[i] && !done; i++) {
            const char *eq = strchr(planned[i], '=');
            size_t pl = eq ? (size_t)(eq - planned[i]) : strlen(planned[i]);
            if (pl == k->len && memcmp(planned[i], k->text, pl) == 0) {
                if (eq)
                    cfg_err(ctx, k, "%s", eq + 1);
                else
                    cfg_err(ctx, k, "'%.*s' is not supported yet by this version", (int)pl,
                            planned[i]);
                n_planned++;
                done = true;
            }
        }
        if (!done) {
            char list[320];
            struct cfg_q q;
            cfg_join(list, sizeof(list), known, ", ");
            if (k->len == 2 && memcmp(k->text, "<<", 2) == 0)
                cfg_err(ctx, k, "merge keys ('<<') are not supported in %s; write the keys out "
                        "or alias the whole value", section);
            else
                cfg_err(ctx, k, "unknown key '%s' in %s; expected one of: %s",
                        cfg_label(q.s, sizeof(q.s), k), section, list);
        }
    }
    return n_planned;
}

/* Parses an integer scalar within [min, max] (decimal, optional '-'). */
static bool cfg_int(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path,
                    long long min, long long max, long long *out)
{
    const char *s = cfg_scalar(ctx, n, path, "an integer");
    const char *p;
    struct cfg_q q;
    unsigned long long v = 0;
    bool neg, over = false;
    long long val;

    if (!s)
        return false;
    neg = *s == '-';
    p = s + neg;
    if (!*p || strspn(p, "0123456789") != strlen(p)) {
        cfg_err(ctx, n, "%s: bad value %s; expected an integer %lld..%lld", path,
                cfg_quote(&q, n->text, n->len), min, max);
        return false;
    }
    for (; *p; p++) {
        if (v > (1ull << 60))
            over = true;
        else
            v = v * 10 + (unsigned)(*p - '0');
    }
    val = neg ? -(long long)v : (long long)v;
    if (over || val < min || val > max) {
        cfg_err(ctx, n, "%s: %s is out of range; expected an integer %lld..%lld", path,
                cfg_quote(&q, n->text, n->len), min, max);
        return false;
    }
    *out = val;
    return true;
}

/* Parses true/false. */
static bool cfg_bool(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path, bool *out)
{
    static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False", "FALSE" };
    const char *s = cfg_scalar(ctx, n, path, "true or false");
    struct cfg_q q;

    if (!s)
        return false;
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    cfg_err(ctx, n, "%s: bad value %s; expected true or false", path, cfg_quote(&q, n->text, n->len));
    return false;
}

/* Parses a duration within [min, max] ms; <range> spells the bounds for the message. */
static bool cfg_duration(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path,
                         uint64_t min, uint64_t max, const char *range, uint64_t *out)
{
    const char *s = cfg_scalar(ctx, n, path, "a duration such as 5s");
    struct cfg_q q;
    uint64_t v;

    if (!s)
        return false;
    if (mrd_cfg_parse_duration(s, &v) < 0) {
        cfg_err(ctx, n, "%s: bad duration %s; expected e.g. 250ms, 5s, 2m, 1h, 1d", path,
                cfg_quote(&q, n->text, n->len));
        return false;
    }
    if (v < min || v > max) {
        cfg_err(ctx, n, "%s: duration %s is out of range; expected %s", path,
                cfg_quote(&q, n->text, n->len), range);
        return false;
    }
    *out = v;
    return true;
}

/* Parses a size within [min, max] bytes; <range> spells the bounds for the message. */
static bool cfg_size(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path,
                     uint64_t min, uint64_t max, const char *range, uint64_t *out)
{
    const char *s = cfg_scalar(ctx, n, path, "a size such as 16KiB");
    struct cfg_q q;
    uint64_t v;

    if (!s)
        return false;
    if (mrd_cfg_parse_size(s, &v) < 0) {
        cfg_err(ctx, n, "%s: bad size %s; expected e.g. 512, 16KiB, 100MiB, 1GiB (or KB, MB, GB)",
                path, cfg_quote(&q, n->text, n->len));
        return false;
    }
    if (v < min || v > max) {
        cfg_err(ctx, n, "%s: size %s is out of range; expected %s", path,
                cfg_quote(&q, n->text, n->len), range);
        return false;
    }
    *out = v;
    return true;
}

/* Matches scalar <n> against <names> (index into *out); <planned> values get "not supported yet". */
static bool cfg_enum(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path,
                     const char *const *names, const char *const *planned, int *out)
{
    const char *s = cfg_text(ctx, n, path);
    char list[192];
    struct cfg_q q;

    if (!s)
        return false;
    for (int i = 0; names[i]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    cfg_join(list, sizeof(list), names, " or ");
    for (int i = 0; planned && planned[i]; i++) {
        if (strcmp(s, planned[i]) == 0) {
            cfg_err(ctx, n, "%s: '%s' is not supported yet by this version; expected %s", path,
                    planned[i], list);
            return false;
        }
    }
    cfg_err(ctx, n, "%s: bad value %s; expected %s", path, cfg_quote(&q, n->text, n->len), list);
    return false;
}

/* Checks an object name (pool, origin, load balancer): 1..64 of [A-Za-z0-9._-]. */
static bool cfg_name(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path)
{
    const char *s = cfg_text(ctx, n, path);
    struct cfg_q q;
    size_t len;

    if (!s)
        return false;
    len = strlen(s);
    bool ok = len >= 1 && len <= 64;
    for (size_t i = 0; i < len && ok; i++) {
        char c = s[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_' || c == '.';
    }
    if (!ok)
        cfg_err(ctx, n, "%s: bad name %s; expected 1..64 letters, digits, '-', '_' or '.'", path,
                cfg_quote(&q, n->text, n->len));
    return ok;
}

/* Checks and lower-cases a host pattern: "name", "*.suffix" or "*". NULL if bad (reported). */
static const char *cfg_host(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path)
{
    const char *s = cfg_text(ctx, n, path);
    struct cfg_q q;
    char *c;
    size_t len, start = 0;
    bool ok;

    if (!s)
        return NULL;
    len = strlen(s);
    ok = len >= 1 && len <= 253;
    if (ok && s[0] == '*') {
        if (len == 1)
            return cfg_keep(ctx, "*", 1);
        ok = s[1] == '.' && len > 2;
        start = 2;
    }
    /* labels of [a-z0-9_-], no empty label */
    for (size_t i = start, lab = 0; ok && i <= len; i++) {
        char ch = i < len ? s[i] : '.';
        if (ch == '.') {
            ok = lab > 0 && lab <= 63;
            lab = 0;
        } else {
            ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_';
            lab++;
        }
    }
    if (!ok) {
        cfg_err(ctx, n, "%s: bad hostname %s; expected e.g. example.com, *.example.com or *", path,
                cfg_quote(&q, n->text, n->len));
        return NULL;
    }
    c = (char *)cfg_keep(ctx, s, len);
    for (size_t i = 0; c && i < len; i++)
        if (c[i] >= 'A' && c[i] <= 'Z')
            c[i] = (char)(c[i] + 32);
    return c;
}

/* Parses a socket address scalar into <out> (text copied into the arena). */
static bool cfg_addr(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path,
                     struct mrd_cfg_addr *out)
{
    const char *s = cfg_scalar(ctx, n, path, "an address such as \"127.0.0.1:8080\"");
    const char *why = "bad address";
    struct cfg_q q;

    if (!s)
        return false;
    if (mrd_cfg_parse_addr(s, out, &why) < 0) {
        cfg_err(ctx, n, "%s: bad address %s (%s); expected \"IP:port\", \"[IPv6]:port\" or "
                "\"host:port\"", path, cfg_quote(&q, n->text, n->len), why);
        return false;
    }
    out->text = (char *)cfg_keep(ctx, s, strlen(s));
    return out->text != NULL;
}

/* Reports a required key missing from <map>, at the mapping itself. */
static void cfg_missing(struct cfg_ctx *ctx, const struct cfg_node *map, const char *section,
                        const char *key, const char *hint)
{
    cfg_err(ctx, map, "%s: missing required key '%s'%s", section, key, hint ? hint : "");
}

/* ---- sections ---- */

/* Same listening socket: family, address and port all equal. */
static bool cfg_same_addr(const struct mrd_cfg_addr *a, const struct mrd_cfg_addr *b)
{
    if (a->ss.ss_family != b->ss.ss_family || a->len != b->len)
        return false;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)&b->ss;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)&b->ss;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* ---- TLS listeners ---- */

static const char *cfg_shown(struct cfg_q *q, const char *s); /* with the admin section */
static const char *cfg_not_regular(const char *path);

/* A file the TLS layer will read at startup: a non-empty path to a readable regular file.
 * Returns the path kept in the generation, or NULL (reported). */
static const char *cfg_tls_file(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path,
                                const char *what)
{
    const char *s = cfg_text(ctx, n, path);
    const char *why;
    struct cfg_q q;
    FILE *f;

    if (!s)
        return NULL;
    if (!*s) {
        cfg_err(ctx, n, "%s: empty; expected the path of %s", path, what);
        return NULL;
    }
    if ((why = cfg_not_regular(s)) || !(f = fopen(s, "rb"))) {
        cfg_err(ctx, n, "%s: cannot read %s: %s", path, cfg_shown(&q, s),
                why ? why : strerror(errno));
        return NULL;
    }
    fclose(f);
    return cfg_keep(ctx, s, strlen(s));
}

/* One entry of tls.certificates: { cert, key, ocsp }; the pair must load and match. */
static bool cfg_tls_cert(struct cfg_ctx *ctx, struct mrd_cfg_tls_cert *c, const struct cfg_node *map,
                         const char *path)
{
    static const char *const keys[] = { "cert", "key", "ocsp", NULL };
    struct cfg_field f[3];
    char sub[256], why[256];

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return false;
    cfg_fields(ctx, map, path, keys, NULL, f);
    c->loc = cfg_loc(ctx, map);
    if (!f[0].val)
        cfg_missing(ctx, map, path, "cert", " (a PEM certificate chain file)");
    else
        c->cert = cfg_tls_file(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.cert", path),
                               "a PEM certificate chain file");
    if (!f[1].val)
        cfg_missing(ctx, map, path, "key", " (a PEM private key file)");
    else
        c->key = cfg_tls_file(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.key", path),
                              "a PEM private key file");
    if (f[2].val && (c->ocsp = cfg_tls_file(ctx, f[2].val,
                                            cfg_path(sub, sizeof(sub), "%s.ocsp", path),
                                            "a DER OCSP response file")) &&
        mrd_tls_check_ocsp(c->ocsp, why, sizeof(why)) < 0) {
        cfg_err(ctx, f[2].val, "%s: %s", sub, why);
        c->ocsp = NULL;
    }
    if (!c->cert || !c->key)
        return false;
    switch (mrd_tls_check_cert(c->cert, c->key, why, sizeof(why))) {
    case MRD_TLS_CHECK_OK:
        return true;
    case MRD_TLS_CHECK_CERT:
        cfg_err(ctx, f[0].val, "%s.cert: %s", path, why);
        return false;
    default:
        cfg_err(ctx, f[1].val, "%s.key: %s", path, why);
        return false;
    }
}

/* tls.certificates: one or more entries; the first is the default certificate. */
static void cfg_tls_certs(struct cfg_ctx *ctx, struct mrd_cfg_tls *t, const struct cfg_node *seq,
                          const char *path)
{
    size_t i = 0;

    if (!cfg_want(ctx, seq, CFG_SEQ, path))
        return;
    if (seq->n == 0 || seq->n > CFG_MAX_TLS_CERTS) {
        cfg_err(ctx, seq, "%s: expected 1..%d certificates, e.g. - { cert: site.crt, key: "
                "site.key }", path, CFG_MAX_TLS_CERTS);
        return;
    }
    if (!(t->certs = cfg_array(ctx, seq->n, sizeof(*t->certs))))
        return;
    for (struct cfg_item *it = seq->first; it; it = it->next, i++) {
        char sub[128];
        if (!cfg_tick(ctx, seq))
            return;
        cfg_path(sub, sizeof(sub), "%s[%zu]", path, i);
        if (cfg_tls_cert(ctx, &t->certs[t->n_certs], it->val, sub))
            t->n_certs++;
    }
}

/* tls.alpn: protocol ids; only http/1.1 for now. */
static void cfg_tls_alpn(struct cfg_ctx *ctx, struct mrd_cfg_tls *t, const struct cfg_node *seq,
                         const char *path)
{
    size_t i = 0;

    if (!cfg_want(ctx, seq, CFG_SEQ, path))
        return;
    if (seq->n == 0 || seq->n > CFG_MAX_ALPN) {
        cfg_err(ctx, seq, "%s: expected 1..%d protocols, e.g. [\"http/1.1\"]", path, CFG_MAX_ALPN);
        return;
    }
    if (!(t->alpn = cfg_array(ctx, seq->n, sizeof(*t->alpn))))
        return;
    for (struct cfg_item *it = seq->first; it; it = it->next, i++) {
        static const char *const names[] = { "http/1.1", NULL };
        static const char *const planned[] = { "h2", NULL };
        char sub[128];
        int v;
        if (!cfg_tick(ctx, seq))
            return;
        if (!cfg_enum(ctx, it->val, cfg_path(sub, sizeof(sub), "%s[%zu]", path, i), names,
                      planned, &v))
            continue;
        for (size_t j = 0; j < t->n_alpn; j++) {
            if (strcmp(t->alpn[j], names[v]) == 0) {
                cfg_err(ctx, it->val, "%s: \"%s\" is listed twice", sub, names[v]);
                v = -1;
                break;
            }
        }
        if (v >= 0)
            t->alpn[t->n_alpn++] = names[v];
    }
}

/* server.listen[].tls: certificates, min_version, alpn, session_tickets. */
static struct mrd_cfg_tls *cfg_tls(struct cfg_ctx *ctx, const struct cfg_node *map,
                                   const char *path)
{
    static const char *const keys[] = { "certificates", "min_version", "alpn",
                                        "session_tickets", NULL };
    static const char *const versions[] = { "1.2", "1.3", NULL };
    static const char *const http11[] = { "http/1.1" };
    struct cfg_field f[4];
    struct mrd_cfg_tls *t;
    char sub[128];
    int v;

    if (!cfg_want(ctx, map, CFG_MAP, path) || !(t = cfg_array(ctx, 1, sizeof(*t))))
        return NULL;
    cfg_fields(ctx, map, path, keys, NULL, f);
    t->loc = cfg_loc(ctx, map);
    t->min_version = 0x0303;
    t->alpn = (const char **)http11;
    t->n_alpn = 1;
    t->tickets = true;
    if (!f[0].val)
        cfg_missing(ctx, map, path, "certificates",
                    " (e.g. certificates: [{ cert: site.crt, key: site.key }])");
    else
        cfg_tls_certs(ctx, t, f[0].val, cfg_path(sub, sizeof(sub), "%s.certificates", path));
    cfg_path(sub, sizeof(sub), "%s.min_version", path);
    if (f[1].val && f[1].val->kind == CFG_SCALAR && !f[1].val->null &&
        (strcmp(f[1].val->text, "1.0") == 0 || strcmp(f[1].val->text, "1.1") == 0))
        cfg_err(ctx, f[1].val, "%s: TLS %s is not offered (insecure); expected \"1.2\" or \"1.3\"",
                sub, f[1].val->text);
    else if (f[1].val && cfg_enum(ctx, f[1].val, sub, versions, NULL, &v))
        t->min_version = v == 0 ? 0x0303 : 0x0304;
    if (f[2].val) {
        t->alpn = NULL;
        t->n_alpn = 0;
        cfg_tls_alpn(ctx, t, f[2].val, cfg_path(sub, sizeof(sub), "%s.alpn", path));
    }
    if (f[3].val)
        cfg_bool(ctx, f[3].val, cfg_path(sub, sizeof(sub), "%s.session_tickets", path),
                 &t->tickets);
    return t;
}

/* server.listen: one or more { address, tls }. */
static void cfg_listen(struct cfg_ctx *ctx, const struct cfg_node *seq)
{
    static const char *const keys[] = { "address", "tls", NULL };
    struct mrd_cfg_server *srv = &ctx->cfg->server;
    size_t i = 0;

    if (!cfg_want(ctx, seq, CFG_SEQ, "server.listen"))
        return;
    if (seq->n == 0) {
        cfg_err(ctx, seq, "server.listen: at least one listener is required, e.g. "
                "- address: \"0.0.0.0:8080\"");
        return;
    }
    if (!(srv->listen = cfg_array(ctx, seq->n, sizeof(*srv->listen))))
        return;
    for (struct cfg_item *it = seq->first; it; it = it->next, i++) {
        char path[64];
        struct cfg_field f[2];
        struct mrd_cfg_listen *l;
        if (!cfg_tick(ctx, seq))
            return;
        cfg_path(path, sizeof(path), "server.listen[%zu]", i);
        if (!cfg_want(ctx, it->val, CFG_MAP, path))
            continue;
        cfg_fields(ctx, it->val, path, keys, NULL, f);
        l = &srv->listen[srv->n_listen];
        l->tls = NULL;
        if (f[1].val) {
            char tpath[64];
            l->tls = cfg_tls(ctx, f[1].val, cfg_path(tpath, sizeof(tpath), "%s.tls", path));
        }
        if (!f[0].val) {
            cfg_missing(ctx, it->val, path, "address", NULL);
            continue;
        }
        cfg_path(path, sizeof(path), "server.listen[%zu].address", i);
        if (!cfg_addr(ctx, f[0].val, path, &l->addr))
            continue;
        l->loc = cfg_loc(ctx, it->val);
        for (size_t j = 0; j < srv->n_listen; j++) {
            if (cfg_same_addr(&srv->listen[j].addr, &l->addr)) {
                struct cfg_q q;
                cfg_err(ctx, f[0].val, "%s: duplicate listen address %s (also at line %d)", path,
                        cfg_quote(&q, l->addr.text, strlen(l->addr.text)), srv->listen[j].loc.line);
                l = NULL;
                break;
            }
        }
        if (l)
            srv->n_listen++;
    }
}

/* server.trusted_proxies: list of CIDRs. */
static void cfg_trusted(struct cfg_ctx *ctx, const struct cfg_node *seq)
{
    struct mrd_cfg_server *srv = &ctx->cfg->server;
    size_t i = 0;

    if (!cfg_want(ctx, seq, CFG_SEQ, "server.trusted_proxies"))
        return;
    if (!(srv->trusted_proxies = cfg_array(ctx, seq->n, sizeof(*srv->trusted_proxies))))
        return;
    for (struct cfg_item *it = seq->first; it; it = it->next, i++) {
        char path[64];
        const char *s;
        struct cfg_q q;
        if (!cfg_tick(ctx, seq))
            return;
        cfg_path(path, sizeof(path), "server.trusted_proxies[%zu]", i);
        if (!(s = cfg_text(ctx, it->val, path)))
            continue;
        if (mrd_cfg_parse_cidr(s, &srv->trusted_proxies[srv->n_trusted_proxies]) < 0)
            cfg_err(ctx, it->val, "%s: bad CIDR %s; expected e.g. 10.0.0.0/8, 192.0.2.7 or fd00::/8",
                    path, cfg_quote(&q, it->val->text, it->val->len));
        else
            srv->n_trusted_proxies++;
    }
}

enum cfg_vkind { CFG_V_DURATION, CFG_V_SIZE, CFG_V_U32 };

/* One key of server.limits: where it goes and its bounds. */
struct cfg_limit_key {
    const char    *name;
    enum cfg_vkind kind;
    size_t         off;
    uint64_t       min, max;
    const char    *range;
};

#define CFG_LIM(f) offsetof(struct mrd_cfg_limits, f)
static const struct cfg_limit_key cfg_limit_keys[] = {
    { "header_timeout", CFG_V_DURATION, CFG_LIM(header_timeout_ms), CFG_MS_MIN, CFG_MS_7D, "1ms..7d" },
    { "body_timeout", CFG_V_DURATION, CFG_LIM(body_timeout_ms), CFG_MS_MIN, CFG_MS_7D, "1ms..7d" },
    { "idle_timeout", CFG_V_DURATION, CFG_LIM(idle_timeout_ms), CFG_MS_MIN, CFG_MS_7D, "1ms..7d" },
    { "websocket_idle_timeout", CFG_V_DURATION, CFG_LIM(websocket_idle_timeout_ms), CFG_MS_MIN,
      CFG_MS_7D, "1ms..7d" },
    { "connect_timeout", CFG_V_DURATION, CFG_LIM(connect_timeout_ms), CFG_MS_MIN, CFG_MS_7D, "1ms..7d" },
    { "upstream_timeout", CFG_V_DURATION, CFG_LIM(upstream_timeout_ms), CFG_MS_MIN, CFG_MS_7D,
      "1ms..7d" },
    { "max_header_bytes", CFG_V_SIZE, CFG_LIM(max_header_bytes), 1024, 64 * 1024, "1KiB..64KiB (one I/O buffer)" },
    { "max_headers", CFG_V_U32, CFG_LIM(max_headers), 1, 1000, NULL },
    { "max_body_bytes", CFG_V_SIZE, CFG_LIM(max_body_bytes), 0, 1ull << 50,
      "0 (unlimited)..1048576GiB" },
    { "max_connections", CFG_V_U32, CFG_LIM(max_connections), 1, 10000000, NULL },
    { "max_connections_per_ip", CFG_V_U32, CFG_LIM(max_connections_per_ip), 0, 10000000, NULL },
};
#define CFG_N_LIMITS (sizeof(cfg_limit_keys) / sizeof(cfg_limit_keys[0]))

/* server.limits */
static void cfg_limits(struct cfg_ctx *ctx, const struct cfg_node *map)
{
    const char *keys[CFG_N_LIMITS + 1];
    struct cfg_field f[CFG_N_LIMITS];
    unsigned char *base = (unsigned char *)&ctx->cfg->server.limits;

    if (!cfg_want(ctx, map, CFG_MAP, "server.limits"))
        return;
    for (size_t i = 0; i < CFG_N_LIMITS; i++)
        keys[i] = cfg_limit_keys[i].name;
    keys[CFG_N_LIMITS] = NULL;
    cfg_fields(ctx, map, "server.limits", keys, NULL, f);
    for (size_t i = 0; i < CFG_N_LIMITS; i++) {
        const struct cfg_limit_key *k = &cfg_limit_keys[i];
        char path[64];
        uint64_t v;
        long long iv;
        if (!f[i].val)
            continue;
        cfg_path(path, sizeof(path), "server.limits.%s", k->name);
        if (k->kind == CFG_V_DURATION) {
            if (cfg_duration(ctx, f[i].val, path, k->min, k->max, k->range, &v))
                memcpy(base + k->off, &v, sizeof(v));
        } else if (k->kind == CFG_V_SIZE) {
            if (cfg_size(ctx, f[i].val, path, k->min, k->max, k->range, &v))
                memcpy(base + k->off, &v, sizeof(v));
        } else if (cfg_int(ctx, f[i].val, path, (long long)k->min, (long long)k->max, &iv)) {
            uint32_t u = (uint32_t)iv;
            memcpy(base + k->off, &u, sizeof(u));
        }
    }
}

/* server: workers, listen, trusted_proxies, limits. */
static void cfg_server(struct cfg_ctx *ctx, const struct cfg_node *map, const struct cfg_node *top)
{
    static const char *const keys[] = { "workers", "listen", "trusted_proxies", "limits", NULL };
    struct cfg_field f[4];
    long long w;

    if (!map) {
        cfg_missing(ctx, top, "the top level", "server",
                    " (at least one listener: server.listen)");
        return;
    }
    if (!cfg_want(ctx, map, CFG_MAP, "server"))
        return;
    cfg_fields(ctx, map, "server", keys, NULL, f);
    if (f[0].val) {
        const struct cfg_node *n = f[0].val;
        if (n->kind == CFG_SCALAR && strcmp(n->text, "auto") == 0) {
            /* keep the "auto" default */
        } else if (n->kind == CFG_SCALAR && !n->null && n->text[0] >= '0' && n->text[0] <= '9') {
            if (cfg_int(ctx, n, "server.workers", 1, 256, &w))
                ctx->cfg->server.workers = (int)w;
        } else {
            struct cfg_q q;
            cfg_err(ctx, n, "server.workers: bad value %s; expected auto or an integer 1..256",
                    cfg_got(&q, n));
        }
    }
    if (f[1].val)
        cfg_listen(ctx, f[1].val);
    else
        cfg_missing(ctx, map, "server", "listen", " (at least one listener is required)");
    if (f[2].val)
        cfg_trusted(ctx, f[2].val);
    if (f[3].val)
        cfg_limits(ctx, f[3].val);
}

/* log: access, error, level. */
static void cfg_log(struct cfg_ctx *ctx, const struct cfg_node *map)
{
    static const char *const keys[] = { "access", "error", "level", NULL };
    static const char *const levels[] = { "debug", "info", "warn", "error", NULL };
    struct mrd_cfg_log *log = &ctx->cfg->log;
    struct cfg_field f[3];
    const char *s;
    int lv;

    if (!cfg_want(ctx, map, CFG_MAP, "log"))
        return;
    cfg_fields(ctx, map, "log", keys, NULL, f);
    if (f[0].val && (s = cfg_text(ctx, f[0].val, "log.access"))) {
        if (!*s)
            cfg_err(ctx, f[0].val, "log.access: empty; expected stdout, stderr, off or a file path");
        else
            log->access = cfg_keep(ctx, s, strlen(s));
    }
    if (f[1].val && (s = cfg_text(ctx, f[1].val, "log.error"))) {
        if (!*s || strcmp(s, "off") == 0)
            cfg_err(ctx, f[1].val, "log.error: %s; expected stderr, stdout or a file path "
                    "(the error log cannot be turned off)", *s ? "\"off\"" : "empty");
        else
            log->error = cfg_keep(ctx, s, strlen(s));
    }
    if (f[2].val && cfg_enum(ctx, f[2].val, "log.level", levels, NULL, &lv))
        log->level = (enum mrd_cfg_log_level)lv;
}

/* ---- shared value helpers of the load-balancing sections ---- */

/* Parses a plain decimal number within [min, max]. */
static bool cfg_number(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path,
                       double min, double max, double *out)
{
    const char *s = cfg_scalar(ctx, n, path, "a number");
    struct cfg_q q;
    double v;

    if (!s)
        return false;
    if (mrd_cfg_parse_number(s, &v) < 0) {
        cfg_err(ctx, n, "%s: bad value %s; expected a number %g..%g", path,
                cfg_quote(&q, n->text, n->len), min, max);
        return false;
    }
    if (v < min || v > max) {
        cfg_err(ctx, n, "%s: %s is out of range; expected a number %g..%g", path,
                cfg_quote(&q, n->text, n->len), min, max);
        return false;
    }
    *out = v;
    return true;
}

/* latitude/longitude of one object: both or neither. False after an error. */
static bool cfg_coords(struct cfg_ctx *ctx, const struct cfg_field *lat,
                       const struct cfg_field *lon, const char *path, bool *has, double *la,
                       double *lo)
{
    char sub[256];
    bool ok = true;

    *has = false;
    if (!lat->val && !lon->val)
        return true;
    if (!lat->val || !lon->val) {
        const struct cfg_field *f = lat->val ? lat : lon;
        cfg_err(ctx, f->key, "%s.%s: latitude and longitude go together; %s is missing", path,
                lat->val ? "latitude" : "longitude", lat->val ? "longitude" : "latitude");
        return false;
    }
    ok &= cfg_number(ctx, lat->val, cfg_path(sub, sizeof(sub), "%s.latitude", path), -90, 90,
                     la);
    ok &= cfg_number(ctx, lon->val, cfg_path(sub, sizeof(sub), "%s.longitude", path), -180, 180,
                     lo);
    *has = ok;
    return ok;
}

/* A load-balancing region code into *out (MRD_REGION_*). */
static bool cfg_region(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path, int *out)
{
    const char *s = cfg_text(ctx, n, path);
    char list[128];
    size_t o = 0;
    struct cfg_q q;
    int r;

    if (!s)
        return false;
    if ((r = mrd_geo_region_parse(s)) >= 0) {
        *out = r;
        return true;
    }
    list[0] = 0;
    for (int i = 0; i < MRD_REGION_COUNT && o < sizeof(list); i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? " " : "",
                              mrd_geo_region_name(i));
    cfg_err(ctx, n, "%s: unknown region code %s; expected one of %s", path,
            cfg_quote(&q, n->text, n->len), list);
    return false;
}

/* An assigned ISO 3166-1 alpha-2 country code, upper-cased into the arena; NULL if bad. */
static const char *cfg_country(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path)
{
    const char *s = cfg_text(ctx, n, path);
    char cc[3];
    struct cfg_q q;

    if (!s)
        return NULL;
    if (strlen(s) == 2 && mrd_geo_country_region(s) >= 0) {
        for (int i = 0; i < 2; i++)
            cc[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
        cc[2] = 0;
        return cfg_keep(ctx, cc, 2);
    }
    cfg_err(ctx, n, "%s: unknown country code %s; expected an assigned ISO 3166-1 alpha-2 code "
            "such as US, FR or JP", path, cfg_quote(&q, n->text, n->len));
    return NULL;
}

/* An HTTP header name (a token), kept as written. NULL if bad (reported). */
static const char *cfg_hdr_name(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path)
{
    const char *s = cfg_text(ctx, n, path);
    struct cfg_q q;

    if (!s)
        return NULL;
    if (!mrd_cfg_is_token(s, strlen(s)) || strlen(s) > CFG_MAX_HDR_NAME) {
        cfg_err(ctx, n, "%s: bad header name %s; expected 1..%d letters, digits or "
                "!#$%%&'*+-.^_`|~, e.g. X-Session-Id", path, cfg_quote(&q, n->text, n->len),
                CFG_MAX_HDR_NAME);
        return NULL;
    }
    return cfg_keep(ctx, s, strlen(s));
}

/* ASCII case-insensitive equality. */
static bool cfg_eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + 32) : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

/* <s> as it can be shown inside a one-line message: as is if printable, else quoted. */
static const char *cfg_shown(struct cfg_q *q, const char *s)
{
    size_t len = strlen(s);

    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return cfg_quote(q, s, len);
    return len < sizeof(q->s) ? s : cfg_quote(q, s, len);
}

/* NULL if <path> names a regular file, else why not. A FIFO or a device would block or never
 * end a read, so files the loader opens itself are checked first. */
static const char *cfg_not_regular(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return strerror(errno);
    return S_ISREG(st.st_mode) ? NULL : S_ISDIR(st.st_mode) ? strerror(EISDIR)
                                                             : "not a regular file";
}

/* ---- admin ---- */

/* Checks that the token file at <s> can be read and holds a token (not only blanks). */
static bool cfg_token_file(struct cfg_ctx *ctx, const struct cfg_node *key, const char *s)
{
    const char *why = cfg_not_regular(s);
    FILE *f = NULL;
    char buf[512];
    bool blank = true;
    size_t total = 0, got;
    struct cfg_q q;

    if (why) {
        cfg_err(ctx, key, "admin.token_file: cannot read %s: %s", cfg_shown(&q, s), why);
        return false;
    }
    if (!(f = fopen(s, "rb"))) {
        cfg_err(ctx, key, "admin.token_file: cannot read %s: %s", cfg_shown(&q, s),
                strerror(errno));
        return false;
    }
    /* Only look as far as the first token byte; a huge file is not read whole. */
    while (blank && total < CFG_MAX_TOKEN_SCAN && (got = fread(buf, 1, sizeof(buf), f)) > 0) {
        total += got;
        for (size_t i = 0; i < got && blank; i++)
            blank = buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n';
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        cfg_err(ctx, key, "admin.token_file: cannot read %s: %s", cfg_shown(&q, s), strerror(e));
        return false;
    }
    fclose(f);
    if (blank)
        cfg_err(ctx, key, "admin.token_file: %s is empty; write the admin token into it "
                "(clients send it as \"Authorization: Bearer <token>\")", cfg_shown(&q, s));
    return !blank;
}

/* 1 if the admin address is only reachable from this host. */
static bool cfg_admin_local(const struct mrd_cfg_addr *a)
{
    return strncasecmp(a->text, "localhost:", 10) == 0 || mrd_cfg_addr_is_loopback(a);
}

/* admin: address, token_file. */
static void cfg_admin(struct cfg_ctx *ctx, const struct cfg_node *key, const struct cfg_node *map)
{
    static const char *const keys[] = { "address", "token_file", NULL };
    struct mrd_cfg_admin *a = &ctx->cfg->admin;
    const struct mrd_cfg_server *srv = &ctx->cfg->server;
    struct cfg_field f[2];
    const char *s, *env;
    struct cfg_q q;

    a->enabled = true;
    a->loc = cfg_loc(ctx, key);
    if (!cfg_want(ctx, map, CFG_MAP, "admin"))
        return;
    cfg_fields(ctx, map, "admin", keys, NULL, f);
    if (f[1].val && (s = cfg_text(ctx, f[1].val, "admin.token_file"))) {
        if (!*s)
            cfg_err(ctx, f[1].val, "admin.token_file: empty; expected the path of a file that "
                    "holds the admin token");
        else if (cfg_token_file(ctx, f[1].key, s))
            a->token_file = cfg_keep(ctx, s, strlen(s));
    }
    if (!f[0].val) {
        cfg_missing(ctx, map, "admin", "address", " (e.g. address: \"127.0.0.1:9901\")");
        return;
    }
    if (!cfg_addr(ctx, f[0].val, "admin.address", &a->addr))
        return;
    for (size_t i = 0; i < srv->n_listen; i++)
        if (cfg_same_addr(&srv->listen[i].addr, &a->addr))
            cfg_err(ctx, f[0].val, "admin.address: %s is also a server.listen address (line %d); "
                    "use another port", cfg_quote(&q, a->addr.text, strlen(a->addr.text)),
                    srv->listen[i].loc.line);
    /* A token_file with a problem is reported above; do not pile a second error on it. */
    env = getenv("MERIDIAN_ADMIN_TOKEN");
    if (!f[1].val && !(env && *env) && !cfg_admin_local(&a->addr))
        cfg_err(ctx, f[0].val, "admin.address: refusing a non-loopback admin address without a "
                "token (token_file or MERIDIAN_ADMIN_TOKEN)");
}

/* ---- geo ---- */

/* One geo.networks entry. */
static void cfg_geo_net(struct cfg_ctx *ctx, struct mrd_cfg_geo *g, const struct cfg_node *map,
                        const char *path)
{
    static const char *const keys[] = { "cidr", "region", "country", "latitude", "longitude",
                                        NULL };
    struct mrd_cfg_geo_net *n = &g->networks[g->n_networks];
    struct cfg_field f[5];
    char sub[256], key[80], ip[INET6_ADDRSTRLEN];
    const char *s;
    const struct mrd_cfg_geo_net *o;
    struct cfg_q q;
    bool ok = true;

    n->region = -1;
    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    n->loc = cfg_loc(ctx, map);
    cfg_fields(ctx, map, path, keys, NULL, f);
    cfg_path(sub, sizeof(sub), "%s.cidr", path);
    if (!f[0].val) {
        cfg_missing(ctx, map, path, "cidr", " (e.g. cidr: \"203.0.113.0/24\")");
        ok = false;
    } else if (!(s = cfg_text(ctx, f[0].val, sub))) {
        ok = false;
    } else if (mrd_cfg_parse_cidr(s, &n->cidr) < 0) {
        cfg_err(ctx, f[0].val, "%s: bad CIDR %s; expected e.g. 203.0.113.0/24, 192.0.2.7 or "
                "2001:db8::/32", sub, cfg_quote(&q, f[0].val->text, f[0].val->len));
        ok = false;
    } else {
        /* The same prefix twice would make "most specific wins" ambiguous. */
        inet_ntop(n->cidr.family, n->cidr.addr, ip, sizeof(ip));
        snprintf(key, sizeof(key), "%s/%u", ip, n->cidr.prefix);
        if ((o = cfg_hget(ctx->net_h, key))) {
            cfg_err(ctx, f[0].val, "%s: network %s is listed twice (also at line %d)", sub, key,
                    o->loc.line);
            ok = false;
        } else {
            const char *k = mrd_arena_strndup(&ctx->tmp, key, strlen(key));
            ok = k && cfg_hput(ctx, &ctx->net_h, k, n);
        }
    }
    if (f[1].val)
        ok &= cfg_region(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.region", path), &n->region);
    if (f[2].val)
        ok &= (n->country = cfg_country(ctx, f[2].val, cfg_path(sub, sizeof(sub), "%s.country",
                                                                  path))) != NULL;
    ok &= cfg_coords(ctx, &f[3], &f[4], path, &n->has_coords, &n->latitude, &n->longitude);
    if (ok)
        g->n_networks++;
    else
        memset(n, 0, sizeof(*n));
}

/* Reports why the geo lookup cannot be opened: at the mmdb key when the database is the
 * problem (<mmdb>, or geo.c's message says so). */
static void cfg_geo_open_failed(struct cfg_ctx *ctx, const struct cfg_node *key,
                                const struct cfg_field *f, bool mmdb, const char *why)
{
    const struct mrd_cfg_geo *g = &ctx->cfg->geo;
    char pre[300];
    const char *reason = why;
    struct cfg_q q;

    if (!why[0])
        why = reason = "unknown error";
    if (g->mmdb && (mmdb || strncmp(why, "geo.mmdb", 8) == 0 || strstr(why, g->mmdb))) {
        /* geo.c says 'geo.mmdb "<path>": cannot read it: <reason>'; keep only the reason. */
        snprintf(pre, sizeof(pre), "geo.mmdb \"%s\": ", g->mmdb);
        if (strncmp(reason, pre, strlen(pre)) == 0)
            reason += strlen(pre);
        if (strncmp(reason, "cannot read it: ", 16) == 0)
            reason += 16;
        cfg_err(ctx, f[0].key, "geo.mmdb: cannot open %s: %s", cfg_shown(&q, g->mmdb), reason);
    } else {
        cfg_err(ctx, f[1].key ? f[1].key : key, "%s%s", strncmp(why, "geo", 3) ? "geo: " : "", why);
    }
}

/* geo: mmdb, networks; then opens the lookup so a bad mmdb fails the load, not a request. */
static void cfg_geo(struct cfg_ctx *ctx, const struct cfg_node *key, const struct cfg_node *map)
{
    static const char *const keys[] = { "mmdb", "networks", NULL };
    struct mrd_cfg_geo *g = &ctx->cfg->geo;
    struct cfg_field f[2];
    char why[256], sub[64];
    const char *s;
    size_t i = 0;

    if (!cfg_want(ctx, map, CFG_MAP, "geo"))
        return;
    cfg_fields(ctx, map, "geo", keys, NULL, f);
    if (f[0].val && (s = cfg_text(ctx, f[0].val, "geo.mmdb"))) {
        if (!*s)
            cfg_err(ctx, f[0].val, "geo.mmdb: empty; expected the path of a MaxMind-format "
                    ".mmdb file (or leave mmdb out)");
        else
            g->mmdb = cfg_keep(ctx, s, strlen(s));
    }
    if (f[1].val && cfg_want(ctx, f[1].val, CFG_SEQ, "geo.networks") &&
        (g->networks = cfg_array(ctx, f[1].val->n, sizeof(*g->networks)))) {
        for (struct cfg_item *it = f[1].val->first; it; it = it->next, i++) {
            if (!cfg_tick(ctx, f[1].val))
                break;
            cfg_geo_net(ctx, g, it->val, cfg_path(sub, sizeof(sub), "geo.networks[%zu]", i));
        }
    }
    if (ctx->oom)
        return;
    why[0] = 0;
    if (g->mmdb && (s = cfg_not_regular(g->mmdb)))
        cfg_geo_open_failed(ctx, key, f, true, s);
    else if (!(g->db = mrd_geo_open(g, why, sizeof(why))))
        cfg_geo_open_failed(ctx, key, f, false, why);
}

/* ---- monitors ---- */

/* Appends the comma-separated codes of scalar <n> ("200", "2xx, 301") to m->codes. */
static void cfg_codes_text(struct cfg_ctx *ctx, struct mrd_cfg_monitor *m, const struct cfg_node *n,
                           const char *path)
{
    const char *s = cfg_scalar(ctx, n, path, "status codes such as \"2xx\" or \"200,301\"");
    struct cfg_q q;

    if (!s)
        return;
    for (const char *p = s;; p++) {
        const char *e = strchr(p, ','), *b = p;
        size_t len;
        if (!e)
            e = p + strlen(p);
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        len = (size_t)(e - b);
        while (len && (b[len - 1] == ' ' || b[len - 1] == '\t'))
            len--;
        if (m->n_codes == CFG_MAX_CODES) {
            cfg_err(ctx, n, "%s: more than %d status codes", path, CFG_MAX_CODES);
            return;
        }
        if (mrd_cfg_parse_code_range(b, len, &m->codes[m->n_codes]) < 0) {
            cfg_err(ctx, n, "%s: bad status code %s; expected a code 100..599 or a class "
                    "1xx..5xx, e.g. \"200\", \"2xx\" or \"200,301\"", path, cfg_quote(&q, b, len));
            return;
        }
        m->n_codes++;
        if (!*e)
            return;
        p = e;
    }
}

/* monitors.<m>.expected_codes: a string or a list of strings. */
static void cfg_codes(struct cfg_ctx *ctx, struct mrd_cfg_monitor *m, const struct cfg_node *n,
                      const char *path)
{
    char sub[256];
    size_t i = 0;

    m->n_codes = 0;
    if (!(m->codes = cfg_array(ctx, CFG_MAX_CODES, sizeof(*m->codes))))
        return;
    if (n->kind != CFG_SEQ) {
        cfg_codes_text(ctx, m, n, path);
    } else if (n->n == 0) {
        cfg_err(ctx, n, "%s: expected at least one status code, e.g. \"2xx\"", path);
    } else {
        for (struct cfg_item *it = n->first; it; it = it->next, i++) {
            if (!cfg_tick(ctx, n))
                return;
            cfg_codes_text(ctx, m, it->val, cfg_path(sub, sizeof(sub), "%s[%zu]", path, i));
        }
    }
}

/* A header value: one line of visible text (tabs allowed). NULL if bad (reported). */
static const char *cfg_hdr_value(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path)
{
    const char *s = cfg_text(ctx, n, path);
    struct cfg_q q;
    size_t len;

    if (!s)
        return NULL;
    len = strlen(s);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f || len > CFG_MAX_HDR_VALUE) {
            cfg_err(ctx, n, "%s: bad header value %s; expected at most %d bytes without CR, LF "
                    "or other control characters", path, cfg_quote(&q, n->text, n->len),
                    CFG_MAX_HDR_VALUE);
            return NULL;
        }
    }
    return cfg_keep(ctx, s, len);
}

/* monitors.<m>.header: { Name: value } or { Name: [value, ...] } (the first value is sent). */
static void cfg_mon_headers(struct cfg_ctx *ctx, struct mrd_cfg_monitor *m,
                            const struct cfg_node *map, const char *path)
{
    char sub[256], lab[64];

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    if (map->n > CFG_MAX_MON_HDRS) {
        cfg_err(ctx, map, "%s: more than %d headers", path, CFG_MAX_MON_HDRS);
        return;
    }
    if (!(m->hdr_names = cfg_array(ctx, map->n, sizeof(*m->hdr_names))) ||
        !(m->hdr_values = cfg_array(ctx, map->n, sizeof(*m->hdr_values))))
        return;
    for (struct cfg_item *it = map->first; it; it = it->next) {
        const struct cfg_node *v = it->val;
        const char *name, *val;
        bool dup = false;
        if (!cfg_tick(ctx, map))
            return;
        if (it->skip)
            continue;
        cfg_path(sub, sizeof(sub), "%s.%s", path, cfg_label(lab, sizeof(lab), it->key));
        if (!(name = cfg_hdr_name(ctx, it->key, sub)))
            continue;
        if (v->kind == CFG_SEQ && v->n == 0) {
            cfg_err(ctx, v, "%s: expected a value or a list of values, got an empty list", sub);
            continue;
        }
        if (v->kind == CFG_SEQ) {
            char vp[280];
            val = cfg_hdr_value(ctx, v->first->val, cfg_path(vp, sizeof(vp), "%s[0]", sub));
        } else {
            val = cfg_hdr_value(ctx, v, sub);
        }
        if (!val)
            continue;
        dup = m->host && cfg_eq_nocase(name, "host");
        for (size_t i = 0; i < m->n_hdrs && !dup; i++)
            dup = cfg_eq_nocase(m->hdr_names[i], name);
        if (dup) {
            cfg_err(ctx, it->key, "%s: header '%s' is given twice (names ignore case)", sub, name);
        } else if (cfg_eq_nocase(name, "host")) {
            if (!*val)
                cfg_err(ctx, v, "%s: the Host header cannot be empty", sub);
            m->host = val;
        } else {
            m->hdr_names[m->n_hdrs] = name;
            m->hdr_values[m->n_hdrs++] = val;
        }
    }
}

/* Checks a probe request path: starts with '/', no spaces or control characters. */
static void cfg_mon_path(struct cfg_ctx *ctx, struct mrd_cfg_monitor *m, const struct cfg_node *n,
                         const char *path)
{
    const char *s = cfg_text(ctx, n, path);
    struct cfg_q q;
    bool ok;

    if (!s)
        return;
    ok = s[0] == '/' && strlen(s) <= CFG_MAX_MON_PATH;
    for (const char *p = s; ok && *p; p++)
        ok = (unsigned char)*p > 0x20 && *p != 0x7f;
    if (!ok)
        cfg_err(ctx, n, "%s: bad path %s; expected a path starting with '/' (at most %d bytes, "
                "no spaces or control characters), e.g. /healthz", path,
                cfg_quote(&q, n->text, n->len), CFG_MAX_MON_PATH);
    else
        m->path = cfg_keep(ctx, s, strlen(s));
}

/* Fills the documented monitor defaults. */
static bool cfg_mon_defaults(struct cfg_ctx *ctx, struct mrd_cfg_monitor *m)
{
    m->type = MRD_MON_HTTP;
    m->method = "GET";
    m->path = "/";
    m->interval_ms = 60000;
    m->timeout_ms = 5000;
    m->retries = 2;
    m->consecutive_up = 1;
    m->consecutive_down = 1;
    if (!(m->codes = cfg_array(ctx, 1, sizeof(*m->codes))))
        return false;
    m->codes[0].lo = 200;
    m->codes[0].hi = 299;
    m->n_codes = 1;
    return true;
}

enum { MON_TYPE, MON_METHOD, MON_PATH, MON_HEADER, MON_CODES, MON_BODY, MON_INTERVAL, MON_TIMEOUT,
       MON_RETRIES, MON_UP, MON_DOWN, MON_INSECURE, MON_NKEYS };

/* The request part of a monitor (method, path, header, expected_*): http and https only. */
static void cfg_mon_request(struct cfg_ctx *ctx, struct mrd_cfg_monitor *m,
                            const struct cfg_field *f, const char *path)
{
    char sub[256];
    const char *s;
    struct cfg_q q;

    if (m->type == MRD_MON_TCP) {
        for (int i = MON_METHOD; i <= MON_BODY; i++)
            if (f[i].key)
                cfg_err(ctx, f[i].key, "%s.%.*s: only http and https monitors send a request; "
                        "remove it or set type: http", path, (int)f[i].key->len, f[i].key->text);
        return;
    }
    if (f[MON_METHOD].val &&
        (s = cfg_text(ctx, f[MON_METHOD].val, cfg_path(sub, sizeof(sub), "%s.method", path)))) {
        if (!mrd_cfg_is_token(s, strlen(s)) || strlen(s) > 32)
            cfg_err(ctx, f[MON_METHOD].val, "%s: bad method %s; expected a method such as GET "
                    "or HEAD", sub, cfg_quote(&q, f[MON_METHOD].val->text, f[MON_METHOD].val->len));
        else
            m->method = cfg_keep(ctx, s, strlen(s));
    }
    if (f[MON_PATH].val)
        cfg_mon_path(ctx, m, f[MON_PATH].val, cfg_path(sub, sizeof(sub), "%s.path", path));
    if (f[MON_HEADER].val)
        cfg_mon_headers(ctx, m, f[MON_HEADER].val, cfg_path(sub, sizeof(sub), "%s.header", path));
    if (f[MON_CODES].val)
        cfg_codes(ctx, m, f[MON_CODES].val, cfg_path(sub, sizeof(sub), "%s.expected_codes", path));
    if (f[MON_BODY].val) {
        const struct cfg_node *b = f[MON_BODY].val;
        cfg_path(sub, sizeof(sub), "%s.expected_body", path);
        if ((s = cfg_text(ctx, b, sub)) && strlen(s) > CFG_MAX_MON_BODY)
            cfg_err(ctx, b, "%s: longer than %d bytes", sub, CFG_MAX_MON_BODY);
        else if (s)
            m->expected_body = cfg_keep(ctx, s, strlen(s));
    }
}

/* The schedule of a monitor: interval, timeout (< interval), retries, consecutive_*. */
static void cfg_mon_schedule(struct cfg_ctx *ctx, struct mrd_cfg_monitor *m,
                             const struct cfg_field *f, const char *path)
{
    char sub[256];
    long long v;
    bool iv_ok = true, to_ok = true;

    if (f[MON_INTERVAL].val)
        iv_ok = cfg_duration(ctx, f[MON_INTERVAL].val,
                             cfg_path(sub, sizeof(sub), "%s.interval", path), 100, 3600000,
                             "100ms..1h", &m->interval_ms);
    if (f[MON_TIMEOUT].val)
        to_ok = cfg_duration(ctx, f[MON_TIMEOUT].val,
                             cfg_path(sub, sizeof(sub), "%s.timeout", path), CFG_MS_MIN, 3600000,
                             "1ms..1h", &m->timeout_ms);
    if (iv_ok && to_ok && m->timeout_ms >= m->interval_ms) {
        /* Point at what the user wrote: the timeout if given, else the interval. */
        const struct cfg_node *at = f[MON_TIMEOUT].val ? f[MON_TIMEOUT].val : f[MON_INTERVAL].val;
        cfg_err(ctx, at, "%s.%s: the timeout (%llums) must be shorter than the interval (%llums)%s",
                path, f[MON_TIMEOUT].val ? "timeout" : "interval",
                (unsigned long long)m->timeout_ms, (unsigned long long)m->interval_ms,
                f[MON_TIMEOUT].val ? "" : "; the default timeout is 5s, set a shorter one");
    }
    if (f[MON_RETRIES].val &&
        cfg_int(ctx, f[MON_RETRIES].val, cfg_path(sub, sizeof(sub), "%s.retries", path), 0, 10, &v))
        m->retries = (uint32_t)v;
    if (f[MON_UP].val &&
        cfg_int(ctx, f[MON_UP].val, cfg_path(sub, sizeof(sub), "%s.consecutive_up", path), 1,
                100, &v))
        m->consecutive_up = (uint32_t)v;
    if (f[MON_DOWN].val &&
        cfg_int(ctx, f[MON_DOWN].val, cfg_path(sub, sizeof(sub), "%s.consecutive_down", path), 1,
                100, &v))
        m->consecutive_down = (uint32_t)v;
}

/* One monitor; its name is registered even when its body is bad, so references stay quiet. */
static void cfg_monitor(struct cfg_ctx *ctx, struct mrd_cfg_monitor *m, const struct cfg_node *key,
                        const struct cfg_node *map)
{
    static const char *const keys[] = {
        "type", "method", "path", "header", "expected_codes", "expected_body", "interval",
        "timeout", "retries", "consecutive_up", "consecutive_down", "allow_insecure", NULL,
    };
    static const char *const types[] = { "http", "https", "tcp", NULL };
    struct cfg_field f[MON_NKEYS];
    char path[128], sub[256], lab[64];
    int t = 0;

    cfg_path(path, sizeof(path), "monitors.%s", cfg_label(lab, sizeof(lab), key));
    m->loc = cfg_loc(ctx, key);
    cfg_name(ctx, key, path);
    m->name = cfg_keep(ctx, key->text, key->len);
    if (!m->name || !cfg_mon_defaults(ctx, m) || !cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, NULL, f);
    if (f[MON_TYPE].val && cfg_enum(ctx, f[MON_TYPE].val,
                                    cfg_path(sub, sizeof(sub), "%s.type", path), types, NULL, &t))
        m->type = (enum mrd_cfg_monitor_type)t;
    else if (f[MON_TYPE].val)
        t = -1; /* the request keys depend on the type: not checked against a bad one */
    if (!f[MON_TYPE].val || t >= 0)
        cfg_mon_request(ctx, m, f, path);
    cfg_mon_schedule(ctx, m, f, path);
    if (f[MON_INSECURE].val)
        cfg_bool(ctx, f[MON_INSECURE].val, cfg_path(sub, sizeof(sub), "%s.allow_insecure", path),
                 &m->allow_insecure);
}

/* monitors: name -> monitor. */
static void cfg_monitors(struct cfg_ctx *ctx, const struct cfg_node *map)
{
    struct mrd_cfg *cfg = ctx->cfg;

    if (!cfg_want(ctx, map, CFG_MAP, "monitors"))
        return;
    if (!(cfg->monitors = cfg_array(ctx, map->n, sizeof(*cfg->monitors))))
        return;
    for (struct cfg_item *it = map->first; it; it = it->next) {
        struct mrd_cfg_monitor *m = &cfg->monitors[cfg->n_monitors];
        if (!cfg_tick(ctx, map))
            return;
        if (it->skip)
            continue;
        cfg_monitor(ctx, m, it->key, it->val);
        if (m->name)
            cfg_hput(ctx, &ctx->mon_h, m->name, m);
        cfg->n_monitors++;
    }
}

/* An origin's tls, sni and allow_insecure (f[0..2]); sni and allow_insecure need tls. */
static bool cfg_origin_tls(struct cfg_ctx *ctx, struct mrd_cfg_origin *o, const struct cfg_field *f,
                           const char *path)
{
    char sub[256];
    bool ok = true;
    struct cfg_q q;

    if (f[0].val)
        ok = cfg_bool(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.tls", path), &o->tls);
    if (f[2].val)
        ok = cfg_bool(ctx, f[2].val, cfg_path(sub, sizeof(sub), "%s.allow_insecure", path),
                      &o->allow_insecure) && ok;
    if (f[1].val) {
        unsigned char ip[16];
        const char *h = cfg_host(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.sni", path));
        if (h && (h[0] == '*' || inet_pton(AF_INET, h, ip) == 1)) {
            cfg_err(ctx, f[1].val, "%s: %s is not a host name; expected the origin's DNS name, "
                    "e.g. origin.example.com", sub, cfg_quote(&q, f[1].val->text, f[1].val->len));
            h = NULL;
        }
        o->sni = h;
        ok = h && ok;
    }
    for (int i = 1; i <= 2 && ok; i++) {
        if (f[i].val && !o->tls) {
            cfg_err(ctx, f[i].key, "%s.%s: only applies to HTTPS origins; add tls: true (or "
                    "remove it)", path, i == 1 ? "sni" : "allow_insecure");
            ok = false;
        }
    }
    return ok;
}

/* One origin of a pool. Returns true if it was stored. */
static bool cfg_origin(struct cfg_ctx *ctx, struct mrd_cfg_pool *pool, const struct cfg_node *map,
                       const char *path)
{
    static const char *const keys[] = { "name", "address", "weight", "enabled", "max_in_flight",
                                        "tls", "sni", "allow_insecure", NULL };
    static const char *const planned[] = { "version", NULL };
    struct mrd_cfg_origin *o = &pool->origins[pool->n_origins];
    struct cfg_field f[8];
    char sub[256];
    long long w;
    bool ok = true;

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return false;
    cfg_fields(ctx, map, path, keys, planned, f);
    o->weight = 1;
    o->enabled = true;
    o->loc = cfg_loc(ctx, map);
    if (!f[0].val) {
        cfg_missing(ctx, map, path, "name", NULL);
        ok = false;
    } else if (cfg_name(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.name", path))) {
        for (size_t i = 0; i < pool->n_origins; i++) {
            if (strcmp(pool->origins[i].name, f[0].val->text) == 0) {
                cfg_err(ctx, f[0].val, "%s: duplicate origin name '%s' in pool '%s' (also at line %d)",
                        sub, f[0].val->text, pool->name, pool->origins[i].loc.line);
                ok = false;
            }
        }
        o->name = cfg_keep(ctx, f[0].val->text, f[0].val->len);
    } else {
        ok = false;
    }
    if (!f[1].val) {
        cfg_missing(ctx, map, path, "address", NULL);
        ok = false;
    } else if (!cfg_addr(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.address", path), &o->addr)) {
        ok = false;
    }
    if (f[2].val) {
        if (cfg_int(ctx, f[2].val, cfg_path(sub, sizeof(sub), "%s.weight", path), 0, 1000000, &w))
            o->weight = (uint32_t)w;
    }
    if (f[3].val)
        cfg_bool(ctx, f[3].val, cfg_path(sub, sizeof(sub), "%s.enabled", path), &o->enabled);
    if (f[4].val && cfg_int(ctx, f[4].val, cfg_path(sub, sizeof(sub), "%s.max_in_flight", path), 0,
                            10000000, &w))
        o->max_in_flight = (uint32_t)w;
    if (!cfg_origin_tls(ctx, o, f + 5, path))
        ok = false;
    if (ok && o->name)
        pool->n_origins++;
    return ok;
}

/* pools.<name>.keepalive */
static void cfg_keepalive(struct cfg_ctx *ctx, struct mrd_cfg_pool *pool, const struct cfg_node *map,
                          const char *path)
{
    static const char *const keys[] = { "min_idle", "max_idle", "idle_timeout", NULL };
    struct cfg_field f[3];
    char sub[256];
    long long v;
    bool min_ok = false, max_ok = true;

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, NULL, f);
    if (f[0].val && cfg_int(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.min_idle", path), 0,
                            10000, &v)) {
        pool->keepalive.min_idle = (uint32_t)v;
        min_ok = true;
    }
    if (f[1].val) {
        max_ok = cfg_int(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.max_idle", path), 0,
                         10000, &v);
        if (max_ok)
            pool->keepalive.max_idle = (uint32_t)v;
    }
    if (f[2].val)
        cfg_duration(ctx, f[2].val, cfg_path(sub, sizeof(sub), "%s.idle_timeout", path), CFG_MS_MIN,
                     86400000, "1ms..1d", &pool->keepalive.idle_timeout_ms);
    /* Warm connections are idle ones, so they count against max_idle. */
    if (min_ok && max_ok && pool->keepalive.min_idle > pool->keepalive.max_idle) {
        struct cfg_q q;
        cfg_err(ctx, f[0].val, "%s.min_idle: %s is more than max_idle (%u%s); expected "
                "0..max_idle", path, cfg_quote(&q, f[0].val->text, f[0].val->len),
                pool->keepalive.max_idle, f[1].val ? "" : ", the default");
        pool->keepalive.min_idle = 0;
    }
}

/* pools.<name>.passive_health (extension): outlier ejection from live traffic. */
static void cfg_passive(struct cfg_ctx *ctx, struct mrd_cfg_pool *pool, const struct cfg_node *map,
                        const char *path)
{
    static const char *const keys[] = { "consecutive_errors", "count_5xx", "base_ejection",
                                        "max_ejection", NULL };
    struct mrd_cfg_passive *ph = &pool->passive;
    struct cfg_field f[4];
    char sub[256];
    long long v;
    bool base_ok = true, max_ok = true;

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, NULL, f);
    if (f[0].val &&
        cfg_int(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.consecutive_errors", path), 0, 1000,
                &v))
        ph->consecutive_errors = (uint32_t)v;
    if (f[1].val)
        cfg_bool(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.count_5xx", path), &ph->count_5xx);
    if (f[2].val)
        base_ok = cfg_duration(ctx, f[2].val, cfg_path(sub, sizeof(sub), "%s.base_ejection", path),
                               CFG_MS_MIN, 86400000, "1ms..1d", &ph->base_ejection_ms);
    if (f[3].val)
        max_ok = cfg_duration(ctx, f[3].val, cfg_path(sub, sizeof(sub), "%s.max_ejection", path),
                              CFG_MS_MIN, 86400000, "1ms..1d", &ph->max_ejection_ms);
    if (base_ok && max_ok && ph->max_ejection_ms < ph->base_ejection_ms) {
        const struct cfg_node *at = f[3].val ? f[3].val : f[2].val;
        cfg_err(ctx, at, "%s.%s: max_ejection (%llums) must not be shorter than base_ejection "
                "(%llums)", path, f[3].val ? "max_ejection" : "base_ejection",
                (unsigned long long)ph->max_ejection_ms, (unsigned long long)ph->base_ejection_ms);
    }
}

/* pools.<name>.minimum_origins: checked against the origins as written, good or not. */
static void cfg_min_origins(struct cfg_ctx *ctx, struct mrd_cfg_pool *pool,
                            const struct cfg_node *n, size_t n_written, const char *path)
{
    struct cfg_q q;
    long long v;

    if (!cfg_int(ctx, n, path, 1, 1000000, &v))
        return;
    if (n_written && (size_t)v > n_written) {
        cfg_err(ctx, n, "%s: %s is more than the pool's %zu origin%s; expected 1..%zu", path,
                cfg_quote(&q, n->text, n->len), n_written, n_written == 1 ? "" : "s", n_written);
        return;
    }
    pool->minimum_origins = (uint32_t)v;
}

/* pools.<name>.monitor: a name from monitors:. */
static void cfg_pool_monitor(struct cfg_ctx *ctx, struct mrd_cfg_pool *pool,
                             const struct cfg_node *n, const char *path)
{
    const char *s = cfg_text(ctx, n, path);
    struct cfg_q q;

    if (!s)
        return;
    if (!(pool->monitor = cfg_hget(ctx->mon_h, s)))
        cfg_err(ctx, n, "%s: no monitor named %s; define it under monitors:", path,
                cfg_quote(&q, n->text, n->len));
}

/* Fills the documented pool defaults. */
static void cfg_pool_defaults(struct mrd_cfg_pool *pool)
{
    pool->keepalive.max_idle = 64;
    pool->keepalive.idle_timeout_ms = 60000;
    pool->origin_steering = MRD_STEER_RANDOM;
    pool->region = -1;
    pool->minimum_origins = 1;
    pool->passive.consecutive_errors = 3;
    pool->passive.base_ejection_ms = 30000;
    pool->passive.max_ejection_ms = 300000;
}

enum { POOL_REGION, POOL_LAT, POOL_LON, POOL_MONITOR, POOL_MIN, POOL_KEEPALIVE, POOL_STEER,
       POOL_ORIGINS, POOL_PASSIVE, POOL_NKEYS };

/* pools.<name>.origins */
static void cfg_pool_origins(struct cfg_ctx *ctx, struct mrd_cfg_pool *pool,
                             const struct cfg_node *map, const struct cfg_node *seq,
                             const char *path)
{
    char sub[256];
    size_t i = 0;

    if (!seq) {
        cfg_missing(ctx, map, path, "origins", " (a pool needs at least one origin)");
        return;
    }
    cfg_path(sub, sizeof(sub), "%s.origins", path);
    if ((seq->kind == CFG_SCALAR && seq->null) || (seq->kind == CFG_SEQ && seq->n == 0)) {
        cfg_err(ctx, seq, "%s: a pool needs at least one origin, e.g. "
                "- { name: a, address: \"10.0.0.1:8080\" }", sub);
        return;
    }
    if (!cfg_want(ctx, seq, CFG_SEQ, sub))
        return;
    if (!(pool->origins = cfg_array(ctx, seq->n, sizeof(*pool->origins))))
        return;
    for (struct cfg_item *it = seq->first; it; it = it->next, i++) {
        if (!cfg_tick(ctx, seq))
            return;
        cfg_origin(ctx, pool, it->val, cfg_path(sub, sizeof(sub), "%s.origins[%zu]", path, i));
    }
}

/* One pool; its name is registered even when its body is bad, so references stay quiet. */
static void cfg_pool(struct cfg_ctx *ctx, struct mrd_cfg_pool *pool, const struct cfg_node *key,
                     const struct cfg_node *map)
{
    static const char *const keys[] = {
        "region", "latitude", "longitude", "monitor", "minimum_origins", "keepalive",
        "origin_steering", "origins", "passive_health", NULL,
    };
    static const char *const steer[] = { "random", "round_robin", "least_outstanding_requests",
                                         "least_connections", "hash", NULL };
    struct cfg_field f[POOL_NKEYS];
    char path[128], sub[256], lab[64];
    int st;

    cfg_path(path, sizeof(path), "pools.%s", cfg_label(lab, sizeof(lab), key));
    cfg_pool_defaults(pool);
    pool->loc = cfg_loc(ctx, key);
    cfg_name(ctx, key, path);
    pool->name = cfg_keep(ctx, key->text, key->len);
    if (!pool->name || !cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, NULL, f);
    if (f[POOL_REGION].val)
        cfg_region(ctx, f[POOL_REGION].val, cfg_path(sub, sizeof(sub), "%s.region", path),
                   &pool->region);
    cfg_coords(ctx, &f[POOL_LAT], &f[POOL_LON], path, &pool->has_coords, &pool->latitude,
               &pool->longitude);
    if (f[POOL_MONITOR].val)
        cfg_pool_monitor(ctx, pool, f[POOL_MONITOR].val,
                         cfg_path(sub, sizeof(sub), "%s.monitor", path));
    if (f[POOL_STEER].val &&
        cfg_enum(ctx, f[POOL_STEER].val, cfg_path(sub, sizeof(sub), "%s.origin_steering", path),
                 steer, NULL, &st))
        pool->origin_steering = (enum mrd_cfg_origin_steering)st;
    if (f[POOL_KEEPALIVE].val)
        cfg_keepalive(ctx, pool, f[POOL_KEEPALIVE].val,
                      cfg_path(sub, sizeof(sub), "%s.keepalive", path));
    if (f[POOL_PASSIVE].val)
        cfg_passive(ctx, pool, f[POOL_PASSIVE].val,
                    cfg_path(sub, sizeof(sub), "%s.passive_health", path));
    cfg_pool_origins(ctx, pool, map, f[POOL_ORIGINS].val, path);
    if (f[POOL_MIN].val)
        cfg_min_origins(ctx, pool, f[POOL_MIN].val,
                        f[POOL_ORIGINS].val && f[POOL_ORIGINS].val->kind == CFG_SEQ
                            ? f[POOL_ORIGINS].val->n : 0,
                        cfg_path(sub, sizeof(sub), "%s.minimum_origins", path));
}

/* pools: name -> pool; numbers pools and, across them in file order, origins. */
static void cfg_pools(struct cfg_ctx *ctx, const struct cfg_node *map)
{
    struct mrd_cfg *cfg = ctx->cfg;

    if (!cfg_want(ctx, map, CFG_MAP, "pools"))
        return;
    if (!(cfg->pools = cfg_array(ctx, map->n, sizeof(*cfg->pools))))
        return;
    for (struct cfg_item *it = map->first; it; it = it->next) {
        struct mrd_cfg_pool *p = &cfg->pools[cfg->n_pools];
        if (!cfg_tick(ctx, map))
            return;
        if (it->skip)
            continue;
        cfg_pool(ctx, p, it->key, it->val);
        if (p->name)
            cfg_hput(ctx, &ctx->pool_h, p->name, p);
        p->index = (uint32_t)cfg->n_pools++;
        for (size_t i = 0; i < p->n_origins; i++)
            p->origins[i].flat = (uint32_t)cfg->n_origins++;
    }
}

/* A list of pool names -> borrowed pool pointers; dangling names point at themselves. */
static void cfg_pool_list(struct cfg_ctx *ctx, const struct cfg_node *seq, const char *path,
                          struct mrd_cfg_pool ***out, size_t *n_out)
{
    size_t i = 0;

    if (!cfg_want(ctx, seq, CFG_SEQ, path))
        return;
    if (seq->n == 0) {
        cfg_err(ctx, seq, "%s: expected at least one pool name", path);
        return;
    }
    if (!(*out = cfg_array(ctx, seq->n, sizeof(**out))))
        return;
    for (struct cfg_item *it = seq->first; it; it = it->next, i++) {
        char sub[256];
        const char *s;
        struct mrd_cfg_pool *p;
        struct cfg_q q;
        bool dup = false;
        if (!cfg_tick(ctx, seq))
            return;
        cfg_path(sub, sizeof(sub), "%s[%zu]", path, i);
        if (!(s = cfg_text(ctx, it->val, sub)))
            continue;
        if (!(p = cfg_hget(ctx->pool_h, s))) {
            cfg_err(ctx, it->val, "%s: no pool named %s; define it under pools:", sub,
                    cfg_quote(&q, it->val->text, it->val->len));
            continue;
        }
        for (size_t j = 0; j < *n_out; j++)
            dup |= (*out)[j] == p;
        if (dup) {
            cfg_err(ctx, it->val, "%s: pool '%s' is listed twice", sub, p->name);
            continue;
        }
        (*out)[(*n_out)++] = p;
    }
}

/* One method token of a match; case-sensitive, so lower case is refused. */
static void cfg_method(struct cfg_ctx *ctx, struct mrd_cfg_rule *r, const struct cfg_node *v,
                       const char *path)
{
    const char *s = cfg_text(ctx, v, path);
    struct cfg_q q;
    bool ok;

    if (!s)
        return;
    ok = *s != 0;
    for (const char *p = s; ok && *p; p++)
        ok = (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~", *p);
    if (!ok)
        cfg_err(ctx, v, "%s: bad method %s; expected an upper-case method such as GET or POST "
                "(methods are case-sensitive)", path, cfg_quote(&q, v->text, v->len));
    else
        r->methods[r->n_methods++] = cfg_keep(ctx, s, strlen(s));
}

/* rules[].match */
static void cfg_match(struct cfg_ctx *ctx, struct mrd_cfg_rule *r, const struct cfg_node *map,
                      const char *path)
{
    static const char *const keys[] = { "path", "host", "method", NULL };
    static const char *const planned[] = { "header", NULL };
    struct cfg_field f[3];
    char sub[256];
    const char *s;
    struct cfg_q q;

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, planned, f);
    if (f[0].val && (s = cfg_text(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.path", path)))) {
        bool ok = s[0] == '/' || strcmp(s, "*") == 0;
        for (const char *p = s; ok && *p; p++)
            ok = (unsigned char)*p > 0x20 && *p != 0x7f;
        if (!ok)
            cfg_err(ctx, f[0].val, "%s: bad path glob %s; expected '*' or a path starting with '/' "
                    "without spaces, e.g. /api/*", sub, cfg_quote(&q, f[0].val->text, f[0].val->len));
        else
            r->path = cfg_keep(ctx, s, strlen(s));
    }
    if (f[1].val)
        r->host = cfg_host(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.host", path));
    if (f[2].val) {
        const struct cfg_node *m = f[2].val;
        size_t i = 0;
        cfg_path(sub, sizeof(sub), "%s.method", path);
        if (m->kind == CFG_MAP || (m->kind == CFG_SEQ && m->n == 0)) {
            cfg_err(ctx, m, "%s: expected a method or a list of methods, e.g. [GET, HEAD], got %s",
                    sub, m->kind == CFG_MAP ? "a mapping" : "an empty list");
            return;
        }
        if (!(r->methods = cfg_array(ctx, m->kind == CFG_SEQ ? m->n : 1, sizeof(*r->methods))))
            return;
        if (m->kind == CFG_SCALAR) {
            cfg_method(ctx, r, m, sub);
            return;
        }
        for (struct cfg_item *it = m->first; it; it = it->next, i++) {
            char vp[256];
            if (!cfg_tick(ctx, m))
                return;
            cfg_method(ctx, r, it->val, cfg_path(vp, sizeof(vp), "%s[%zu]", sub, i));
        }
    }
}

/* rules[].fixed_response */
static void cfg_fixed(struct cfg_ctx *ctx, struct mrd_cfg_rule *r, const struct cfg_node *map,
                      const char *path)
{
    static const char *const keys[] = { "status", "content_type", "body", NULL };
    struct cfg_field f[3];
    char sub[256];
    const char *s;
    long long st;

    r->fixed.content_type = "text/plain";
    r->fixed.body = "";
    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, NULL, f);
    if (!f[0].val)
        cfg_missing(ctx, map, path, "status", NULL);
    else if (cfg_int(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.status", path), 100, 599, &st))
        r->fixed.status = (int)st;
    if (f[1].val && (s = cfg_text(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.content_type", path)))) {
        bool ok = *s != 0;
        for (const char *p = s; ok && *p; p++)
            ok = (unsigned char)*p >= 0x20 && *p != 0x7f;
        if (!ok) {
            struct cfg_q q;
            cfg_err(ctx, f[1].val, "%s: bad content type %s; expected e.g. text/plain or "
                    "application/json (no control characters)", sub,
                    cfg_quote(&q, f[1].val->text, f[1].val->len));
        } else {
            r->fixed.content_type = cfg_keep(ctx, s, strlen(s));
        }
    }
    if (f[2].val && cfg_want(ctx, f[2].val, CFG_SCALAR, cfg_path(sub, sizeof(sub), "%s.body", path))) {
        r->fixed.body = cfg_keep(ctx, f[2].val->text, f[2].val->len); /* may hold NULs */
        r->fixed.body_len = f[2].val->len;
    }
}

/* One text of rules[].websocket.auto_response: UTF-8, <min>..MRD_CFG_WS_AUTO_MAX bytes. */
static const char *cfg_ws_text(struct cfg_ctx *ctx, const struct cfg_node *n, const char *path,
                               size_t min, size_t *len)
{
    if (!cfg_want(ctx, n, CFG_SCALAR, path))
        return NULL;
    if (n->len < min || n->len > MRD_CFG_WS_AUTO_MAX) {
        cfg_err(ctx, n, "%s: %zu bytes; expected %zu..%d bytes of text", path, n->len, min,
                MRD_CFG_WS_AUTO_MAX);
        return NULL;
    }
    if (!mrd_ws_utf8_ok((const uint8_t *)n->text, n->len)) {
        cfg_err(ctx, n, "%s: not valid UTF-8; WebSocket text frames must be UTF-8", path);
        return NULL;
    }
    *len = n->len;
    return cfg_keep(ctx, n->text, n->len); /* may hold NULs */
}

/* rules[].websocket: auto_response { request, response }. */
static void cfg_rule_ws(struct cfg_ctx *ctx, struct mrd_cfg_rule *r, const struct cfg_node *map,
                        const char *path)
{
    static const char *const keys[] = { "auto_response", NULL };
    static const char *const ar_keys[] = { "request", "response", NULL };
    struct cfg_field f[1], a[2];
    char sub[256], sub2[300];
    const struct cfg_node *ar;

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, NULL, f);
    if (!(ar = f[0].val) ||
        !cfg_want(ctx, ar, CFG_MAP, cfg_path(sub, sizeof(sub), "%s.auto_response", path)))
        return;
    cfg_fields(ctx, ar, sub, ar_keys, NULL, a);
    for (int i = 0; i < 2; i++)
        if (!a[i].val)
            cfg_missing(ctx, ar, sub, ar_keys[i],
                        " (e.g. auto_response: { request: \"ping\", response: \"pong\" })");
    if (!a[0].val || !a[1].val)
        return;
    r->websocket.auto_request = cfg_ws_text(ctx, a[0].val, cfg_path(sub2, sizeof(sub2),
                                            "%s.request", sub), 1, &r->websocket.auto_request_len);
    r->websocket.auto_response = cfg_ws_text(ctx, a[1].val, cfg_path(sub2, sizeof(sub2),
                                             "%s.response", sub), 0,
                                             &r->websocket.auto_response_len);
    if (!r->websocket.auto_request || !r->websocket.auto_response) {
        r->websocket.auto_request = r->websocket.auto_response = NULL;
        r->websocket.auto_request_len = r->websocket.auto_response_len = 0;
    }
}

/* One rule of a load balancer. */
static bool cfg_rule(struct cfg_ctx *ctx, struct mrd_cfg_rule *r, const struct cfg_node *map,
                     const char *path)
{
    static const char *const keys[] = { "match", "pools", "fixed_response", "websocket", NULL };
    static const char *const planned[] = { "cache", "rate_limit", NULL };
    struct cfg_field f[4];
    char sub[256];
    size_t errs = ctx->n_err;
    int n_planned;

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return false;
    r->loc = cfg_loc(ctx, map);
    n_planned = cfg_fields(ctx, map, path, keys, planned, f);
    if (f[0].val)
        cfg_match(ctx, r, f[0].val, cfg_path(sub, sizeof(sub), "%s.match", path));
    else
        cfg_missing(ctx, map, path, "match", " (use match: { path: \"/*\" } for every request)");
    if (f[1].val && f[2].val) {
        cfg_err(ctx, f[2].key, "%s: a rule has exactly one action; it has both pools and "
                "fixed_response", path);
    } else if (f[1].val) {
        r->action = MRD_RULE_POOLS;
        cfg_pool_list(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.pools", path), &r->pools,
                      &r->n_pools);
    } else if (f[2].val) {
        r->action = MRD_RULE_FIXED;
        cfg_fixed(ctx, r, f[2].val, cfg_path(sub, sizeof(sub), "%s.fixed_response", path));
    } else if (!n_planned) {
        cfg_err(ctx, map, "%s: a rule needs one action: pools: [...] or fixed_response: {...}%s",
                path, f[3].val ? " (websocket: settings go with pools:)" : "");
    }
    if (f[3].val && f[2].val)
        cfg_err(ctx, f[3].key, "%s: websocket settings apply to proxied tunnels; a rule with "
                "fixed_response never opens one, so remove one of the two", path);
    else if (f[3].val)
        cfg_rule_ws(ctx, r, f[3].val, cfg_path(sub, sizeof(sub), "%s.websocket", path));
    return ctx->n_err == errs;
}

/* load_balancers.<name>.hostnames: unique across every load balancer. */
static void cfg_hostnames(struct cfg_ctx *ctx, struct mrd_cfg_lb *lb, const struct cfg_node *seq,
                          const char *path)
{
    size_t i = 0;

    if (!cfg_want(ctx, seq, CFG_SEQ, path))
        return;
    if (seq->n == 0) {
        cfg_err(ctx, seq, "%s: expected at least one hostname (\"*\" matches any host)", path);
        return;
    }
    if (!(lb->hostnames = cfg_array(ctx, seq->n, sizeof(*lb->hostnames))))
        return;
    for (struct cfg_item *it = seq->first; it; it = it->next, i++) {
        char sub[256];
        const char *h;
        const struct mrd_cfg_lb *o;
        bool dup = false;
        if (!cfg_tick(ctx, seq))
            return;
        cfg_path(sub, sizeof(sub), "%s[%zu]", path, i);
        if (!(h = cfg_host(ctx, it->val, sub)))
            continue;
        if ((o = cfg_hget(ctx->host_h, h))) {
            if (o == lb)
                cfg_err(ctx, it->val, "%s: hostname '%s' is listed twice", sub, h);
            else
                cfg_err(ctx, it->val, "%s: hostname '%s' is already used by load balancer "
                        "'%s' (line %d)", sub, h, o->name ? o->name : "?", o->loc.line);
            dup = true;
        }
        if (!dup) {
            lb->hostnames[lb->n_hostnames++] = h;
            cfg_hput(ctx, &ctx->host_h, h, lb);
        }
    }
}

/* A single pool name -> the pool; NULL if it does not exist (reported). */
static struct mrd_cfg_pool *cfg_pool_ref(struct cfg_ctx *ctx, const struct cfg_node *n,
                                         const char *path)
{
    const char *s = cfg_text(ctx, n, path);
    struct mrd_cfg_pool *p;
    struct cfg_q q;

    if (!s)
        return NULL;
    if (!(p = cfg_hget(ctx->pool_h, s)))
        cfg_err(ctx, n, "%s: no pool named %s; define it under pools:", path,
                cfg_quote(&q, n->text, n->len));
    return p;
}

/* region_pools / country_pools: a code -> pool list map. <region> picks the kind of key. */
static void cfg_pool_map(struct cfg_ctx *ctx, const struct cfg_node *map, const char *path,
                         bool region, struct mrd_cfg_pool_map **out, size_t *n_out)
{
    char sub[256], lab[64];

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    if (!(*out = cfg_array(ctx, map->n, sizeof(**out))))
        return;
    for (struct cfg_item *it = map->first; it; it = it->next) {
        struct mrd_cfg_pool_map *e = &(*out)[*n_out];
        const char *key = NULL;
        int r = -1;
        if (!cfg_tick(ctx, map))
            return;
        if (it->skip)
            continue;
        cfg_path(sub, sizeof(sub), "%s.%s", path, cfg_label(lab, sizeof(lab), it->key));
        if (region && cfg_region(ctx, it->key, sub, &r))
            key = cfg_keep(ctx, mrd_geo_region_name(r), strlen(mrd_geo_region_name(r)));
        else if (!region)
            key = cfg_country(ctx, it->key, sub);
        if (!key)
            continue;
        /* "seas" and "SEAS" are one key once parsed: YAML's own duplicate check misses it. */
        for (size_t i = 0; i < *n_out; i++) {
            if (strcmp((*out)[i].key, key) == 0) {
                cfg_err(ctx, it->key, "%s: '%s' is listed twice (also at line %d)", sub, key,
                        (*out)[i].loc.line);
                key = NULL;
                break;
            }
        }
        if (!key)
            continue;
        e->key = key;
        e->region = r;
        e->loc = cfg_loc(ctx, it->key);
        cfg_pool_list(ctx, it->val, sub, &e->pools, &e->n_pools);
        if (e->n_pools)
            (*n_out)++;
        else
            memset(e, 0, sizeof(*e));
    }
}

/* load_balancers.<name>.random_steering: default_weight, pool_weights { pool: weight }. */
static void cfg_random_steering(struct cfg_ctx *ctx, struct mrd_cfg_lb *lb,
                                const struct cfg_node *map, const char *path)
{
    static const char *const keys[] = { "default_weight", "pool_weights", NULL };
    struct cfg_field f[2];
    char sub[256], lab[64];
    const struct cfg_node *pw;

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, NULL, f);
    if (f[0].val && cfg_number(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.default_weight", path),
                               0, 1000, &lb->random_steering.default_weight))
        for (size_t i = 0; i < ctx->cfg->n_pools; i++)
            lb->random_steering.pool_weights[i] = lb->random_steering.default_weight;
    if (!(pw = f[1].val) ||
        !cfg_want(ctx, pw, CFG_MAP, cfg_path(sub, sizeof(sub), "%s.pool_weights", path)))
        return;
    for (struct cfg_item *it = pw->first; it; it = it->next) {
        char kp[320];
        struct mrd_cfg_pool *p;
        double w;
        if (!cfg_tick(ctx, pw))
            return;
        if (it->skip)
            continue;
        cfg_path(kp, sizeof(kp), "%s.%s", sub, cfg_label(lab, sizeof(lab), it->key));
        p = cfg_pool_ref(ctx, it->key, kp);
        if (cfg_number(ctx, it->val, kp, 0, 1000, &w) && p)
            lb->random_steering.pool_weights[p->index] = w;
    }
}

/* load_balancers.<name>.session_affinity_attributes.headers */
static void cfg_affinity_headers(struct cfg_ctx *ctx, struct mrd_cfg_lb *lb,
                                 const struct cfg_node *seq, const char *path)
{
    size_t i = 0;

    if (!cfg_want(ctx, seq, CFG_SEQ, path))
        return;
    if (seq->n > CFG_MAX_AFF_HDRS) {
        cfg_err(ctx, seq, "%s: more than %d headers", path, CFG_MAX_AFF_HDRS);
        return;
    }
    if (!(lb->affinity_headers = cfg_array(ctx, seq->n, sizeof(*lb->affinity_headers))))
        return;
    for (struct cfg_item *it = seq->first; it; it = it->next, i++) {
        char sub[280];
        const char *h;
        bool dup = false;
        if (!cfg_tick(ctx, seq))
            return;
        cfg_path(sub, sizeof(sub), "%s[%zu]", path, i);
        if (!(h = cfg_hdr_name(ctx, it->val, sub)))
            continue;
        for (size_t j = 0; j < lb->n_affinity_headers && !dup; j++)
            dup = cfg_eq_nocase(lb->affinity_headers[j], h);
        if (dup)
            cfg_err(ctx, it->val, "%s: header '%s' is listed twice (names ignore case)", sub, h);
        else
            lb->affinity_headers[lb->n_affinity_headers++] = h;
    }
}

/* session_affinity_attributes, checked against session_affinity (<aff>, NULL if absent). */
static void cfg_affinity_attrs(struct cfg_ctx *ctx, struct mrd_cfg_lb *lb,
                               const struct cfg_node *aff, const struct cfg_node *map,
                               const char *lbpath, const char *path)
{
    static const char *const keys[] = { "zero_downtime_failover", "headers", NULL };
    static const char *const zdf[] = { "none", "temporary", "sticky", NULL };
    struct cfg_field f[2] = { { NULL, NULL }, { NULL, NULL } };
    char sub[256];
    int v;
    bool want_hdrs = lb->session_affinity == MRD_AFF_HEADER;
    bool map_ok = map && cfg_want(ctx, map, CFG_MAP, path);

    if (map_ok) {
        cfg_fields(ctx, map, path, keys, NULL, f);
        if (f[0].val && cfg_enum(ctx, f[0].val, cfg_path(sub, sizeof(sub),
                                 "%s.zero_downtime_failover", path), zdf, NULL, &v))
            lb->zero_downtime_failover = (enum mrd_cfg_zdf)v;
        if (f[1].val)
            cfg_affinity_headers(ctx, lb, f[1].val, cfg_path(sub, sizeof(sub), "%s.headers", path));
    }
    cfg_path(sub, sizeof(sub), "%s.headers", path);
    if (!want_hdrs) {
        if (f[1].val && f[1].val->kind == CFG_SEQ && f[1].val->n > 0)
            cfg_err(ctx, f[1].key, "%s: headers are only used with session_affinity: header", sub);
        return;
    }
    if (!f[0].val)
        lb->zero_downtime_failover = MRD_ZDF_TEMPORARY; /* header affinity's default */
    if (!map)
        cfg_err(ctx, aff, "%s.session_affinity: header affinity needs %s, e.g. "
                "headers: [\"X-Session-Id\"]", lbpath, sub);
    else if (map_ok && !f[1].val)
        cfg_missing(ctx, map, path, "headers", " (session_affinity: header needs at least one "
                    "header name)");
    else if (map_ok && f[1].val->kind == CFG_SEQ && f[1].val->n == 0)
        cfg_err(ctx, f[1].val, "%s: session_affinity: header needs at least one header name, "
                "e.g. [\"X-Session-Id\"]", sub);
}

/* adaptive_routing: failover_across_pools. */
static void cfg_adaptive(struct cfg_ctx *ctx, struct mrd_cfg_lb *lb, const struct cfg_node *map,
                         const char *path)
{
    static const char *const keys[] = { "failover_across_pools", NULL };
    struct cfg_field f[1];
    char sub[256];

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, NULL, f);
    if (f[0].val)
        cfg_bool(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.failover_across_pools", path),
                 &lb->failover_across_pools);
}

/* retries: attempts, budget_percent. */
static void cfg_retries(struct cfg_ctx *ctx, struct mrd_cfg_lb *lb, const struct cfg_node *map,
                        const char *path)
{
    static const char *const keys[] = { "attempts", "budget_percent", NULL };
    struct cfg_field f[2];
    char sub[256];
    long long v;

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, NULL, f);
    if (f[0].val &&
        cfg_int(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.attempts", path), 0, 10, &v))
        lb->retry_attempts = (uint32_t)v;
    if (f[1].val && cfg_int(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.budget_percent", path),
                            0, 100, &v))
        lb->retry_budget_percent = (uint32_t)v;
}

/* websocket: on_origin_down, close_rate. */
static void cfg_lb_ws(struct cfg_ctx *ctx, struct mrd_cfg_lb *lb, const struct cfg_node *map,
                      const char *path)
{
    static const char *const keys[] = { "on_origin_down", "close_rate", NULL };
    static const char *const down[] = { "keep", "close", NULL };
    struct cfg_field f[2];
    char sub[256];
    long long v;
    int e;

    if (!cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, NULL, f);
    if (f[0].val && cfg_enum(ctx, f[0].val, cfg_path(sub, sizeof(sub), "%s.on_origin_down", path),
                             down, NULL, &e))
        lb->websocket.on_origin_down = (enum mrd_cfg_ws_down)e;
    if (f[1].val && cfg_int(ctx, f[1].val, cfg_path(sub, sizeof(sub), "%s.close_rate", path), 1,
                            100000, &v))
        lb->websocket.close_rate = (uint32_t)v;
}

/* proximity steers by distance, so every default pool needs coordinates. */
static void cfg_check_proximity(struct cfg_ctx *ctx, const struct mrd_cfg_lb *lb,
                                const struct cfg_node *at, const char *path)
{
    for (size_t i = 0; i < lb->n_default_pools; i++)
        if (!lb->default_pools[i]->has_coords)
            cfg_err(ctx, at, "%s: proximity needs latitude and longitude on every default pool; "
                    "pool '%s' has none", path, lb->default_pools[i]->name);
}

/* Fills the documented load balancer defaults. */
static bool cfg_lb_defaults(struct cfg_ctx *ctx, struct mrd_cfg_lb *lb)
{
    size_t n = ctx->cfg->n_pools;

    lb->steering_policy = MRD_POOLS_OFF;
    lb->session_affinity = MRD_AFF_NONE;
    lb->session_affinity_ttl_ms = 23ull * 3600000;
    lb->zero_downtime_failover = MRD_ZDF_NONE;
    lb->retry_attempts = 2;
    lb->retry_budget_percent = 20;
    lb->websocket.on_origin_down = MRD_WS_DOWN_KEEP;
    lb->websocket.close_rate = 200;
    lb->random_steering.default_weight = 1;
    if (!(lb->random_steering.pool_weights = cfg_array(ctx, n, sizeof(double))))
        return false;
    for (size_t i = 0; i < n; i++)
        lb->random_steering.pool_weights[i] = 1;
    return true;
}

enum { LB_HOSTS, LB_DEFAULT, LB_FALLBACK, LB_STEER, LB_REGION, LB_COUNTRY, LB_RANDOM, LB_AFF,
       LB_AFF_TTL, LB_AFF_ATTRS, LB_ADAPTIVE, LB_RETRIES, LB_RULES, LB_WS, LB_NKEYS };

/* The steering and affinity keys of a load balancer. */
static void cfg_lb_steering(struct cfg_ctx *ctx, struct mrd_cfg_lb *lb, const struct cfg_field *f,
                            const char *path)
{
    static const char *const policies[] = {
        "off", "random", "geo", "proximity", "dynamic_latency", "least_outstanding_requests",
        "least_connections", NULL,
    };
    static const char *const affinity[] = { "none", "cookie", "ip_cookie", "header", NULL };
    char sub[256];
    int v;

    if (f[LB_FALLBACK].val)
        lb->fallback_pool = cfg_pool_ref(ctx, f[LB_FALLBACK].val,
                                         cfg_path(sub, sizeof(sub), "%s.fallback_pool", path));
    if (f[LB_STEER].val &&
        cfg_enum(ctx, f[LB_STEER].val, cfg_path(sub, sizeof(sub), "%s.steering_policy", path),
                 policies, NULL, &v)) {
        lb->steering_policy = (enum mrd_cfg_steering)v;
        if (lb->steering_policy == MRD_POOLS_PROXIMITY)
            cfg_check_proximity(ctx, lb, f[LB_STEER].val, sub);
    }
    if (f[LB_REGION].val)
        cfg_pool_map(ctx, f[LB_REGION].val, cfg_path(sub, sizeof(sub), "%s.region_pools", path),
                     true, &lb->region_pools, &lb->n_region_pools);
    if (f[LB_COUNTRY].val)
        cfg_pool_map(ctx, f[LB_COUNTRY].val, cfg_path(sub, sizeof(sub), "%s.country_pools", path),
                     false, &lb->country_pools, &lb->n_country_pools);
    if (f[LB_RANDOM].val)
        cfg_random_steering(ctx, lb, f[LB_RANDOM].val,
                            cfg_path(sub, sizeof(sub), "%s.random_steering", path));
    if (f[LB_AFF].val &&
        cfg_enum(ctx, f[LB_AFF].val, cfg_path(sub, sizeof(sub), "%s.session_affinity", path),
                 affinity, NULL, &v))
        lb->session_affinity = (enum mrd_cfg_affinity)v;
    if (f[LB_AFF_TTL].val)
        cfg_duration(ctx, f[LB_AFF_TTL].val,
                     cfg_path(sub, sizeof(sub), "%s.session_affinity_ttl", path), 1000,
                     365ull * 86400000, "1s..365d", &lb->session_affinity_ttl_ms);
    cfg_affinity_attrs(ctx, lb, f[LB_AFF].val, f[LB_AFF_ATTRS].val, path,
                       cfg_path(sub, sizeof(sub), "%s.session_affinity_attributes", path));
    if (f[LB_ADAPTIVE].val)
        cfg_adaptive(ctx, lb, f[LB_ADAPTIVE].val,
                     cfg_path(sub, sizeof(sub), "%s.adaptive_routing", path));
    if (f[LB_RETRIES].val)
        cfg_retries(ctx, lb, f[LB_RETRIES].val, cfg_path(sub, sizeof(sub), "%s.retries", path));
}

/* One load balancer. */
static void cfg_lb(struct cfg_ctx *ctx, struct mrd_cfg_lb *lb, const struct cfg_node *key,
                   const struct cfg_node *map)
{
    static const char *const keys[] = {
        "hostnames", "default_pools", "fallback_pool", "steering_policy", "region_pools",
        "country_pools", "random_steering", "session_affinity", "session_affinity_ttl",
        "session_affinity_attributes", "adaptive_routing", "retries", "rules", "websocket", NULL,
    };
    static const char *const planned[] = { "versions", NULL };
    struct cfg_field f[LB_NKEYS];
    char path[128], sub[256], lab[64];
    const struct cfg_node *rules;
    size_t i = 0;

    cfg_path(path, sizeof(path), "load_balancers.%s", cfg_label(lab, sizeof(lab), key));
    lb->loc = cfg_loc(ctx, key);
    cfg_name(ctx, key, path);
    lb->name = cfg_keep(ctx, key->text, key->len);
    if (!lb->name || !cfg_lb_defaults(ctx, lb) || !cfg_want(ctx, map, CFG_MAP, path))
        return;
    cfg_fields(ctx, map, path, keys, planned, f);
    if (f[LB_HOSTS].val)
        cfg_hostnames(ctx, lb, f[LB_HOSTS].val, cfg_path(sub, sizeof(sub), "%s.hostnames", path));
    else
        cfg_missing(ctx, map, path, "hostnames", " (e.g. hostnames: [\"example.com\"])");
    if (f[LB_DEFAULT].val)
        cfg_pool_list(ctx, f[LB_DEFAULT].val, cfg_path(sub, sizeof(sub), "%s.default_pools", path),
                      &lb->default_pools, &lb->n_default_pools);
    else
        cfg_missing(ctx, map, path, "default_pools", NULL);
    cfg_lb_steering(ctx, lb, f, path);
    if (f[LB_WS].val)
        cfg_lb_ws(ctx, lb, f[LB_WS].val, cfg_path(sub, sizeof(sub), "%s.websocket", path));
    if (!(rules = f[LB_RULES].val))
        return;
    cfg_path(sub, sizeof(sub), "%s.rules", path);
    if (!cfg_want(ctx, rules, CFG_SEQ, sub))
        return;
    if (!(lb->rules = cfg_array(ctx, rules->n, sizeof(*lb->rules))))
        return;
    for (struct cfg_item *it = rules->first; it; it = it->next, i++) {
        if (!cfg_tick(ctx, rules))
            return;
        struct mrd_cfg_rule *r = &lb->rules[lb->n_rules];
        if (cfg_rule(ctx, r, it->val, cfg_path(sub, sizeof(sub), "%s.rules[%zu]", path, i)))
            lb->n_rules++;
        else
            memset(r, 0, sizeof(*r));
    }
}

/* load_balancers: name -> lb. */
static void cfg_lbs(struct cfg_ctx *ctx, const struct cfg_node *map)
{
    struct mrd_cfg *cfg = ctx->cfg;

    if (!cfg_want(ctx, map, CFG_MAP, "load_balancers"))
        return;
    if (!(cfg->lbs = cfg_array(ctx, map->n, sizeof(*cfg->lbs))))
        return;
    for (struct cfg_item *it = map->first; it; it = it->next) {
        struct mrd_cfg_lb *lb = &cfg->lbs[cfg->n_lbs];
        if (!cfg_tick(ctx, map))
            return;
        if (it->skip)
            continue;
        cfg_lb(ctx, lb, it->key, it->val);
        lb->index = (uint32_t)cfg->n_lbs++;
    }
}

/* The whole file: sections in dependency order (monitors before pools before their users). */
static void cfg_top(struct cfg_ctx *ctx, const struct cfg_node *root)
{
    static const char *const keys[] = { "server", "admin", "log", "geo", "monitors", "pools",
                                        "load_balancers", NULL };
    static const char *const planned[] = { "cache", "rate_limits", "security", "cluster", NULL };
    struct cfg_field f[7];

    if (root->kind != CFG_MAP) {
        struct cfg_q q;
        cfg_err(ctx, root, "expected a mapping at the top level (server:, log:, pools:, "
                "load_balancers:), got %s", cfg_got(&q, root));
        return;
    }
    cfg_fields(ctx, root, "the top level", keys, planned, f);
    cfg_server(ctx, f[0].val, root);
    if (f[1].val)
        cfg_admin(ctx, f[1].key, f[1].val);
    if (f[2].val)
        cfg_log(ctx, f[2].val);
    if (f[3].val)
        cfg_geo(ctx, f[3].key, f[3].val);
    if (f[4].val)
        cfg_monitors(ctx, f[4].val);
    if (f[5].val)
        cfg_pools(ctx, f[5].val);
    if (f[6].val)
        cfg_lbs(ctx, f[6].val);
}

/* Fills the documented defaults. */
static void cfg_defaults(struct mrd_cfg *cfg)
{
    struct mrd_cfg_limits *l = &cfg->server.limits;
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    cfg->server.workers = n < 1 ? 1 : n > 256 ? 256 : (int)n;
    l->header_timeout_ms = 10000;
    l->body_timeout_ms = 60000;
    l->idle_timeout_ms = 75000;
    l->websocket_idle_timeout_ms = 3600000;
    l->connect_timeout_ms = 5000;
    l->upstream_timeout_ms = 60000;
    l->max_header_bytes = 16 * 1024;
    l->max_headers = 100;
    l->max_body_bytes = 100ull * 1024 * 1024;
    l->max_connections = 100000;
    l->max_connections_per_ip = 512;
    cfg->log.access = "stdout";
    cfg->log.error = "stderr";
    cfg->log.level = MRD_LOG_INFO;
}

/* Frees a generation and what it opened (the geo lookup); runtime state is unbound first. */
static void cfg_free(struct mrd_cfg *cfg)
{
    if (cfg->geo.db)
        mrd_geo_close(cfg->geo.db);
    cfg->geo.db = NULL;
    mrd_arena_free(&cfg->arena);
    free(cfg);
}

/* ---- entry points ---- */

struct mrd_cfg *mrd_cfg_load_string(const char *name, const char *text, size_t len,
                                    struct mrd_cfg_errors *errs)
{
    struct mrd_cfg_errors local = { 0 };
    struct cfg_ctx ctx;
    struct mrd_cfg *cfg;
    struct cfg_node *root;
    char *copy;

    memset(&ctx, 0, sizeof(ctx));
    ctx.errs = errs ? errs : &local;
    ctx.name = name ? name : "<config>";
    ctx.first_err = ctx.errs->n;
    cfg = calloc(1, sizeof(*cfg));
    /* libfyaml wants a NUL-terminated buffer that outlives the parse. */
    copy = malloc(len + 1);
    if (!cfg || !copy) {
        free(cfg);
        free(copy);
        cfg_err_at(&ctx, 0, 0, "out of memory while loading the configuration");
        mrd_cfg_errors_free(&local);
        return NULL;
    }
    if (len)
        memcpy(copy, text, len);
    copy[len] = 0;
    atomic_init(&cfg->refs, 1);
    mrd_arena_init(&cfg->arena, 16384);
    mrd_arena_init(&ctx.tmp, 16384);
    ctx.cfg = cfg;
    cfg_defaults(cfg);
    cfg->file = cfg_keep(&ctx, ctx.name, strlen(ctx.name));
    if (cfg->file && (root = cfg_build(&ctx, copy, len)))
        cfg_top(&ctx, root);
    mrd_arena_free(&ctx.tmp);
    free(copy);
    cfg_sort_errors(&ctx);
    mrd_cfg_errors_free(&local);
    if (ctx.failed) {
        cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

struct mrd_cfg *mrd_cfg_load_file(const char *path, struct mrd_cfg_errors *errs)
{
    struct mrd_cfg_errors local = { 0 };
    struct cfg_ctx ctx;
    struct mrd_cfg *cfg;
    FILE *f;
    char *buf = NULL;
    size_t len = 0, cap = 0;

    memset(&ctx, 0, sizeof(ctx));
    ctx.errs = errs ? errs : &local;
    ctx.name = path ? path : "<config>";
    if (!path || !(f = fopen(path, "rb"))) {
        cfg_err_at(&ctx, 0, 0, "cannot read config file: %s", strerror(path ? errno : EINVAL));
        mrd_cfg_errors_free(&local);
        return NULL;
    }
    for (;;) {
        size_t got;
        if (len == cap) {
            char *nb;
            if (cap >= CFG_MAX_FILE) {
                cfg_err_at(&ctx, 0, 0, "cannot read config file: larger than %u MiB",
                           CFG_MAX_FILE >> 20);
                break;
            }
            cap = cap ? cap * 2 : 16384;
            if (!(nb = realloc(buf, cap))) {
                cfg_err_at(&ctx, 0, 0, "cannot read config file: %s", strerror(ENOMEM));
                break;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                cfg_err_at(&ctx, 0, 0, "cannot read config file: %s", strerror(errno));
            break;
        }
    }
    fclose(f);
    cfg = ctx.failed ? NULL : mrd_cfg_load_string(path, buf ? buf : "", len, ctx.errs);
    free(buf);
    mrd_cfg_errors_free(&local);
    return cfg;
}

struct mrd_cfg *mrd_cfg_ref(struct mrd_cfg *cfg)
{
    if (cfg)
        atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void mrd_cfg_unref(struct mrd_cfg *cfg)
{
    if (!cfg)
        return;
    /* acq_rel: the last holder must see every write made by the others before freeing. */
    if (atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* Runtime state is reached through this generation's objects: unbind while they exist. */
    mrd_rt_unbind(cfg);
    cfg_free(cfg);
}
