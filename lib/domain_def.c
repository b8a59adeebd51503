#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk_source.h"
#include "domain_def.h"
#include "mem.h"
#include "path.h"
#include "xml.h"

/*
 * The definition keeps the parsed document and prints it back node by node,
 * so that everything vsnap does not understand survives define/dumpxml and
 * snapshot embedding unchanged. Only the fields in vs_domain_def are read,
 * and the document is touched only where libvirt's own parse would change
 * the output (live-only id=, a generated uuid, vhost-user's implicit
 * snapshot='no') or where vsnap changes a disk.
 */

static const char *const storage_type_names[] = {
    [VS_STORAGE_FILE] = "file",
    [VS_STORAGE_BLOCK] = "block",
    [VS_STORAGE_NETWORK] = "network",
    [VS_STORAGE_DIR] = "dir",
    [VS_STORAGE_VOLUME] = "volume",
    [VS_STORAGE_NVME] = "nvme",
    [VS_STORAGE_VHOSTUSER] = "vhostuser",
    [VS_STORAGE_OTHER] = "vhostvdpa",
};

static const char *const location_names[] = {
    [VS_LOC_DEFAULT] = "default",
    [VS_LOC_NO] = "no",
    [VS_LOC_INTERNAL] = "internal",
    [VS_LOC_EXTERNAL] = "external",
    [VS_LOC_MANUAL] = "manual",
};

/* libvirt's virDomainVirtType keywords, "none" excluded (it is refused). */
static const char *const virt_types[] = {
    "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware",
    "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz", "ch", "hvf", NULL,
};

static const char *const disk_devices[] = { "disk", "cdrom", "floppy", "lun", NULL };

const char *
vs_storage_type_name(vs_storage_type t)
{
    if ((unsigned)t >= sizeof(storage_type_names) / sizeof(storage_type_names[0]))
        return "none";
    return storage_type_names[t];
}

