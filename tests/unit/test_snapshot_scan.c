/* snapshot_scan.c: whatever the scan answers is what the full parser says.
 * Every snapshot XML of the in-tree corpus, vsnap's own output for it, and
 * each of those cut short and with bytes changed: when the scan gives the
 * fields (1), the full parse succeeds and gives the same fields; the shapes
 * vsnap writes are scanned, not left to the parser. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "path.h"
#include "snapshot_def.h"
#include "snapshot_scan.h"
#include "snapshot_tree.h"
#include "tap.h"

static int agreed, scanned, left, mutants;

static char *
entry_str(const vs_snap_entry *e)
{
    return vs_xasprintf("%s|%s|%lld|%s|%d%d", e->name, e->parent ? e->parent : "-",
                        e->creation_time, vs_snap_state_name(e->state), e->external,
                        e->location_external);
}

/* The scan against the parser for one text; false on a disagreement
 * (reported once, by the caller's label). */
static bool
agrees(const char *text, size_t len, bool *was_scanned)
{
    char *copy = vs_xmalloc(len + 1);
    vs_snap_entry se, pe;
    vs_snapshot_def *def;
    vs_error err;
    bool ok = true;
    int r;

    memcpy(copy, text, len);
    copy[len] = '\0';
    r = vs_snapshot_scan(copy, len, &se);
    *was_scanned = r == 1;
    if (r == 1) {
        vs_error_clear(&err);
        def = vs_snapshot_def_parse(text, len, "(test)",
                                    VS_SNAP_PARSE_REDEFINE | VS_SNAP_PARSE_ACTIVE_OPTIONAL, 0, &err);
        if (!def) {
            printf("# scanned, but the parser refuses it: %s\n", err.msg);
            ok = false;
        } else {
            char *a, *b;

            vs_snap_entry_from_def(&pe, def);
            a = entry_str(&se);
            b = entry_str(&pe);
            if (strcmp(a, b) != 0) {
                printf("# scan %s, parse %s\n", a, b);
                ok = false;
            }
            free(a);
            free(b);
            vs_snapshot_def_free(def);
        }
    }
    free(copy);
    return ok;
}

static unsigned long long rng_state = 12345;

static unsigned
rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng_state >> 33) % n);
}

/* Where text's embedded <domain> element is: [*from, *to), or empty. The
 * scan checks that it is well formed but leaves what it says to the
 * domain parser, which a full read of the file runs (snapshot_scan.h). */
static void
domain_span(const char *text, size_t *from, size_t *to)
{
    const char *a = strstr(text, "<domain "), *b = a ? strstr(a, "</domain>") : NULL;

    *from = *to = 0;
    if (a && b) {
        *from = (size_t)(a - text);
        *to = (size_t)(b - text) + strlen("</domain>");
    }
}

/* text, cut short at many places and with bytes changed (outside its
 * <domain>: inside it, a changed byte is one the domain parser judges) */
static bool
mutations_agree(const char *text, size_t len)
{
    static const char bytes[] = "<>/'\"=&;x- \n\x01\xc3";
    char *m = vs_xmalloc(len + 1);
    bool was, all = true;
    size_t i, k, from, to;

    for (i = 0; i < len; i += 1 + len / 97) {
        mutants++;
        if (!agrees(text, i, &was)) {
            printf("# ... cut at %zu\n", i);
            all = false;
        }
    }
    domain_span(text, &from, &to);
    for (k = 0; k < 200 && len; k++) {
        size_t at;

        memcpy(m, text, len);
        m[len] = '\0';
        do
            at = rnd((unsigned)len);
        while (at >= from && at < to);
        m[at] = bytes[rnd(sizeof(bytes) - 1)];
        mutants++;
        if (!agrees(m, len, &was)) {
            printf("# ... mutant %zu: %s\n", k, m);
            all = false;
        }
    }
    free(m);
    return all;
}

static void
check_text(const char *label, const char *text, size_t len, bool must_scan)
{
    bool was;

    if (!agrees(text, len, &was)) {
        ok(0, "%s: the scan agrees with the parser", label);
        return;
    }
    agreed++;
    if (was)
        scanned++;
    else
        left++;
    if (must_scan)
        ok(was, "%s: vsnap's own output is scanned", label);
    if (!mutations_agree(text, len))
        ok(0, "%s: cut short or changed, the scan still agrees", label);
}

/* A corpus file, and vsnap's formatting of it. */
static void
check_file(const char *path)
{
    char *data = NULL, *label;
    size_t len = 0;
    vs_snapshot_def *def;

    if (vs_file_read(path, VS_XML_MAX_SIZE, &data, &len, NULL) < 0)
        return;
    label = vs_xstrdup(strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    check_text(label, data, len, false);
    def = vs_snapshot_def_parse(data, len, "(test)",
                                VS_SNAP_PARSE_REDEFINE | VS_SNAP_PARSE_ACTIVE_OPTIONAL, 0, NULL);
    if (def) {
        char *out = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
        char *l2 = vs_xasprintf("%s (formatted)", label);
        /* what the scan leaves to the parser even in vsnap's output */
        bool plain = !strstr(out, "<cookie") && !strstr(out, "<inactiveDomain") &&
                     !strstr(out, "file='") && !strstr(out, "Delete") &&
                     !strstr(out, "metadata_cache") && !strstr(out, "<domain>") &&
                     !strstr(out, "type='network'") && !strstr(out, "snapshot='manual'") &&
                     !strstr(out, "<source") && !strstr(out, "\r");
        bool ascii = true;
        size_t i;

        for (i = 0; out[i]; i++)
            if ((unsigned char)out[i] >= 0x7f)
                ascii = false;
        check_text(l2, out, strlen(out), plain && ascii && def->name && def->state > 0);
        free(l2);
        free(out);
        vs_snapshot_def_free(def);
    }
    free(label);
    free(data);
}

static void
check_dir(const char *top, const char *sub)
{
    char *dir = vs_xasprintf("%s/tests/corpus/%s", top, sub);
    DIR *d = opendir(dir);
    struct dirent *de;

    ok(d != NULL, "corpus %s is there", sub);
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        char *p;

        if (n < 5 || (strcmp(de->d_name + n - 4, ".xml") != 0 && strcmp(de->d_name + n - 4, ".out") != 0))
            continue;
        p = vs_path_join(dir, de->d_name);
        check_file(p);
        free(p);
    }
    if (d)
        closedir(d);
    free(dir);
}

