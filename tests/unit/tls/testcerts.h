/* Test certificates for the TLS unit tests, made at test time with the openssl CLI in a
 * fresh temporary directory: a P-256 CA; leaves signed by it (ECDSA "ec" for a.example.com and
 * *.wild.example.com, RSA-2048 "rsa" for b.example.com); a self-signed leaf "self"; a stray
 * key "other"; an OCSP response "ocsp.der" for ec.crt; and "junk.pem". */
#ifndef MRD_TEST_TLS_CERTS_H
#define MRD_TEST_TLS_CERTS_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tc_dir[64];

static const char tc_script[] =
    "set -e; cd \"$1\"\n"
    "EC='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
    "openssl req -x509 -new $EC -keyout ca.key -out ca.crt -days 2 -subj '/CN=Meridian Test CA'"
    " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n"
    "openssl req -new $EC -keyout ec.key -out ec.csr -subj /CN=a.example.com\n"
    "echo 'subjectAltName=DNS:a.example.com,DNS:*.wild.example.com' > ec.ext\n"
    "openssl x509 -req -in ec.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out ec.crt"
    " -extfile ec.ext\n"
    "openssl req -new -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.csr -subj /CN=b.example.com\n"
    "echo 'subjectAltName=DNS:b.example.com' > rsa.ext\n"
    "openssl x509 -req -in rsa.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out rsa.crt"
    " -extfile rsa.ext\n"
    "openssl req -x509 -new $EC -keyout self.key -out self.crt -days 2 -subj /CN=self.example.com"
    " -addext subjectAltName=DNS:self.example.com\n"
    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key\n"
    ": > index.txt\n"
    "openssl ocsp -issuer ca.crt -cert ec.crt -no_nonce -reqout req.der\n"
    "openssl ocsp -index index.txt -rsigner ca.crt -rkey ca.key -CA ca.crt -reqin req.der"
    " -respout ocsp.der -ndays 1\n"
    "echo 'not a certificate' > junk.pem\n";

/* Makes the directory and the files; returns the directory, or NULL (reported). */
static inline const char *tc_make(void)
{
    char cmd[sizeof(tc_script) + 256];
    FILE *f;

    strcpy(tc_dir, "/tmp/mrd-tls-XXXXXX");
    if (!mkdtemp(tc_dir)) {
        perror("mkdtemp");
        return NULL;
    }
    snprintf(cmd, sizeof(cmd), "%s/make.sh", tc_dir);
    if (!(f = fopen(cmd, "w")))
        return NULL;
    fputs(tc_script, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "sh %s/make.sh %s >%s/make.log 2>&1", tc_dir, tc_dir, tc_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "making test certificates failed; see %s/make.log\n", tc_dir);
        return NULL;
    }
    return tc_dir;
}

/* Path of <file> in the directory, in one of 8 rotating buffers. */
static inline const char *tc_path(const char *file)
{
    static char buf[8][128];
    static int n;
    char *p = buf[n++ % 8];

    snprintf(p, sizeof(buf[0]), "%s/%s", tc_dir, file);
    return p;
}

static inline void tc_cleanup(void)
{
    char cmd[128];

    if (!tc_dir[0])
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tc_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tc_dir);
    tc_dir[0] = 0;
}
#endif