int
vs_storage_type_parse(const char *s)
{
    size_t i;

    if (!s)
        return -1;
    for (i = 0; i < sizeof(storage_type_names) / sizeof(storage_type_names[0]); i++)
        if (strcmp(s, storage_type_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *
vs_snap_location_name(vs_snap_location l)
{
    if ((unsigned)l >= sizeof(location_names) / sizeof(location_names[0]))
        return "default";
    return location_names[l];
}

int
vs_snap_location_parse(const char *s)
{
    size_t i;

    if (!s)
        return -1;
    /* "default" is the absence of a choice and never valid in XML. */
    for (i = VS_LOC_NO; i < sizeof(location_names) / sizeof(location_names[0]); i++)
        if (strcmp(s, location_names[i]) == 0)
            return (int)i;
    return -1;
}

static bool
in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* ---- small DOM helpers ------------------------------------------------- */

static bool
is_named(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE &&
           (!n->ns || !n->ns->prefix) &&
           xmlStrEqual(n->name, BAD_CAST name);
}

static xmlNodePtr
first_child(xmlNodePtr parent, const char *name)
{
    xmlNodePtr n;

    for (n = parent ? parent->children : NULL; n; n = n->next)
        if (is_named(n, name))
            return n;
    return NULL;
}

static bool
is_blank_text(xmlNodePtr n)
{
    const xmlChar *p;

    if (!n || n->type != XML_TEXT_NODE)
        return false;
    for (p = n->content; p && *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

/* Attribute value, NULL when absent; "" is kept (callers decide). */
static char *
prop(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, BAD_CAST name);
    char *s;

    if (!v)
        return NULL;
    s = vs_xstrdup((const char *)v);
    xmlFree(v);
    return s;
}

/* Like prop(), but an empty value counts as absent. */
static char *
prop_nonempty(xmlNodePtr n, const char *name)
{
    char *s = prop(n, name);

    if (s && !*s) {
        free(s);
        return NULL;
    }
    return s;
}

static char *
node_text(xmlNodePtr n)
{
    xmlChar *v = xmlNodeGetContent(n);
    char *s = vs_xstrdup(v ? (const char *)v : "");

    xmlFree(v);
    return s;
}

/* Link n into the tree right before ref (a child of parent), or at the end of
 * parent when ref is NULL. Done by hand because xmlAddPrevSibling merges
 * adjacent text nodes, which would fold new indentation into old. */
static void
link_before(xmlNodePtr parent, xmlNodePtr ref, xmlNodePtr n)
{
    n->parent = parent;
    n->doc = parent->doc;
    if (ref) {
        n->next = ref;
        n->prev = ref->prev;
        if (ref->prev)
            ref->prev->next = n;
        else
            parent->children = n;
        ref->prev = n;
    } else {
        n->next = NULL;
        n->prev = parent->last;
        if (parent->last)
            parent->last->next = n;
        else
            parent->children = n;
        parent->last = n;
    }
}

static int
element_depth(xmlNodePtr n)
{
    int d = 0;

    for (n = n->parent; n && n->type == XML_ELEMENT_NODE; n = n->parent)
        d++;
    return d;
}

static char *
indent_string(int spaces)
{
    char *s = vs_xmalloc((size_t)spaces + 2);

    s[0] = '\n';
    memset(s + 1, ' ', (size_t)spaces);
    s[spaces + 1] = '\0';
    return s;
}

/*
 * Insert element `elem` into parent before `before` (NULL: after the last
 * element), indented like parent's other children so the printed document
 * looks as if libvirt had written it.
 */
static void
insert_element(xmlNodePtr parent, xmlNodePtr before, xmlNodePtr elem)
{
    xmlNodePtr n, ws_model = NULL;
    bool compact = false;
    char *ws;

    for (n = parent->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE) {
            if (is_blank_text(n->prev))
                ws_model = n->prev;
            else
                compact = true;   /* written on one line: stay that way */
            break;
        }
    }
    if (compact) {
        link_before(parent, before, elem);
        return;
    }
    if (ws_model)
        ws = vs_xstrdup((const char *)ws_model->content);
    else
        ws = indent_string(2 * (element_depth(parent) + 1));

    if (before) {
        link_before(parent, before, elem);
        link_before(parent, before, xmlNewDocText(parent->doc, BAD_CAST ws));
    } else if (is_blank_text(parent->last)) {
        xmlNodePtr tail = parent->last;
        link_before(parent, tail, xmlNewDocText(parent->doc, BAD_CAST ws));
        link_before(parent, tail, elem);
    } else if (!parent->children) {
        char *end = indent_string(2 * element_depth(parent));
        link_before(parent, NULL, xmlNewDocText(parent->doc, BAD_CAST ws));
        link_before(parent, NULL, elem);
        link_before(parent, NULL, xmlNewDocText(parent->doc, BAD_CAST end));
        free(end);
    } else {
        link_before(parent, NULL, xmlNewDocText(parent->doc, BAD_CAST ws));
        link_before(parent, NULL, elem);
    }
    free(ws);
}

/* Remove an element together with the indentation in front of it. */
static void
remove_element(xmlNodePtr elem)
{
    xmlNodePtr prev = elem->prev;

    if (is_blank_text(prev)) {
        xmlUnlinkNode(prev);
        xmlFreeNode(prev);
    }
    xmlUnlinkNode(elem);
    xmlFreeNode(elem);
}

/* Move attribute a so that it follows `after` (NULL: first). */
static void
move_attr(xmlNodePtr node, xmlAttrPtr a, xmlAttrPtr after)
{
    if (a == after)
        return;
    /* unlink */
    if (a->prev)
        a->prev->next = a->next;
    else
        node->properties = a->next;
    if (a->next)
        a->next->prev = a->prev;
    /* relink */
    if (after) {
        a->prev = after;
        a->next = after->next;
        if (after->next)
            after->next->prev = a;
        after->next = a;
    } else {
        a->prev = NULL;
        a->next = node->properties;
        if (node->properties)
            node->properties->prev = a;
        node->properties = a;
    }
}

/*
 * Set an attribute. A new attribute is placed right after the attribute
 * named `after` (or first when `after` is NULL or absent), which is where
 * libvirt prints it; an existing one keeps its place.
 */
static void
set_attr(xmlNodePtr node, const char *name, const char *value, const char *after)
{
    xmlAttrPtr a = xmlHasNsProp(node, BAD_CAST name, NULL);
    xmlAttrPtr anchor = after ? xmlHasNsProp(node, BAD_CAST after, NULL) : NULL;

    if (a) {
        xmlSetProp(node, BAD_CAST name, BAD_CAST value);
        return;
    }
    a = xmlSetProp(node, BAD_CAST name, BAD_CAST value);
    move_attr(node, a, anchor);
}

static void
unset_attr(xmlNodePtr node, const char *name)
{
    xmlAttrPtr a = xmlHasNsProp(node, BAD_CAST name, NULL);

    if (a)
        xmlRemoveProp(a);
}

/* ---- uuid ------------------------------------------------------------ */

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* libvirt's lenient uuid syntax: 32 hex digits, '-' and ' ' anywhere
 * between bytes, surrounding white space. */
static int
uuid_parse(const char *s, unsigned char out[16])
{
    size_t i = 0;
    int hi, lo;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    while (i < 16) {
        if (!*s)
            return -1;
        if (*s == '-' || *s == ' ') {
            s++;
            continue;
        }
        if ((hi = hexval((unsigned char)s[0])) < 0 || (lo = hexval((unsigned char)s[1])) < 0)
            return -1;
        out[i++] = (unsigned char)(hi * 16 + lo);
        s += 2;
    }
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return -1;
    return 0;
}

static char *
uuid_format(const unsigned char u[16])
{
    return vs_xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                        "%02x%02x%02x%02x%02x%02x",
                        u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
                        u[10], u[11], u[12], u[13], u[14], u[15]);
}

static int
uuid_generate(unsigned char u[16], vs_error *err)
{
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return vs_error_sys(err, errno, "cannot open /dev/urandom");
    while (got < 16) {
        ssize_t n = read(fd, u + got, 16 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            return vs_error_sys(err, e, "cannot read /dev/urandom");
        }
        got += (size_t)n;
    }
    close(fd);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);   /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    return 0;
}

/* ---- parsing ------------------------------------------------------------ */

static void
disk_clear(vs_domain_disk *d)
{
    free(d->device);
    free(d->target);
    free(d->bus);
    free(d->source);
    free(d->protocol);
    free(d->source_name);
    free(d->driver_name);
    free(d->format);
    memset(d, 0, sizeof(*d));
}

static void
def_clear_fields(vs_domain_def *def)
{
    size_t i;

    for (i = 0; i < def->ndisks; i++)
        disk_clear(&def->disks[i]);
    free(def->disks);
    free(def->type);
    free(def->name);
    free(def->uuid);
    def->disks = NULL;
    def->ndisks = 0;
    def->type = def->name = def->uuid = NULL;
}

static int
disk_parse(xmlNodePtr node, vs_domain_disk *d, vs_error *err)
{
    xmlNodePtr src, tgt, drv;
    char *s;
    int v;

    d->node = node;

    if ((s = prop(node, "type"))) {
        if ((v = vs_storage_type_parse(s)) < 0) {
            vs_error_set(err, VS_ERR_XML,
                         "Invalid value for attribute 'type' in element 'disk': '%s'.", s);
            free(s);
            return -1;
        }
        d->type = (vs_storage_type)v;
        free(s);
    } else {
        d->type = VS_STORAGE_FILE;
    }

    if ((s = prop(node, "device"))) {
        if (!in_list(s, disk_devices)) {
            vs_error_set(err, VS_ERR_XML,
                         "Invalid value for attribute 'device' in element 'disk': '%s'.", s);
            free(s);
            return -1;
        }
        d->device = s;
    } else {
        d->device = vs_xstrdup("disk");
    }

    if ((s = prop(node, "snapshot"))) {
        if ((v = vs_snap_location_parse(s)) < 0) {
            vs_error_set(err, VS_ERR_XML,
                         "Invalid value for attribute 'snapshot' in element 'disk': '%s'.", s);
            free(s);
            return -1;
        }
        d->snapshot = (vs_snap_location)v;
        free(s);
    } else {
        d->snapshot = VS_LOC_DEFAULT;
    }

    /* libvirt treats source file='' as "no medium", like a missing source. */
    if ((src = first_child(node, "source"))) {
        switch (d->type) {
        case VS_STORAGE_FILE:
            d->source = prop_nonempty(src, "file");
            break;
        case VS_STORAGE_BLOCK:
            d->source = prop_nonempty(src, "dev");
            break;
        case VS_STORAGE_DIR:
            d->source = prop_nonempty(src, "dir");
            break;
        case VS_STORAGE_NETWORK:
            d->protocol = prop_nonempty(src, "protocol");
            d->source_name = prop_nonempty(src, "name");
            /* NBD and gluster images vsnap reaches: named by their locator
             * (disk_source.h); other protocols keep no source */
            if (d->protocol && (strcmp(d->protocol, "nbd") == 0 ||
                                strcmp(d->protocol, "gluster") == 0)) {
                vs_net_source ns;

                /* one libvirt accepts but vsnap cannot reach keeps no source;
                 * whatever uses it says why */
                if (vs_net_source_from_xml(src, &ns, NULL) == 0) {
                    d->source = vs_net_source_filename(&ns);
                    vs_net_source_clear(&ns);
                }
            }
            break;
        case VS_STORAGE_VHOSTUSER:
            d->source = prop_nonempty(src, "path");
            break;
        case VS_STORAGE_VOLUME:
        case VS_STORAGE_NVME:
        case VS_STORAGE_OTHER:
            break;
        }
    }

    if ((tgt = first_child(node, "target"))) {
        d->target = prop_nonempty(tgt, "dev");
        d->bus = prop_nonempty(tgt, "bus");
    }
    if (!d->target) {
        const char *what = d->source ? d->source : d->source_name;
        if (what)
            return vs_error_set(err, VS_ERR_PLAIN, "missing target information for %s", what);
        return vs_error_set(err, VS_ERR_PLAIN, "missing target information");
    }

    if ((drv = first_child(node, "driver"))) {
        d->driver_name = prop_nonempty(drv, "name");
        d->format = prop_nonempty(drv, "type");
    }

    d->readonly = first_child(node, "readonly") != NULL;
    if (!d->readonly && strcmp(d->device, "cdrom") == 0) {
        /* libvirt's post-parse makes every CD-ROM read-only and prints it */
        static const char *const later[] = {
            "shareable", "transient", "serial", "wwn", "vendor", "product",
            "encryption", "boot", "alias", "address", NULL,
        };
        xmlNodePtr n, before = NULL;

        for (n = node->children; n && !before; n = n->next)
            if (n->type == XML_ELEMENT_NODE && (!n->ns || !n->ns->prefix) &&
                in_list((const char *)n->name, later))
                before = n;
        insert_element(node, before, xmlNewDocNode(node->doc, NULL, BAD_CAST "readonly", NULL));
        d->readonly = true;
    }

    /* libvirt's post-parse: read-only media and vhost-user disks cannot be
     * snapshotted unless the user says otherwise. Read-only disks do not
     * print the implied 'no'; vhost-user disks do. */
    if (d->snapshot == VS_LOC_DEFAULT && d->readonly)
        d->snapshot = VS_LOC_NO;
    if (d->snapshot == VS_LOC_DEFAULT && d->type == VS_STORAGE_VHOSTUSER) {
        d->snapshot = VS_LOC_NO;
        set_attr(node, "snapshot", "no", xmlHasNsProp(node, BAD_CAST "sgio", NULL) ? "sgio" :
                 xmlHasNsProp(node, BAD_CAST "rawio", NULL) ? "rawio" :
                 xmlHasNsProp(node, BAD_CAST "model", NULL) ? "model" :
                 xmlHasNsProp(node, BAD_CAST "device", NULL) ? "device" : "type");
    }
    return 0;
}

static int
parse_uuid(vs_domain_def *def, xmlNodePtr root, xmlNodePtr name_node, vs_error *err)
{
    xmlNodePtr un = first_child(root, "uuid");
    unsigned char u[16];
    char *text = un ? node_text(un) : NULL;

    if (text && *text) {
        if (uuid_parse(text, u) < 0) {
            free(text);
            return vs_error_set(err, VS_ERR_INTERNAL, "malformed uuid element");
        }
        def->uuid = uuid_format(u);
        /* libvirt prints the canonical form; keep libvirt's own output as is */
        if (strcmp(text, def->uuid) != 0)
            xmlNodeSetContent(un, BAD_CAST def->uuid);
        free(text);
        return 0;
    }
    free(text);

    if (uuid_generate(u, err) < 0)
        return -1;
    def->uuid = uuid_format(u);
    if (un) {
        xmlNodeSetContent(un, BAD_CAST def->uuid);
    } else {
        /* libvirt prints <uuid> right after <name>, indented the same way */
        xmlNodePtr nn = xmlNewDocNode(root->doc, NULL, BAD_CAST "uuid", BAD_CAST def->uuid);
        xmlNodePtr after = name_node->next;

        if (is_blank_text(name_node->prev))
            link_before(root, after, xmlNewDocText(root->doc, name_node->prev->content));
        link_before(root, after, nn);
    }
    return 0;
}

/* Read the struct fields from def->doc (already normalised). */
static int
def_load(vs_domain_def *def, vs_error *err)
{
    xmlNodePtr root = xmlDocGetRootElement(def->doc);
    xmlNodePtr name_node, devices, n;
    size_t cap = 0, i, j;
    char *s;

    if (!root || !xmlStrEqual(root->name, BAD_CAST "domain"))
        return vs_error_set(err, VS_ERR_XML, "expecting root element of 'domain', not '%s'",
                            root ? (const char *)root->name : "");

    if (!(s = prop(root, "type")))
        return vs_error_set(err, VS_ERR_XML, "Missing required attribute 'type' in element 'domain'");
    if (!in_list(s, virt_types)) {
        vs_error_set(err, VS_ERR_XML, "Invalid value for attribute 'type' in element 'domain': '%s'.", s);
        free(s);
        return -1;
    }
    def->type = s;

    name_node = first_child(root, "name");
    def->name = name_node ? node_text(name_node) : NULL;
    if (!def->name || !*def->name)
        return vs_error_set(err, VS_ERR_XML, "missing name in domain");
    if (vs_name_check("domain", def->name, err) < 0)
        return -1;

    if (parse_uuid(def, root, name_node, err) < 0)
        return -1;

    devices = first_child(root, "devices");
    for (n = devices ? devices->children : NULL; n; n = n->next) {
        if (!is_named(n, "disk"))
            continue;
        vs_xgrow(&def->disks, &cap, def->ndisks, sizeof(*def->disks));
        memset(&def->disks[def->ndisks], 0, sizeof(*def->disks));
        def->ndisks++;
        if (disk_parse(n, &def->disks[def->ndisks - 1], err) < 0)
            return -1;
    }

    for (i = 0; i < def->ndisks; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(def->disks[i].target, def->disks[j].target) == 0) {
                const char *a = def->disks[j].source ? def->disks[j].source : "<null>";
                const char *b = def->disks[i].source ? def->disks[i].source : "<null>";
                return vs_error_set(err, VS_ERR_XML,
                                    "target '%s' duplicated for disk sources '%s' and '%s'",
                                    def->disks[i].target, a, b);
            }
        }
    }
    return 0;
}

