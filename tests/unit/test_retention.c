/* retention.c: the planner, table-driven, with TZ set per case; durations. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "mem.h"
#include "retention.h"
#include "tap.h"

/* "2024-10-27T00:30Z" (UTC) or "2024-10-27T00:30:15Z": seconds since the epoch. */
static long long
utc(const char *s)
{
    struct tm tm;
    int sec = 0;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &sec) < 5) {
        fprintf(stderr, "bad time %s\n", s);
        abort();
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_sec = sec;
    return (long long)timegm(&tm);
}

static void
set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

/* "last=3,hourly=2,within=1d,match=a*" -> policy (match points into spec). */
static void
parse_policy(char *spec, vs_ret_policy *p)
{
    char *tok, *save = NULL;

    vs_ret_policy_init(p);
    for (tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        size_t r;

        *eq++ = '\0';
        if (strcmp(tok, "match") == 0) {
            p->match = eq;
            continue;
        }
        if (strcmp(tok, "within") == 0) {
            vs_error e;

            p->within_set = vs_duration_parse(eq, &p->within, &e) == 0;
            continue;
        }
        for (r = 0; r < VS_RET_COUNTED; r++)
            if (strcmp(tok, vs_ret_reasons[r].name) == 0)
                p->keep[r] = atoi(eq);
    }
}

/*
 * One case: snapshots "name@TIME[#seq][*]" (TIME as utc(), * = current),
 * blank-separated; the policy; the expected decision of every snapshot, in
 * input order, "name=reasons" ("-" for delete).
 */
typedef struct ret_case {
    const char *what;
    const char *tz;
    const char *now;
    const char *snaps;
    const char *policy;
    const char *want;
} ret_case;

