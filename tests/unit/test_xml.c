/* Unit tests: xml (safe parsing, formatting, validation, XPath). */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "mem.h"
#include "path.h"
#include "xml.h"
#include "../tap.h"
#include "../testenv.h"

#include <dirent.h>

static char *scratch;
static const char *reference;   /* ../shared/reference for the cross-checks, or NULL */

static xmlDocPtr
parse_str(const char *s, vs_error *e)
{
    vs_error_clear(e);
    return vs_xml_parse(s, strlen(s), "(domain_snapshot)", e);
}

static char *
fmt(xmlNodePtr n, int indent)
{
    vs_buf b = VS_BUF_INIT;

    vs_xml_format_node(&b, n, indent);
    return vs_buf_steal(&b);
}

static char *
write_scratch(const char *name, const char *data)
{
    char *p = vs_path_join(scratch, name);

    if (vs_file_write_atomic(p, data, strlen(data), 0644, NULL) < 0)
        printf("Bail out! cannot write %s\n", p);
    return p;
}

static void
test_parse_errors(void)
{
    vs_error e;
    xmlDocPtr d;

    d = parse_str("<a x='1'>t</a>", &e);
    ok(d != NULL, "well-formed document parses");
    xmlFreeDoc(d);

    ok(parse_str("this is not XML at all", &e) == NULL, "garbage refused");
    is_str(e.msg, "(domain_snapshot):1: Start tag expected, '<' not found", "virsh's parse message");
    ok(parse_str("<domainsnapshot>\n  <name>x</name>\n", &e) == NULL, "truncated refused");
    is_str(e.msg, "(domain_snapshot):3: Premature end of data in tag domainsnapshot line 1",
           "truncated message with line number");
    ok(parse_str("", &e) == NULL, "empty refused");
    ok(parse_str("<a/><b/>", &e) == NULL && strstr(e.msg, ":1: Extra content") != NULL,
       "two roots refused: %s", e.msg);
    ok(parse_str("<x>&undefined;</x>", &e) == NULL && strstr(e.msg, "Entity 'undefined' not defined"),
       "undefined entity refused: %s", e.msg);
    d = parse_str("<x>&lt;&amp;&#65;</x>", &e);
    ok(d != NULL, "predefined and character entities accepted");
    if (d) {
        char *t = vs_xml_text(xmlDocGetRootElement(d));
        is_str(t, "<&A", "entities decoded");
        free(t);
    }
    xmlFreeDoc(d);
}

