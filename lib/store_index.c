/* The derived index's file format: written whole, appended to, read whole,
 * searched for one snapshot (store_index.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "path.h"
#include "store_index.h"

#define MAGIC "vsnap-index 3 "
/* "vsnap-index 3 " + 12 digits + ' ' + 12 digits + '\n' */
#define HEADER_LEN (sizeof(MAGIC) - 1 + 12 + 1 + 12 + 1)
/* No line of a well-formed index is longer (two names of 255 bytes and
 * eight numbers). */
#define LINE_MAX_LEN 1024
/* The transactions a lookup reads at most (a writer compacts long before). */
#define LOG_READ_MAX ((size_t)64 * 1024 * 1024)

/* ---- fields ------------------------------------------------------------ */

/* Decimal, optionally negative; the whole string. (strtoll showed up in
 * profiles: several numbers a line, tens of thousands of lines.) */
static bool
parse_ll(const char *s, long long *v)
{
    unsigned long long x = 0;
    bool neg = *s == '-';

    if (neg)
        s++;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (unsigned long long)LLONG_MAX / 10)
            return false;
        x = x * 10 + (unsigned long long)(*s - '0');
    }
    if (x > (unsigned long long)LLONG_MAX)
        return false;
    *v = neg ? -(long long)x : (long long)x;
    return true;
}

/* Split line at TABs into f[0..max); the number of fields, max + 1 if more. */
static size_t
split_tabs(char *line, char **f, size_t max)
{
    char *p = line;
    size_t n = 0;

    while (p) {
        char *e = strchr(p, '\t');

        if (n == max)
            return max + 1;
        f[n++] = p;
        if (e)
            *e++ = '\0';
        p = e;
    }
    return n;
}

/* The next TAB-separated field at *p, cut in place; *p moves past it (NULL
 * after the last). NULL when there is none. */
static char *
next_field(char **p)
{
    char *s = *p, *e = s;

    if (!s)
        return NULL;
    while (*e && *e != '\t')
        e++;
    if (*e) {
        *e = '\0';
        *p = e + 1;
    } else {
        *p = NULL;
    }
    return s;
}

/* The fields after the name of a snapshot's line (cut at TABs in place).
 * *hint (may be NULL) is the state the previous line had: most lines
 * share it, and then one compare finds it. */
static bool
parse_rest(char *name, char *rest, vs_snap_entry *e, size_t *nchildren, size_t *ndesc,
           int *hint)
{
    char *f[9], *p = rest;
    long long seq, nc, nd;
    size_t k, nl;
    int st;

    memset(e, 0, sizeof(*e));
    /* The index can be damaged or edited: names from it later build paths. */
    for (nl = 0; name[nl]; nl++)
        if (name[nl] == '/')
            return false;
    if (!nl || name[0] == '.' || nl > VS_NAME_MAX)
        return false;
    for (k = 0; k < 9; k++)
        if (!(f[k] = next_field(&p)))
            return false;
    if (p)
        return false;   /* a tenth field */
    e->name = name;
    e->parent = *f[0] ? f[0] : NULL;
    if (!parse_ll(f[1], &e->creation_time))
        return false;
    if (hint && *hint >= 0 && strcmp(f[2], vs_snap_state_name((vs_snap_state)*hint)) == 0)
        st = *hint;
    else if ((st = vs_snap_state_parse(f[2])) < 0)
        return false;
    if (hint)
        *hint = st;
    e->state = (vs_snap_state)st;
    if (!f[3][0] || !f[3][1] || f[3][2])
        return false;
    e->external = f[3][0] == 'e';
    e->location_external = f[3][1] == 'l';
    if (!parse_ll(f[4], &e->file_mtime) || !parse_ll(f[5], &e->file_size) ||
        !parse_ll(f[6], &seq) || seq < 0 || !parse_ll(f[7], &nc) || nc < 0 ||
        !parse_ll(f[8], &nd) || nd < 0)
        return false;
    e->seq = (unsigned long long)seq;
    e->parent_idx = e->first_child = e->next_sibling = -1;
    if (nchildren)
        *nchildren = (size_t)nc;
    if (ndesc)
        *ndesc = (size_t)nd;
    return true;
}

