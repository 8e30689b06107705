/* libFuzzer target for the config loader: any bytes in, a config or a list of errors out,
 * and everything freed. Host names are not resolved (MERIDIAN_CFG_NUMERIC_ONLY) so runs
 * stay fast and never touch the network. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("MERIDIAN_CFG_NUMERIC_ONLY", "1", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mrd_cfg_errors errs = { 0 };
    struct mrd_cfg *cfg = mrd_cfg_load_string("fuzz.yaml", (const char *)data, size, &errs);

    if (cfg) {
        /* touch what the data path uses */
        static const char *const hosts[] = { "example.com", "a.example.com", "", "x" };
        for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
            const char *h = hosts[i];
            size_t n = 0;
            while (h[n])
                n++;
            const struct mrd_cfg_lb *lb = mrd_cfg_find_lb(cfg, h, n);
            for (size_t r = 0; lb && r < lb->n_rules; r++)
                if (lb->rules[r].path)
                    mrd_cfg_glob_match(lb->rules[r].path, "/api/v1/x", 9);
        }
        mrd_cfg_unref(mrd_cfg_ref(cfg));
        mrd_cfg_unref(cfg);
    } else if (errs.n == 0) {
        __builtin_trap(); /* a refused config must say why */
    }
    for (size_t i = 0; i < errs.n; i++)
        if (errs.v[i].msg[0] == 0)
            __builtin_trap(); /* every error has a message */
    mrd_cfg_errors_free(&errs);
    return 0;
}
