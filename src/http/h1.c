/* llhttp glue and the strict framing checks that sit on top of it. llhttp runs with no
 * leniency flags; the checks here add what it leaves to the caller (Host, Connection
 * tokens, Transfer-Encoding lists, header value bytes, the request-target). */
#include "http/h1.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#define H1_FAIL(m, st, text) ((m)->error_status = (st), (m)->why = (text), -1)

static int h1_fail_status(const struct mrd_h1_msg *m, int req_status)
{
    return m->parser.type == HTTP_REQUEST ? req_status : 502;
}

static int h1_on_message_begin(llhttp_t *p)
{
    struct mrd_h1_msg *m = p->data;
    m->method = m->target = m->status_text = (struct mrd_h1_span){ 0, 0 };
    m->n_hdrs = 0;
    m->last_cb = 0;
    m->body_bytes = 0;
    return 0;
}

/* Grows <s> with a callback span; llhttp splits a token only across feed calls. */
static void h1_span_add(struct mrd_h1_msg *m, struct mrd_h1_span *s, const char *at, size_t len)
{
    if (s->len == 0)
        s->off = (uint32_t)(at - m->base);
    s->len += (uint32_t)len;
}

static int h1_on_method(llhttp_t *p, const char *at, size_t len)
{
    struct mrd_h1_msg *m = p->data;
    h1_span_add(m, &m->method, at, len);
    return 0;
}

static int h1_on_url(llhttp_t *p, const char *at, size_t len)
{
    struct mrd_h1_msg *m = p->data;
    h1_span_add(m, &m->target, at, len);
    return 0;
}

static int h1_on_status(llhttp_t *p, const char *at, size_t len)
{
    struct mrd_h1_msg *m = p->data;
    h1_span_add(m, &m->status_text, at, len);
    return 0;
}

/* RFC 9110 5.6.2 tchar. */
static bool h1_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int h1_on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct mrd_h1_msg *m = p->data;

    for (size_t i = 0; i < len; i++)
        if (!h1_tchar((unsigned char)at[i]))
            return H1_FAIL(m, h1_fail_status(m, 400), "invalid character in a header name");

    if (m->last_cb != 1) {
        if (m->n_hdrs >= m->max_headers)
            return H1_FAIL(m, h1_fail_status(m, 431), "too many header fields");
        struct mrd_h1_hdr *h = &m->hdrs[m->n_hdrs++];
        h->name = (struct mrd_h1_span){ (uint32_t)(at - m->base), 0 };
        h->value = (struct mrd_h1_span){ 0, 0 };
        h->skip = 0;
        m->last_cb = 1;
    } else if (at != m->base + m->hdrs[m->n_hdrs - 1].name.off + m->hdrs[m->n_hdrs - 1].name.len) {
        return H1_FAIL(m, h1_fail_status(m, 400), "invalid header field");
    }
    m->hdrs[m->n_hdrs - 1].name.len += (uint32_t)len;
    return 0;
}

static int h1_on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct mrd_h1_msg *m = p->data;
    struct mrd_h1_hdr *h = &m->hdrs[m->n_hdrs - 1];

    /* RFC 9110 5.5: field-value is VCHAR, SP, HTAB and obs-text; anything else (NUL, bare
     * CR, other controls, DEL) is refused rather than passed on. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)at[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return H1_FAIL(m, h1_fail_status(m, 400), "control character in a header value");
    }
    if (m->last_cb == 4)
        return H1_FAIL(m, h1_fail_status(m, 400), "obsolete line folding in a header");
    if (m->last_cb != 2) {
        h->value = (struct mrd_h1_span){ (uint32_t)(at - m->base), 0 };
        m->last_cb = 2;
    } else if (at != m->base + h->value.off + h->value.len) {
        /* llhttp continues a folded value in a new span; merging it would forward the CRLF */
        return H1_FAIL(m, h1_fail_status(m, 400), "obsolete line folding in a header");
    }
    h->value.len += (uint32_t)len;
    return 0;
}

static int h1_on_header_value_complete(llhttp_t *p)
{
    struct mrd_h1_msg *m = p->data;
    m->last_cb = 4; /* more value bytes before the next field would be obs-fold */
    return 0;
}

static int h1_on_header_field_complete(llhttp_t *p)
{
    struct mrd_h1_msg *m = p->data;
    if (m->last_cb != 1 || m->hdrs[m->n_hdrs - 1].name.len == 0)
        return H1_FAIL(m, h1_fail_status(m, 400), "empty header name");
    /* A field with an empty value gets no value callback: mark the field closed. */
    m->last_cb = 3;
    return 0;
}

