/* Admin request bodies: PATCH /v1/pools/{pool}/origins/{origin}. The body is parsed as JSON
 * by libfyaml and every field is checked before anything is applied, so a bad request
 * changes nothing and lists every problem at once. */
#include <libfyaml.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin-int.h"

#define PATCH_MAX_WEIGHT 1000000

static void patch_quiet(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag, (void)user, (void)buf, (void)len; /* errors are collected, not printed */
}

/* Records one problem (silently dropping those beyond the bound). */
static void patch_bad(struct mrd_admin_detail *d, size_t *n, const char *field, const char *msg)
{
    if (*n >= MRD_ADMIN_MAX_ERRS)
        return;
    snprintf(d[*n].field, sizeof(d[*n].field), "%s", field ? field : "");
    snprintf(d[*n].message, sizeof(d[*n].message), "%s", msg);
    (*n)++;
}

/* A plain (unquoted) scalar's text, or NULL for strings, mappings and sequences. JSON
 * true/false/null/numbers are plain; "true" in quotes is a string. */
static const char *plain_scalar(struct fy_node *v, size_t *len)
{
    if (!v || fy_node_get_type(v) != FYNT_SCALAR || fy_node_get_style(v) != FYNS_PLAIN)
        return NULL;
    return fy_node_get_scalar(v, len);
}

static bool scalar_is(const char *s, size_t n, const char *lit)
{
    return s && n == strlen(lit) && !memcmp(s, lit, n);
}

/* true/false into *out (or -1 for null when <nullable>). false on a wrong type. */
static bool patch_bool(struct fy_node *v, bool nullable, int *out)
{
    size_t n;
    const char *s = plain_scalar(v, &n);
    if (scalar_is(s, n, "true"))
        *out = 1;
    else if (scalar_is(s, n, "false"))
        *out = 0;
    else if (nullable && scalar_is(s, n, "null"))
        *out = -1;
    else
        return false;
    return true;
}

/* A JSON integer 0..PATCH_MAX_WEIGHT (or null = -1). 0 ok, 1 wrong type, 2 out of range. */
static int patch_weight(struct fy_node *v, int *out)
{
    size_t n;
    const char *s = plain_scalar(v, &n);
    if (scalar_is(s, n, "null")) {
        *out = -1;
        return 0;
    }
    if (!s || !n)
        return 1;
    bool neg = s[0] == '-';
    size_t i = neg;
    if (i == n)
        return 1;
    uint64_t w = 0;
    bool big = false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 1; /* fractions, exponents and anything else are not integers here */
        if (w > PATCH_MAX_WEIGHT)
            big = true; /* stop accumulating: it can only grow */
        else
            w = w * 10 + (uint64_t)(s[i] - '0');
    }
    if (big || w > PATCH_MAX_WEIGHT || (neg && w))
        return 2;
    *out = (int)w;
    return 0;
}

/* The body as a JSON document, or NULL with the parser's first complaint in <why>. */
static struct fy_document *patch_doc(const char *body, size_t len, char *why, size_t whylen)
{
    struct fy_diag_cfg dc;
    struct fy_parse_cfg pc;
    struct fy_document *fyd;
    struct fy_diag *diag;

    snprintf(why, whylen, "the body is not valid JSON");
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = patch_quiet;
    dc.colorize = false;
    dc.level = FYET_ERROR;
    if (!(diag = fy_diag_create(&dc)))
        return NULL;
    fy_diag_set_collect_errors(diag, true);
    memset(&pc, 0, sizeof(pc));
    pc.flags = FYPCF_QUIET | FYPCF_JSON_FORCE;
    pc.diag = diag;
    fyd = fy_document_build_from_string(&pc, body, len);
    if (!fyd) {
        void *it = NULL;
        struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);
        if (e && e->msg)
            snprintf(why, whylen, "the body is not valid JSON: line %d, column %d: %s", e->line,
                     e->column, e->msg);
    }
    fy_diag_destroy(diag);
    return fyd;
}

/* Checks each member of the top-level object into <out>, listing problems in <d>. */
static void patch_fields(struct fy_node *root, struct mrd_admin_patch *out,
                         struct mrd_admin_detail *d, size_t *nd)
{
    void *it = NULL;
    struct fy_node_pair *pair;

    while ((pair = fy_node_mapping_iterate(root, &it))) {
        size_t kl;
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char *key = k && fy_node_get_type(k) == FYNT_SCALAR ? fy_node_get_scalar(k, &kl)
                                                                  : NULL;
        int x = 0;

        if (!key) {
            patch_bad(d, nd, NULL, "member names must be strings");
        } else if (scalar_is(key, kl, "enabled")) {
            if (!patch_bool(v, true, &x))
                patch_bad(d, nd, "enabled", "must be true, false or null (configured)");
            out->has_enabled = true, out->enabled = x;
        } else if (scalar_is(key, kl, "weight")) {
            int r = patch_weight(v, &x);
            if (r == 1)
                patch_bad(d, nd, "weight", "must be an integer 0..1000000 or null");
            else if (r == 2)
                patch_bad(d, nd, "weight", "out of range: must be 0..1000000");
            out->has_weight = true, out->weight = x;
        } else if (scalar_is(key, kl, "drain")) {
            if (!patch_bool(v, false, &x))
                patch_bad(d, nd, "drain", "must be true or false");
            out->has_drain = true, out->drain = x == 1;
        } else {
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)(kl < 60 ? kl : 60), key);
            patch_bad(d, nd, name, "unknown field; the fields are enabled, weight, drain");
        }
    }
}

int mrd_admin_parse_patch(const char *body, size_t len, struct mrd_admin_patch *out,
                          struct mrd_admin_rsp *rsp)
{
    struct mrd_admin_detail d[MRD_ADMIN_MAX_ERRS];
    size_t nd = 0;
    char why[160];

    memset(out, 0, sizeof(*out));
    if (!body || !len) {
        mrd_admin_error(rsp, 400, "invalid_json",
                        "the body is empty; send a JSON object such as {\"enabled\": false}");
        return 400;
    }
    struct fy_document *fyd = patch_doc(body, len, why, sizeof(why));
    if (!fyd) {
        mrd_admin_error(rsp, 400, "invalid_json", why);
        return 400;
    }
    struct fy_node *root = fy_document_root(fyd);
    if (!root || fy_node_get_type(root) != FYNT_MAPPING) {
        fy_document_destroy(fyd);
        mrd_admin_error(rsp, 400, "invalid_json", "the body must be a JSON object");
        return 400;
    }
    patch_fields(root, out, d, &nd);
    fy_document_destroy(fyd);
    if (!nd && !out->has_enabled && !out->has_weight && !out->has_drain)
        patch_bad(d, &nd, NULL, "set at least one of enabled, weight, drain");
    if (nd) {
        mrd_admin_error_details(rsp, 400, "invalid_field",
                                "the body has invalid fields; nothing was changed", d, nd);
        return 400;
    }
    return 0;
}