/* A whole snapshot line (NUL-terminated), cut in place. */
static bool
parse_line(char *line, vs_snap_entry *e, size_t *nchildren, size_t *ndesc)
{
    char *tab = strchr(line, '\t');

    if (!tab)
        return false;
    *tab = '\0';
    return parse_rest(line, tab + 1, e, nchildren, ndesc, NULL);
}

/* The length of line's first field (its name). */
static size_t
name_len(const char *line)
{
    const char *tab = strchr(line, '\t');

    return tab ? (size_t)(tab - line) : strlen(line);
}

static void
add_escaped(vs_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c == 0x7f || c == '\\')
            vs_buf_addf(b, "\\x%02x", c);
        else
            vs_buf_addc(b, (char)c);
    }
}

/* The file name of a damaged-file line; NULL when it is not one. */
static char *
unescape(const char *s)
{
    vs_buf b = VS_BUF_INIT;

    for (; *s; s++) {
        unsigned v;

        if (*s != '\\') {
            vs_buf_addc(&b, *s);
            continue;
        }
        if (s[1] != 'x' || sscanf(s + 2, "%2x", &v) != 1 || !s[2] || !s[3] || v == 0) {
            vs_buf_reset(&b);
            return NULL;
        }
        vs_buf_addc(&b, (char)v);
        s += 3;
    }
    if (b.len == 0 || b.data[0] == '.' || strchr(b.data, '/')) {
        vs_buf_reset(&b);
        return NULL;
    }
    return vs_buf_steal(&b);
}

/* "= DIR_MTIME COUNT NDAMAGED c|i WRITTEN" */
static bool
parse_commit(const char *line, vs_index_state *st)
{
    long long m, c, nd, w;
    char flag, end;

    if (sscanf(line, "= %lld %lld %lld %c %lld%c", &m, &c, &nd, &flag, &w, &end) != 5 || c < 0 ||
        nd < 0 || (flag != 'c' && flag != 'i'))
        return false;
    st->dir_mtime = m;
    st->count = (size_t)c;
    st->ndamaged = (size_t)nd;
    st->consistent = flag == 'c';
    st->written = w;
    return true;
}

static void
format_commit(vs_buf *b, long long dir_mtime, size_t count, size_t ndmg, bool consistent,
              long long written)
{
    vs_buf_addf(b, "= %lld %zu %zu %c %lld\n", dir_mtime, count, ndmg, consistent ? 'c' : 'i',
                written);
}

static void
format_line(vs_buf *b, const vs_snap_entry *e, size_t ndesc)
{
    char num[192];
    int len;

    vs_buf_add(b, e->name);
    vs_buf_addc(b, '\t');
    if (e->parent)
        vs_buf_add(b, e->parent);
    len = snprintf(num, sizeof(num), "\t%lld\t", e->creation_time);
    vs_buf_addn(b, num, (size_t)len);
    vs_buf_add(b, vs_snap_state_name(e->state));
    len = snprintf(num, sizeof(num), "\t%c%c\t%lld\t%lld\t%llu\t%zu\t%zu\n",
                   e->external ? 'e' : '-', e->location_external ? 'l' : '-', e->file_mtime,
                   e->file_size, e->seq, e->nchildren, ndesc);
    vs_buf_addn(b, num, (size_t)len);
}

/* ---- writing ----------------------------------------------------------- */

size_t *
vs_index_descendants(const vs_snap_tree *t)
{
    size_t *nd = vs_xcalloc(t->n ? t->n : 1, sizeof(*nd));
    long *pre;
    size_t n = vs_snap_tree_select(t, -1, VS_LIST_TOPOLOGICAL, &pre), k;

    /* parents come before their children: add up from the end */
    for (k = n; k-- > 0;) {
        long p = t->e[pre[k]].parent_idx;

        if (p >= 0)
            nd[p] += nd[pre[k]] + 1;
    }
    free(pre);
    return nd;
}

