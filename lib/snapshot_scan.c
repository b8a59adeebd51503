/* Scanning a snapshot file for the fields a listing needs (snapshot_scan.h). */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "snapshot_def.h"
#include "snapshot_scan.h"

#define MAX_DEPTH 64
#define MAX_ATTRS 16

/* The elements whose place the scan knows. */
typedef enum kind {
    K_OTHER = 0,   /* inside <domain> or <description>: only well-formedness */
    K_ROOT,
    K_NAME, K_STATE, K_CTIME, K_DESCRIPTION, K_PARENT, K_PARENT_NAME,
    K_MEMORY, K_DISKS, K_DISK, K_SOURCE, K_DRIVER, K_DOMAIN,
} kind;

typedef struct attr {
    const char *name;
    size_t nlen;
    char *value;             /* decoded in place */
    size_t vlen;
} attr;

typedef struct scan {
    char *p, *end;
    /* what was found */
    char *name, *parent, *state, *ctime;
    size_t name_len, parent_len, state_len, ctime_len;
    int seen[K_DOMAIN + 1];
    bool mem_internal, disk_external;
    bool in_revert;          /* inside <revertDisks>: no part of the flags */
    /* the disk being read */
    bool disk_has_loc, disk_source, disk_format;
    const char *disk_type;   /* "file", "block" */
} scan;

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool
eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* A name at s->p; false if there is none (or it has a ':'). */
static bool
read_name(scan *s, const char **name, size_t *len)
{
    char *q = s->p;

    if (q >= s->end || !name_start(*q))
        return false;
    while (q < s->end && name_char(*q))
        q++;
    if (q < s->end && *q == ':')
        return false;   /* namespaces: the full parser knows them */
    *name = s->p;
    *len = (size_t)(q - s->p);
    s->p = q;
    return true;
}

/* A reference at *rp ('&'): its character into *out, *rp past it. Only
 * the five named ones and ASCII character references. */
static bool
reference(char **rp, char *end, char *out)
{
    char *r = *rp + 1, *semi = memchr(r, ';', (size_t)(end - r));
    size_t n;
    unsigned v = 0;

    if (!semi || semi - r > 8)
        return false;
    n = (size_t)(semi - r);
    if (eq(r, n, "amp"))
        *out = '&';
    else if (eq(r, n, "lt"))
        *out = '<';
    else if (eq(r, n, "gt"))
        *out = '>';
    else if (eq(r, n, "quot"))
        *out = '"';
    else if (eq(r, n, "apos"))
        *out = '\'';
    else if (n >= 2 && r[0] == '#') {
        char *q = r + 1;
        bool hex = *q == 'x';

        if (hex)
            q++;
        if (q == semi)
            return false;
        for (; q < semi; q++) {
            int d = *q >= '0' && *q <= '9' ? *q - '0'
                    : hex && *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
                    : hex && *q >= 'A' && *q <= 'F' ? *q - 'A' + 10 : -1;

            if (d < 0 || v > 0x10000)
                return false;
            v = v * (hex ? 16 : 10) + (unsigned)d;
        }
        /* ASCII a document may hold; the rest is for the full parser */
        if (!(v == 0x9 || v == 0xa || v == 0xd || (v >= 0x20 && v < 0x7f)))
            return false;
        *out = (char)v;
    } else {
        return false;
    }
    *rp = semi + 1;
    return true;
}

/* Character data up to the next '<', decoded in place from *start; its
 * decoded length in *len. False on what the scan leaves to the full parser
 * (a carriage return, whose line ends the parser rewrites) or on what is
 * not well formed (']]>', a bad reference). */
static bool
text(scan *s, char **start, size_t *len)
{
    char *r = s->p, *w = s->p;

    *start = s->p;
    while (r < s->end && *r != '<') {
        if (*r == '&') {
            if (!reference(&r, s->end, w))
                return false;
            w++;
            continue;
        }
        if (*r == '\r' || (*r == ']' && s->end - r >= 3 && r[1] == ']' && r[2] == '>'))
            return false;
        *w++ = *r++;
    }
    *len = (size_t)(w - *start);
    s->p = r;
    return true;
}

