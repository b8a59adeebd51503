/* Domain XML: byte-stable round trips, embedding, disk fields, lookups and
 * source changes (lib/domain_def.c). */
#include "config.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "domain_def.h"
#include "mem.h"
#include "path.h"
#include "xml.h"
#include "../tap.h"
#include "../testenv.h"

static char *
data_path(const char *name)
{
    const char *top = getenv("top_srcdir");

    return vs_xasprintf("%s/tests/unit/data/domain/%s", top && *top ? top : ".", name);
}

/* The file's text without its final newline (vsnap formats without one). */
static char *
read_data(const char *name)
{
    char *path = data_path(name), *data = NULL;
    size_t len = 0;
    vs_error err;

    if (vs_file_read(path, VS_XML_MAX_SIZE, &data, &len, &err) < 0) {
        printf("# cannot read %s: %s\n", path, err.msg);
        free(path);
        return vs_xstrdup("");
    }
    free(path);
    while (len > 0 && data[len - 1] == '\n')
        data[--len] = '\0';
    return data;
}

static vs_domain_def *
parse_str(const char *xml, vs_error *err)
{
    vs_error_clear(err);
    return vs_domain_def_parse(xml, strlen(xml), "(test)", err);
}

static char *
fmt(const vs_domain_def *def, int indent, bool secure, const char *root)
{
    vs_buf b = VS_BUF_INIT;

    vs_domain_def_format(&b, def, indent, secure, root);
    return vs_buf_steal(&b);
}

/* s with n spaces added after every newline. */
static char *
indent_lines(const char *s, int n)
{
    vs_buf b = VS_BUF_INIT;

    for (; *s; s++) {
        vs_buf_addc(&b, *s);
        if (*s == '\n')
            vs_buf_indent(&b, n);
    }
    return vs_buf_steal(&b);
}

/* s with the first `old` replaced by `new` (s itself when absent). */
static char *
replace1(const char *s, const char *old, const char *new)
{
    const char *p = strstr(s, old);

    if (!p)
        return vs_xstrdup(s);
    return vs_xasprintf("%.*s%s%s", (int)(p - s), s, new, p + strlen(old));
}

static bool
has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool
has_suffix(const char *s, const char *x)
{
    size_t a = strlen(s), b = strlen(x);

    return a >= b && strcmp(s + a - b, x) == 0;
}

static void
expect_error(const char *xml, const char *want, const char *what)
{
    vs_error err;
    vs_domain_def *def = parse_str(xml, &err);

    ok(def == NULL, "%s: refused", what);
    is_str(err.msg, want, "%s: message", what);
    vs_domain_def_free(def);
}

/* ---- round trips ---- */

static char *domain_rng;    /* $VSNAP_SCHEMAS/domain.rng, or NULL */

/* What vsnap prints as a domain definition validates against domain.rng. */
static void
ok_domain_valid(const char *xml, const char *label)
{
    vs_error err;
    xmlDocPtr doc;

    if (!domain_rng)
        return;     /* main reports one skip */
    vs_error_clear(&err);
    doc = vs_xml_parse(xml, strlen(xml), "(output)", &err);
    ok(doc && vs_xml_validate(doc, domain_rng, &err) == 0, "%s: validates against domain.rng%s%s",
       label, err.msg[0] ? ": " : "", err.msg);
    xmlFreeDoc(doc);
}

static void
test_roundtrip_file(const char *name)
{
    char *text = read_data(name), *out, *sec;
    vs_error err;
    vs_domain_def *def = parse_str(text, &err);

    ok(def != NULL, "%s parses", name);
    if (!def) {
        printf("#   %s\n", err.msg);
        free(text);
        return;
    }
    sec = fmt(def, 0, true, NULL);
    is_str(sec, text, "%s: secure format is byte-identical", name);
    out = fmt(def, 0, true, NULL);
    is_str(out, sec, "%s: formatting twice gives the same text", name);
    ok_domain_valid(sec, name);
    free(out);
    out = fmt(def, 0, false, NULL);
    {
        char *label = vs_xasprintf("%s without security fields", name);

        ok_domain_valid(out, label);
        free(label);
    }
    free(out);
    free(sec);
    free(text);
    vs_domain_def_free(def);
}

