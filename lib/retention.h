/* Retention: which snapshots a policy keeps, and why (snapshot-prune).
 *
 * A pure function: the snapshots (names, creation times, which one is
 * current), "now" and the rules go in, one decision per snapshot comes out;
 * no clock, no store, no I/O. Periods are calendar periods of the local time
 * zone (the process's TZ), so tests set TZ and "now" and get the same
 * answer on any machine on any day. */
#ifndef VSNAP_RETENTION_H
#define VSNAP_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include "error.h"

/*
 * What keeps a snapshot: the rules of a policy and the protections.
 * A decision is a set of these (vs_ret_why bits); the empty set deletes.
 * vs_ret_reasons describes each, in this order.
 */
typedef enum vs_ret_reason {
    VS_RET_LAST = 0,     /* one of the N newest */
    VS_RET_HOURLY,       /* the newest of one of the N newest hours that have a snapshot */
    VS_RET_DAILY,        /* ... days */
    VS_RET_WEEKLY,       /* ... ISO weeks (Monday to Sunday) */
    VS_RET_MONTHLY,      /* ... months */
    VS_RET_YEARLY,       /* ... years */
    VS_RET_WITHIN,       /* newer than now minus the --keep-within duration */
    VS_RET_CURRENT,      /* the current snapshot: never deleted */
    VS_RET_FUTURE,       /* created after "now" (a clock that was wrong): never deleted */
    VS_RET_UNMATCHED,    /* its name does not match --match: not the policy's */
    VS_RET_REASON_COUNT
} vs_ret_reason;

/* The rules that count periods: VS_RET_LAST ... VS_RET_YEARLY. */
#define VS_RET_COUNTED (VS_RET_YEARLY + 1)

#define VS_RET_BIT(r) (1u << (r))

typedef struct vs_ret_reason_info {
    const char *name;     /* "daily": the option is --keep-NAME for a rule */
    bool rule;            /* a rule of the policy (else a protection) */
} vs_ret_reason_info;

/* Indexed by vs_ret_reason; every reason has an entry (checked at build time). */
extern const vs_ret_reason_info vs_ret_reasons[VS_RET_REASON_COUNT];

/*
 * A --keep-within duration: the sum of NUMBER UNIT parts, e.g. "90m",
 * "36h", "7d", "2w", "1y", "1d12h". Units: s (seconds), m (minutes),
 * h (hours), d (days), w (weeks), y (years). Days, weeks and years are
 * counted on the local calendar (the same wall-clock time N days, or N
 * years, before: across a DST change "1d" is 23 or 25 hours); seconds,
 * minutes and hours are elapsed time.
 */
typedef struct vs_duration {
    long years;
    long days;              /* weeks included */
    long long seconds;      /* hours and minutes included */
} vs_duration;

/* Parse s; on failure "invalid duration 'S': ..." and -1. */
int vs_duration_parse(const char *s, vs_duration *d, vs_error *err);
/* The oldest creation time the duration keeps at `now`. */
long long vs_duration_start(const vs_duration *d, long long now);

/* One snapshot, as the planner sees it. */
typedef struct vs_ret_snap {
    const char *name;
    long long time;              /* creation time, seconds since the epoch */
    unsigned long long seq;      /* order among equal times, higher is newer; 0 unknown */
    bool current;
} vs_ret_snap;

typedef struct vs_ret_policy {
    int keep[VS_RET_COUNTED];    /* --keep-last ... --keep-yearly; -1: not given */
    bool within_set;             /* --keep-within given */
    vs_duration within;
    const char *match;           /* fnmatch(3) glob on names; NULL: every snapshot */
} vs_ret_policy;

/* Every rule unset, no match. */
void vs_ret_policy_init(vs_ret_policy *p);
/* Whether the policy has at least one rule. */
bool vs_ret_policy_has_rule(const vs_ret_policy *p);

/*
 * Decide: why[i] gets the set of reasons that keep snaps[i] (0: delete it).
 *
 * The snapshots the policy matches and that are not from the future are
 * ordered newest first (creation time, then seq, then name, each higher
 * first); --keep-last N keeps the first N; each period rule with N walks
 * that order and keeps the first snapshot of every period it has not seen,
 * until it kept N (so "the last N days" are the N newest days that have a
 * snapshot: a gap of days does not make older snapshots go sooner);
 * --keep-within keeps everything from vs_duration_start on. Rules are
 * or-ed: a snapshot any rule keeps stays. An hour is a local clock hour
 * together with its UTC offset, so the hour a DST change repeats is two
 * hours. The current snapshot always stays, and counts like any other
 * (the one a cron job just took is the newest hourly); snapshots from the
 * future always stay and fill no period; unmatched ones stay and are not
 * counted.
 *
 * Fails only for a policy without a rule ("snapshot-prune needs a retention
 * rule: ...").
 */
int vs_retention_decide(const vs_ret_snap *snaps, size_t n, const vs_ret_policy *p,
                        long long now, unsigned *why, vs_error *err);

/* The reasons in why, comma-separated in vs_ret_reason order ("daily,weekly"),
 * or "-" for none; caller frees. */
char *vs_ret_why_string(unsigned why);

#endif