static const ret_case cases[] = {
    { "empty input", "UTC", "2024-05-01T12:00Z", "", "daily=7", "" },
    { "empty match: nothing is the policy's",
      "UTC", "2024-05-01T12:00Z",
      "m1@2024-04-01T00:00Z m2@2024-04-02T00:00Z", "last=0,match=auto-*",
      "m1=unmatched m2=unmatched" },
    { "--keep-last alone",
      "UTC", "2024-05-01T12:00Z",
      "a@2024-05-01T01:00Z b@2024-05-01T02:00Z c@2024-05-01T03:00Z d@2024-05-01T04:00Z "
      "e@2024-05-01T05:00Z", "last=3",
      "a=- b=- c=last d=last e=last" },
    { "--keep-last 0 deletes every match, never the current one",
      "UTC", "2024-05-01T12:00Z",
      "a@2024-05-01T01:00Z b@2024-05-01T02:00Z* c@2024-05-01T03:00Z", "last=0",
      "a=- b=current c=-" },
    { "--keep-hourly: the newest of each hour",
      "UTC", "2024-05-01T12:00Z",
      "a@2024-05-01T09:10Z b@2024-05-01T10:05Z c@2024-05-01T10:50Z d@2024-05-01T11:01Z "
      "e@2024-05-01T11:20Z f@2024-05-01T11:59Z", "hourly=2",
      "a=- b=- c=hourly d=- e=- f=hourly" },
    { "--keep-daily over a gap of days: the newest days that have a snapshot",
      "UTC", "2024-05-12T12:00Z",
      "d1@2024-05-01T08:00Z d2@2024-05-02T08:00Z d3a@2024-05-03T08:00Z d3b@2024-05-03T20:00Z "
      "d10@2024-05-10T08:00Z d11@2024-05-11T08:00Z", "daily=3",
      "d1=- d2=- d3a=- d3b=daily d10=daily d11=daily" },
    { "--keep-weekly: ISO weeks run Monday to Sunday",
      "UTC", "2024-01-20T12:00Z",
      "sun@2024-01-07T23:00Z mon@2024-01-08T00:30Z sun2@2024-01-14T23:59Z "
      "mon2@2024-01-15T00:00Z", "weekly=3",
      "sun=weekly mon=- sun2=weekly mon2=weekly" },
    { "--keep-weekly across a new year (ISO week 1 of 2025 starts 2024-12-30)",
      "UTC", "2025-01-10T00:00Z",
      "a@2024-12-29T12:00Z b@2024-12-30T12:00Z c@2025-01-01T12:00Z d@2025-01-06T12:00Z",
      "weekly=5",
      "a=weekly b=- c=weekly d=weekly" },
    { "--keep-monthly alone",
      "UTC", "2024-05-10T12:00Z",
      "a@2024-02-10T00:00Z b@2024-03-01T00:00Z c@2024-03-31T23:59Z d@2024-05-01T00:00Z",
      "monthly=2",
      "a=- b=- c=monthly d=monthly" },
    { "--keep-yearly alone",
      "UTC", "2024-05-10T12:00Z",
      "a@2021-06-01T00:00Z b@2022-01-01T00:00Z c@2022-12-31T23:59Z d@2024-01-01T00:00Z",
      "yearly=2",
      "a=- b=- c=yearly d=yearly" },
    { "--keep-within alone",
      "UTC", "2024-05-01T12:00Z",
      "a@2024-05-01T10:00Z b@2024-05-01T10:30Z c@2024-05-01T11:59Z", "within=90m",
      "a=- b=within c=within" },
    { "--keep-monthly and --keep-yearly",
      "UTC", "2024-05-01T12:00Z",
      "y22@2022-12-31T23:00Z y23a@2023-03-01T00:00Z y23b@2023-11-30T00:00Z "
      "m3@2024-03-15T00:00Z m4a@2024-04-01T00:00Z m4b@2024-04-30T23:59Z",
      "monthly=2,yearly=2",
      "y22=- y23a=- y23b=yearly m3=monthly m4a=- m4b=monthly,yearly" },
    { "rules combined are or-ed, each reported",
      "UTC", "2024-05-03T12:00Z",
      "a@2024-05-01T10:00Z b@2024-05-01T11:00Z c@2024-05-02T10:00Z d@2024-05-03T09:00Z "
      "e@2024-05-03T11:00Z", "last=1,daily=2,within=26h",
      "a=- b=- c=daily,within d=within e=last,daily,within" },
    { "identical timestamps: the higher name is the newer",
      "UTC", "2024-05-01T12:00Z",
      "b@2024-05-01T10:00Z a@2024-05-01T10:00Z c@2024-05-01T10:00Z", "last=1",
      "b=- a=- c=last" },
    { "identical timestamps: the creation sequence before the name",
      "UTC", "2024-05-01T12:00Z",
      "b@2024-05-01T10:00Z#2 a@2024-05-01T10:00Z#3 c@2024-05-01T10:00Z#1", "last=1,hourly=1",
      "b=- a=last,hourly c=-" },
    { "snapshots from the future stay and fill no period",
      "UTC", "2024-05-01T12:00Z",
      "old@2024-05-01T08:00Z new@2024-05-01T11:00Z fut@2024-05-02T08:00Z", "last=1,daily=1",
      "old=- new=last,daily fut=future" },
    { "an old current snapshot stays; it counts in its own period",
      "UTC", "2024-05-10T12:00Z",
      "cur@2024-05-01T08:00Z* a@2024-05-01T09:00Z b@2024-05-09T09:00Z", "daily=2",
      "cur=current a=daily b=daily" },
    { "--match: unmatched snapshots are neither counted nor deleted",
      "UTC", "2024-05-01T12:00Z",
      "auto-1@2024-05-01T01:00Z keep@2024-05-01T05:00Z auto-2@2024-05-01T02:00Z "
      "auto-3@2024-05-01T03:00Z", "last=2,match=auto-*",
      "auto-1=- keep=unmatched auto-2=last auto-3=last" },
    /* Europe/Berlin 2024-03-31: 02:00 CET becomes 03:00 CEST (a 23-hour day). */
    { "DST forward (Berlin): the hours around the gap are hours of their own",
      "Europe/Berlin", "2024-03-31T03:00Z",
      "h00@2024-03-31T00:30Z h01@2024-03-31T01:30Z h02@2024-03-31T02:30Z", "hourly=3,daily=1",
      "h00=hourly h01=hourly h02=hourly,daily" },
    { "DST forward (Berlin): one 23-hour day, and the day before it",
      "Europe/Berlin", "2024-04-01T12:00Z",
      "a@2024-03-30T22:59Z b@2024-03-30T23:00Z c@2024-03-31T21:59Z", "daily=5",
      "a=daily b=- c=daily" },
    { "DST forward (Berlin): --keep-within 1d is the same clock time yesterday (23 h)",
      "Europe/Berlin", "2024-03-31T10:00Z",
      "in@2024-03-30T11:30Z out@2024-03-30T10:30Z", "within=1d",
      "in=within out=-" },
    { "DST forward (Berlin): --keep-within 24h is 24 elapsed hours",
      "Europe/Berlin", "2024-03-31T10:00Z",
      "in@2024-03-30T11:30Z out@2024-03-30T10:30Z", "within=24h",
      "in=within out=within" },
    /* Europe/Berlin 2024-10-27: 03:00 CEST becomes 02:00 CET, 02:xx twice. */
    { "DST back (Berlin): the repeated 02:00 hour is two hours",
      "Europe/Berlin", "2024-10-27T03:00Z",
      "cest@2024-10-27T00:30Z cet@2024-10-27T01:30Z", "hourly=2",
      "cest=hourly cet=hourly" },
    { "DST back (Berlin): ... and one day of 25 hours",
      "Europe/Berlin", "2024-10-28T12:00Z",
      "first@2024-10-26T22:00Z cest@2024-10-27T00:30Z cet@2024-10-27T01:30Z "
      "last@2024-10-27T22:59Z next@2024-10-27T23:00Z", "daily=3",
      "first=- cest=- cet=- last=daily next=daily" },
    /* America/New_York 2024-11-03: 02:00 EDT becomes 01:00 EST, 01:xx twice. */
    { "DST back (New York): the two 01:30s are two hours",
      "America/New_York", "2024-11-03T08:00Z",
      "edt@2024-11-03T05:30Z est@2024-11-03T06:30Z", "hourly=2,daily=1",
      "edt=hourly est=hourly,daily" },
    { "DST back (New York): --keep-within 1d reaches 25 hours back",
      "America/New_York", "2024-11-03T17:00Z",
      "in@2024-11-02T16:30Z out@2024-11-02T15:30Z", "within=1d",
      "in=within out=-" },
    /* America/New_York 2024-03-10: 02:00 EST becomes 03:00 EDT. */
    { "DST forward (New York): hours and days",
      "America/New_York", "2024-03-10T12:00Z",
      "a@2024-03-10T06:30Z b@2024-03-10T07:30Z c@2024-03-10T04:59Z d@2024-03-10T05:00Z",
      "hourly=2,daily=2",
      "a=hourly b=hourly,daily c=daily d=-" },
    { "a time zone with a half-hour offset (Asia/Kolkata): hours are local hours",
      "Asia/Kolkata", "2024-05-01T12:00Z",
      "a@2024-05-01T08:20Z b@2024-05-01T08:40Z", "hourly=2",
      "a=hourly b=hourly" },
};