/* Take ownership of doc (root already checked to be an element). */
static vs_domain_def *
def_from_doc(xmlDocPtr doc, vs_error *err)
{
    vs_domain_def *def = vs_xcalloc(1, sizeof(*def));
    xmlNodePtr root = xmlDocGetRootElement(doc);

    def->doc = doc;
    if (root && xmlStrEqual(root->name, BAD_CAST "domain"))
        unset_attr(root, "id");   /* live-only: vsnap stores inactive definitions */
    if (def_load(def, err) < 0) {
        vs_domain_def_free(def);
        return NULL;
    }
    return def;
}

vs_domain_def *
vs_domain_def_parse(const char *xml, size_t len, const char *what, vs_error *err)
{
    xmlDocPtr doc = vs_xml_parse(xml, len, what, err);
    xmlNodePtr root;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!root || !xmlStrEqual(root->name, BAD_CAST "domain")) {
        vs_error_set(err, VS_ERR_XML, "expecting root element of 'domain', not '%s'",
                     root ? (const char *)root->name : "");
        xmlFreeDoc(doc);
        return NULL;
    }
    return def_from_doc(doc, err);
}

vs_domain_def *
vs_domain_def_parse_node(xmlNodePtr node, int depth, vs_error *err)
{
    xmlDocPtr doc;
    xmlNodePtr copy;

    if (!node || node->type != XML_ELEMENT_NODE ||
        (!xmlStrEqual(node->name, BAD_CAST "domain") &&
         !xmlStrEqual(node->name, BAD_CAST "inactiveDomain"))) {
        vs_error_set(err, VS_ERR_XML, "expecting root element of 'domain', not '%s'",
                     node && node->name ? (const char *)node->name : "");
        return NULL;
    }
    doc = xmlNewDoc(BAD_CAST "1.0");
    copy = xmlDocCopyNode(node, doc, 1);
    if (!copy) {
        xmlFreeDoc(doc);
        vs_error_set(err, VS_ERR_INTERNAL, "cannot copy the domain definition");
        return NULL;
    }
    xmlDocSetRootElement(doc, copy);
    /* <inactiveDomain> is a domain under another name */
    xmlNodeSetName(copy, BAD_CAST "domain");
    if (depth > 0)
        vs_xml_unindent(copy, 2 * depth);
    return def_from_doc(doc, err);
}

