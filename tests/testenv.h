/*
 * What a C test gets from its environment beyond the build tree (Makefile.am's
 * AM_TESTS_ENVIRONMENT sets these):
 *
 *  - VSNAP_SCHEMAS: libvirt's RelaxNG schemas, which every printed XML is
 *    validated against. configure picks the reference's copy when it is
 *    there, else the installed ones (/usr/share/libvirt/schemas, Debian's
 *    libvirt0), so they are there on a fresh machine too.
 *  - VSNAP_REFERENCE: ../shared/reference (libvirt's corpus, virsh's
 *    transcripts), there in CI, absent in a user's clone. Only cross-checks
 *    read it; a program without it runs none of them and reports them as one
 *    skip, testenv_skip_cross_checks().
 */
#ifndef VSNAP_TESTENV_H
#define VSNAP_TESTENV_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tap.h"

#define TESTENV_NO_REFERENCE "cross-check with ../shared/reference: not present"
#define TESTENV_NO_SCHEMAS "schema validation: no libvirt schemas (install libvirt0 or configure --with-schemas=DIR)"

/* The reference directory, or NULL when it is not there. A directory that was
 * named but does not exist counts as there: its cross-checks then fail. */
static inline const char *
testenv_reference(void)
{
    const char *r = getenv("VSNAP_REFERENCE");

    return r && *r ? r : NULL;
}

/* The one TAP line that stands for every cross-check of a program. */
static inline void
testenv_skip_cross_checks(void)
{
    printf("ok %d # SKIP %s\n", ++tap_n, TESTENV_NO_REFERENCE);
}

/* The schema directory, or NULL when there is none. */
static inline const char *
testenv_schema_dir(void)
{
    const char *s = getenv("VSNAP_SCHEMAS");

    return s && *s ? s : NULL;
}

/* "$VSNAP_SCHEMAS/<rng>" when that file exists (caller frees), else NULL. */
static inline char *
testenv_schema(const char *rng)
{
    const char *dir = testenv_schema_dir();
    struct stat st;
    char *path;
    int n;

    if (!dir)
        return NULL;
    n = snprintf(NULL, 0, "%s/%s", dir, rng);
    if (n < 0 || !(path = malloc((size_t)n + 1)))
        return NULL;
    snprintf(path, (size_t)n + 1, "%s/%s", dir, rng);
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        free(path);
        return NULL;
    }
    return path;
}

/* Whether schema file `rng` defines <element> (older libvirt releases lack
 * some, e.g. Debian 12's 9.0 has no <revertDisks>). */
static inline bool
testenv_schema_knows(const char *rng, const char *element)
{
    char want[128], *text = NULL;
    size_t len = 0;
    FILE *f = fopen(rng, "r");
    bool found;

    if (!f)
        return false;
    if (getdelim(&text, &len, '\0', f) < 0) {
        free(text);
        fclose(f);
        return false;
    }
    fclose(f);
    snprintf(want, sizeof(want), "<element name=\"%s\"", element);
    found = strstr(text, want) != NULL;
    free(text);
    return found;
}

static inline void
testenv_skip_schemas(void)
{
    printf("ok %d # SKIP %s\n", ++tap_n, TESTENV_NO_SCHEMAS);
}

#endif
