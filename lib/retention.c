/* The retention planner (retention.h): periods of the local calendar,
 * counted newest first, as restic's forget counts them. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "mem.h"
#include "retention.h"

const vs_ret_reason_info vs_ret_reasons[VS_RET_REASON_COUNT] = {
    [VS_RET_LAST] = { "last", true },
    [VS_RET_HOURLY] = { "hourly", true },
    [VS_RET_DAILY] = { "daily", true },
    [VS_RET_WEEKLY] = { "weekly", true },
    [VS_RET_MONTHLY] = { "monthly", true },
    [VS_RET_YEARLY] = { "yearly", true },
    [VS_RET_WITHIN] = { "within", true },
    [VS_RET_CURRENT] = { "current", false },
    [VS_RET_FUTURE] = { "future", false },
    [VS_RET_UNMATCHED] = { "unmatched", false },
};

/* Every reason named: a new one without an entry fails the build. */
_Static_assert(sizeof(vs_ret_reasons) / sizeof(vs_ret_reasons[0]) == VS_RET_REASON_COUNT,
               "vs_ret_reasons has an entry per reason");
_Static_assert(VS_RET_REASON_COUNT <= 32, "a decision is a 32-bit set of reasons");

/* ---- durations ----------------------------------------------------------- */

/* Limits that keep every sum far from overflowing and mktime meaningful. */
#define MAX_YEARS 10000L
#define MAX_DAYS (MAX_YEARS * 366L)
#define MAX_SECONDS (MAX_DAYS * 86400LL)

int
vs_duration_parse(const char *s, vs_duration *d, vs_error *err)
{
    const char *p = s;

    memset(d, 0, sizeof(*d));
    if (!*p)
        return vs_error_set(err, VS_ERR_PLAIN, "invalid duration '': it is empty");
    while (*p) {
        unsigned long long v = 0;
        const char *start = p;

        if (!isdigit((unsigned char)*p))
            return vs_error_set(err, VS_ERR_PLAIN, "invalid duration '%s': expected a number "
                                "at '%s' (durations look like 90m, 36h, 7d, 2w, 1y or 1d12h)",
                                s, p);
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (unsigned long long)(*p - '0');
            if (v > (unsigned long long)MAX_SECONDS)
                return vs_error_set(err, VS_ERR_PLAIN, "invalid duration '%s': '%.*s' is too "
                                    "large", s, (int)(p - start + 1), start);
            p++;
        }
        switch (*p) {
        case 's': d->seconds += (long long)v; break;
        case 'm': d->seconds += (long long)v * 60; break;
        case 'h': d->seconds += (long long)v * 3600; break;
        case 'd': d->days += (long)v; break;
        case 'w': d->days += (long)v * 7; break;
        case 'y': d->years += (long)v; break;
        case '\0':
            return vs_error_set(err, VS_ERR_PLAIN, "invalid duration '%s': '%s' has no unit "
                                "(s, m, h, d, w or y)", s, start);
        default:
            return vs_error_set(err, VS_ERR_PLAIN, "invalid duration '%s': unknown unit '%c' "
                                "(s, m, h, d, w or y)", s, *p);
        }
        p++;
        if (d->years > MAX_YEARS || d->days > MAX_DAYS || d->seconds > MAX_SECONDS)
            return vs_error_set(err, VS_ERR_PLAIN, "invalid duration '%s': longer than %ld "
                                "years", s, MAX_YEARS);
    }
    return 0;
}

long long
vs_duration_start(const vs_duration *d, long long now)
{
    time_t t = (time_t)now, back;
    struct tm tm;

    if ((d->years || d->days) && localtime_r(&t, &tm)) {
        /* The same wall-clock time on the earlier date; mktime normalizes
         * day and month overflow and, with tm_isdst -1, finds the offset
         * that date had. */
        tm.tm_year -= (int)d->years;
        tm.tm_mday -= (int)d->days;
        tm.tm_isdst = -1;
        back = mktime(&tm);
        if (back != (time_t)-1)
            t = back;
        else
            t -= (time_t)(d->years * 365L + d->days) * 86400;
    }
    return (long long)t - d->seconds;
}

/* ---- periods ------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil); month 1..12. */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
    long long era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* The period a snapshot falls in, for one counted rule: two numbers, equal
 * exactly when two times are in the same period. */
typedef struct period {
    long long a;
    long long b;
} period;