static void
test_doctype(void)
{
    char *marker = write_scratch("secret.txt", "MARKER-7f3a9c");
    char *xml;
    vs_error e;
    xmlDocPtr d;
    struct timespec t0, t1;
    double secs;

    ok(parse_str("<!DOCTYPE x><x/>", &e) == NULL, "bare DOCTYPE refused");
    is_str(e.msg, "XML error: (domain_snapshot): DOCTYPE and entity declarations are not allowed",
           "DOCTYPE message");

    xml = vs_xasprintf("<!DOCTYPE x [<!ENTITY ext SYSTEM \"file://%s\">]><x>&ext;</x>", marker);
    d = parse_str(xml, &e);
    ok(d == NULL, "external entity document refused");
    ok(strstr(e.msg, "MARKER") == NULL, "marker not in the error");
    free(xml);
    xmlFreeDoc(d);

    xml = vs_xasprintf("<!DOCTYPE x SYSTEM \"%s\"><x/>", marker);
    ok(parse_str(xml, &e) == NULL && strstr(e.msg, "DOCTYPE") != NULL, "external DTD refused");
    free(xml);

    /* XInclude is never processed */
    xml = vs_xasprintf("<x xmlns:xi='http://www.w3.org/2001/XInclude'>"
                       "<xi:include href='%s' parse='text'/></x>", marker);
    d = parse_str(xml, &e);
    ok(d != NULL, "XInclude element parsed as plain element");
    if (d) {
        char *s = fmt(xmlDocGetRootElement(d), 0);
        ok(strstr(s, "MARKER") == NULL, "XInclude not expanded");
        free(s);
    }
    xmlFreeDoc(d);
    free(xml);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    d = parse_str("<?xml version='1.0'?>\n"
                  "<!DOCTYPE lolz [\n"
                  " <!ENTITY lol 'lol'>\n"
                  " <!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>\n"
                  " <!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>\n"
                  " <!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>\n"
                  " <!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>\n"
                  " <!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>\n"
                  " <!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>\n"
                  " <!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>\n"
                  " <!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>\n"
                  " <!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>\n"
                  "]>\n<lolz>&lol9;</lolz>\n", &e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ok(d == NULL && strstr(e.msg, "DOCTYPE and entity declarations are not allowed"),
       "billion laughs refused");
    ok(secs < 1.0, "billion laughs refused quickly (%.3f s)", secs);
    xmlFreeDoc(d);

    /* parse_file names the file */
    {
        char *p = write_scratch("dt.xml", "<!DOCTYPE a><a/>");
        char *want = vs_xasprintf("XML error: %s: DOCTYPE and entity declarations are not allowed", p);
        ok(vs_xml_parse_file(p, &e) == NULL, "parse_file refuses DOCTYPE");
        is_str(e.msg, want, "parse_file message names the file");
        unlink(p);
        free(want);
        free(p);
    }
    unlink(marker);
    free(marker);
}

static void
test_size_cap(void)
{
    size_t n = VS_XML_MAX_SIZE + 1;
    char *big = vs_xmalloc(n + 1);
    char *p, *want;
    vs_error e;
    xmlDocPtr d;

    memset(big, ' ', n);
    memcpy(big, "<a>", 3);
    memcpy(big + n - 4, "</a>", 4);
    big[n] = '\0';
    ok(vs_xml_parse(big, n, "big", &e) == NULL, "document over the cap refused");
    is_str(e.msg, "XML error: big: document is larger than 10485760 bytes", "size cap message");
    d = vs_xml_parse(big + 1, n - 1, "big", &e);
    ok(d == NULL, "exactly at the cap is parsed (the text is not XML, so it fails to parse)");
    ok(strstr(e.msg, "larger than") == NULL, "at the cap: not a size error");
    xmlFreeDoc(d);
    memcpy(big + 1, "<a>", 3);
    d = vs_xml_parse(big + 1, n - 1, "big", &e);
    ok(d != NULL, "a 10 MiB document at the cap parses");
    xmlFreeDoc(d);

    p = vs_path_join(scratch, "big.xml");
    vs_file_write_atomic(p, big, n, 0600, &e);
    want = vs_xasprintf("file '%s' is larger than 10485760 bytes", p);
    ok(vs_xml_parse_file(p, &e) == NULL, "parse_file over the cap refused");
    is_str(e.msg, want, "parse_file size message");
    unlink(p);
    free(want);
    free(p);
    free(big);

    ok(vs_xml_parse_file("/x-does-not-exist.xml", &e) == NULL, "missing file");
    is_str(e.msg, "Failed to open file '/x-does-not-exist.xml': No such file or directory",
           "missing file message");
}

static void
test_format(void)
{
    const char *src =
        "<domainsnapshot>\n"
        "  <name>a &amp; b</name>\n"
        "  <description>it's \"q\" &lt;x&gt;</description>\n"
        "  <!-- note -->\n"
        "  <memory snapshot='no' file=\"a&apos;b\"/>\n"
        "  <disks>\n"
        "    <disk name='vda'></disk>\n"
        "  </disks>\n"
        "  <cookie><![CDATA[<raw> & stuff]]></cookie>\n"
        "  <m:meta xmlns:m='urn:x' m:a='1'><m:x/></m:meta>\n"
        "  <plain xmlns='urn:d'><y/></plain>\n"
        "</domainsnapshot>";
    const char *want0 =
        "<domainsnapshot>\n"
        "  <name>a &amp; b</name>\n"
        "  <description>it&apos;s &quot;q&quot; &lt;x&gt;</description>\n"
        "  <!-- note -->\n"
        "  <memory snapshot='no' file='a&apos;b'/>\n"
        "  <disks>\n"
        "    <disk name='vda'/>\n"
        "  </disks>\n"
        "  <cookie><![CDATA[<raw> & stuff]]></cookie>\n"
        "  <m:meta xmlns:m='urn:x' m:a='1'><m:x/></m:meta>\n"
        "  <plain xmlns='urn:d'><y/></plain>\n"
        "</domainsnapshot>";
    const char *want2 =
        "<domainsnapshot>\n"
        "    <name>a &amp; b</name>\n"
        "    <description>it&apos;s &quot;q&quot; &lt;x&gt;</description>\n"
        "    <!-- note -->\n"
        "    <memory snapshot='no' file='a&apos;b'/>\n"
        "    <disks>\n"
        "      <disk name='vda'/>\n"
        "    </disks>\n"
        "    <cookie><![CDATA[<raw> & stuff]]></cookie>\n"
        "    <m:meta xmlns:m='urn:x' m:a='1'><m:x/></m:meta>\n"
        "    <plain xmlns='urn:d'><y/></plain>\n"
        "  </domainsnapshot>";
    vs_error e;
    xmlDocPtr d = parse_str(src, &e), d2;
    char *s;

    ok(d != NULL, "format input parses");
    if (!d)
        return;
    s = fmt(xmlDocGetRootElement(d), 0);
    is_str(s, want0, "libvirt-style formatting");
    free(s);
    s = fmt(xmlDocGetRootElement(d), 2);
    is_str(s, want2, "extra_indent 2");

    d2 = parse_str(s, &e);
    free(s);
    ok(d2 != NULL, "indented output parses");
    if (d2) {
        vs_xml_unindent(xmlDocGetRootElement(d2), 2);
        s = fmt(xmlDocGetRootElement(d2), 0);
        is_str(s, want0, "unindent is the inverse of extra_indent");
        free(s);
    }
    xmlFreeDoc(d2);

    {
        vs_buf b = VS_BUF_INIT;
        xmlNodePtr m = vs_xml_child(xmlDocGetRootElement(d), "meta");
        vs_xml_format_node_libxml(&b, m, 0);
        is_str(vs_buf_str(&b), "<m:meta xmlns:m=\"urn:x\" m:a=\"1\"><m:x/></m:meta>",
               "libxml2-style formatting");
        vs_buf_reset(&b);
    }

    /* accessors */
    {
        xmlNodePtr root = xmlDocGetRootElement(d);
        xmlNodePtr mem = vs_xml_child(root, "memory");
        char *v;

        ok(mem != NULL, "child lookup");
        v = vs_xml_prop(mem, "file");
        is_str(v, "a'b", "prop value decoded");
        free(v);
        ok(vs_xml_prop(mem, "nope") == NULL, "absent prop is NULL");
        ok(vs_xml_child(root, "nope") == NULL, "absent child is NULL");
        v = vs_xml_child_text(root, "description");
        is_str(v, "it's \"q\" <x>", "child text");
        free(v);
        ok(vs_xml_child_text(root, "nope") == NULL, "absent child text is NULL");
        ok(vs_xml_prop(NULL, "x") == NULL && vs_xml_text(NULL) == NULL, "NULL node tolerated");
    }
    xmlFreeDoc(d);

    d = parse_str("<a>\x01</a>", &e);
    ok(d == NULL, "control character refused by the parser");
}

/* Every libvirt reference output reproduces byte for byte; <metadata> children
 * are written in libxml2's style, as libvirt does. */
static void
format_libvirt(vs_buf *b, xmlNodePtr n, int indent)
{
    xmlNodePtr c;

    if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, (const xmlChar *)"metadata") ||
        !n->children) {
        vs_xml_format_node(b, n, indent);
        return;
    }
    vs_buf_add(b, "<metadata>");
    for (c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            vs_xml_format_node_libxml(b, c, indent);
        else
            vs_xml_format_node(b, c, indent);
    }
    vs_buf_add(b, "</metadata>");
}