static void
test_secure(void)
{
    char *text = read_data("disks.xml"), *out, *want;
    vs_error err;
    vs_domain_def *def = parse_str(text, &err);

    out = fmt(def, 0, false, NULL);
    want = replace1(text, " passwd='s3cret'", "");
    is_str(out, want, "without secure the VNC passwd= is left out, nothing else");
    ok(strstr(text, "passwd=") != NULL, "(the test file has a password)");
    free(out);
    free(want);
    out = fmt(def, 0, true, NULL);
    ok(strstr(out, "passwd='s3cret'") != NULL, "secure keeps passwd=");
    free(out);
    vs_domain_def_free(def);
    free(text);

    text = read_data("odd.xml");
    def = parse_str(text, &err);
    out = fmt(def, 0, false, NULL);
    want = replace1(text, " passwd='pa&apos;ss'", "");
    is_str(out, want, "without secure the SPICE passwd= is left out");
    free(out);
    free(want);
    vs_domain_def_free(def);
    free(text);
}

static void
test_odd_fields(void)
{
    char *text = read_data("odd.xml");
    vs_error err;
    vs_domain_def *def = parse_str(text, &err);

    if (!def) {
        ok(0, "odd.xml parses: %s", err.msg);
        free(text);
        return;
    }
    is_str(def->name, "odd&end", "entities in the name are decoded");
    is_str(def->type, "qemu", "type");
    ok(def->ndisks == 1, "one disk");
    is_str(def->disks[0].source, "/images/odd & end.qcow2", "entity in a source path");
    is_str(def->disks[0].target, "vda", "target despite attribute order");
    is_str(def->disks[0].bus, "virtio", "bus despite attribute order");
    is_str(def->disks[0].format, "qcow2", "driver type despite attribute order");
    is_str(def->disks[0].driver_name, "qemu", "driver name");
    vs_domain_def_free(def);
    free(text);
}

static void
test_embedding(void)
{
    const char *files[] = { "disks.xml", "odd.xml" };
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *text = read_data(files[i]);
        char *inner = indent_lines(text, 2);
        char *doc_text = vs_xasprintf("<domainsnapshot>\n  <name>s1</name>\n  %s\n"
                                      "  <inactiveDomain type='kvm'>\n    <name>other</name>\n"
                                      "  </inactiveDomain>\n</domainsnapshot>\n", inner);
        vs_error err;
        xmlDocPtr doc = vs_xml_parse(doc_text, strlen(doc_text), "(embed)", &err);
        xmlNodePtr dn = doc ? vs_xml_child(xmlDocGetRootElement(doc), "domain") : NULL;
        xmlNodePtr in = doc ? vs_xml_child(xmlDocGetRootElement(doc), "inactiveDomain") : NULL;
        vs_domain_def *def = dn ? vs_domain_def_parse_node(dn, 1, &err) : NULL;
        vs_domain_def *idef = in ? vs_domain_def_parse_node(in, 1, &err) : NULL;
        char *out0, *out2, *outi;

        ok(def != NULL, "%s: embedded at depth 1 parses", files[i]);
        if (!def || !idef) {
            printf("#   %s\n", err.msg);
            free(text); free(inner); free(doc_text);
            vs_domain_def_free(def);
            vs_domain_def_free(idef);
            xmlFreeDoc(doc);
            continue;
        }
        out0 = fmt(def, 0, true, NULL);
        out2 = fmt(def, 2, true, NULL);
        is_str(out0, text, "%s: unembedded to depth 0 equals the standalone text", files[i]);
        is_str(out2, inner, "%s: re-embedded with extra_indent 2 equals the embedded text", files[i]);
        outi = fmt(idef, 2, true, "inactiveDomain");
        ok(has_prefix(outi, "<inactiveDomain type='kvm'>\n    <name>other</name>\n    <uuid>") &&
           has_suffix(outi, "</uuid>\n  </inactiveDomain>"),
           "%s: <inactiveDomain> formats back under its own name, uuid added after <name>",
           files[i]);
        is_str(idef->name, "other", "%s: inactiveDomain name", files[i]);
        free(outi);
        outi = fmt(idef, 0, true, NULL);
        ok(has_prefix(outi, "<domain type='kvm'>\n  <name>other</name>\n  <uuid>") &&
           has_suffix(outi, "</uuid>\n</domain>"),
           "%s: inactiveDomain stands alone as <domain>", files[i]);
        free(outi);
        free(out0);
        free(out2);
        free(text);
        free(inner);
        free(doc_text);
        vs_domain_def_free(def);
        vs_domain_def_free(idef);
        xmlFreeDoc(doc);
    }
}

/* Every <domain type=...> and <inactiveDomain> in libvirt's snapshot corpus
 * must come back exactly as libvirt printed it. */