vs_domain_def *
vs_domain_def_copy(const vs_domain_def *def)
{
    vs_domain_def *c;
    vs_error err;

    if (!def)
        return NULL;
    c = vs_xcalloc(1, sizeof(*c));
    c->doc = xmlCopyDoc(def->doc, 1);
    if (!c->doc) {
        fprintf(stderr, "vsnap: out of memory copying a domain definition\n");
        abort();
    }
    /* The source passed def_load already, so this cannot fail. */
    if (def_load(c, &err) < 0) {
        fprintf(stderr, "vsnap: copying a domain definition failed: %s\n", err.msg);
        abort();
    }
    return c;
}

void
vs_domain_def_free(vs_domain_def *def)
{
    if (!def)
        return;
    def_clear_fields(def);
    if (def->doc)
        xmlFreeDoc(def->doc);
    free(def);
}

/* ---- lookup ------------------------------------------------------------ */

int
vs_domain_def_disk_index(const vs_domain_def *def, const char *name)
{
    size_t i;
    int found = -1;

    if (!def || !name)
        return -1;
    for (i = 0; i < def->ndisks; i++) {
        const vs_domain_disk *d = &def->disks[i];
        const char *path = d->type == VS_STORAGE_NETWORK ? d->source_name : d->source;

        if (name[0] != '/') {
            if (strcmp(d->target, name) == 0)
                return (int)i;
        } else if (path && strcmp(path, name) == 0) {
            if (found >= 0)
                return -1;   /* ambiguous */
            found = (int)i;
        }
    }
    return found;
}