/* Attributes up to '>' or '/>' (not consumed), each decoded in place. */
static bool
attributes(scan *s, attr *a, size_t *na)
{
    *na = 0;
    for (;;) {
        bool spaced = false;
        char q, *r, *w;
        attr *x;
        size_t k;

        while (s->p < s->end && is_space(*s->p)) {
            s->p++;
            spaced = true;
        }
        if (s->p >= s->end)
            return false;
        if (*s->p == '>' || *s->p == '/')
            return true;
        if (!spaced || *na == MAX_ATTRS)
            return false;
        x = &a[(*na)++];
        if (!read_name(s, &x->name, &x->nlen))
            return false;
        for (k = 0; k + 1 < *na; k++)
            if (a[k].nlen == x->nlen && memcmp(a[k].name, x->name, x->nlen) == 0)
                return false;   /* repeated */
        while (s->p < s->end && is_space(*s->p))
            s->p++;
        if (s->p >= s->end || *s->p != '=')
            return false;
        s->p++;
        while (s->p < s->end && is_space(*s->p))
            s->p++;
        if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
            return false;
        q = *s->p++;
        x->value = w = r = s->p;
        while (r < s->end && *r != q) {
            /* '<' is not allowed; raw white space the parser would normalise */
            if (*r == '<' || *r == '\t' || *r == '\n' || *r == '\r')
                return false;
            if (*r == '&') {
                if (!reference(&r, s->end, w))
                    return false;
                w++;
                continue;
            }
            *w++ = *r++;
        }
        if (r >= s->end)
            return false;
        x->vlen = (size_t)(w - x->value);
        s->p = r + 1;
    }
}

/* A comment or a processing instruction at s->p ("<!--", "<?"): skipped.
 * False when it is neither or not well formed. */
static bool
misc(scan *s)
{
    char *q;

    if (s->end - s->p >= 4 && memcmp(s->p, "<!--", 4) == 0) {
        for (q = s->p + 4; q + 1 < s->end; q++) {
            if (q[0] == '-' && q[1] == '-') {
                if (q + 2 >= s->end || q[2] != '>')
                    return false;
                s->p = q + 3;
                return true;
            }
        }
        return false;
    }
    if (s->end - s->p >= 2 && s->p[1] == '?') {
        const char *n;
        size_t nl;

        s->p += 2;
        /* the XML declaration (encodings...) is for the full parser */
        if (!read_name(s, &n, &nl) || (nl == 3 && strncasecmp(n, "xml", 3) == 0))
            return false;
        /* the target, then white space or the end */
        if (s->end - s->p < 2 || (!is_space(*s->p) && memcmp(s->p, "?>", 2) != 0))
            return false;
        for (q = s->p; q + 1 < s->end; q++) {
            if (q[0] == '?' && q[1] == '>') {
                s->p = q + 2;
                return true;
            }
        }
        return false;
    }
    return false;
}

static const char *
value(const attr *a, size_t na, const char *name)
{
    size_t i;

    for (i = 0; i < na; i++)
        if (eq(a[i].name, a[i].nlen, name))
            return a[i].value;
    return NULL;
}

static bool
value_is(const attr *a, size_t na, const char *name, const char *lit)
{
    size_t i;

    for (i = 0; i < na; i++)
        if (eq(a[i].name, a[i].nlen, name))
            return eq(a[i].value, a[i].vlen, lit);
    return false;
}

/* Only attributes from `allowed` (NULL-terminated). */
static bool
only_attrs(const attr *a, size_t na, const char *const *allowed)
{
    size_t i, k;

    for (i = 0; i < na; i++) {
        for (k = 0; allowed[k] && !eq(a[i].name, a[i].nlen, allowed[k]); k++)
            ;
        if (!allowed[k])
            return false;
    }
    return true;
}

static size_t
attr_len(const attr *a, size_t na, const char *name)
{
    size_t i;

    for (i = 0; i < na; i++)
        if (eq(a[i].name, a[i].nlen, name))
            return a[i].vlen;
    return 0;
}

/* The snapshot location names a file may hold, and whether it is one. */
static bool
location(const attr *a, size_t na, bool *has, bool *external, bool manual_ok)
{
    const char *v = value(a, na, "snapshot");
    size_t n = attr_len(a, na, "snapshot");

    *has = v != NULL;
    *external = v && eq(v, n, "external");
    return !v || eq(v, n, "internal") || eq(v, n, "external") || eq(v, n, "no") ||
           (manual_ok && eq(v, n, "manual"));
}

/* What element `nm` under one of kind `up` is, with its attributes
 * checked; false when the scan leaves the file to the full parser. */