static void
format_tree(vs_buf *b, xmlNodePtr n)
{
    xmlNodePtr c;

    if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)"metadata")) {
        format_libvirt(b, n, 0);
        return;
    }
    if (n->type != XML_ELEMENT_NODE || !n->children) {
        vs_xml_format_node(b, n, 0);
        return;
    }
    /* re-walk the element so <metadata> below it gets the special case */
    {
        vs_buf open = VS_BUF_INIT;
        xmlNodePtr kids = n->children;
        char *s, *gt;

        n->children = NULL;
        vs_xml_format_node(&open, n, 0);
        n->children = kids;
        s = vs_buf_steal(&open);
        gt = strstr(s, "/>");
        if (gt)
            strcpy(gt, ">");
        vs_buf_add(b, s);
        free(s);
        for (c = n->children; c; c = c->next)
            format_tree(b, c);
        vs_buf_addf(b, "</%s>", (const char *)n->name);
    }
}

/* Parse `path` and format it back: byte for byte the same text. */
static void
roundtrip_file(const char *path, const char *label, bool plain)
{
    char *data = NULL;
    size_t len;
    xmlDocPtr d;
    vs_error e;

    if (vs_file_read(path, VS_XML_MAX_SIZE, &data, &len, &e) < 0) {
        ok(0, "%s readable: %s", label, e.msg);
        return;
    }
    d = vs_xml_parse(data, len, path, &e);
    if (!d) {
        ok(0, "%s parses: %s", label, e.msg);
    } else {
        vs_buf b = VS_BUF_INIT;

        if (plain)
            vs_xml_format_node(&b, xmlDocGetRootElement(d), 0);
        else
            format_tree(&b, xmlDocGetRootElement(d));
        vs_buf_addc(&b, '\n');
        is_str(vs_buf_str(&b), data, "%s round-trips byte for byte", label);
        vs_buf_reset(&b);
    }
    xmlFreeDoc(d);
    free(data);
}