/* ---- changing a disk ---------------------------------------------------- */

static const char *
source_attr_name(vs_storage_type t)
{
    switch (t) {
    case VS_STORAGE_FILE:      return "file";
    case VS_STORAGE_BLOCK:     return "dev";
    case VS_STORAGE_DIR:       return "dir";
    case VS_STORAGE_VHOSTUSER: return "path";
    default:                   return NULL;
    }
}

int
vs_domain_def_set_disk_source(vs_domain_def *def, size_t i, vs_storage_type type,
                              const char *path, const char *format, vs_error *err)
{
    vs_domain_disk *d;
    xmlNodePtr node, src, drv, n, next;
    const char *attr;
    vs_net_source ns = { 0 };
    bool local_old;

    /* the path says which: a network locator (disk_source.h) or a local one */
    if (path && vs_path_is_network(path))
        type = VS_STORAGE_NETWORK;
    else if (type == VS_STORAGE_NETWORK)
        type = VS_STORAGE_FILE;
    attr = source_attr_name(type);
    if (!def || i >= def->ndisks)
        return vs_error_set(err, VS_ERR_INTERNAL, "disk index %zu out of range", i);
    d = &def->disks[i];
    node = d->node;
    if ((type != VS_STORAGE_FILE && type != VS_STORAGE_BLOCK && type != VS_STORAGE_NETWORK) ||
        !path || !*path)
        return vs_error_set(err, VS_ERR_INTERNAL,
                            "cannot set a '%s' source for disk '%s'",
                            vs_storage_type_name(type), d->target);
    if (type == VS_STORAGE_NETWORK) {
        if (vs_net_source_from_locator(path, &ns, err) < 0)
            return -1;
        attr = NULL;
    }

    set_attr(node, "type", vs_storage_type_name(type), NULL);

    /* A file/block/dir <source> keeps its other attributes and children
     * (startupPolicy, seclabel); anything else is rebuilt from scratch. */
    local_old = d->type == VS_STORAGE_FILE || d->type == VS_STORAGE_BLOCK ||
                d->type == VS_STORAGE_DIR;
    src = first_child(node, "source");
    if (src && (!local_old || !attr)) {
        remove_element(src);
        src = NULL;
    }
    if (src) {
        const char *old = source_attr_name(d->type);
        if (old && strcmp(old, attr) != 0)
            unset_attr(src, old);
        set_attr(src, attr, path, NULL);
    } else {
        xmlNodePtr before = NULL;
        if (attr) {
            src = xmlNewDocNode(def->doc, NULL, BAD_CAST "source", NULL);
            xmlSetProp(src, BAD_CAST attr, BAD_CAST path);
        } else {
            src = vs_net_source_to_node(&ns, def->doc);
        }
        /* libvirt order: driver, source, backingStore, target, ... */
        drv = first_child(node, "driver");
        for (n = drv ? drv->next : node->children; n; n = n->next)
            if (n->type == XML_ELEMENT_NODE) {
                before = n;
                break;
            }
        insert_element(node, before, src);
        if (!attr && is_blank_text(src->prev)) {
            /* an indented document: its <host> children indented as well */
            xmlNodePtr hosts = src->children, h;

            src->children = src->last = NULL;
            for (; hosts; hosts = h) {
                h = hosts->next;
                hosts->prev = hosts->next = NULL;
                hosts->parent = NULL;
                insert_element(src, NULL, hosts);
            }
        }
    }

    /* The old backing chain description belongs to the old image. */
    for (n = node->children; n; n = next) {
        next = n->next;
        if (is_named(n, "backingStore"))
            remove_element(n);
    }

    drv = first_child(node, "driver");
    if (format) {
        if (!drv) {
            xmlNodePtr before = NULL;
            for (n = node->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE) {
                    before = n;
                    break;
                }
            drv = xmlNewDocNode(def->doc, NULL, BAD_CAST "driver", NULL);
            if (strcmp(def->type, "qemu") == 0 || strcmp(def->type, "kvm") == 0)
                xmlSetProp(drv, BAD_CAST "name", BAD_CAST "qemu");
            insert_element(node, before, drv);
        }
        set_attr(drv, "type", format, "name");
    } else if (drv) {
        unset_attr(drv, "type");
        if (!drv->properties && !drv->children)
            remove_element(drv);
    }

    d->type = type;
    free(d->source);
    d->source = vs_xstrdup(path);
    free(d->protocol);
    d->protocol = type == VS_STORAGE_NETWORK ? vs_xstrdup(ns.protocol) : NULL;
    free(d->source_name);
    d->source_name = type == VS_STORAGE_NETWORK ? vs_xstrdup(ns.name) : NULL;
    if (type == VS_STORAGE_NETWORK) {
        free(d->source);
        d->source = vs_net_source_filename(&ns);
        vs_net_source_clear(&ns);
    }
    free(d->format);
    d->format = vs_xstrdup(format);
    drv = first_child(node, "driver");
    free(d->driver_name);
    d->driver_name = drv ? prop_nonempty(drv, "name") : NULL;
    return 0;
}