static void
test_reference(void)
{
    const char *ref = testenv_reference();
    char *dir;
    DIR *dh;
    struct dirent *de;
    int checked = 0;

    if (!ref) {
        testenv_skip_cross_checks();
        return;
    }
    dir = vs_xasprintf("%s/libvirt/tests/qemudomainsnapshotxml2xmlout", ref);
    if (!(dh = opendir(dir))) {
        ok(0, "cannot open %s", dir);
        free(dir);
        return;
    }
    while ((de = readdir(dh))) {
        char *path, *data = NULL;
        size_t len, nlen = strlen(de->d_name);
        vs_error err;
        xmlDocPtr doc;
        xmlNodePtr n;

        if (nlen < 5 || strcmp(de->d_name + nlen - 4, ".xml") != 0)
            continue;
        path = vs_xasprintf("%s/%s", dir, de->d_name);
        if (vs_file_read(path, VS_XML_MAX_SIZE, &data, &len, &err) < 0 ||
            !(doc = vs_xml_parse(data, len, path, &err))) {
            ok(0, "%s: %s", de->d_name, err.msg);
            free(path);
            free(data);
            continue;
        }
        for (n = xmlDocGetRootElement(doc)->children; n; n = n->next) {
            bool inactive = n->type == XML_ELEMENT_NODE &&
                            xmlStrEqual(n->name, BAD_CAST "inactiveDomain");
            const char *open = inactive ? "\n  <inactiveDomain " : "\n  <domain type=";
            const char *close = inactive ? "</inactiveDomain>" : "</domain>";
            const char *start, *end;
            char *want, *got;
            vs_domain_def *def;

            if (!inactive && !(n->type == XML_ELEMENT_NODE &&
                               xmlStrEqual(n->name, BAD_CAST "domain") &&
                               xmlHasProp(n, BAD_CAST "type")))
                continue;
            def = vs_domain_def_parse_node(n, 1, &err);
            ok(def != NULL, "%s: <%s> parses", de->d_name, (const char *)n->name);
            if (!def) {
                printf("#   %s\n", err.msg);
                continue;
            }
            start = strstr(data, open);
            end = start ? strstr(start, close) : NULL;
            want = start && end ? vs_xstrndup(start + 3, (size_t)(end + strlen(close) - start - 3))
                                : vs_xstrdup("");
            got = fmt(def, 2, true, inactive ? "inactiveDomain" : NULL);
            is_str(got, want, "%s: <%s> is reproduced byte for byte", de->d_name,
                   (const char *)n->name);
            free(want);
            free(got);
            vs_domain_def_free(def);
            checked++;
        }
        xmlFreeDoc(doc);
        free(data);
        free(path);
    }
    closedir(dh);
    free(dir);
    ok(checked >= 5, "the corpus had embedded domains to check (%d)", checked);
}

/* ---- parse details ---- */

static void
test_uuid_and_id(void)
{
    char *text = read_data("nouuid.xml"), *out, *want, *line;
    vs_error err;
    vs_domain_def *def = parse_str(text, &err);
    size_t i;
    bool hex = true;

    ok(def != NULL, "a domain without uuid parses");
    if (!def) {
        free(text);
        return;
    }
    ok(def->uuid && strlen(def->uuid) == 36, "a uuid was generated (%s)", def->uuid);
    for (i = 0; def->uuid && i < 36; i++) {
        char c = def->uuid[i];
        if (i == 8 || i == 13 || i == 18 || i == 23)
            hex = hex && c == '-';
        else
            hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }
    ok(hex, "generated uuid is canonical lower-case");
    ok(def->uuid[14] == '4' && strchr("89ab", def->uuid[19]), "generated uuid is version 4");
    out = fmt(def, 0, true, NULL);
    line = vs_xasprintf("<name>fresh</name>\n  <uuid>%s</uuid>", def->uuid);
    want = replace1(text, "<name>fresh</name>", line);
    free(line);
    line = want;
    want = replace1(line, " id='7'", "");
    free(line);
    is_str(out, want, "the uuid is printed after <name>, the live id= is gone");
    free(out);
    free(want);
    vs_domain_def_free(def);

    def = parse_str(text, &err);
    {
        vs_domain_def *def2 = parse_str(text, &err);
        ok(def && def2 && strcmp(def->uuid, def2->uuid) != 0, "each parse generates a new uuid");
        vs_domain_def_free(def2);
    }
    vs_domain_def_free(def);
    free(text);

    def = parse_str("<domain type='kvm'><name>u</name>"
                    "<uuid>4DEA22B3 1D52D8F3-2516782E98AB3FA0</uuid></domain>", &err);
    is_str(def ? def->uuid : NULL, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0",
           "libvirt's lenient uuid syntax is accepted and made canonical");
    out = def ? fmt(def, 0, true, NULL) : NULL;
    is_str(out, "<domain type='kvm'><name>u</name>"
           "<uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid></domain>",
           "the canonical uuid is what gets printed");
    free(out);
    vs_domain_def_free(def);

    def = parse_str("<domain type='kvm'>\n  <name>e</name>\n  <uuid></uuid>\n</domain>", &err);
    ok(def && def->uuid && strlen(def->uuid) == 36, "an empty <uuid/> is filled in");
    vs_domain_def_free(def);
}