static period
period_of(vs_ret_reason rule, const struct tm *tm, size_t order)
{
    period p = { 0, 0 };
    long long day = days_from_civil((long long)tm->tm_year + 1900, (unsigned)tm->tm_mon + 1,
                                    (unsigned)tm->tm_mday);

    switch (rule) {
    case VS_RET_LAST:
        p.a = (long long)order;
        break;
    case VS_RET_HOURLY:
        /* the UTC offset tells the two 02:00 hours of a DST change apart */
        p.a = day * 24 + tm->tm_hour;
        p.b = tm->tm_gmtoff;
        break;
    case VS_RET_DAILY:
        p.a = day;
        break;
    case VS_RET_WEEKLY:
        /* ISO weeks: the day number of the week's Monday */
        p.a = day - (tm->tm_wday + 6) % 7;
        break;
    case VS_RET_MONTHLY:
        p.a = (long long)tm->tm_year * 12 + tm->tm_mon;
        break;
    case VS_RET_YEARLY:
        p.a = tm->tm_year;
        break;
    default:
        break;
    }
    return p;
}

/* ---- the planner --------------------------------------------------------- */

void
vs_ret_policy_init(vs_ret_policy *p)
{
    size_t i;

    memset(p, 0, sizeof(*p));
    for (i = 0; i < VS_RET_COUNTED; i++)
        p->keep[i] = -1;
}

bool
vs_ret_policy_has_rule(const vs_ret_policy *p)
{
    size_t i;

    for (i = 0; i < VS_RET_COUNTED; i++)
        if (p->keep[i] >= 0)
            return true;
    return p->within_set;
}

typedef struct cand {
    const vs_ret_snap *s;
    size_t idx;
    struct tm tm;
} cand;

static int
newest_first(const void *a, const void *b)
{
    const vs_ret_snap *x = ((const cand *)a)->s, *y = ((const cand *)b)->s;
    int c;

    if (x->time != y->time)
        return x->time > y->time ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq > y->seq ? -1 : 1;
    c = strcmp(x->name, y->name);
    return c > 0 ? -1 : c < 0 ? 1 : 0;
}

int
vs_retention_decide(const vs_ret_snap *snaps, size_t n, const vs_ret_policy *p,
                    long long now, unsigned *why, vs_error *err)
{
    cand *c;
    size_t i, k, nc = 0;
    long long start = 0;
    unsigned r;

    if (!vs_ret_policy_has_rule(p))
        return vs_error_set(err, VS_ERR_PLAIN, "snapshot-prune needs a retention rule: "
                            "--keep-last, --keep-hourly, --keep-daily, --keep-weekly, "
                            "--keep-monthly, --keep-yearly or --keep-within");
    if (p->within_set)
        start = vs_duration_start(&p->within, now);
    c = vs_xcalloc(n ? n : 1, sizeof(*c));
    for (i = 0; i < n; i++) {
        const vs_ret_snap *s = &snaps[i];
        time_t t = (time_t)s->time;

        why[i] = 0;
        if (s->current)
            why[i] |= VS_RET_BIT(VS_RET_CURRENT);
        if (p->match && fnmatch(p->match, s->name, 0) != 0) {
            why[i] |= VS_RET_BIT(VS_RET_UNMATCHED);
            continue;
        }
        if (s->time > now) {
            why[i] |= VS_RET_BIT(VS_RET_FUTURE);
            continue;
        }
        if (p->within_set && s->time >= start)
            why[i] |= VS_RET_BIT(VS_RET_WITHIN);
        c[nc].s = s;
        c[nc].idx = i;
        if (!localtime_r(&t, &c[nc].tm))
            memset(&c[nc].tm, 0, sizeof(c[nc].tm));
        nc++;
    }
    qsort(c, nc, sizeof(*c), newest_first);
    for (r = 0; r < VS_RET_COUNTED; r++) {
        period last = { 0, 0 };
        int left = p->keep[r];
        bool seen = false;

        for (k = 0; k < nc && left > 0; k++) {
            period here = period_of((vs_ret_reason)r, &c[k].tm, k);

            if (seen && here.a == last.a && here.b == last.b)
                continue;
            seen = true;
            last = here;
            why[c[k].idx] |= VS_RET_BIT(r);
            left--;
        }
    }
    free(c);
    return 0;
}

char *
vs_ret_why_string(unsigned why)
{
    vs_buf b = VS_BUF_INIT;
    size_t r;

    for (r = 0; r < VS_RET_REASON_COUNT; r++) {
        if (!(why & VS_RET_BIT(r)))
            continue;
        if (b.len)
            vs_buf_addc(&b, ',');
        vs_buf_add(&b, vs_ret_reasons[r].name);
    }
    if (!b.len)
        vs_buf_add(&b, "-");
    return vs_buf_steal(&b);
}
