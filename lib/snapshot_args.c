/* snapshot-create-as: --memspec/--diskspec to <domainsnapshot> XML (virsh-behaviour.md A.2). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "disk_source.h"
#include "mem.h"
#include "path.h"
#include "snapshot_def.h"

/*
 * virsh splits on every comma and then glues the pieces back where an empty
 * piece shows that the comma was doubled. The odd results for runs of three
 * or more commas and for a trailing comma follow from that, and are kept.
 */
char **
vs_split_commas(const char *s)
{
    char **out = vs_xcalloc(1, sizeof(*out));
    size_t n = 0;
    bool glue = false;
    const char *p, *end;

    if (!s || !*s)
        return out;   /* no fields at all, not one empty field */
    for (p = s;; p = end + 1) {
        char *piece;

        end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        piece = vs_xstrndup(p, (size_t)(end - p));
        if (n == 0) {
            vs_strv_push(&out, piece);
            n++;
        } else if (glue) {
            char *joined = vs_xasprintf("%s,%s", out[n - 1], piece);

            free(out[n - 1]);
            out[n - 1] = joined;
            glue = false;
        } else if (!*piece) {
            glue = true;
        } else {
            vs_strv_push(&out, piece);
            n++;
        }
        free(piece);
        if (!*end)
            break;
    }
    if (glue)
        vs_strv_push(&out, "");
    return out;
}

static const char *
after_prefix(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);

    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static void
add_attr_escaped(vs_buf *b, const char *name, const char *value)
{
    vs_buf_addf(b, " %s='", name);
    vs_buf_add_xml_escaped(b, value);
    vs_buf_addc(b, '\'');
}

static int
add_memspec(vs_buf *b, const char *spec, vs_error *err)
{
    char **f = vs_split_commas(spec);
    const char *snapshot = NULL, *file = NULL, *v;
    size_t i;

    for (i = 0; f[i]; i++) {
        if (!snapshot && (v = after_prefix(f[i], "snapshot=")))
            snapshot = v;
        else if (!file && (v = after_prefix(f[i], "file=")))
            file = v;
        else if (!file && f[i][0] == '/')
            file = f[i];
        else {
            vs_strv_free(f);
            return vs_error_set(err, VS_ERR_PLAIN, "unable to parse memspec: %s", spec);
        }
    }
    vs_buf_add(b, "  <memory");
    if (snapshot)
        add_attr_escaped(b, "snapshot", snapshot);
    if (file)
        add_attr_escaped(b, "file", file);
    vs_buf_add(b, "/>\n");
    vs_strv_free(f);
    return 0;
}

static int
add_diskspec(vs_buf *b, const char *spec, char **warn, vs_error *err)
{
    char **f = vs_split_commas(spec);
    const char *name = f[0], *snapshot = NULL, *driver = NULL, *stype = NULL, *file = NULL, *v;
    bool block = false;
    vs_net_source ns = { 0 };
    size_t i;

    for (i = name ? 1 : 0; f[i]; i++) {
        if (!snapshot && (v = after_prefix(f[i], "snapshot=")))
            snapshot = v;
        else if (!driver && (v = after_prefix(f[i], "driver=")))
            driver = v;
        else if (!stype && (v = after_prefix(f[i], "stype=")))
            stype = v;
        else if (!file && (v = after_prefix(f[i], "file=")))
            file = v;
        else
            goto bad;
    }
    if (stype) {
        if (strcmp(stype, "block") == 0) {
            block = true;
        } else if (strcmp(stype, "network") == 0) {
            /* beyond virsh: file= is the network image's URL (disk_source.h) */
            if (file && vs_net_source_from_locator(file, &ns, err) < 0) {
                vs_strv_free(f);
                return -1;
            }
        } else if (strcmp(stype, "file") != 0) {
            if (warn) {
                free(*warn);
                *warn = vs_xasprintf("Unknown storage type: '%s'", stype);
            }
            goto bad;
        }
    }

    vs_buf_add(b, "    ");
    /* An empty spec has no name field at all; virsh then prints a bare "/>". */
    if (name) {
        vs_buf_add(b, "<disk name='");
        vs_buf_add_xml_escaped(b, name);
        vs_buf_addc(b, '\'');
    }
    /* virsh copies snapshot= and driver= unescaped and unchecked. */
    if (snapshot)
        vs_buf_addf(b, " snapshot='%s'", snapshot);
    if (stype)
        vs_buf_addf(b, " type='%s'", stype);
    if (driver || file) {
        vs_buf_add(b, ">\n");
        if (driver)
            vs_buf_addf(b, "      <driver type='%s'/>\n", driver);
        if (file && ns.protocol) {
            vs_buf_add(b, "      ");
            vs_net_source_format(b, &ns, 6);
            vs_buf_addc(b, '\n');
            vs_net_source_clear(&ns);
        } else if (file) {
            vs_buf_addf(b, "      <source %s='", block ? "dev" : "file");
            vs_buf_add_xml_escaped(b, file);
            vs_buf_add(b, "'/>\n");
        }
        vs_buf_add(b, "    </disk>\n");
    } else {
        vs_buf_add(b, "/>\n");
    }
    vs_strv_free(f);
    return 0;

bad:
    vs_strv_free(f);
    return vs_error_set(err, VS_ERR_PLAIN, "unable to parse diskspec: %s", spec);
}

int
vs_snapshot_args_to_xml(const char *name, const char *description, const char *memspec,
                        char *const *diskspecs, vs_buf *out, char **warn, vs_error *err)
{
    vs_buf b = VS_BUF_INIT;
    size_t i;

    if (warn)
        *warn = NULL;
    /* The name is checked before it goes into XML: escaping drops the
     * control characters XML 1.0 cannot carry, and the parser turns CR into
     * LF, so a bad name would otherwise become another (or an empty) one. */
    if (name && vs_name_check("snapshot", name, err) < 0)
        return -1;
    vs_buf_add(&b, "<domainsnapshot>\n");
    if (name) {
        vs_buf_add(&b, "  <name>");
        vs_buf_add_xml_escaped(&b, name);
        vs_buf_add(&b, "</name>\n");
    }
    if (description) {
        vs_buf_add(&b, "  <description>");
        vs_buf_add_xml_escaped(&b, description);
        vs_buf_add(&b, "</description>\n");
    }
    if (memspec && add_memspec(&b, memspec, err) < 0)
        goto fail;
    if (diskspecs && diskspecs[0]) {
        vs_buf_add(&b, "  <disks>\n");
        for (i = 0; diskspecs[i]; i++)
            if (add_diskspec(&b, diskspecs[i], warn, err) < 0)
                goto fail;
        vs_buf_add(&b, "  </disks>\n");
    }
    vs_buf_add(&b, "</domainsnapshot>\n");
    vs_buf_addn(out, b.data, b.len);
    vs_buf_reset(&b);
    return 0;

fail:
    vs_buf_reset(&b);
    return -1;
}