static int h1_on_headers_complete(llhttp_t *p)
{
    (void)p;
    return HPE_PAUSED; /* the caller looks at the head before any body byte is parsed */
}

static int h1_on_body(llhttp_t *p, const char *at, size_t len)
{
    struct mrd_h1_msg *m = p->data;
    (void)at;
    m->body_bytes += len;
    if (m->max_body_bytes && m->body_bytes > m->max_body_bytes)
        return H1_FAIL(m, h1_fail_status(m, 413), "body larger than the configured limit");
    return 0;
}

static int h1_on_message_complete(llhttp_t *p)
{
    (void)p;
    return HPE_PAUSED;
}

static const llhttp_settings_t h1_settings = {
    .on_message_begin = h1_on_message_begin,
    .on_method = h1_on_method,
    .on_url = h1_on_url,
    .on_status = h1_on_status,
    .on_header_field = h1_on_header_field,
    .on_header_value = h1_on_header_value,
    .on_header_field_complete = h1_on_header_field_complete,
    .on_header_value_complete = h1_on_header_value_complete,
    .on_headers_complete = h1_on_headers_complete,
    .on_body = h1_on_body,
    .on_message_complete = h1_on_message_complete,
};

void mrd_h1_init(struct mrd_h1_msg *m, llhttp_type_t type, struct mrd_h1_hdr *hdrs,
                 uint32_t max_headers, uint32_t max_head_bytes, uint64_t max_body_bytes)
{
    memset(m, 0, sizeof(*m));
    llhttp_init(&m->parser, type, &h1_settings);
    m->parser.data = m;
    m->hdrs = hdrs;
    m->max_headers = max_headers;
    m->max_head_bytes = max_head_bytes;
    m->max_body_bytes = max_body_bytes;
    m->content_length = -1;
    m->host_idx = -1;
}

void mrd_h1_next(struct mrd_h1_msg *m, uint32_t start)
{
    llhttp_reset(&m->parser);
    m->parser.data = m;
    m->state = MRD_H1_HEAD;
    m->start = start;
    m->head_end = 0;
    m->n_hdrs = 0;
    m->last_cb = 0;
    m->method = m->target = m->status_text = (struct mrd_h1_span){ 0, 0 };
    m->status = 0;
    m->content_length = -1;
    m->chunked = m->keep_alive = m->conn_close = m->upgrade = false;
    m->expect_continue = m->needs_eof = false;
    m->host_idx = -1;
    m->body_bytes = 0;
    m->error_status = 0;
    m->why = NULL;
}

bool mrd_h1_span_ieq(const char *base, struct mrd_h1_span s, const char *lower)
{
    size_t n = strlen(lower);
    return s.len == n && strncasecmp(base + s.off, lower, n) == 0;
}

int mrd_h1_find(const struct mrd_h1_msg *m, const char *lower)
{
    for (uint32_t i = 0; i < m->n_hdrs; i++)
        if (mrd_h1_span_ieq(m->base, m->hdrs[i].name, lower))
            return (int)i;
    return -1;
}

/* Calls <fn> on each comma-separated token of <s> (OWS trimmed, empty tokens skipped).
 * Stops and returns the first non-zero result. */
static int h1_tokens(const char *s, uint32_t len, int (*fn)(const char *t, uint32_t n, void *arg),
                     void *arg)
{
    uint32_t i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        uint32_t b = i;
        while (i < len && s[i] != ',')
            i++;
        uint32_t e = i;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (e > b) {
            int r = fn(s + b, e - b, arg);
            if (r)
                return r;
        }
    }
    return 0;
}

static bool h1_tok_ieq(const char *t, uint32_t n, const char *lower)
{
    return strlen(lower) == n && strncasecmp(t, lower, n) == 0;
}

struct h1_te_state {
    int n;           /* codings seen */
    int chunked_at;  /* 1-based index of "chunked", 0 none */
    int bad;         /* chunked not last */
};

static int h1_te_token(const char *t, uint32_t n, void *arg)
{
    struct h1_te_state *st = arg;
    st->n++;
    if (st->chunked_at)
        st->bad = 1; /* anything after chunked */
    if (h1_tok_ieq(t, n, "chunked"))
        st->chunked_at = st->n;
    return 0;
}