static bool
open_element(scan *s, kind up, const char *nm, size_t nl, const attr *a, size_t na, kind *out)
{
    static const char *const none[] = { NULL };
    static const char *const mem_attrs[] = { "snapshot", NULL };
    static const char *const disk_attrs[] = { "name", "snapshot", "type", NULL };
    static const char *const type_attr[] = { "type", NULL };
    bool has, ext;
    kind k = K_OTHER;

    switch (up) {
    case K_OTHER:
        *out = K_OTHER;
        return true;
    case K_ROOT:
        if (eq(nm, nl, "name"))
            k = K_NAME;
        else if (eq(nm, nl, "state"))
            k = K_STATE;
        else if (eq(nm, nl, "creationTime"))
            k = K_CTIME;
        else if (eq(nm, nl, "description"))
            k = K_DESCRIPTION;
        else if (eq(nm, nl, "parent"))
            k = K_PARENT;
        else if (eq(nm, nl, "memory"))
            k = K_MEMORY;
        else if (eq(nm, nl, "disks") || eq(nm, nl, "revertDisks")) {
            k = K_DISKS;
            s->in_revert = eq(nm, nl, "revertDisks");
        }
        else if (eq(nm, nl, "domain"))
            k = K_DOMAIN;
        else
            return false;
        /* each once (<disks> and <revertDisks> share a count of two) */
        if (++s->seen[k] > (k == K_DISKS ? 2 : 1))
            return false;
        if (k == K_MEMORY) {
            /* an external memory image (a file) is for the full parser */
            if (!only_attrs(a, na, mem_attrs) || !location(a, na, &has, &ext, false) || ext)
                return false;
            if (value_is(a, na, "snapshot", "internal"))
                s->mem_internal = true;   /* checked against the state at the end */
        } else if (k == K_DOMAIN) {
            /* a domain without its type is the old uuid-only form */
            if (!value(a, na, "type") || !attr_len(a, na, "type"))
                return false;
        } else if (k != K_DESCRIPTION && !only_attrs(a, na, none)) {
            return false;
        }
        break;
    case K_PARENT:
        if (!eq(nm, nl, "name") || ++s->seen[K_PARENT_NAME] > 1 || na)
            return false;
        k = K_PARENT_NAME;
        break;
    case K_DISKS:
        if (!eq(nm, nl, "disk") || !only_attrs(a, na, disk_attrs) || !value(a, na, "name") ||
            !location(a, na, &has, &ext, true))
            return false;
        s->disk_type = value(a, na, "type");
        if (s->disk_type && !value_is(a, na, "type", "file") && !value_is(a, na, "type", "block"))
            return false;
        s->disk_has_loc = has;
        s->disk_source = s->disk_format = false;
        if (ext && !s->in_revert)
            s->disk_external = true;
        k = K_DISK;
        break;
    case K_DISK:
        if (eq(nm, nl, "source")) {
            const char *path_attr = s->disk_type && strncmp(s->disk_type, "block", 5) == 0
                                    ? "dev" : "file";
            const char *const allowed[] = { path_attr, NULL };
            const char *v = value(a, na, path_attr);

            if (!only_attrs(a, na, allowed) || (v && attr_len(a, na, path_attr) && v[0] != '/'))
                return false;
            if (v && attr_len(a, na, path_attr))
                s->disk_source = true;
            k = K_SOURCE;
        } else if (eq(nm, nl, "driver")) {
            const char *v = value(a, na, "type");
            size_t n = attr_len(a, na, "type");

            if (!only_attrs(a, na, type_attr) ||
                (v && n && !eq(v, n, "qcow2") && !eq(v, n, "raw") && !eq(v, n, "qed")))
                return false;
            if (v && n)
                s->disk_format = true;
            k = K_DRIVER;
        } else {
            return false;
        }
        break;
    case K_DESCRIPTION:
    case K_DOMAIN:
        k = K_OTHER;
        break;
    default:
        /* name, state, creationTime, memory, source, driver hold no elements */
        return false;
    }
    *out = k;
    return true;
}

/* An element of kind k ends: a disk's default location follows from what it held. */
static void
close_element(scan *s, kind k)
{
    if (k == K_DISK && !s->disk_has_loc && (s->disk_source || s->disk_format) && !s->in_revert)
        s->disk_external = true;
}

/* A whole number as the full parser takes it (strtoll of the whole
 * string), in the form where the two certainly agree. */
static bool
number(const char *p, size_t n, long long *v)
{
    size_t i = 0;
    long long x = 0;
    bool neg = n && p[0] == '-';

    if (neg)
        i++;
    if (i == n || n - i > 18)
        return false;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        x = x * 10 + (p[i] - '0');
    }
    *v = neg ? -x : x;
    return true;
}