void
vs_index_format(vs_buf *b, const vs_snap_tree *t, const size_t *ndesc, const vs_snap_damage *dmg,
                size_t ndmg, long long dir_mtime, long long written)
{
    size_t start = b->len, i, snap_end;
    long *order;
    char hdr[HEADER_LEN + 1];

    /* the header's offsets are filled in once they are known */
    vs_buf_addn(b, MAGIC "000000000000 000000000000\n", HEADER_LEN);
    order = vs_xmalloc((t->n ? t->n : 1) * sizeof(*order));
    for (i = 0; i < t->n; i++)
        order[i] = (long)i;
    vs_snap_tree_sort_by_name(t, order, t->n);
    for (i = 0; i < t->n; i++)
        format_line(b, &t->e[order[i]], ndesc[order[i]]);
    free(order);
    snap_end = b->len - start;
    for (i = 0; i < ndmg; i++) {
        vs_buf_addc(b, '\t');
        add_escaped(b, dmg[i].file);
        vs_buf_addf(b, "\t%lld\t%lld\t%s\n", dmg[i].file_mtime, dmg[i].file_size, dmg[i].reason);
    }
    format_commit(b, dir_mtime, t->n, ndmg, !t->inconsistent, written);
    snprintf(hdr, sizeof(hdr), MAGIC "%012zu %012zu\n", snap_end, b->len - start);
    memcpy(b->data + start, hdr, HEADER_LEN);
}

void
vs_index_format_append(vs_buf *b, const vs_snap_tree *t, const size_t *ndesc, const long *idx,
                       size_t n, char *const *gone, size_t ngone, size_t ndmg,
                       long long dir_mtime, long long written)
{
    size_t i;

    for (i = 0; i < n; i++) {
        vs_buf_addc(b, '+');
        format_line(b, &t->e[idx[i]], ndesc[idx[i]]);
    }
    for (i = 0; i < ngone; i++)
        vs_buf_addf(b, "-%s\n", gone[i]);
    format_commit(b, dir_mtime, t->n, ndmg, !t->inconsistent, written);
}

/* ---- reading it whole ---------------------------------------------------- */

/* "vsnap-index 3 SNAP_END BASE_END\n": the two offsets, checked against len. */
static bool
parse_header(const char *buf, size_t len, size_t *snap_end, size_t *base_end)
{
    long long a, b;
    char num[13];

    if (len < HEADER_LEN || memcmp(buf, MAGIC, sizeof(MAGIC) - 1) != 0 ||
        buf[HEADER_LEN - 14] != ' ' || buf[HEADER_LEN - 1] != '\n')
        return false;
    memcpy(num, buf + sizeof(MAGIC) - 1, 12);
    num[12] = '\0';
    if (!parse_ll(num, &a))
        return false;
    memcpy(num, buf + HEADER_LEN - 13, 12);
    if (!parse_ll(num, &b))
        return false;
    (void)len;
    if (a < (long long)HEADER_LEN || b < a)
        return false;
    *snap_end = (size_t)a;
    *base_end = (size_t)b;
    return true;
}

/* A committed log record: '+' with its line, or '-' with a name. */
typedef struct rec {
    char kind;
    char *name;              /* NUL-terminated */
    char *rest;              /* '+': the fields after the name */
    bool in_base;
} rec;

/* name -> the last record of that name (open addressing, index + 1). */
typedef struct rec_map {
    size_t *slot;
    size_t n;
} rec_map;

static size_t
hash_str(const char *s)
{
    size_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static size_t *
map_find(rec_map *m, const rec *r, const char *name)
{
    size_t i = hash_str(name) & (m->n - 1);

    while (m->slot[i] && strcmp(r[m->slot[i] - 1].name, name) != 0)
        i = (i + 1) & (m->n - 1);
    return &m->slot[i];
}

static int
cmp_rec_name(const void *a, const void *b)
{
    return vs_snap_name_cmp((*(rec *const *)a)->name, (*(rec *const *)b)->name);
}

void
vs_index_read_clear(vs_index_read *r)
{
    size_t i;

    for (i = 0; i < r->ndamage; i++) {
        free(r->damage[i].file);
        free(r->damage[i].reason);
    }
    free(r->damage);
    memset(r, 0, sizeof(*r));
}

static bool
parse_damage(char *line, vs_index_read *r)
{
    char *f[6];
    vs_snap_damage *x;
    long long mtime, size;
    char *file;

    if (split_tabs(line, f, 6) != 5 || *f[0] || !parse_ll(f[2], &mtime) ||
        !parse_ll(f[3], &size) || !*f[4] || !(file = unescape(f[1])))
        return false;
    vs_xgrow(&r->damage, &r->damage_cap, r->ndamage, sizeof(*r->damage));
    x = &r->damage[r->ndamage++];
    memset(x, 0, sizeof(*x));
    x->file = file;
    x->reason = vs_xstrdup(f[4]);
    x->file_mtime = mtime;
    x->file_size = size;
    return true;
}

/* Cut buf[from, to) into lines (NUL for '\n'); their starts, *n of them.
 * False when the last one has no newline. */
static bool
cut_lines(char *buf, size_t from, size_t to, char ***lines, size_t *n)
{
    size_t cap = 0, k = 0;
    char *p = buf + from, *end = buf + to;

    *lines = NULL;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));

        if (!nl) {
            *n = k;
            return false;
        }
        *nl = '\0';
        vs_xgrow(lines, &cap, k, sizeof(**lines));
        (*lines)[k++] = p;
        p = nl + 1;
    }
    *n = k;
    return true;
}