static void
test_errors(void)
{
    expect_error("<domainsnapshot><name>x</name></domainsnapshot>",
                 "XML error: expecting root element of 'domain', not 'domainsnapshot'", "wrong root");
    expect_error("<domain type='kvm'><uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid></domain>",
                 "XML error: missing name in domain", "no name");
    expect_error("<domain type='kvm'><name></name></domain>",
                 "XML error: missing name in domain", "empty name");
    expect_error("<domain type='kvm'><name>a/b</name></domain>",
                 "invalid domain name 'a/b': name can't contain '/'", "name with a slash");
    expect_error("<domain type='kvm'><name>.hidden</name></domain>",
                 "invalid domain name '.hidden': name can't start with '.'", "name with a dot");
    expect_error("<domain><name>x</name></domain>",
                 "XML error: Missing required attribute 'type' in element 'domain'", "no type");
    expect_error("<domain type='none'><name>x</name></domain>",
                 "XML error: Invalid value for attribute 'type' in element 'domain': 'none'.",
                 "type none");
    expect_error("<domain type='kvm'><name>x</name><uuid>not-a-uuid</uuid></domain>",
                 "internal error: malformed uuid element", "malformed uuid");
    expect_error("<domain type='kvm'><name>x</name><uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0ff"
                 "</uuid></domain>",
                 "internal error: malformed uuid element", "uuid too long");
    expect_error("<domain type='kvm'><name>x</name><devices><disk type='floppy-ish'>"
                 "<target dev='vda'/></disk></devices></domain>",
                 "XML error: Invalid value for attribute 'type' in element 'disk': 'floppy-ish'.",
                 "unknown disk type");
    expect_error("<domain type='kvm'><name>x</name><devices><disk device='tape'>"
                 "<target dev='vda'/></disk></devices></domain>",
                 "XML error: Invalid value for attribute 'device' in element 'disk': 'tape'.",
                 "unknown disk device");
    expect_error("<domain type='kvm'><name>x</name><devices><disk snapshot='default'>"
                 "<target dev='vda'/></disk></devices></domain>",
                 "XML error: Invalid value for attribute 'snapshot' in element 'disk': 'default'.",
                 "snapshot='default' on a disk");
    expect_error("<domain type='kvm'><name>x</name><devices><disk type='file'>"
                 "<source file='/x.img'/></disk></devices></domain>",
                 "missing target information for /x.img", "disk without target");
    expect_error("<domain type='kvm'><name>x</name><devices><disk type='file'>"
                 "<source file='/a.img'/><target dev='vda'/></disk><disk type='file'>"
                 "<source file='/b.img'/><target dev='vda'/></disk></devices></domain>",
                 "XML error: target 'vda' duplicated for disk sources '/a.img' and '/b.img'",
                 "duplicate target");
    {
        vs_error err;
        vs_domain_def *def = parse_str("<domain type='kvm'><name>x</name>", &err);
        ok(def == NULL && err.msg[0] != '\0', "malformed XML is refused (%s)", err.msg);
        vs_domain_def_free(def);
    }
    {
        vs_error err;
        xmlDocPtr doc = vs_xml_parse("<a><b/></a>", 11, "(t)", &err);
        vs_domain_def *def = vs_domain_def_parse_node(vs_xml_child(xmlDocGetRootElement(doc), "b"),
                                                      1, &err);
        ok(def == NULL, "parse_node refuses a non-domain element");
        is_str(err.msg, "XML error: expecting root element of 'domain', not 'b'",
               "parse_node message");
        xmlFreeDoc(doc);
    }
}