static void
run_case(const ret_case *c)
{
    vs_ret_snap *snaps = NULL;
    size_t n = 0, cap = 0, i;
    char *list = vs_xstrdup(c->snaps), *pol = vs_xstrdup(c->policy), *tok, *save = NULL;
    vs_ret_policy p;
    unsigned *why;
    vs_buf got = VS_BUF_INIT;
    vs_error err;

    set_tz(c->tz);
    for (tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *at = strchr(tok, '@'), *hash, *star;
        vs_ret_snap *s;

        vs_xgrow(&snaps, &cap, n, sizeof(*snaps));
        s = &snaps[n++];
        memset(s, 0, sizeof(*s));
        *at++ = '\0';
        s->name = tok;
        if ((star = strchr(at, '*'))) {
            s->current = true;
            *star = '\0';
        }
        if ((hash = strchr(at, '#'))) {
            s->seq = strtoull(hash + 1, NULL, 10);
            *hash = '\0';
        }
        s->time = utc(at);
    }
    parse_policy(pol, &p);
    why = vs_xcalloc(n + 1, sizeof(*why));
    vs_error_clear(&err);
    if (vs_retention_decide(snaps, n, &p, utc(c->now), why, &err) < 0) {
        ok(0, "%s: %s", c->what, err.msg);
    } else {
        for (i = 0; i < n; i++) {
            char *w = vs_ret_why_string(why[i]);

            vs_buf_addf(&got, "%s%s=%s", i ? " " : "", snaps[i].name, w);
            free(w);
        }
        is_str(vs_buf_str(&got), c->want, "%s", c->what);
    }
    vs_buf_reset(&got);
    free(why);
    free(snaps);
    free(list);
    free(pol);
}