bool
vs_index_parse(char *buf, size_t len, vs_snap_tree *t, vs_index_read *r)
{
    size_t snap_end, base_end, nbase = 0, nlog = 0, nrec = 0, ncommitted = 0, nnew = 0, i, j;
    size_t nbefore;
    char **base = NULL, **log = NULL, *cl;
    rec *recs = NULL, **fresh = NULL;
    rec_map map = { NULL, 0 };
    bool ok = true, unordered = false;
    const char *prev = NULL;
    int hint = -1;

    memset(r, 0, sizeof(*r));
    if (strlen(buf) != len || !parse_header(buf, len, &snap_end, &base_end))
        return false;
    /* cut short in its base: the whole lines there are still worth reusing */
    if (base_end > len || snap_end > len) {
        if (cut_lines(buf, HEADER_LEN, snap_end < len ? snap_end : len, &base, &nbase), true) {
            for (i = 0; i < nbase; i++) {
                vs_snap_entry e;

                if (parse_line(base[i], &e, NULL, NULL) && vs_snap_tree_find(t, e.name) < 0)
                    vs_snap_tree_add_borrowed(t, &e);
            }
        }
        free(base);
        return true;
    }
    /* the base's commit record is its last line */
    if (base_end <= snap_end || buf[base_end - 1] != '\n')
        return false;
    buf[base_end - 1] = '\0';
    cl = strrchr(buf + snap_end - 1, '\n');
    cl = cl && cl >= buf + snap_end - 1 ? cl + 1 : buf + snap_end;
    if (!parse_commit(cl, &r->st))
        return false;
    r->base_len = base_end;
    if (buf[snap_end - 1] != '\n')
        return false;
    /* damaged files, between the snapshots and the commit record */
    if (cl > buf + snap_end) {
        char **dl;
        size_t nd;

        cl[-1] = '\n';   /* cut_lines wants it back */
        if (!cut_lines(buf, snap_end, (size_t)(cl - buf), &dl, &nd))
            ok = false;
        for (i = 0; i < nd; i++)
            if (!parse_damage(dl[i], r))
                ok = false;
        free(dl);
    }
    if (!cut_lines(buf, HEADER_LEN, snap_end, &base, &nbase))
        ok = false;

    /* the transactions: only those with a commit record count */
    if (!cut_lines(buf, base_end, len, &log, &nlog))
        ok = false;   /* cut short */
    recs = vs_xcalloc(nlog + 1, sizeof(*recs));
    for (i = 0; i < nlog; i++) {
        char *l = log[i];

        if (l[0] == '=') {
            vs_index_state st;

            if (!parse_commit(l, &st)) {
                ok = false;
                break;
            }
            r->st.dir_mtime = st.dir_mtime;
            r->st.count = st.count;
            r->st.ndamaged = st.ndamaged;
            r->st.consistent = st.consistent;
            ncommitted = nrec;
        } else if (l[0] == '+' || l[0] == '-') {
            rec *x = &recs[nrec++];

            x->kind = l[0];
            x->name = l + 1;
            if (l[0] == '+') {
                char *tab = strchr(l + 1, '\t');

                if (!tab) {
                    ok = false;
                    break;
                }
                *tab = '\0';
                x->rest = tab + 1;
            }
        } else {
            ok = false;
            break;
        }
    }
    if (ncommitted < nrec)
        ok = false;   /* a transaction cut short: ignored */
    nrec = ncommitted;
    /* the last record of each name */
    for (map.n = 16; map.n < nrec * 2; map.n *= 2)
        ;
    map.slot = vs_xcalloc(map.n, sizeof(*map.slot));
    for (i = 0; i < nrec; i++)
        *map_find(&map, recs, recs[i].name) = i + 1;

    /* the base in order, each name replaced by its last record, and the
     * names new in the transactions merged in at their place */
    if (nbase + nrec <= len / 8)
        vs_snap_tree_reserve(t, nbase + nrec);
    for (i = 0; nrec && i < nbase; i++) {
        size_t *s, nl = name_len(base[i]);
        char c = base[i][nl];

        base[i][nl] = '\0';
        if (*(s = map_find(&map, recs, base[i])))
            recs[*s - 1].in_base = true;
        base[i][nl] = c;
    }
    fresh = vs_xcalloc(nrec + 1, sizeof(*fresh));
    for (i = 0; i < nrec; i++)
        if (*map_find(&map, recs, recs[i].name) == i + 1 && !recs[i].in_base &&
            recs[i].kind == '+')
            fresh[nnew++] = &recs[i];
    qsort(fresh, nnew, sizeof(*fresh), cmp_rec_name);
    for (i = 0, j = 0; i < nbase || j < nnew;) {
        vs_snap_entry e;
        char *name = NULL, *rest = NULL;
        size_t nl;

        if (i < nbase) {
            nl = name_len(base[i]);
            if (base[i][nl] != '\t') {
                ok = false;
                i++;
                continue;
            }
            base[i][nl] = '\0';
            name = base[i];
            rest = base[i] + nl + 1;
        }
        if (j < nnew && (!name || vs_snap_name_cmp(fresh[j]->name, name) < 0)) {
            if (name)
                name[nl] = '\t';   /* its turn comes next */
            name = fresh[j]->name;
            rest = fresh[j]->rest;
            j++;
        } else {
            size_t *s = nrec ? map_find(&map, recs, name) : NULL;

            i++;
            if (s && *s) {
                if (recs[*s - 1].kind == '-')
                    continue;
                rest = recs[*s - 1].rest;
            }
        }
        if (!parse_rest(name, rest, &e, NULL, NULL, &hint)) {
            ok = false;
            continue;
        }
        /* The names come in strictly increasing order in an index, so
         * none is in the tree yet: appended without a lookup. Out of order
         * it is no index of ours; a name twice replaces the first instead
         * of adding. */
        if (!unordered && prev && vs_snap_name_cmp(prev, name) >= 0) {
            unordered = true;
            ok = false;
        }
        prev = name;
        if (!unordered) {
            vs_snap_tree_append_borrowed(t, &e);
            continue;
        }
        nbefore = t->n;
        vs_snap_tree_add_borrowed(t, &e);
        if (t->n == nbefore)
            ok = false;
    }
    r->complete = ok && t->n == r->st.count && r->ndamage == r->st.ndamaged;
    free(map.slot);
    free(fresh);
    free(recs);
    free(base);
    free(log);
    return true;
}

