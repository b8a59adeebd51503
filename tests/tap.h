/* A minimal TAP producer for the C unit tests (automake's tap-driver reads it). */
#ifndef VSNAP_TAP_H
#define VSNAP_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do { \
    int ok_c_ = !!(cond); \
    printf("%s %d - ", ok_c_ ? "ok" : "not ok", ++tap_n); \
    printf(__VA_ARGS__); printf("\n"); \
    if (!ok_c_) { tap_failed++; printf("#   failed at %s:%d\n", __FILE__, __LINE__); } \
} while (0)

/* Compare two strings, show both on failure. */
#define is_str(got, want, ...) do { \
    const char *g_ = (got), *w_ = (want); \
    int eq_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_; \
    ok(eq_, __VA_ARGS__); \
    if (!eq_) printf("#   got:  [%s]\n#   want: [%s]\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

static inline int tap_done(void) { printf("1..%d\n", tap_n); return 0; }

#endif