/* Hourly snapshots for 60 days, pruned after each one as the shipped timer
 * does (24 hourly, 7 daily, 4 weekly): the survivors are what one prune of
 * the whole history keeps, and exactly as many as the policy says. */
static void
simulate_cron(const char *tz)
{
    const long hours = 60 * 24;
    vs_ret_snap *all = vs_xcalloc((size_t)hours, sizeof(*all)), *live;
    char **names = vs_xcalloc((size_t)hours, sizeof(*names));
    unsigned *why = vs_xcalloc((size_t)hours, sizeof(*why));
    long long start = utc("2024-10-01T00:17Z"), now = 0;
    size_t nlive = 0, i, k, hourly = 0, daily = 0, weekly = 0, kept_once = 0;
    bool same = true;
    vs_ret_policy p;
    vs_error err;
    long h;

    set_tz(tz);
    vs_ret_policy_init(&p);
    p.keep[VS_RET_HOURLY] = 24;
    p.keep[VS_RET_DAILY] = 7;
    p.keep[VS_RET_WEEKLY] = 4;
    live = vs_xcalloc((size_t)hours, sizeof(*live));
    for (h = 0; h < hours; h++) {
        now = start + h * 3600;
        names[h] = vs_xasprintf("auto-%05ld", h);
        all[h].name = names[h];
        all[h].time = now;
        for (i = 0; i < nlive; i++)
            live[i].current = false;
        live[nlive] = all[h];
        live[nlive++].current = true;
        vs_retention_decide(live, nlive, &p, now + 60, why, &err);
        for (i = 0, k = 0; i < nlive; i++)
            if (why[i])
                live[k++] = live[i];
        nlive = k;
    }
    for (i = 0; i < nlive; i++)
        live[i].current = false;
    vs_retention_decide(live, nlive, &p, now + 60, why, &err);
    for (i = 0; i < nlive; i++) {
        hourly += (why[i] & VS_RET_BIT(VS_RET_HOURLY)) != 0;
        daily += (why[i] & VS_RET_BIT(VS_RET_DAILY)) != 0;
        weekly += (why[i] & VS_RET_BIT(VS_RET_WEEKLY)) != 0;
        if (!why[i])
            same = false;
    }
    ok(same, "%s: pruning every hour leaves nothing a later prune would delete", tz);
    ok(hourly == 24 && daily == 7 && weekly == 4,
       "%s: 24 hourly, 7 daily, 4 weekly survive (%zu, %zu, %zu)", tz, hourly, daily, weekly);
    vs_retention_decide(all, (size_t)hours, &p, now + 60, why, &err);
    for (i = 0, k = 0; i < (size_t)hours; i++) {
        if (!why[i])
            continue;
        kept_once++;
        while (k < nlive && strcmp(live[k].name, all[i].name) != 0)
            k++;
        if (k == nlive)
            same = false;
    }
    ok(same && kept_once == nlive, "%s: the same %zu snapshots as one prune of all %ld (%zu)",
       tz, nlive, hours, kept_once);
    for (h = 0; h < hours; h++)
        free(names[h]);
    free(names);
    free(live);
    free(all);
    free(why);
}

