/* <domainsnapshot> XML: the model, its parser and its formatter (virsh-behaviour.md B.1, B.2). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "disk_source.h"
#include "mem.h"
#include "path.h"
#include "snapshot_def.h"
#include "xml.h"

static const char *const state_names[] = {
    "nostate", "running", "blocked", "paused", "shutdown",
    "shutoff", "crashed", "pmsuspended", "disk-snapshot",
};

/* libvirt's image format names; "none" parses but is refused like an unknown
 * name, so it is left out. */
static const char *const image_formats[] = {
    "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd",
    "ploop", "cow", "qcow", "qcow2", "qed", "vmdk",
};

const char *
vs_snap_state_name(vs_snap_state s)
{
    if ((size_t)s >= sizeof(state_names) / sizeof(state_names[0]))
        return "nostate";
    return state_names[s];
}

int
vs_snap_state_parse(const char *s)
{
    size_t i;

    if (!s)
        return -1;
    for (i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
        if (strcmp(s, state_names[i]) == 0)
            return (int)i;
    return -1;
}

static bool
image_format_known(const char *s)
{
    size_t i;

    for (i = 0; i < sizeof(image_formats) / sizeof(image_formats[0]); i++)
        if (strcmp(s, image_formats[i]) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------------- */
/* Private document: copies of <source> elements outlive the parsed input. */

static xmlNodePtr
priv_adopt(vs_snapshot_def *def, xmlNodePtr node)
{
    xmlNodePtr root, copy;

    if (!def->priv) {
        def->priv = xmlNewDoc(BAD_CAST "1.0");
        if (!def->priv)
            abort();
        root = xmlNewDocNode(def->priv, NULL, BAD_CAST "priv", NULL);
        if (!root)
            abort();
        xmlDocSetRootElement(def->priv, root);
    }
    copy = xmlDocCopyNode(node, def->priv, 1);
    if (!copy)
        abort();
    xmlAddChild(xmlDocGetRootElement(def->priv), copy);
    return copy;
}

static bool
is_blank_text(xmlNodePtr n)
{
    const xmlChar *p;

    if (n->type != XML_TEXT_NODE)
        return false;
    for (p = n->content; p && *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

static void
add_indent_text(xmlNodePtr parent, xmlNodePtr before, int spaces)
{
    char buf[256];
    xmlNodePtr t;
    int i;

    if (spaces > (int)sizeof(buf) - 2)
        spaces = (int)sizeof(buf) - 2;
    buf[0] = '\n';
    for (i = 0; i < spaces; i++)
        buf[i + 1] = ' ';
    buf[spaces + 1] = '\0';
    t = xmlNewDocText(parent->doc, BAD_CAST buf);
    if (!t)
        abort();
    if (before)
        xmlAddPrevSibling(before, t);
    else
        xmlAddChild(parent, t);
}

/*
 * Re-indent an element as if it sat at `depth` in a 2-space document, so that
 * input indented any which way comes out the way libvirt would format it.
 * Elements with real text among their children are left alone: their
 * whitespace may be content.
 */
static void
normalise_ws(xmlNodePtr node, int depth)
{
    xmlNodePtr c, next;
    bool any = false;

    for (c = node->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE && !is_blank_text(c)) ||
            c->type == XML_CDATA_SECTION_NODE || c->type == XML_ENTITY_REF_NODE)
            return;
    for (c = node->children; c; c = next) {
        next = c->next;
        if (is_blank_text(c)) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
    }
    for (c = node->children; c; c = c->next) {
        any = true;
        add_indent_text(node, c, 2 * (depth + 1));
        if (c->type == XML_ELEMENT_NODE)
            normalise_ws(c, depth + 1);
    }
    if (any)
        add_indent_text(node, NULL, 2 * depth);
}

/* ---------------------------------------------------------------------- */
/* Parsing */

static char *
child_text_nonempty(xmlNodePtr parent, const char *name)
{
    char *s = vs_xml_child_text(parent, name);

    /* libvirt's string() XPath lookups treat an empty result as absent. */
    if (s && !*s) {
        free(s);
        return NULL;
    }
    return s;
}

static char *
prop_nonempty(xmlNodePtr node, const char *name)
{
    char *s = vs_xml_prop(node, name);

    if (s && !*s) {
        free(s);
        return NULL;
    }
    return s;
}

/* A whole string as a base-10 number, as libvirt's XPath number helpers take it. */
static int
parse_ll(const char *s, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int
parse_ull(const char *s, unsigned long long *out)
{
    char *end;
    unsigned long long v;
    const char *p = s;

    if (!s || !*s)
        return -1;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p == '-')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

/* Enumerated 'snapshot' attribute of <memory> or <disk>; absent -> DEFAULT. */
static int
parse_location_attr(xmlNodePtr node, vs_snap_location *loc, vs_error *err)
{
    char *s = vs_xml_prop(node, "snapshot");
    int v;

    *loc = VS_LOC_DEFAULT;
    if (!s)
        return 0;
    v = vs_snap_location_parse(s);
    if (v <= 0) {
        vs_error_set(err, VS_ERR_XML, "Invalid value for attribute 'snapshot' in element '%s': '%s'.",
                     (const char *)node->name, s);
        free(s);
        return -1;
    }
    free(s);
    *loc = (vs_snap_location)v;
    return 0;
}

/* virScaleInteger's suffixes. */
static int
scale_value(unsigned long long *value, const char *unit, vs_error *err)
{
    unsigned long long scale = 1, base;
    int steps;

    if (!unit || !*unit || strcasecmp(unit, "b") == 0 || strcasecmp(unit, "byte") == 0 ||
        strcasecmp(unit, "bytes") == 0) {
        scale = 1;
    } else {
        if (!unit[1] || strcasecmp(unit + 1, "iB") == 0)
            base = 1024;
        else if ((unit[1] == 'b' || unit[1] == 'B') && !unit[2])
            base = 1000;
        else
            return vs_error_set(err, VS_ERR_INVALID_ARG, "unknown suffix '%s'", unit);
        switch (unit[0]) {
        case 'k': case 'K': steps = 1; break;
        case 'm': case 'M': steps = 2; break;
        case 'g': case 'G': steps = 3; break;
        case 't': case 'T': steps = 4; break;
        case 'p': case 'P': steps = 5; break;
        case 'e': case 'E': steps = 6; break;
        default:
            return vs_error_set(err, VS_ERR_INVALID_ARG, "unknown suffix '%s'", unit);
        }
        while (steps--)
            scale *= base;
    }
    if (*value && *value > ULLONG_MAX / scale)
        return vs_error_set(err, VS_ERR_PLAIN, "numerical overflow: value too large: %llu%s",
                            *value, unit ? unit : "");
    *value *= scale;
    return 0;
}

static int
parse_metadata_cache(xmlNodePtr driver, vs_snap_disk *d, vs_error *err)
{
    xmlNodePtr mc, ms;
    char *text, *unit;
    unsigned long long v = 0;
    int rc = 0;

    if (!driver || !(mc = vs_xml_child(driver, "metadata_cache")) ||
        !(ms = vs_xml_child(mc, "max_size")))
        return 0;
    text = vs_xml_text(ms);
    if (!text || !*text) {
        free(text);
        return 0;
    }
    if (parse_ull(text, &v) < 0) {
        rc = vs_error_set(err, VS_ERR_XML,
                          "Invalid value '%s' for element or attribute './driver/metadata_cache/max_size'",
                          text);
        free(text);
        return rc;
    }
    free(text);
    unit = prop_nonempty(ms, "unit");
    rc = scale_value(&v, unit, err);
    free(unit);
    if (rc < 0)
        return -1;
    if (v > 0) {
        d->has_metadata_cache = true;
        d->metadata_cache_max_size = v;
    }
    return 0;
}

/* The <source> path attribute for a storage type. */
static const char *
source_path_attr(vs_storage_type t)
{
    switch (t) {
    case VS_STORAGE_FILE: return "file";
    case VS_STORAGE_BLOCK: return "dev";
    case VS_STORAGE_NETWORK: return "name";
    default: return NULL;
    }
}

static int
parse_disk(vs_snapshot_def *def, xmlNodePtr node, unsigned flags, vs_snap_disk *d, vs_error *err)
{
    char *s;
    xmlNodePtr src, driver;
    const char *attr;

    memset(d, 0, sizeof(*d));
    d->type = VS_STORAGE_FILE;

    if (!(d->name = vs_xml_prop(node, "name")))
        return vs_error_set(err, VS_ERR_INTERNAL, "missing name from disk snapshot element");
    if (parse_location_attr(node, &d->snapshot, err) < 0)
        return -1;

    if ((s = vs_xml_prop(node, "type"))) {
        int t = strcmp(s, "none") == 0 ? -1 : vs_storage_type_parse(s);

        if (t == VS_STORAGE_DIR || t == VS_STORAGE_VOLUME) {
            vs_error_set(err, VS_ERR_XML, "unsupported disk snapshot type '%s'", s);
            free(s);
            return -1;
        }
        if (t < 0) {
            vs_error_set(err, VS_ERR_XML, "Invalid value for attribute 'type' in element 'disk': '%s'.", s);
            free(s);
            return -1;
        }
        d->type = (vs_storage_type)t;
        free(s);
    }

    if ((src = vs_xml_child(node, "source"))) {
        attr = source_path_attr(d->type);
        if (attr)
            d->source = prop_nonempty(src, attr);
        if (d->type == VS_STORAGE_NETWORK) {
            if (!(s = vs_xml_prop(src, "protocol")))
                return vs_error_set(err, VS_ERR_XML, "missing network source protocol type");
            /* NBD and gluster: the image is named by its locator (disk_source.h) */
            if (strcmp(s, "nbd") == 0 || strcmp(s, "gluster") == 0) {
                vs_net_source ns;

                free(s);
                if (vs_net_source_from_xml(src, &ns, err) < 0)
                    return -1;
                free(d->source);
                d->source = vs_net_source_filename(&ns);
                vs_net_source_clear(&ns);
            } else {
                free(s);
            }
        }
        d->source_node = priv_adopt(def, src);
        /* <source> sits three levels deep; whitespace that normalise_ws
         * leaves alone (mixed content) is brought back to depth 0. */
        vs_xml_unindent(d->source_node, 6);
        /* startupPolicy belongs to the domain's disk, never to a snapshot
         * target; libvirt does not carry it over either. */
        xmlUnsetProp(d->source_node, BAD_CAST "startupPolicy");
        normalise_ws(d->source_node, 0);
    }

    driver = vs_xml_child(node, "driver");
    if (driver && (s = prop_nonempty(driver, "type"))) {
        if (!image_format_known(s)) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED, "unknown disk snapshot driver '%s'", s);
            free(s);
            return -1;
        }
        d->format = s;
    }
    if (parse_metadata_cache(driver, d, err) < 0)
        return -1;

    if (d->source && (d->type == VS_STORAGE_FILE || d->type == VS_STORAGE_BLOCK) &&
        d->source[0] != '/')
        return vs_error_set(err, VS_ERR_XML, "disk snapshot image path '%s' must be absolute",
                            d->source);

    if (d->snapshot == VS_LOC_DEFAULT && (d->source || d->format))
        d->snapshot = VS_LOC_EXTERNAL;

    if ((flags & VS_SNAP_PARSE_REDEFINE) && vs_xml_child(node, "snapshotDeleteInProgress"))
        d->delete_in_progress = true;
    return 0;
}

/* Every element under every <NAME> child of root, as libvirt's XPath "NAME/any" selects. */
static int
parse_disk_list(vs_snapshot_def *def, xmlNodePtr root, const char *name, unsigned flags,
                vs_snap_disk **out, size_t *nout, vs_error *err)
{
    xmlNodePtr list, c;
    size_t cap = 0;

    for (list = root->children; list; list = list->next) {
        if (list->type != XML_ELEMENT_NODE || strcmp((const char *)list->name, name) != 0)
            continue;
        for (c = list->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            vs_xgrow(out, &cap, *nout, sizeof(**out));
            if (parse_disk(def, c, flags, &(*out)[*nout], err) < 0) {
                vs_snap_disk_clear(&(*out)[*nout]);
                return -1;
            }
            (*nout)++;
        }
    }
    return 0;
}

static int
parse_memory(vs_snapshot_def *def, xmlNodePtr root, unsigned flags, bool offline, vs_error *err)
{
    xmlNodePtr mem = vs_xml_child(root, "memory");

    if (mem) {
        def->memory_file = vs_xml_prop(mem, "file");
        if (parse_location_attr(mem, &def->memory, err) < 0)
            return -1;
        if (def->memory == VS_LOC_MANUAL)
            return vs_error_set(err, VS_ERR_XML, "'manual' memory snapshot mode not supported");
    }
    if (def->memory == VS_LOC_DEFAULT) {
        if (def->memory_file)
            def->memory = VS_LOC_EXTERNAL;
        else if (flags & VS_SNAP_PARSE_REDEFINE)
            def->memory = offline ? VS_LOC_NO : VS_LOC_INTERNAL;
    }
    if (def->memory_file && def->memory != VS_LOC_EXTERNAL)
        return vs_error_set(err, VS_ERR_XML, "memory filename '%s' requires external snapshot",
                            def->memory_file);
    if (!def->memory_file && def->memory == VS_LOC_EXTERNAL)
        return vs_error_set(err, VS_ERR_XML, "external memory snapshots require a filename");
    if (offline && def->memory != VS_LOC_DEFAULT && def->memory != VS_LOC_NO)
        return vs_error_set(err, VS_ERR_XML,
                            "memory state cannot be saved with offline or disk-only snapshot");
    if (def->memory_file && def->memory_file[0] != '/')
        return vs_error_set(err, VS_ERR_XML, "memory snapshot file path (%s) must be absolute",
                            def->memory_file);
    return 0;
}

/* The REDEFINE-only part: creationTime, parent, state, domains. Sets *offline. */
static int
parse_redefine(vs_snapshot_def *def, xmlNodePtr root, bool *offline, vs_error *err)
{
    char *s;
    xmlNodePtr n;
    int st;

    s = vs_xml_child_text(root, "creationTime");
    if (parse_ll(s, &def->creation_time) < 0) {
        free(s);
        return vs_error_set(err, VS_ERR_INTERNAL, "missing creationTime from existing snapshot");
    }
    free(s);

    if ((n = vs_xml_child(root, "parent")))
        def->parent = child_text_nonempty(n, "name");

    if (!(s = child_text_nonempty(root, "state")))
        return vs_error_set(err, VS_ERR_XML, "missing state from existing snapshot");
    st = vs_snap_state_parse(s);
    if (st <= 0) {
        vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED, "Invalid state '%s' in domain snapshot XML", s);
        free(s);
        return -1;
    }
    free(s);
    def->state = (vs_snap_state)st;
    if (def->state == VS_STATE_SHUTOFF || def->state == VS_STATE_DISK_SNAPSHOT)
        *offline = true;

    if ((n = vs_xml_child(root, "domain"))) {
        s = prop_nonempty(n, "type");
        if (s) {
            free(s);
            if (!(def->dom = vs_domain_def_parse_node(n, 1, err)))
                return -1;
        } else {
            /* A pre-0.9.5 snapshot: only the domain's uuid was recorded. */
            def->dom_uuid = child_text_nonempty(n, "uuid");
        }
    }
    if ((n = vs_xml_child(root, "inactiveDomain")) &&
        !(def->inactive_dom = vs_domain_def_parse_node(n, 1, err)))
        return -1;
    return 0;
}

static void
parse_cookie(vs_snapshot_def *def, xmlNodePtr root)
{
    xmlNodePtr cookie = vs_xml_child(root, "cookie");
    xmlNodePtr c, copy;
    vs_buf b = VS_BUF_INIT;

    if (!cookie)
        return;
    for (c = cookie->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        copy = xmlDocCopyNode(c, cookie->doc, 1);
        if (!copy)
            abort();
        vs_xml_unindent(copy, 4);
        normalise_ws(copy, 0);
        vs_xml_format_node(&b, copy, 0);
        vs_buf_addc(&b, '\n');
        xmlFreeNode(copy);
    }
    def->cookie = vs_buf_steal(&b);
}

static int
parse_active(vs_snapshot_def *def, xmlNodePtr root, unsigned flags, vs_error *err)
{
    xmlNodePtr n = vs_xml_child(root, "active");
    char *s;
    long long v;

    if (!(flags & (VS_SNAP_PARSE_INTERNAL | VS_SNAP_PARSE_ACTIVE_OPTIONAL)))
        return 0;
    if (!n && !(flags & VS_SNAP_PARSE_INTERNAL))
        return 0;
    s = n ? vs_xml_text(n) : NULL;
    if (parse_ll(s, &v) < 0 || v < -2147483648LL || v > 2147483647LL) {
        free(s);
        return vs_error_set(err, VS_ERR_INTERNAL, "Could not find 'active' element");
    }
    free(s);
    def->active = v != 0;
    return 0;
}

vs_snapshot_def *
vs_snapshot_def_parse(const char *xml, size_t len, const char *what,
                      unsigned flags, long long now, vs_error *err)
{
    xmlDocPtr doc;
    xmlNodePtr root;
    vs_snapshot_def *def = NULL;
    bool offline = (flags & VS_SNAP_PARSE_OFFLINE) != 0;

    if (!(doc = vs_xml_parse(xml, len, what, err)))
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "domainsnapshot") != 0) {
        vs_error_set(err, VS_ERR_XML, "expecting root element of 'domainsnapshot', not '%s'",
                     root ? (const char *)root->name : "");
        goto fail;
    }
    if (flags & VS_SNAP_PARSE_VALIDATE) {
        char *rng = vs_xasprintf("%s/domainsnapshot.rng", vs_xml_schema_dir());
        int rc = vs_xml_validate(doc, rng, err);

        free(rng);
        if (rc < 0)
            goto fail;
    }

    def = vs_xcalloc(1, sizeof(*def));
    def->active = -1;
    def->name = child_text_nonempty(root, "name");
    if (!def->name && (flags & VS_SNAP_PARSE_REDEFINE)) {
        vs_error_set(err, VS_ERR_XML, "a redefined snapshot must have a name");
        goto fail;
    }
    def->description = child_text_nonempty(root, "description");

    if (flags & VS_SNAP_PARSE_REDEFINE) {
        if (parse_redefine(def, root, &offline, err) < 0)
            goto fail;
    } else if (now != 0) {
        def->creation_time = now;
        if (!def->name)
            def->name = vs_xasprintf("%lld", now);
    }

    if (parse_memory(def, root, flags, offline, err) < 0)
        goto fail;
    if (parse_disk_list(def, root, "disks", flags, &def->disks, &def->ndisks, err) < 0)
        goto fail;
    if ((flags & VS_SNAP_PARSE_REDEFINE) &&
        parse_disk_list(def, root, "revertDisks", flags, &def->revert_disks,
                        &def->nrevert_disks, err) < 0)
        goto fail;
    if (parse_active(def, root, flags, err) < 0)
        goto fail;
    if (!offline)
        parse_cookie(def, root);

    xmlFreeDoc(doc);
    return def;

fail:
    vs_snapshot_def_free(def);
    xmlFreeDoc(doc);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Formatting */

static void
add_elem(vs_buf *b, int indent, const char *name, const char *text)
{
    vs_buf_indent(b, indent);
    vs_buf_addf(b, "<%s>", name);
    vs_buf_add_xml_escaped(b, text);
    vs_buf_addf(b, "</%s>\n", name);
}

/* True when the kept <source> element still describes d's path. */
static bool
source_node_current(const vs_snap_disk *d)
{
    const char *attr = source_path_attr(d->type);
    char *p;
    bool same;

    if (!d->source_node)
        return false;
    if (!attr)
        return true;
    if (d->type == VS_STORAGE_NETWORK) {
        vs_net_source ns;

        if (vs_net_source_from_xml(d->source_node, &ns, NULL) == 0) {
            p = vs_net_source_filename(&ns);
            vs_net_source_clear(&ns);
            same = p && d->source && strcmp(p, d->source) == 0;
            free(p);
            return same;
        }
    }
    p = prop_nonempty(d->source_node, attr);
    same = (!p && !d->source) || (p && d->source && strcmp(p, d->source) == 0);
    free(p);
    return same;
}

static void
format_disk(vs_buf *b, const vs_snap_disk *d, int indent)
{
    bool has_path = d->source != NULL;
    bool keep_node = source_node_current(d);
    bool body = has_path || d->format;
    bool children = d->delete_in_progress || body;
    vs_net_source ns;

    vs_buf_indent(b, indent);
    vs_buf_add(b, "<disk name='");
    vs_buf_add_xml_escaped(b, d->name ? d->name : "");
    vs_buf_addc(b, '\'');
    if (d->snapshot != VS_LOC_DEFAULT)
        vs_buf_addf(b, " snapshot='%s'", vs_snap_location_name(d->snapshot));
    if (body)
        vs_buf_addf(b, " type='%s'", vs_storage_type_name(d->type));
    if (!children) {
        vs_buf_add(b, "/>\n");
        return;
    }
    vs_buf_add(b, ">\n");
    if (d->delete_in_progress) {
        vs_buf_indent(b, indent + 2);
        vs_buf_add(b, "<snapshotDeleteInProgress/>\n");
    }
    /* libvirt's schema takes no <driver> in a network entry: qcow2, the
     * default of an external snapshot, is left unsaid there */
    if (body && (d->format || d->has_metadata_cache) &&
        !(d->type == VS_STORAGE_NETWORK && !d->has_metadata_cache && d->format &&
          strcmp(d->format, "qcow2") == 0)) {
        vs_buf_indent(b, indent + 2);
        vs_buf_add(b, "<driver");
        if (d->format) {
            vs_buf_add(b, " type='");
            vs_buf_add_xml_escaped(b, d->format);
            vs_buf_addc(b, '\'');
        }
        if (d->has_metadata_cache) {
            vs_buf_add(b, ">\n");
            vs_buf_indent(b, indent + 4);
            vs_buf_add(b, "<metadata_cache>\n");
            vs_buf_indent(b, indent + 6);
            vs_buf_addf(b, "<max_size unit='bytes'>%llu</max_size>\n", d->metadata_cache_max_size);
            vs_buf_indent(b, indent + 4);
            vs_buf_add(b, "</metadata_cache>\n");
            vs_buf_indent(b, indent + 2);
            vs_buf_add(b, "</driver>\n");
        } else {
            vs_buf_add(b, "/>\n");
        }
    }
    if (keep_node && (has_path || d->type == VS_STORAGE_NETWORK)) {
        vs_buf_indent(b, indent + 2);
        vs_xml_format_node(b, d->source_node, indent + 2);
        vs_buf_addc(b, '\n');
    } else if (has_path && d->type == VS_STORAGE_NETWORK && vs_path_is_network(d->source) &&
               vs_net_source_from_locator(d->source, &ns, NULL) == 0) {
        vs_buf_indent(b, indent + 2);
        vs_net_source_format(b, &ns, indent + 2);
        vs_buf_addc(b, '\n');
        vs_net_source_clear(&ns);
    } else if (has_path) {
        vs_buf_indent(b, indent + 2);
        vs_buf_addf(b, "<source %s='", d->type == VS_STORAGE_BLOCK ? "dev" :
                    d->type == VS_STORAGE_NETWORK ? "name" : "file");
        vs_buf_add_xml_escaped(b, d->source);
        vs_buf_add(b, "'/>\n");
    }
    vs_buf_indent(b, indent);
    vs_buf_add(b, "</disk>\n");
}

static void
format_disk_list(vs_buf *b, const char *name, const vs_snap_disk *disks, size_t n)
{
    size_t i;

    if (n == 0)
        return;
    vs_buf_addf(b, "  <%s>\n", name);
    for (i = 0; i < n; i++)
        format_disk(b, &disks[i], 4);
    vs_buf_addf(b, "  </%s>\n", name);
}

/* Lines of a depth-0 fragment, each indented. */
static void
add_indented_lines(vs_buf *b, const char *text, int indent)
{
    const char *p = text, *nl;

    while (*p) {
        nl = strchr(p, '\n');
        if (!nl)
            nl = p + strlen(p);
        vs_buf_indent(b, indent);
        vs_buf_addn(b, p, (size_t)(nl - p));
        vs_buf_addc(b, '\n');
        p = *nl ? nl + 1 : nl;
    }
}

void
vs_snapshot_def_format(vs_buf *b, const vs_snapshot_def *def, unsigned flags)
{
    bool secure = (flags & VS_SNAP_FORMAT_SECURE) != 0;

    vs_buf_add(b, "<domainsnapshot>\n");
    if (def->name)
        add_elem(b, 2, "name", def->name);
    if (def->description)
        add_elem(b, 2, "description", def->description);
    if (def->state != VS_STATE_NOSTATE)
        vs_buf_addf(b, "  <state>%s</state>\n", vs_snap_state_name(def->state));
    if (def->parent) {
        vs_buf_add(b, "  <parent>\n");
        add_elem(b, 4, "name", def->parent);
        vs_buf_add(b, "  </parent>\n");
    }
    if (def->creation_time != 0)
        vs_buf_addf(b, "  <creationTime>%lld</creationTime>\n", def->creation_time);
    if (def->memory != VS_LOC_DEFAULT) {
        vs_buf_addf(b, "  <memory snapshot='%s'", vs_snap_location_name(def->memory));
        if (def->memory_file) {
            vs_buf_add(b, " file='");
            vs_buf_add_xml_escaped(b, def->memory_file);
            vs_buf_addc(b, '\'');
        }
        vs_buf_add(b, "/>\n");
    }
    format_disk_list(b, "disks", def->disks, def->ndisks);
    format_disk_list(b, "revertDisks", def->revert_disks, def->nrevert_disks);
    if (def->dom) {
        vs_buf_indent(b, 2);
        vs_domain_def_format(b, def->dom, 2, secure, NULL);
        vs_buf_addc(b, '\n');
    } else if (def->dom_uuid) {
        vs_buf_add(b, "  <domain>\n");
        add_elem(b, 4, "uuid", def->dom_uuid);
        vs_buf_add(b, "  </domain>\n");
    }
    if (def->inactive_dom) {
        vs_buf_indent(b, 2);
        vs_domain_def_format(b, def->inactive_dom, 2, secure, "inactiveDomain");
        vs_buf_addc(b, '\n');
    }
    /* An empty <cookie/> still yields a cookie object in libvirt, printed empty. */
    if (def->cookie) {
        vs_buf_add(b, "  <cookie>\n");
        add_indented_lines(b, def->cookie, 4);
        vs_buf_add(b, "  </cookie>\n");
    }
    if (flags & VS_SNAP_FORMAT_INTERNAL)
        vs_buf_addf(b, "  <active>%d</active>\n", def->active > 0 ? 1 : 0);
    vs_buf_add(b, "</domainsnapshot>\n");
}

char *
vs_snapshot_def_format_str(const vs_snapshot_def *def, unsigned flags)
{
    vs_buf b = VS_BUF_INIT;

    vs_snapshot_def_format(&b, def, flags);
    return vs_buf_steal(&b);
}

/* ---------------------------------------------------------------------- */
/* Copy, free, helpers */

void
vs_snap_disk_copy(vs_snapshot_def *dst_def, vs_snap_disk *dst, const vs_snap_disk *src)
{
    *dst = *src;
    dst->name = vs_xstrdup(src->name);
    dst->source = vs_xstrdup(src->source);
    dst->format = vs_xstrdup(src->format);
    dst->source_node = src->source_node ? priv_adopt(dst_def, src->source_node) : NULL;
}

static void
copy_disk_list(vs_snapshot_def *dst_def, vs_snap_disk **dst, size_t *ndst,
               const vs_snap_disk *src, size_t n)
{
    size_t i;

    *dst = NULL;
    *ndst = 0;
    if (n == 0)
        return;
    *dst = vs_xcalloc(n, sizeof(**dst));
    for (i = 0; i < n; i++)
        vs_snap_disk_copy(dst_def, &(*dst)[i], &src[i]);
    *ndst = n;
}

vs_snapshot_def *
vs_snapshot_def_copy(const vs_snapshot_def *def)
{
    vs_snapshot_def *c;

    if (!def)
        return NULL;
    c = vs_xcalloc(1, sizeof(*c));
    c->name = vs_xstrdup(def->name);
    c->description = vs_xstrdup(def->description);
    c->state = def->state;
    c->parent = vs_xstrdup(def->parent);
    c->creation_time = def->creation_time;
    c->memory = def->memory;
    c->memory_file = vs_xstrdup(def->memory_file);
    copy_disk_list(c, &c->disks, &c->ndisks, def->disks, def->ndisks);
    copy_disk_list(c, &c->revert_disks, &c->nrevert_disks, def->revert_disks, def->nrevert_disks);
    c->dom = def->dom ? vs_domain_def_copy(def->dom) : NULL;
    c->dom_uuid = vs_xstrdup(def->dom_uuid);
    c->inactive_dom = def->inactive_dom ? vs_domain_def_copy(def->inactive_dom) : NULL;
    c->cookie = vs_xstrdup(def->cookie);
    c->active = def->active;
    return c;
}

void
vs_snap_disk_clear(vs_snap_disk *d)
{
    if (!d)
        return;
    free(d->name);
    free(d->source);
    free(d->format);
    /* source_node belongs to the def's private document. */
    memset(d, 0, sizeof(*d));
}

static void
free_disk_list(vs_snap_disk *disks, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        vs_snap_disk_clear(&disks[i]);
    free(disks);
}

void
vs_snapshot_def_free(vs_snapshot_def *def)
{
    if (!def)
        return;
    free(def->name);
    free(def->description);
    free(def->parent);
    free(def->memory_file);
    free_disk_list(def->disks, def->ndisks);
    free_disk_list(def->revert_disks, def->nrevert_disks);
    if (def->dom)
        vs_domain_def_free(def->dom);
    free(def->dom_uuid);
    if (def->inactive_dom)
        vs_domain_def_free(def->inactive_dom);
    free(def->cookie);
    if (def->priv)
        xmlFreeDoc(def->priv);
    free(def);
}

bool
vs_snapshot_def_is_external(const vs_snapshot_def *def)
{
    size_t i;

    if (def->memory == VS_LOC_EXTERNAL)
        return true;
    for (i = 0; i < def->ndisks; i++)
        if (def->disks[i].snapshot == VS_LOC_EXTERNAL)
            return true;
    return false;
}

bool
vs_snapshot_def_location_external(const vs_snapshot_def *def)
{
    if (vs_snapshot_def_is_external(def))
        return true;
    /* virsh reads the printed XML: no <memory> element means DEFAULT. */
    if (def->memory == VS_LOC_DEFAULT)
        return def->state == VS_STATE_DISK_SNAPSHOT;
    return false;
}