static void
test_disks(void)
{
    char *text = read_data("disks.xml");
    vs_error err;
    vs_domain_def *def = parse_str(text, &err);
    const vs_domain_disk *d;

    ok(def && def->ndisks == 8, "disks.xml has 8 disks");
    if (!def || def->ndisks != 8) {
        vs_domain_def_free(def);
        free(text);
        return;
    }
    is_str(def->name, "web1", "name");
    is_str(def->uuid, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0", "uuid");
    is_str(def->type, "kvm", "type");

    d = &def->disks[0];
    ok(d->type == VS_STORAGE_FILE, "vda: file");
    is_str(d->device, "disk", "vda: device");
    is_str(d->target, "vda", "vda: target");
    is_str(d->bus, "virtio", "vda: bus");
    is_str(d->source, "/var/lib/vsnap-test/web1.qcow2", "vda: source file");
    is_str(d->driver_name, "qemu", "vda: driver name");
    is_str(d->format, "qcow2", "vda: format");
    ok(!d->readonly && d->snapshot == VS_LOC_DEFAULT, "vda: writable, no snapshot preference");
    ok(d->node && xmlStrEqual(d->node->name, BAD_CAST "disk"), "vda: node is its <disk>");

    d = &def->disks[1];
    ok(d->type == VS_STORAGE_BLOCK, "vdb: block");
    is_str(d->source, "/dev/vg0/web1-data", "vdb: source dev");
    is_str(d->format, "raw", "vdb: format");

    d = &def->disks[2];
    ok(d->type == VS_STORAGE_NETWORK, "vdc: network");
    is_str(d->source, "nbd://nbd.example.org:10809/export1", "vdc: source is the locator");
    is_str(d->protocol, "nbd", "vdc: protocol");
    is_str(d->source_name, "export1", "vdc: source name");

    d = &def->disks[3];
    is_str(d->device, "cdrom", "sda: cdrom");
    ok(d->source == NULL, "sda: empty drive has no source");
    ok(d->readonly && d->snapshot == VS_LOC_NO, "sda: readonly implies snapshot='no'");
    is_str(d->bus, "sata", "sda: bus");

    d = &def->disks[4];
    is_str(d->source, "/srv/iso/install.iso", "sdb: source");
    ok(d->readonly && d->snapshot == VS_LOC_NO, "sdb: readonly medium defaults to 'no'");

    d = &def->disks[5];
    ok(d->snapshot == VS_LOC_EXTERNAL, "vdd: snapshot='external' read");
    d = &def->disks[6];
    ok(d->snapshot == VS_LOC_NO && !d->readonly, "vde: snapshot='no' read");
    ok(d->driver_name == NULL && d->format == NULL, "vde: no driver");

    /* lookups */
    ok(vs_domain_def_disk_index(def, "vdb") == 1, "lookup by target");
    ok(vs_domain_def_disk_index(def, "sdb") == 4, "lookup by target (cdrom)");
    ok(vs_domain_def_disk_index(def, "/var/lib/vsnap-test/web1.qcow2") == 0, "lookup by path");
    ok(vs_domain_def_disk_index(def, "/dev/vg0/web1-data") == 1, "lookup by block path");
    ok(vs_domain_def_disk_index(def, "/var/lib/vsnap-test/shared.img") == -1,
       "a path two disks use matches nothing");
    ok(vs_domain_def_disk_index(def, "vdz") == -1, "unknown target");
    ok(vs_domain_def_disk_index(def, "/nope") == -1, "unknown path");
    ok(vs_domain_def_disk_index(def, "web1.qcow2") == -1, "a relative name is a target, not a path");
    ok(vs_domain_def_disk_index(def, NULL) == -1, "NULL name");

    vs_domain_def_free(def);
    free(text);

    def = parse_str("<domain type='kvm'>\n  <name>v</name>\n  <devices>\n"
                    "    <disk type='vhostuser' device='disk'>\n"
                    "      <driver name='qemu' type='raw'/>\n"
                    "      <source type='unix' path='/run/vhost-blk.sock'>\n"
                    "        <reconnect enabled='yes' timeout='10'/>\n"
                    "      </source>\n"
                    "      <target dev='vda' bus='virtio'/>\n"
                    "    </disk>\n  </devices>\n</domain>", &err);
    ok(def && def->disks[0].type == VS_STORAGE_VHOSTUSER && def->disks[0].snapshot == VS_LOC_NO,
       "vhostuser defaults to snapshot='no'");
    if (def) {
        char *out = fmt(def, 0, true, NULL);
        is_str(def->disks[0].source, "/run/vhost-blk.sock", "vhostuser: socket path");
        ok(strstr(out, "<disk type='vhostuser' device='disk' snapshot='no'>") != NULL,
           "vhostuser: the implied snapshot='no' is printed, as libvirt does");
        free(out);
    }
    vs_domain_def_free(def);

    def = parse_str("<domain type='kvm'>\n  <name>v</name>\n  <devices>\n"
                    "    <disk type='file' device='cdrom'>\n"
                    "      <source file='/iso/a.iso'/>\n"
                    "      <target dev='sda' bus='sata'/>\n"
                    "      <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n"
                    "    </disk>\n  </devices>\n</domain>", &err);
    ok(def && def->disks[0].readonly && def->disks[0].snapshot == VS_LOC_NO,
       "a CD-ROM is read-only even without <readonly/>, so snapshot='no'");
    if (def) {
        char *out = fmt(def, 0, true, NULL);
        ok(strstr(out, "      <target dev='sda' bus='sata'/>\n      <readonly/>\n"
                       "      <address type='drive'") != NULL,
           "the implied <readonly/> is printed where libvirt puts it");
        free(out);
    }
    vs_domain_def_free(def);
}

static void
test_copy(void)
{
    char *text = read_data("disks.xml"), *a, *b;
    vs_error err;
    vs_domain_def *def = parse_str(text, &err), *c;
    size_t i;
    bool same = true;

    c = vs_domain_def_copy(def);
    ok(c && c->doc != def->doc, "copy has its own document");
    a = fmt(def, 0, true, NULL);
    b = fmt(c, 0, true, NULL);
    is_str(b, a, "copy formats identically");
    free(b);
    ok(c->ndisks == def->ndisks, "copy has the disks");
    for (i = 0; i < c->ndisks; i++) {
        same = same && strcmp(c->disks[i].target, def->disks[i].target) == 0 &&
               c->disks[i].snapshot == def->disks[i].snapshot &&
               c->disks[i].type == def->disks[i].type &&
               c->disks[i].node->doc == c->doc;
    }
    ok(same, "copied disks match and point into the copy's document");
    ok(vs_domain_def_set_disk_source(c, 0, VS_STORAGE_FILE, "/new/web1.s1", "qcow2", &err) == 0,
       "change the copy");
    b = fmt(def, 0, true, NULL);
    is_str(b, a, "the original is untouched");
    is_str(def->disks[0].source, "/var/lib/vsnap-test/web1.qcow2", "original struct untouched");
    free(a);
    free(b);
    ok(vs_domain_def_copy(NULL) == NULL, "copy of NULL");
    vs_domain_def_free(c);
    vs_domain_def_free(def);
    free(text);
}

/* Parse the formatted text again and compare disk i's fields. */
static void
check_reparse(const vs_domain_def *def, size_t i, const char *what)
{
    char *out = fmt(def, 0, true, NULL);
    vs_error err;
    vs_domain_def *r = parse_str(out, &err);
    const vs_domain_disk *a = &def->disks[i], *b;

    if (!r) {
        ok(0, "%s: reparse: %s", what, err.msg);
        free(out);
        return;
    }
    b = &r->disks[i];
    ok(a->type == b->type &&
       ((!a->source && !b->source) || (a->source && b->source && !strcmp(a->source, b->source))) &&
       ((!a->format && !b->format) || (a->format && b->format && !strcmp(a->format, b->format))),
       "%s: struct and document agree", what);
    vs_domain_def_free(r);
    free(out);
}

static void
test_set_source(void)
{
    char *text = read_data("disks.xml"), *out, *want, *t;
    vs_error err;
    vs_domain_def *def = parse_str(text, &err);

    /* file -> file: only the path and the format change */
    ok(vs_domain_def_set_disk_source(def, 0, VS_STORAGE_FILE, "/snap/web1.s1", "qcow2", &err) == 0,
       "vda: new source");
    out = fmt(def, 0, true, NULL);
    want = replace1(text, "<source file='/var/lib/vsnap-test/web1.qcow2'/>",
                    "<source file='/snap/web1.s1'/>");
    is_str(out, want, "vda: only <source file=> changed");
    free(out);
    free(want);
    is_str(def->disks[0].source, "/snap/web1.s1", "vda: struct source");
    check_reparse(def, 0, "vda");

    /* block -> file with a new format; cache= stays behind type= */
    ok(vs_domain_def_set_disk_source(def, 1, VS_STORAGE_FILE, "/snap/data&co.s1", "qcow2", &err) == 0,
       "vdb: block to file");
    out = fmt(def, 0, true, NULL);
    ok(strstr(out, "    <disk type='file' device='disk'>\n"
                   "      <driver name='qemu' type='qcow2' cache='none'/>\n"
                   "      <source file='/snap/data&amp;co.s1'/>\n"
                   "      <target dev='vdb' bus='virtio'/>\n") != NULL,
       "vdb: disk type, driver type and source rewritten in place");
    ok(strstr(out, "web1-data") == NULL, "vdb: the old dev= is gone");
    free(out);
    ok(def->disks[1].type == VS_STORAGE_FILE, "vdb: struct type");
    is_str(def->disks[1].format, "qcow2", "vdb: struct format");
    check_reparse(def, 1, "vdb");

    /* network -> file: the whole <source> is replaced */
    ok(vs_domain_def_set_disk_source(def, 2, VS_STORAGE_FILE, "/snap/export1.s1", "qcow2", &err) == 0,
       "vdc: network to file");
    out = fmt(def, 0, true, NULL);
    ok(strstr(out, "    <disk type='file' device='disk'>\n"
                   "      <driver name='qemu' type='qcow2'/>\n"
                   "      <source file='/snap/export1.s1'/>\n"
                   "      <target dev='vdc' bus='virtio'/>\n    </disk>\n") != NULL,
       "vdc: new source element, host gone");
    ok(def->disks[2].protocol == NULL && def->disks[2].source_name == NULL,
       "vdc: network fields cleared");
    free(out);
    check_reparse(def, 2, "vdc");

    /* file -> network: the locator says which, and <source> is libvirt's */
    ok(vs_domain_def_set_disk_source(def, 2, VS_STORAGE_FILE,
                                     "gluster://g1:24007/vol/dir/vdc.s2", "qcow2", &err) == 0,
       "vdc: file to gluster");
    out = fmt(def, 0, true, NULL);
    ok(strstr(out, "    <disk type='network' device='disk'>\n"
                   "      <driver name='qemu' type='qcow2'/>\n"
                   "      <source protocol='gluster' name='vol/dir/vdc.s2'>\n"
                   "        <host name='g1' port='24007'/>\n"
                   "      </source>\n"
                   "      <target dev='vdc' bus='virtio'/>\n    </disk>\n") != NULL,
       "vdc: network source element with its host");
    if (!strstr(out, "<host name='g1' port='24007'/>\n      </source>"))
        printf("# %s\n", out);
    is_str(def->disks[2].protocol, "gluster", "vdc: struct protocol");
    is_str(def->disks[2].source_name, "vol/dir/vdc.s2", "vdc: struct name");
    free(out);
    check_reparse(def, 2, "vdc (gluster)");
    ok(vs_domain_def_set_disk_source(def, 2, VS_STORAGE_NETWORK, "gluster://g1/onlyvolume", "qcow2",
                                     &err) < 0 && strstr(err.msg, "VOLUME/PATH"),
       "vdc: a bad locator refused (%s)", err.msg);
    ok(vs_domain_def_set_disk_source(def, 2, VS_STORAGE_FILE, "/snap/export1.s1", "qcow2", &err) == 0,
       "vdc: back to file");

    /* an empty CD-ROM gets a <source> between driver and target */
    ok(vs_domain_def_set_disk_source(def, 3, VS_STORAGE_FILE, "/iso/new.iso", "raw", &err) == 0,
       "sda: insert a medium");
    out = fmt(def, 0, true, NULL);
    ok(strstr(out, "    <disk type='file' device='cdrom'>\n"
                   "      <driver name='qemu' type='raw'/>\n"
                   "      <source file='/iso/new.iso'/>\n"
                   "      <target dev='sda' bus='sata'/>\n"
                   "      <readonly/>\n    </disk>\n") != NULL,
       "sda: source inserted with the disk's indentation");
    free(out);

    /* a disk without <driver> gets one, first, with name='qemu' for kvm */
    ok(vs_domain_def_set_disk_source(def, 6, VS_STORAGE_FILE, "/snap/shared.s1", "qcow2", &err) == 0,
       "vde: add a driver");
    out = fmt(def, 0, true, NULL);
    ok(strstr(out, "    <disk type='file' device='disk' snapshot='no'>\n"
                   "      <driver name='qemu' type='qcow2'/>\n"
                   "      <source file='/snap/shared.s1'/>\n"
                   "      <target dev='vde' bus='virtio'/>\n"
                   "      <shareable/>\n    </disk>\n") != NULL,
       "vde: driver inserted before source");
    free(out);
    is_str(def->disks[6].driver_name, "qemu", "vde: struct driver name");

    /* format NULL drops the driver's type= */
    ok(vs_domain_def_set_disk_source(def, 7, VS_STORAGE_BLOCK, "/dev/sdz", NULL, &err) == 0,
       "vdf: to block without format");
    out = fmt(def, 0, true, NULL);
    ok(strstr(out, "    <disk type='block' device='disk'>\n"
                   "      <driver name='qemu'/>\n"
                   "      <source dev='/dev/sdz'/>\n") != NULL,
       "vdf: dev= and no driver type");
    ok(def->disks[7].format == NULL, "vdf: struct format cleared");
    free(out);
    check_reparse(def, 7, "vdf");

    ok(vs_domain_def_set_disk_source(def, 99, VS_STORAGE_FILE, "/x", "qcow2", &err) < 0,
       "out-of-range index refused");
    ok(vs_domain_def_set_disk_source(def, 0, VS_STORAGE_DIR, "/x", "qcow2", &err) < 0,
       "non-image storage type refused");
    is_str(err.msg, "internal error: cannot set a 'dir' source for disk 'vda'",
           "non-image storage type message");
    vs_domain_def_free(def);
    free(text);

    /* <backingStore> describes the old image's chain: it goes */
    t = vs_xstrdup("<domain type='qemu'>\n  <name>b</name>\n"
                   "  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n  <devices>\n"
                   "    <disk type='file' device='disk'>\n"
                   "      <source file='/img/top.qcow2'/>\n"
                   "      <backingStore type='file'>\n"
                   "        <format type='qcow2'/>\n"
                   "        <source file='/img/base.qcow2'/>\n"
                   "      </backingStore>\n"
                   "      <target dev='vda' bus='virtio'/>\n"
                   "    </disk>\n  </devices>\n</domain>");
    def = parse_str(t, &err);
    ok(vs_domain_def_set_disk_source(def, 0, VS_STORAGE_FILE, "/img/top.s1", "qcow2", &err) == 0,
       "disk with backingStore: new source");
    out = fmt(def, 0, true, NULL);
    is_str(out, "<domain type='qemu'>\n  <name>b</name>\n"
           "  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n  <devices>\n"
           "    <disk type='file' device='disk'>\n"
           "      <driver name='qemu' type='qcow2'/>\n"
           "      <source file='/img/top.s1'/>\n"
           "      <target dev='vda' bus='virtio'/>\n"
           "    </disk>\n  </devices>\n</domain>",
           "disk with backingStore: chain dropped, driver added for qemu");
    free(out);
    vs_domain_def_free(def);
    free(t);

    /* a disk written on one line stays on one line */
    def = parse_str("<domain type='xen'><name>c</name><uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
                    "</uuid><devices><disk device='cdrom'><target dev='hdc'/></disk></devices>"
                    "</domain>", &err);
    ok(vs_domain_def_set_disk_source(def, 0, VS_STORAGE_FILE, "/iso/a.iso", "raw", &err) == 0,
       "compact disk: new source");
    out = fmt(def, 0, true, NULL);
    is_str(out, "<domain type='xen'><name>c</name><uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
           "</uuid><devices><disk type='file' device='cdrom'><driver type='raw'/>"
           "<source file='/iso/a.iso'/><target dev='hdc'/><readonly/></disk></devices></domain>",
           "compact disk: no indentation invented; no driver name outside qemu/kvm");
    free(out);
    vs_domain_def_free(def);
}

static void
test_names(void)
{
    ok(vs_storage_type_parse("file") == VS_STORAGE_FILE &&
       vs_storage_type_parse("block") == VS_STORAGE_BLOCK &&
       vs_storage_type_parse("network") == VS_STORAGE_NETWORK &&
       vs_storage_type_parse("dir") == VS_STORAGE_DIR &&
       vs_storage_type_parse("volume") == VS_STORAGE_VOLUME &&
       vs_storage_type_parse("nvme") == VS_STORAGE_NVME &&
       vs_storage_type_parse("vhostuser") == VS_STORAGE_VHOSTUSER,
       "storage type keywords");
    ok(vs_storage_type_parse("none") == -1 && vs_storage_type_parse("bogus") == -1 &&
       vs_storage_type_parse(NULL) == -1, "unknown storage types");
    is_str(vs_storage_type_name(VS_STORAGE_BLOCK), "block", "storage type name");
    is_str(vs_storage_type_name(VS_STORAGE_VHOSTUSER), "vhostuser", "storage type name (vhostuser)");
    ok(vs_snap_location_parse("no") == VS_LOC_NO &&
       vs_snap_location_parse("internal") == VS_LOC_INTERNAL &&
       vs_snap_location_parse("external") == VS_LOC_EXTERNAL &&
       vs_snap_location_parse("manual") == VS_LOC_MANUAL, "location keywords");
    ok(vs_snap_location_parse("default") == -1 && vs_snap_location_parse("") == -1,
       "'default' is not a location keyword");
    is_str(vs_snap_location_name(VS_LOC_EXTERNAL), "external", "location name");
}

int
main(void)
{
    if (!(domain_rng = testenv_schema("domain.rng")))
        testenv_skip_schemas();
    test_names();
    test_roundtrip_file("disks.xml");
    test_roundtrip_file("odd.xml");
    test_odd_fields();
    test_secure();
    test_embedding();
    test_reference();
    test_uuid_and_id();
    test_errors();
    test_disks();
    test_copy();
    test_set_source();
    free(domain_rng);
    return tap_done();
}