/* ---- one snapshot ---------------------------------------------------------- */

static bool
pread_all(int fd, char *buf, size_t len, long long off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + (long long)got));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

/* An open index, its header, its transactions and its last commit record. */
typedef struct ix {
    int fd;
    long long size, snap_end, base_end;
    char *log;               /* [base_end, size), NUL-terminated, lines cut */
    char **lines;            /* the committed transaction lines */
    size_t nlines;
} ix;

static void
ix_clear(ix *x)
{
    free(x->log);
    free(x->lines);
}

static int
ix_open(ix *x, int fd, long long size, vs_index_state *st)
{
    char hdr[HEADER_LEN + 1], tail[512 + 1], *cl;
    size_t se, be, i, n, tl, committed = 0;
    long long from;

    memset(x, 0, sizeof(*x));
    x->fd = fd;
    x->size = size;
    if (size < (long long)HEADER_LEN || !pread_all(fd, hdr, HEADER_LEN, 0))
        return -1;
    hdr[HEADER_LEN] = '\0';
    if (!parse_header(hdr, (size_t)size, &se, &be) || be <= se || (long long)be > size)
        return -1;
    x->snap_end = (long long)se;
    x->base_end = (long long)be;
    /* the base's commit record: the last line before BASE_END */
    from = x->base_end - 512 > x->snap_end ? x->base_end - 512 : x->snap_end;
    tl = (size_t)(x->base_end - from);
    if (!pread_all(fd, tail, tl, from) || tail[tl - 1] != '\n')
        return -1;
    tail[tl - 1] = '\0';
    cl = strrchr(tail, '\n');
    cl = cl ? cl + 1 : tail;
    if ((cl == tail && from != x->snap_end) || !parse_commit(cl, st))
        return -1;
    /* the transactions */
    if ((size_t)(size - x->base_end) > LOG_READ_MAX)
        return -1;
    n = (size_t)(size - x->base_end);
    x->log = vs_xmalloc(n + 1);
    if (n && !pread_all(fd, x->log, n, x->base_end))
        return -1;
    x->log[n] = '\0';
    if (strlen(x->log) != n || (n && x->log[n - 1] != '\n') ||
        !cut_lines(x->log, 0, n, &x->lines, &x->nlines))
        return -1;
    for (i = 0; i < x->nlines; i++) {
        if (x->lines[i][0] == '=') {
            vs_index_state s;

            if (!parse_commit(x->lines[i], &s))
                return -1;
            s.written = st->written;
            *st = s;
            committed = i + 1;
        } else if (x->lines[i][0] != '+' && x->lines[i][0] != '-') {
            return -1;
        }
    }
    /* a transaction cut short: the file is not what its commit says */
    if (committed != x->nlines)
        return -1;
    return 0;
}