struct h1_conn_state {
    struct mrd_h1_msg *m;
    int                forbidden; /* names Content-Length, Host or Transfer-Encoding */
};

static int h1_conn_token(const char *t, uint32_t n, void *arg)
{
    struct h1_conn_state *st = arg;
    struct mrd_h1_msg *m = st->m;

    if (h1_tok_ieq(t, n, "close")) {
        m->conn_close = true;
    } else if (h1_tok_ieq(t, n, "keep-alive") || h1_tok_ieq(t, n, "upgrade")) {
        /* llhttp tracks both; the headers themselves are hop-by-hop anyway */
    } else if (h1_tok_ieq(t, n, "content-length") || h1_tok_ieq(t, n, "host") ||
               h1_tok_ieq(t, n, "transfer-encoding")) {
        st->forbidden = 1;
    } else {
        /* A header named here is hop-by-hop for this message only. */
        for (uint32_t i = 0; i < m->n_hdrs; i++) {
            struct mrd_h1_span nm = m->hdrs[i].name;
            if (nm.len == n && strncasecmp(m->base + nm.off, t, n) == 0)
                m->hdrs[i].skip = 1;
        }
    }
    return 0;
}

bool mrd_h1_host_ok(const char *s, size_t len)
{
    size_t i = 0;
    if (len == 0 || len > 255 + 6)
        return false;
    if (s[0] == '[') {
        while (i < len && s[i] != ']') {
            char c = s[i];
            if (i > 0 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                           (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
                return false;
            i++;
        }
        if (i == len || i < 3)
            return false;
        i++;
    } else {
        for (; i < len && s[i] != ':'; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '~' || c == '%' || c == '!' ||
                  c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' ||
                  c == '+' || c == ',' || c == ';' || c == '='))
                return false;
        }
        if (i == 0)
            return false;
    }
    if (i == len)
        return true;
    if (s[i] != ':')
        return false;
    /* port: empty is allowed by RFC 3986; otherwise 1-5 digits */
    if (len - i - 1 > 5)
        return false;
    for (i++; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool mrd_h1_request_id_ok(const char *s, size_t len)
{
    if (len == 0 || len > 128)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

/* Checks the request-target form against the method (RFC 9112 3.2). */
static const char *h1_check_target(struct mrd_h1_msg *m)
{
    const char *t = m->base + m->target.off;
    uint32_t n = m->target.len;

    if (n == 0)
        return "empty request-target";
    for (uint32_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f || c == '#')
            return "invalid character in the request-target";
    }
    if (m->parser.method == HTTP_CONNECT)
        return NULL; /* refused later with 501, not as malformed */
    if (t[0] == '/')
        return NULL;
    if (n == 1 && t[0] == '*')
        return m->parser.method == HTTP_OPTIONS ? NULL : "'*' is only valid with OPTIONS";
    if ((n > 7 && strncasecmp(t, "http://", 7) == 0) ||
        (n > 8 && strncasecmp(t, "https://", 8) == 0)) {
        const char *a = t + (t[4] == ':' ? 7 : 8);
        const char *e = t + n;
        const char *end = a;
        while (end < e && *end != '/' && *end != '?')
            end++;
        if (memchr(a, '@', (size_t)(end - a)))
            return "userinfo in the request-target";
        if (!mrd_h1_host_ok(a, (size_t)(end - a)))
            return "invalid authority in the request-target";
        return NULL;
    }
    return "invalid request-target";
}

/* Validates a complete head; returns NULL or the reason it is refused. */
static const char *h1_check_head(struct mrd_h1_msg *m, int *status)
{
    bool req = m->parser.type == HTTP_REQUEST;
    int n_cl = 0, n_host = 0, n_te = 0;
    struct h1_te_state te = { 0, 0, 0 };
    struct h1_conn_state cs = { m, 0 };

    *status = req ? 400 : 502;
    m->major = m->parser.http_major;
    m->minor = m->parser.http_minor;
    if (m->major != 1 || m->minor > 1) {
        if (req)
            *status = 505;
        return "unsupported HTTP version";
    }
    if (req) {
        const char *why = h1_check_target(m);
        if (why)
            return why;
    } else {
        m->status = m->parser.status_code;
        if (m->status < 100 || m->status > 599)
            return "invalid status code";
    }
    for (uint32_t i = 0; i < m->n_hdrs; i++) {
        struct mrd_h1_hdr *h = &m->hdrs[i];
        const char *v = m->base + h->value.off;
        uint32_t vl = h->value.len;

        /* llhttp keeps trailing whitespace in values; forward them trimmed */
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        h->value.len = vl;
        switch (h->name.len) {
        case 4:
            if (mrd_h1_span_ieq(m->base, h->name, "host")) {
                n_host++;
                m->host_idx = (int)i;
            }
            break;
        case 2:
            if (mrd_h1_span_ieq(m->base, h->name, "te"))
                h->skip = 1;
            break;
        case 6:
            if (req && mrd_h1_span_ieq(m->base, h->name, "expect")) {
                if (vl == 12 && strncasecmp(v, "100-continue", 12) == 0)
                    m->expect_continue = true;
                else {
                    *status = 417;
                    return "unsupported Expect value";
                }
                h->skip = 1; /* the gateway answers 100 itself */
            }
            break;
        case 7:
            if (mrd_h1_span_ieq(m->base, h->name, "upgrade"))
                h->skip = 1;
            break;
        case 10:
            if (mrd_h1_span_ieq(m->base, h->name, "connection")) {
                h->skip = 1;
                h1_tokens(v, vl, h1_conn_token, &cs);
            } else if (mrd_h1_span_ieq(m->base, h->name, "keep-alive")) {
                h->skip = 1;
            }
            break;
        case 14:
            if (mrd_h1_span_ieq(m->base, h->name, "content-length"))
                n_cl++;
            break;
        case 16:
            if (mrd_h1_span_ieq(m->base, h->name, "proxy-connection"))
                h->skip = 1;
            break;
        case 17:
            if (mrd_h1_span_ieq(m->base, h->name, "transfer-encoding")) {
                n_te++;
                h1_tokens(v, vl, h1_te_token, &te);
            }
            break;
        default:
            break;
        }
    }
    if (cs.forbidden)
        return "Connection names Content-Length, Host or Transfer-Encoding";
    if (n_cl > 1)
        return "duplicate Content-Length";
    if (n_te) {
        if (n_cl)
            return "both Content-Length and Transfer-Encoding";
        if (m->minor == 0)
            return "Transfer-Encoding in an HTTP/1.0 message";
        if (!te.chunked_at || te.bad || te.chunked_at != te.n)
            return "Transfer-Encoding does not end with chunked";
    }
    if (req) {
        if (n_host > 1)
            return "duplicate Host";
        if (n_host == 0 && m->minor == 1)
            return "missing Host";
        if (n_host) {
            struct mrd_h1_span hv = m->hdrs[m->host_idx].value;
            if (!mrd_h1_host_ok(m->base + hv.off, hv.len))
                return "invalid Host";
        }
        if (m->parser.method == HTTP_CONNECT) {
            *status = 501;
            return "CONNECT is not supported";
        }
    }
    if ((m->parser.flags & F_CONTENT_LENGTH) && m->parser.content_length > INT64_MAX)
        return "invalid Content-Length"; /* llhttp takes up to 2^64-1; nobody sends that */
    m->chunked = (m->parser.flags & F_CHUNKED) != 0;
    m->content_length = (m->parser.flags & F_CONTENT_LENGTH) ? (int64_t)m->parser.content_length : -1;
    m->keep_alive = llhttp_should_keep_alive(&m->parser) != 0;
    m->upgrade = m->parser.upgrade != 0;
    if (req && m->max_body_bytes && m->content_length > 0 &&
        (uint64_t)m->content_length > m->max_body_bytes) {
        *status = 413;
        return "body larger than the configured limit";
    }
    return NULL;
}

/* Maps an llhttp error to the status we answer with. */
static void h1_llhttp_error(struct mrd_h1_msg *m, llhttp_errno_t err)
{
    bool req = m->parser.type == HTTP_REQUEST;
    if (m->error_status)
        return; /* set by one of our callbacks */
    m->error_status = req ? 400 : 502;
    switch (err) {
    case HPE_INVALID_VERSION:
        m->why = "invalid HTTP version or request line";
        break;
    case HPE_INVALID_METHOD:
        m->why = "invalid method";
        break;
    case HPE_INVALID_URL:
        m->why = "invalid request-target";
        break;
    case HPE_INVALID_HEADER_TOKEN:
        m->why = "invalid header field";
        break;
    case HPE_INVALID_CONTENT_LENGTH:
        m->why = "invalid Content-Length";
        break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        m->why = "conflicting Content-Length";
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
        m->why = "invalid Transfer-Encoding";
        break;
    case HPE_INVALID_CHUNK_SIZE:
        m->why = "invalid chunk size";
        break;
    case HPE_STRICT:
    case HPE_CR_EXPECTED:
    case HPE_LF_EXPECTED:
        m->why = "invalid line ending";
        break;
    case HPE_INVALID_STATUS:
        m->why = "invalid status line";
        break;
    case HPE_INVALID_EOF_STATE:
        m->why = "connection closed inside a message";
        break;
    default:
        m->why = llhttp_errno_name(err);
        break;
    }
}

/* 1 if the buffer before <pos> ends with CRLF CRLF, as far as bytes are left to check. */
static bool h1_crlf_end(const char *buf, uint32_t pos)
{
    static const char end[] = "\r\n\r\n";
    uint32_t n = pos < 4 ? pos : 4;
    return memcmp(buf + pos - n, end + 4 - n, n) == 0;
}

enum mrd_h1_ret mrd_h1_feed(struct mrd_h1_msg *m, const char *buf, uint32_t *pos, uint32_t end)
{
    if (m->state == MRD_H1_ERROR)
        return MRD_H1_FAIL;
    if (m->state == MRD_H1_DONE)
        return MRD_H1_COMPLETE;
    m->base = buf;
    /* Right after the head a zero-length run is still useful: it lets llhttp finish a
     * message that has no body. */
    if (*pos >= end && m->state != MRD_H1_BODY)
        return MRD_H1_NEED_MORE;

    llhttp_errno_t err = llhttp_execute(&m->parser, buf + *pos, end - *pos);
    if (err == HPE_OK) {
        *pos = end;
        if (m->state == MRD_H1_HEAD && end - m->start > m->max_head_bytes) {
            m->state = MRD_H1_ERROR;
            m->error_status = h1_fail_status(m, 431);
            m->why = "request head larger than the configured limit";
            return MRD_H1_FAIL;
        }
        return MRD_H1_NEED_MORE;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        const char *at = llhttp_get_error_pos(&m->parser);
        *pos = (uint32_t)(at - buf);
        if (err == HPE_PAUSED)
            llhttp_resume(&m->parser);
        else
            llhttp_resume_after_upgrade(&m->parser);
        if (m->state == MRD_H1_HEAD) {
            int st;
            m->head_end = *pos;
            if (m->head_end - m->start > m->max_head_bytes) {
                m->state = MRD_H1_ERROR;
                m->error_status = h1_fail_status(m, 431);
                m->why = "head larger than the configured limit";
                return MRD_H1_FAIL;
            }
            const char *why = h1_check_head(m, &st);
            if (why) {
                m->state = MRD_H1_ERROR;
                m->error_status = st;
                m->why = why;
                return MRD_H1_FAIL;
            }
            m->state = MRD_H1_BODY;
            return MRD_H1_HEADERS;
        }
        /* llhttp lets a bare LF end the chunked trailer section; a peer that wants CRLF
         * would then never see the body end. Check the bytes still in the buffer. */
        if (m->chunked && !h1_crlf_end(buf, *pos)) {
            m->state = MRD_H1_ERROR;
            m->error_status = h1_fail_status(m, 400);
            m->why = "chunked body not ended by CRLF";
            return MRD_H1_FAIL;
        }
        m->state = MRD_H1_DONE;
        return MRD_H1_COMPLETE;
    }
    m->state = MRD_H1_ERROR;
    h1_llhttp_error(m, err);
    return MRD_H1_FAIL;
}

enum mrd_h1_ret mrd_h1_eof(struct mrd_h1_msg *m)
{
    if (m->state == MRD_H1_DONE)
        return MRD_H1_COMPLETE;
    if (m->state == MRD_H1_ERROR)
        return MRD_H1_FAIL;
    if (m->state == MRD_H1_BODY && llhttp_message_needs_eof(&m->parser)) {
        llhttp_errno_t err = llhttp_finish(&m->parser);
        if (err == HPE_OK || err == HPE_PAUSED) {
            m->state = MRD_H1_DONE;
            return MRD_H1_COMPLETE;
        }
    }
    m->state = MRD_H1_ERROR;
    m->error_status = h1_fail_status(m, 400);
    m->why = "connection closed inside a message";
    return MRD_H1_FAIL;
}

void mrd_h1_skip_body(struct mrd_h1_msg *m)
{
    m->parser.flags |= F_SKIPBODY;
    m->chunked = false;
    m->content_length = -1;
    m->needs_eof = false;
}

const char *mrd_h1_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}