/* Every expected output of the project's snapshot corpus is libvirt-style XML. */
static void
test_roundtrip_corpus(void)
{
    const char *top = getenv("top_srcdir");
    char *dir = vs_xasprintf("%s/tests/corpus/snapshot", top && *top ? top : ".");
    DIR *dh = opendir(dir);
    struct dirent *de;
    int n = 0;

    while (dh && (de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        char *path;

        if (l < 5 || strcmp(de->d_name + l - 4, ".out") != 0)
            continue;
        path = vs_xasprintf("%s/%s", dir, de->d_name);
        roundtrip_file(path, de->d_name, true);
        free(path);
        n++;
    }
    if (dh)
        closedir(dh);
    ok(n > 10, "%d corpus outputs round-tripped (%s)", n, dir);
    free(dir);
}

/* Cross-check: libvirt's own snapshot corpus. */
static void
test_roundtrip_libvirt(void)
{
    static const char *files[] = {
        "all_parameters.xml", "disk-seclabel.xml", "disk_driver_name_null.xml",
        "disk_snapshot.xml", "disk_snapshot_redefine.xml", "empty.xml", "external_vm.xml",
        "external_vm_redefine.xml", "full_domain.xml", "memory-snapshot-inactivedomain.xml",
        "metadata.xml", "name_and_description.xml", "noparent.xml",
        "noparent_nodescription.xml", "noparent_nodescription_noactive.xml",
        "qcow2-metadata-cache.xml", NULL };

    for (int i = 0; files[i]; i++) {
        char *path = vs_xasprintf("%s/libvirt/tests/qemudomainsnapshotxml2xmlout/%s",
                                  reference, files[i]);

        roundtrip_file(path, files[i], strcmp(files[i], "full_domain.xml") == 0);
        free(path);
    }
}

static void
test_validate(void)
{
    const char *top = getenv("top_srcdir");
    char *rng, *path, *data = NULL, *want;
    size_t len;
    vs_error e;
    xmlDocPtr d;

    setenv("VSNAP_SCHEMA_DIR", "/some/dir", 1);
    is_str(vs_xml_schema_dir(), "/some/dir", "schema dir from the environment");
    unsetenv("VSNAP_SCHEMA_DIR");
    is_str(vs_xml_schema_dir(), VSNAP_SCHEMA_DIR, "configured schema dir");

    d = parse_str("<domainsnapshot/>", &e);
    ok(vs_xml_validate(d, "/x-no-such.rng", &e) == -1, "missing schema fails");
    ok(strstr(e.msg, "/x-no-such.rng") != NULL, "missing schema message names it: %s", e.msg);
    xmlFreeDoc(d);

    if (!(rng = testenv_schema("domainsnapshot.rng"))) {
        testenv_skip_schemas();
        return;
    }
    /* a snapshot with a full <domain> (nested grammar of domain.rng) */
    path = vs_xasprintf("%s/tests/corpus/snapshot/domain-secure.xml", top && *top ? top : ".");
    if (vs_file_read(path, VS_XML_MAX_SIZE, &data, &len, &e) == 0 &&
        (d = vs_xml_parse(data, len, path, &e))) {
        vs_error_clear(&e);
        ok(vs_xml_validate(d, rng, &e) == 0, "domain-secure.xml is valid%s", e.msg);
        ok(vs_xml_validate(d, rng, &e) == 0, "validating twice (cached schema)");
        xmlFreeDoc(d);
    } else {
        ok(0, "%s: %s", path, e.msg);
    }
    free(data);

    d = parse_str("<domainsnapshot>\n  <bogus/>\n</domainsnapshot>", &e);
    ok(vs_xml_validate(d, rng, &e) == -1, "invalid document refused");
    want = vs_xasprintf("XML document failed to validate against schema: "
                        "Unable to validate doc against %s ", rng);
    ok(strncmp(e.msg, want, strlen(want)) == 0 && strlen(e.msg) > strlen(want),
       "schema message with detail: %s", e.msg);
    ok(e.code == VS_ERR_SCHEMA && strchr(e.msg, '\n') == NULL, "one line, schema code");
    free(want);
    xmlFreeDoc(d);

    d = parse_str("<domainsnapshot><name>x</name><description>d</description></domainsnapshot>", &e);
    ok(vs_xml_validate(d, rng, &e) == 0, "minimal document valid");
    xmlFreeDoc(d);
    free(rng);
    free(path);
}

static void
xp(xmlDocPtr d, const char *expr, bool wrap, const char *want, const char *label)
{
    vs_buf b = VS_BUF_INIT;
    vs_error e;

    vs_error_clear(&e);
    ok(vs_xml_xpath_print(d, expr, wrap, &b, &e) == 0, "xpath %s runs: %s", label, e.msg);
    is_str(vs_buf_str(&b), want, "xpath %s output", label);
    vs_buf_reset(&b);
}

static void
test_xpath(void)
{
    /* snapshot s2 of transcript 01-create-list-info.txt */
    const char *s2 =
        "<domainsnapshot>\n"
        "  <name>s2</name>\n"
        "  <description>second snapshot, with a comma</description>\n"
        "  <state>running</state>\n"
        "  <parent>\n"
        "    <name>s1</name>\n"
        "  </parent>\n"
        "  <creationTime>1795626230</creationTime>\n"
        "  <memory snapshot='internal'/>\n"
        "  <disks>\n"
        "    <disk name='vda' snapshot='internal'/>\n"
        "    <disk name='vdb' snapshot='no'/>\n"
        "  </disks>\n"
        "</domainsnapshot>\n";
    vs_buf b = VS_BUF_INIT;
    vs_error e;
    xmlDocPtr d = parse_str(s2, &e);

    if (!d) {
        ok(0, "xpath document parses");
        return;
    }
    xp(d, "/domainsnapshot/description", false,
       "<description>second snapshot, with a comma</description>\n", "description");
    xp(d, "//parent/name", true, "<nodes>\n  <name>s1</name>\n</nodes>\n", "--wrap");
    xp(d, "//nothing", false, "", "no match");
    xp(d, "//nothing", true, "<nodes/>\n", "no match --wrap");
    xp(d, "//disk", false,
       "<disk name=\"vda\" snapshot=\"internal\"/>\n<disk name=\"vdb\" snapshot=\"no\"/>\n",
       "two nodes");
    xp(d, "//disk", true,
       "<nodes>\n  <disk name=\"vda\" snapshot=\"internal\"/>\n"
       "  <disk name=\"vdb\" snapshot=\"no\"/>\n</nodes>\n", "two nodes --wrap");
    xp(d, "name", false, "<name>s2</name>\n", "relative to the root");

    ok(vs_xml_xpath_print(d, "string(//parent/name)", false, &b, &e) == -1, "string() refused");
    is_str(e.msg, "internal error: Incorrect xpath 'string(//parent/name)'", "virsh's message");
    ok(vs_xml_xpath_print(d, "count(//disk)", true, &b, &e) == -1, "number refused");
    ok(vs_xml_xpath_print(d, "///[", false, &b, &e) == -1, "invalid expression refused");
    is_str(e.msg, "internal error: Incorrect xpath '///['", "invalid expression message");
    ok(b.len == 0, "nothing printed on failure");
    vs_buf_reset(&b);
    xmlFreeDoc(d);
}

int
main(void)
{
    char tmpl[] = "/tmp/vsnap-test-xml.XXXXXX";
    char errtmpl[] = "/tmp/vsnap-test-xml-stderr.XXXXXX";
    char *stderr_text = NULL;
    int saved, fd;

    reference = testenv_reference();
    if (!(scratch = mkdtemp(tmpl))) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    /* libxml2 must stay silent: route stderr to a file and check it at the end */
    fflush(stderr);
    saved = dup(2);
    fd = mkstemp(errtmpl);
    dup2(fd, 2);

    test_parse_errors();
    test_doctype();
    test_size_cap();
    test_format();
    test_roundtrip_corpus();
    test_validate();
    if (reference)
        test_roundtrip_libvirt();
    else
        testenv_skip_cross_checks();
    test_xpath();

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    vs_file_read(errtmpl, 1 << 20, &stderr_text, NULL, NULL);
    is_str(stderr_text, "", "libxml2 printed nothing to stderr");
    free(stderr_text);
    unlink(errtmpl);
    ok(rmdir(scratch) == 0, "scratch directory left empty");
    tap_done();
    return tap_failed ? 1 : 0;
}