typedef struct dur_case {
    const char *in;
    long years, days;
    long long seconds;
} dur_case;

static void
test_durations(void)
{
    static const dur_case good[] = {
        { "90m", 0, 0, 5400 }, { "36h", 0, 0, 129600 }, { "7d", 0, 7, 0 },
        { "2w", 0, 14, 0 }, { "1y", 1, 0, 0 }, { "1d12h", 0, 1, 43200 },
        { "45s", 0, 0, 45 }, { "1y2w3d4h5m6s", 1, 17, 14706 }, { "0d", 0, 0, 0 },
    };
    static const char *const bad[] = {
        "", "7", "d", "7x", "-1d", "1 d", "1.5h", "h1", "99999999999999999999y", "20000y",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        vs_duration d;
        vs_error e;
        int r = vs_duration_parse(good[i].in, &d, &e);

        ok(r == 0 && d.years == good[i].years && d.days == good[i].days &&
           d.seconds == good[i].seconds, "duration '%s' = %ldy %ldd %llds", good[i].in,
           good[i].years, good[i].days, good[i].seconds);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vs_duration d;
        vs_error e;

        vs_error_clear(&e);
        ok(vs_duration_parse(bad[i], &d, &e) < 0 && strncmp(e.msg, "invalid duration '", 18) == 0,
           "duration '%s' is refused (%s)", bad[i], e.msg);
    }
    {
        vs_duration d;
        vs_error e;

        set_tz("Europe/Berlin");
        vs_duration_parse("1y", &d, &e);
        ok(vs_duration_start(&d, utc("2024-02-29T12:00Z")) == utc("2023-03-01T12:00Z"),
           "1y before 29 February is 1 March of the year before");
        vs_duration_parse("1w", &d, &e);
        ok(vs_duration_start(&d, utc("2024-11-01T12:00Z")) == utc("2024-10-25T11:00Z"),
           "1w across DST back keeps the wall-clock time (169 hours)");
    }
}

static void
test_policy(void)
{
    vs_ret_policy p;
    vs_ret_snap s = { "a", 1, 0, false };
    unsigned why = 7;
    vs_error e;
    char *w;

    vs_ret_policy_init(&p);
    ok(!vs_ret_policy_has_rule(&p), "an initialized policy has no rule");
    vs_error_clear(&e);
    ok(vs_retention_decide(&s, 1, &p, 10, &why, &e) < 0 &&
       strstr(e.msg, "snapshot-prune needs a retention rule") && why == 7,
       "a policy without a rule is refused before deciding anything");
    p.keep[VS_RET_DAILY] = 0;
    ok(vs_ret_policy_has_rule(&p), "--keep-daily 0 is a rule");
    w = vs_ret_why_string(VS_RET_BIT(VS_RET_WEEKLY) | VS_RET_BIT(VS_RET_LAST) |
                          VS_RET_BIT(VS_RET_CURRENT));
    is_str(w, "last,weekly,current", "reasons print in table order");
    free(w);
    w = vs_ret_why_string(0);
    is_str(w, "-", "no reason prints as -");
    free(w);
}

int
main(void)
{
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
    simulate_cron("UTC");
    simulate_cron("Europe/Berlin");
    simulate_cron("America/New_York");
    test_durations();
    test_policy();
    return tap_done();
}
