#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failpoint.h"

#ifdef VSNAP_FAILPOINTS
bool
vs_failpoint(const char *name)
{
    static int hits;
    const char *spec = getenv("VSNAP_FAILPOINT");
    size_t n = strlen(name);
    long want = 1;
    const char *rest;

    if (!spec || strncmp(spec, name, n) != 0 || (spec[n] != '\0' && spec[n] != ':'))
        return false;
    rest = spec + n;
    if (*rest == ':') {
        want = strtol(rest + 1, NULL, 10);
        rest = strchr(rest + 1, ':');
    } else {
        rest = NULL;
    }
    if (++hits != want)
        return false;
    if (rest && strcmp(rest, ":kill") == 0)
        kill(getpid(), SIGKILL);
    return true;
}
#else
bool
vs_failpoint(const char *name)
{
    (void)name;
    return false;
}
#endif