/* The line starting at off (before `end`) into buf (LINE_MAX_LEN + 1),
 * NUL-terminated; its length without the newline, or -1. */
static long
line_at(int fd, long long off, long long end, char *buf)
{
    size_t want = end - off < LINE_MAX_LEN ? (size_t)(end - off) : LINE_MAX_LEN;
    char *nl;

    if (!want || !pread_all(fd, buf, want, off))
        return -1;
    buf[want] = '\0';
    if (!(nl = memchr(buf, '\n', want)))
        return -1;
    *nl = '\0';
    return nl - buf;
}

/* The start of the first line at or after off (a line ends just before
 * hi, and off - 1 is inside a line of [.., hi)): at most hi; -1 on a line
 * longer than any well-formed one. */
static long long
line_start_after(int fd, long long off, long long hi, char *buf)
{
    long long span = hi - (off - 1);
    size_t want = span < LINE_MAX_LEN ? (size_t)span : LINE_MAX_LEN;
    char *nl;

    if (!pread_all(fd, buf, want, off - 1))
        return -1;
    if (!(nl = memchr(buf, '\n', want)))
        return span <= LINE_MAX_LEN ? hi : -1;
    return off - 1 + (nl - buf) + 1;
}

/* The first line of [lo, hi) (lo a line start, hi a line start or the end)
 * whose name compares >= 0 with cmp(name, key), or hi; -1 on a damaged
 * file. About log2(lines) reads of a line each. */
static long long
lower_bound(int fd, long long lo, long long hi, int (*cmp)(const char *, const void *),
            const void *key)
{
    char buf[LINE_MAX_LEN + 1];

    while (lo < hi) {
        long long mid = lo + (hi - lo) / 2, ls = lo;
        long len;

        if (mid > lo && (ls = line_start_after(fd, mid, hi, buf)) < 0)
            return -1;
        if (ls >= hi)
            ls = lo;   /* no line starts in [mid, hi): the one at lo */
        if ((len = line_at(fd, ls, hi, buf)) < 0)
            return -1;
        buf[name_len(buf)] = '\0';
        if (cmp(buf, key) >= 0)
            hi = ls;
        else
            lo = ls + len + 1;
    }
    return lo;
}

static int
cmp_name_key(const char *name, const void *key)
{
    return vs_snap_name_cmp(name, key);
}