/* ---- formatting ------------------------------------------------------- */

static void
add_blank(vs_buf *b, const char *s, int extra_indent)
{
    for (; *s; s++) {
        vs_buf_addc(b, *s);
        if (*s == '\n')
            vs_buf_indent(b, extra_indent);
    }
}

static void
add_qname(vs_buf *b, xmlNsPtr ns, const xmlChar *name)
{
    if (ns && ns->prefix) {
        vs_buf_add(b, (const char *)ns->prefix);
        vs_buf_addc(b, ':');
    }
    vs_buf_add(b, (const char *)name);
}

static void
format_root(vs_buf *b, xmlNodePtr root, int extra_indent, const char *root_name)
{
    xmlAttrPtr a;
    xmlNsPtr ns;
    xmlNodePtr c;

    vs_buf_addc(b, '<');
    vs_buf_add(b, root_name);
    for (a = root->properties; a; a = a->next) {
        xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);
        vs_buf_addc(b, ' ');
        add_qname(b, a->ns, a->name);
        vs_buf_add(b, "='");
        vs_buf_add_xml_escaped(b, v ? (const char *)v : "");
        vs_buf_addc(b, '\'');
        xmlFree(v);
    }
    /* libvirt prints the root's namespace declarations after its attributes */
    for (ns = root->nsDef; ns; ns = ns->next) {
        vs_buf_add(b, " xmlns");
        if (ns->prefix) {
            vs_buf_addc(b, ':');
            vs_buf_add(b, (const char *)ns->prefix);
        }
        vs_buf_add(b, "='");
        vs_buf_add_xml_escaped(b, ns->href ? (const char *)ns->href : "");
        vs_buf_addc(b, '\'');
    }
    if (!root->children) {
        vs_buf_add(b, "/>");
        return;
    }
    vs_buf_addc(b, '>');
    for (c = root->children; c; c = c->next) {
        if (is_blank_text(c))
            add_blank(b, (const char *)c->content, extra_indent);
        else if (is_named(c, "metadata"))
            /* libvirt prints <metadata> through libxml2, not its own formatter */
            vs_xml_format_node_libxml(b, c, extra_indent);
        else
            vs_xml_format_node(b, c, extra_indent);
    }
    vs_buf_add(b, "</");
    vs_buf_add(b, root_name);
    vs_buf_addc(b, '>');
}

