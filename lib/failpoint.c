#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failpoint.h"

#ifdef VSNAP_FAILPOINTS
#define MAX_SPECS 8

/* VSNAP_FAILPOINT=SPEC[,SPEC...], each NAME[:N[:kill]], each counted on its own. */
bool
vs_failpoint(const char *name)
{
    static int hits[MAX_SPECS];
    const char *spec = getenv("VSNAP_FAILPOINT");
    size_t n = strlen(name);
    int k;

    for (k = 0; spec && *spec && k < MAX_SPECS; k++) {
        const char *end = strchr(spec, ','), *rest;
        size_t len = end ? (size_t)(end - spec) : strlen(spec);
        long want = 1;
        bool kill_it = false;

        if (len >= n && strncmp(spec, name, n) == 0 && (len == n || spec[n] == ':')) {
            rest = spec + n;
            if (rest < spec + len && *rest == ':') {
                want = strtol(rest + 1, NULL, 10);
                rest = memchr(rest + 1, ':', (size_t)(spec + len - rest - 1));
                kill_it = rest && (size_t)(spec + len - rest) == 5 && strncmp(rest, ":kill", 5) == 0;
            }
            if (++hits[k] == want) {
                if (kill_it)
                    kill(getpid(), SIGKILL);
                return true;
            }
        }
        spec = end ? end + 1 : NULL;
    }
    return false;
}
#else
bool
vs_failpoint(const char *name)
{
    (void)name;
    return false;
}
#endif