int
vs_snapshot_scan(char *buf, size_t len, vs_snap_entry *e)
{
    struct { const char *name; size_t len; kind k; } stack[MAX_DEPTH];
    int depth = 0, st;
    bool root_done = false;
    attr a[MAX_ATTRS];
    size_t na, i;
    scan s;

    memset(&s, 0, sizeof(s));
    s.p = buf;
    s.end = buf + len;
    /* printable ASCII and the three white-space controls only */
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c >= 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\r'))
            return 0;
    }
    while (s.p < s.end) {
        const char *nm;
        size_t nl;
        kind k;

        if (*s.p != '<') {
            char *t;
            size_t tl;
            kind in = depth ? stack[depth - 1].k : K_OTHER;

            if (!text(&s, &t, &tl))
                return 0;
            if (!depth) {
                /* outside the root: white space only */
                for (i = 0; i < tl; i++)
                    if (!is_space(t[i]))
                        return 0;
                continue;
            }
            /* the text of the fields, in one piece */
            if (in == K_NAME || in == K_STATE || in == K_CTIME || in == K_PARENT_NAME) {
                char **field = in == K_NAME ? &s.name : in == K_STATE ? &s.state
                               : in == K_CTIME ? &s.ctime : &s.parent;
                size_t *flen = in == K_NAME ? &s.name_len : in == K_STATE ? &s.state_len
                               : in == K_CTIME ? &s.ctime_len : &s.parent_len;

                if (*field)
                    return 0;
                *field = t;
                *flen = tl;
            }
            continue;
        }
        if (s.end - s.p >= 2 && (s.p[1] == '!' || s.p[1] == '?')) {
            /* comments and PIs: not inside the fields (their text would split) */
            kind in = depth ? stack[depth - 1].k : K_OTHER;

            if (in == K_NAME || in == K_STATE || in == K_CTIME || in == K_PARENT_NAME ||
                !misc(&s))
                return 0;
            continue;
        }
        if (s.end - s.p >= 2 && s.p[1] == '/') {
            /* an end tag: the element open last */
            s.p += 2;
            if (!depth || !read_name(&s, &nm, &nl) || nl != stack[depth - 1].len ||
                memcmp(nm, stack[depth - 1].name, nl) != 0)
                return 0;
            while (s.p < s.end && is_space(*s.p))
                s.p++;
            if (s.p >= s.end || *s.p != '>')
                return 0;
            s.p++;
            close_element(&s, stack[--depth].k);
            if (!depth)
                root_done = true;
            continue;
        }
        /* a start tag */
        s.p++;
        if (root_done || depth == MAX_DEPTH || !read_name(&s, &nm, &nl) || !attributes(&s, a, &na))
            return 0;
        if (!depth) {
            if (!eq(nm, nl, "domainsnapshot") || na)
                return 0;
            k = K_ROOT;
        } else if (!open_element(&s, stack[depth - 1].k, nm, nl, a, na, &k)) {
            return 0;
        }
        if (*s.p == '/') {
            if (s.end - s.p < 2 || s.p[1] != '>')
                return 0;
            s.p += 2;
            close_element(&s, k);
            if (!depth)
                root_done = true;
            continue;
        }
        s.p++;   /* '>' */
        stack[depth].name = nm;
        stack[depth].len = nl;
        stack[depth].k = k;
        depth++;
    }
    if (!root_done || depth)
        return 0;

    /* the fields as the full parser reads them */
    memset(e, 0, sizeof(*e));
    if (!s.name || !s.name_len || !s.state || !s.ctime || (s.seen[K_PARENT] && !s.seen[K_PARENT_NAME]))
        return 0;
    s.name[s.name_len] = '\0';
    s.state[s.state_len] = '\0';
    if ((st = vs_snap_state_parse(s.state)) <= 0 || !number(s.ctime, s.ctime_len, &e->creation_time))
        return 0;
    e->state = (vs_snap_state)st;
    /* internal memory of an offline snapshot: the full parser refuses it */
    if (s.mem_internal && (e->state == VS_STATE_SHUTOFF || e->state == VS_STATE_DISK_SNAPSHOT))
        return 0;
    e->name = s.name;
    if (s.parent && s.parent_len) {
        s.parent[s.parent_len] = '\0';
        e->parent = s.parent;
    }
    e->external = s.disk_external;
    /* with a <memory> default resolved by REDEFINE, Location follows the flags */
    e->location_external = e->external;
    e->parent_idx = e->first_child = e->next_sibling = -1;
    return 1;
}