int
vs_index_lookup(int fd, long long size, const char *name, vs_index_entry *out,
                vs_index_state *st)
{
    ix x;
    size_t i, nl;
    const char *hit = NULL;
    long long at;
    long len;
    int ret = -1;

    memset(st, 0, sizeof(*st));
    if (ix_open(&x, fd, size, st) < 0)
        goto out;
    nl = strlen(name);
    /* the last committed record of the name wins */
    for (i = 0; i < x.nlines; i++) {
        const char *l = x.lines[i];

        if ((l[0] == '+' && strncmp(l + 1, name, nl) == 0 && l[1 + nl] == '\t') ||
            (l[0] == '-' && strcmp(l + 1, name) == 0))
            hit = l;
    }
    if (hit && hit[0] == '-') {
        ret = 0;
        goto out;
    }
    if (hit) {
        if (strlen(hit + 1) >= sizeof(out->line))
            goto out;
        strcpy(out->line, hit + 1);
    } else {
        if ((at = lower_bound(fd, HEADER_LEN, x.snap_end, cmp_name_key, name)) < 0)
            goto out;
        if (at >= x.snap_end) {
            ret = 0;
            goto out;
        }
        if ((len = line_at(fd, at, x.snap_end, out->line)) < 0)
            goto out;
        if (name_len(out->line) != nl || strncmp(out->line, name, nl) != 0) {
            ret = 0;
            goto out;
        }
    }
    ret = parse_line(out->line, &out->e, &out->nchildren, &out->ndescendants) ? 1 : -1;
 out:
    ix_clear(&x);
    return ret;
}

/* ---- the names with a prefix ----------------------------------------------- */

static int
lower_ascii(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

/* name against the prefix key, ignoring case and what follows the prefix:
 * the names it is 0 for are one run in listing order. */
static int
cmp_prefix_key(const char *name, const void *key)
{
    const char *p = key;

    for (; *p; p++, name++) {
        int a = lower_ascii((unsigned char)*name), b = lower_ascii((unsigned char)*p);

        if (!*name)
            return -1;
        if (a != b)
            return a - b;
    }
    return 0;
}

static int
cmp_strp(const void *a, const void *b)
{
    return vs_snap_name_cmp(*(char *const *)a, *(char *const *)b);
}

int
vs_index_prefix(int fd, long long size, const char *prefix, char ***names, vs_index_state *st)
{
    ix x;
    size_t plen = strlen(prefix), n = vs_strv_len(*names), cap = *names ? n + 1 : 0, i, k;
    char *buf = NULL, **v = *names;
    long long at;
    int ret = -1;

    memset(st, 0, sizeof(*st));
    if (ix_open(&x, fd, size, st) < 0 ||
        (at = lower_bound(fd, HEADER_LEN, x.snap_end, cmp_prefix_key, prefix)) < 0)
        goto out;
    /* the run of names that match ignoring case, read a block at a time */
    buf = vs_xmalloc(65536 + 1);
    while (at < x.snap_end) {
        size_t want = x.snap_end - at < 65536 ? (size_t)(x.snap_end - at) : 65536, used = 0;
        bool done = false;

        if (!pread_all(fd, buf, want, at))
            goto out;
        buf[want] = '\0';
        while (used < want) {
            char *l = buf + used, *nl = memchr(l, '\n', want - used);

            if (!nl)
                break;
            *nl = '\0';
            l[name_len(l)] = '\0';
            if (cmp_prefix_key(l, prefix) != 0) {
                done = true;
                break;
            }
            if (strncmp(l, prefix, plen) == 0) {
                vs_xgrow(&v, &cap, n + 1, sizeof(*v));
                v[n++] = vs_xstrdup(l);
                v[n] = NULL;
            }
            used = (size_t)(nl - buf) + 1;
        }
        if (done)
            break;
        if (used == 0)
            goto out;   /* a line longer than a block */
        at += (long long)used;
    }
    /* the transactions: names gone, names new */
    for (i = 0; i < x.nlines; i++) {
        char *l = x.lines[i] + 1, c = x.lines[i][0];
        size_t nl = name_len(l);

        if (c == '=' || strncmp(l, prefix, plen) != 0 || nl < plen)
            continue;
        if (c == '+')
            l[nl] = '\0';   /* its fields are not needed again */
        for (k = 0; k < n && strcmp(v[k], l) != 0; k++)
            ;
        if (c == '-' && k < n) {
            free(v[k]);
            v[k] = v[--n];
            v[n] = NULL;
        } else if (c == '+' && k == n) {
            vs_xgrow(&v, &cap, n + 1, sizeof(*v));
            v[n++] = vs_xstrdup(l);
            v[n] = NULL;
        }
    }
    if (!v)
        v = vs_xcalloc(1, sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_strp);
    ret = 0;
 out:
    *names = v;
    free(buf);
    ix_clear(&x);
    return ret;
}
