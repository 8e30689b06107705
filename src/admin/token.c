/* The admin bearer token: where it comes from (admin.token_file, else MERIDIAN_ADMIN_TOKEN)
 * and how a presented one is compared without leaking the expected one through timing. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin-int.h"

bool mrd_admin_token_eq(const char *given, size_t glen, const char *want, size_t wlen)
{
    /* One pass over the presented token whatever the expected one holds: the time depends
     * on glen (which the client knows) and never on where a byte differs. A length
     * mismatch is folded into the same accumulator instead of returning early. */
    volatile unsigned char diff = 0;
    size_t lendiff = glen ^ wlen;

    if (!wlen)
        return false;
    for (size_t i = 0; i < glen; i++)
        diff |= (unsigned char)(given[i] ^ want[i % wlen]);
    return (diff | (lendiff != 0)) == 0;
}

/* Cuts leading and trailing whitespace (the newline editors add) off [*s, *s + *n). */
static void token_trim(const char **s, size_t *n)
{
    while (*n && strchr(" \t\r\n\v\f", (*s)[0]))
        (*s)++, (*n)--;
    while (*n && strchr(" \t\r\n\v\f", (*s)[*n - 1]))
        (*n)--;
}

/* A token is printable ASCII without spaces, as HTTP carries it in one header value. */
static bool token_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return n > 0;
}

/* Reads at most MRD_ADMIN_MAX_TOKEN bytes of <path> into <buf> (size MRD_ADMIN_MAX_TOKEN+1). */
static int token_read_file(const char *path, char *buf, size_t *len, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    size_t n = 0;

    if (fd < 0) {
        *why = "cannot open admin.token_file";
        return -errno;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, MRD_ADMIN_MAX_TOKEN + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = -errno;
            close(fd);
            *why = "cannot read admin.token_file";
            return err;
        }
        if (r == 0 || (n += (size_t)r) > MRD_ADMIN_MAX_TOKEN)
            break;
    }
    close(fd);
    if (n > MRD_ADMIN_MAX_TOKEN) {
        *why = "admin.token_file is larger than 4096 bytes";
        return -EFBIG;
    }
    *len = n;
    return 0;
}

int mrd_admin_read_token(const struct mrd_cfg *cfg, char **token, size_t *len, const char **why)
{
    char buf[MRD_ADMIN_MAX_TOKEN + 1];
    const char *s = NULL;
    size_t n = 0;

    *token = NULL;
    *len = 0;
    *why = NULL;
    if (cfg->admin.token_file) {
        int err = token_read_file(cfg->admin.token_file, buf, &n, why);
        if (err)
            return err;
        s = buf;
    } else if ((s = getenv("MERIDIAN_ADMIN_TOKEN")) && *s) {
        n = strlen(s);
    } else {
        return 0; /* no token at all: the API serves without authentication */
    }
    token_trim(&s, &n);
    if (!token_ok(s, n)) {
        *why = cfg->admin.token_file ? "admin.token_file must hold one token of printable "
                                       "ASCII characters without spaces"
                                     : "MERIDIAN_ADMIN_TOKEN must be one token of printable "
                                       "ASCII characters without spaces";
        memset(buf, 0, sizeof(buf));
        return -EINVAL;
    }
    char *copy = malloc(n + 1);
    if (!copy) {
        memset(buf, 0, sizeof(buf));
        *why = "out of memory";
        return -ENOMEM;
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    memset(buf, 0, sizeof(buf));
    *token = copy;
    *len = n;
    return 0;
}