/* Graphics passwords are the one secret libvirt writes into domain XML; it
 * prints them only with VIR_DOMAIN_XML_SECURE (virsh --security-info). */
static bool
has_secrets(xmlNodePtr root)
{
    xmlNodePtr devices = first_child(root, "devices"), n;

    for (n = devices ? devices->children : NULL; n; n = n->next)
        if (is_named(n, "graphics") && xmlHasNsProp(n, BAD_CAST "passwd", NULL))
            return true;
    return false;
}

static void
strip_secrets(xmlNodePtr root)
{
    xmlNodePtr devices = first_child(root, "devices"), n;

    for (n = devices ? devices->children : NULL; n; n = n->next)
        if (is_named(n, "graphics"))
            unset_attr(n, "passwd");
}

void
vs_domain_def_format(vs_buf *b, const vs_domain_def *def, int extra_indent,
                     bool secure, const char *root_name)
{
    xmlNodePtr root = xmlDocGetRootElement(def->doc);
    xmlDocPtr tmp = NULL;

    if (!secure && has_secrets(root)) {
        tmp = xmlCopyDoc(def->doc, 1);
        if (!tmp) {
            fprintf(stderr, "vsnap: out of memory formatting a domain definition\n");
            abort();
        }
        root = xmlDocGetRootElement(tmp);
        strip_secrets(root);
    }
    format_root(b, root, extra_indent, root_name ? root_name : (const char *)root->name);
    if (tmp)
        xmlFreeDoc(tmp);
}