static const char *const inline_cases[] = {
    /* vsnap's shapes */
    "<?vsnap-seq 7?>\n<domainsnapshot>\n  <name>a&amp;b</name>\n  <state>shutoff</state>\n"
    "  <parent>\n    <name>p&#x41;</name>\n  </parent>\n  <creationTime>17</creationTime>\n"
    "  <memory snapshot='no'/>\n  <disks>\n    <disk name='vda' snapshot='internal'/>\n  </disks>\n"
    "  <domain type='qemu'><name>vm</name><devices/></domain>\n</domainsnapshot>\n",
    "<domainsnapshot><name>x</name><state>disk-snapshot</state><creationTime>1</creationTime>"
    "<memory snapshot='no'/><disks><disk name='vda' snapshot='external' type='file'>"
    "<driver type='qcow2'/><source file='/i/x.qcow2'/></disk></disks></domainsnapshot>",
    /* external by default: a source and no snapshot attribute */
    "<domainsnapshot><name>x</name><state>disk-snapshot</state><creationTime>1</creationTime>"
    "<disks><disk name='vda'><source file='/i/x'/></disk></disks></domainsnapshot>",
    /* revertDisks do not make a snapshot external */
    "<domainsnapshot><name>x</name><state>shutoff</state><creationTime>1</creationTime>"
    "<disks><disk name='vda' snapshot='internal'/></disks><revertDisks><disk name='vda' "
    "snapshot='external' type='file'><source file='/i/r'/></disk></revertDisks></domainsnapshot>",
    /* what the parser must decide */
    "<domainsnapshot><name>x</name><state>bogus</state><creationTime>1</creationTime></domainsnapshot>",
    "<domainsnapshot><name>x</name><state>running</state><creationTime> 1</creationTime></domainsnapshot>",
    "<domainsnapshot><name>x</name><name>y</name><state>running</state><creationTime>1</creationTime></domainsnapshot>",
    "<domainsnapshot><name>x</name><state>shutoff</state><creationTime>1</creationTime><memory snapshot='internal'/></domainsnapshot>",
    "<domainsnapshot><name>x</name><state>shutoff</state><creationTime>1</creationTime><disks><disk name='a' snapshot='external' type='dir'/></disks></domainsnapshot>",
    "<domainsnapshot><name>x</name><state>shutoff</state><creationTime>1</creationTime><disks><disk name='a'><source file='rel'/></disk></disks></domainsnapshot>",
    "<domainsnapshot a='1' a='2'><name>x</name><state>shutoff</state><creationTime>1</creationTime></domainsnapshot>",
    "<domainsnapshot><name>x</name><state>shutoff</state><creationTime>1</creationTime><domain><uuid>u</uuid></domain></domainsnapshot>",
    "<domainsnapshot><name>x<!-- c --></name><state>shutoff</state><creationTime>1</creationTime></domainsnapshot>",
    "<domainsnapshot><name>x</name><state>shutoff</state><creationTime>1</creationTime></domainsnapshot><x/>",
    "<!DOCTYPE d [<!ENTITY e 'x'>]><domainsnapshot><name>&e;</name><state>shutoff</state><creationTime>1</creationTime></domainsnapshot>",
    "<domainsnapshot><name><![CDATA[x]]></name><state>shutoff</state><creationTime>1</creationTime></domainsnapshot>",
    "<domainsnapshot xmlns='urn:x'><name>x</name><state>shutoff</state><creationTime>1</creationTime></domainsnapshot>",
    "<domainsnapshot><name>x</name><state>shutoff</state><creationTime>1</creationTime><parent/></domainsnapshot>",
    NULL,
};

int
main(void)
{
    const char *top = getenv("top_srcdir");
    size_t i;

    for (i = 0; inline_cases[i]; i++) {
        char label[32];

        snprintf(label, sizeof(label), "inline case %zu", i);
        check_text(label, inline_cases[i], strlen(inline_cases[i]), i < 4);
    }
    if (top && *top) {
        check_dir(top, "snapshot");
        check_dir(top, "redefine");
    } else {
        printf("ok %d # SKIP top_srcdir is not set: no corpus\n", ++tap_n);
    }
    ok(agreed > 0 && scanned > 0, "the scan agrees with the parser on %d texts and %d changed "
       "copies; %d scanned, %d left to the parser", agreed, mutants, scanned, left);
    return tap_done() || tap_failed != 0;
}
