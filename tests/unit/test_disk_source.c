/* Unit tests: network disk sources — XML, locators, QEMU's blockdev options
 * and qemu-img filenames for NBD and GlusterFS, without a server. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "disk_source.h"
#include "error.h"
#include "mem.h"
#include "xml.h"
#include "../tap.h"

static xmlDocPtr doc;

static int
from_xml(const char *text, vs_net_source *ns, vs_error *e)
{
    vs_error_clear(e);
    xmlFreeDoc(doc);
    doc = vs_xml_parse(text, strlen(text), "(test)", e);
    if (!doc)
        return -1;
    return vs_net_source_from_xml(xmlDocGetRootElement(doc), ns, e);
}

static char *
blockdev(const vs_net_source *ns)
{
    json_object *o = vs_net_source_blockdev(ns);
    char *s = vs_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

static char *
xml_of(const vs_net_source *ns)
{
    vs_buf b = VS_BUF_INIT;

    vs_net_source_format(&b, ns, 0);
    return vs_buf_steal(&b);
}

/* One XML source: its locator, qemu-img filename, blockdev JSON, and the XML it prints. */
static void
xml_case(const char *in, const char *loc, const char *fname, const char *json, const char *out)
{
    vs_net_source ns, back;
    vs_error e;
    char *s;

    if (from_xml(in, &ns, &e) < 0) {
        ok(0, "parse %s: %s", in, e.msg);
        return;
    }
    s = vs_net_source_locator(&ns);
    is_str(s, loc, "locator of %s", in);
    free(s);
    s = vs_net_source_filename(&ns);
    is_str(s, fname, "qemu-img filename of %s", in);
    /* the filename reads back as the same image */
    if (vs_net_source_from_locator(s, &back, &e) == 0) {
        char *l2 = vs_net_source_locator(&back);
        is_str(l2, loc, "filename %s reads back", s);
        free(l2);
        vs_net_source_clear(&back);
    } else {
        ok(0, "filename %s reads back: %s", s, e.msg);
    }
    free(s);
    s = blockdev(&ns);
    is_str(s, json, "blockdev of %s", in);
    free(s);
    s = xml_of(&ns);
    {
        /* libvirt's layout: one <host> a line; compared without it */
        char *flat = vs_xstrdup(s), *r = flat, *w = flat;

        for (; *r; r++)
            if (*r != '\n' && !(*r == ' ' && (r[1] == ' ' || r[1] == '<' || r[-1] == '\n' || r[-1] == ' ')))
                *w++ = *r;
        *w = '\0';
        is_str(flat, out ? out : in, "XML of %s", in);
        ok(strstr(s, ">\n  <host") != NULL && strstr(s, "/>\n</source>") != NULL,
           "one <host> a line, indented");
        free(flat);
    }
    free(s);
    vs_net_source_clear(&ns);
}

static void
bad_xml(const char *in, const char *want)
{
    vs_net_source ns;
    vs_error e;

    ok(from_xml(in, &ns, &e) < 0 && strstr(e.msg, want), "refused %s: %s", in, e.msg);
}

static void
url_case(const char *in, const char *canon)
{
    char *s = vs_net_locator_normalise(in);

    is_str(s, canon, "normalised %s", in);
    free(s);
}

static void
bad_url(const char *in)
{
    vs_net_source ns;
    vs_error e;

    vs_error_clear(&e);
    ok(vs_net_source_from_locator(in, &ns, &e) < 0 && e.msg[0], "URL refused: %s (%s)", in, e.msg);
}

int
main(void)
{
    xml_case("<source protocol='nbd' name='export'><host transport='unix' socket='/run/n.sock'/></source>",
             "nbd+unix:///export?socket=/run/n.sock", "nbd+unix:///export?socket=/run/n.sock",
             "{\"driver\":\"nbd\",\"server\":{\"type\":\"unix\",\"path\":\"/run/n.sock\"},\"export\":\"export\"}",
             NULL);
    xml_case("<source protocol='nbd' name='d1'><host name='nbd.example' port='10810'/></source>",
             "nbd://nbd.example:10810/d1", "nbd://nbd.example:10810/d1",
             "{\"driver\":\"nbd\",\"server\":{\"type\":\"inet\",\"host\":\"nbd.example\",\"port\":\"10810\"},\"export\":\"d1\"}",
             NULL);
    /* no export: the server's default one; no port: 10809 */
    xml_case("<source protocol='nbd'><host name='10.0.0.1'/></source>",
             "nbd://10.0.0.1:10809", "nbd://10.0.0.1:10809",
             "{\"driver\":\"nbd\",\"server\":{\"type\":\"inet\",\"host\":\"10.0.0.1\",\"port\":\"10809\"}}",
             NULL);
    xml_case("<source protocol='gluster' name='vol/dir/img.qcow2'><host name='g1' port='24007'/></source>",
             "gluster://g1:24007/vol/dir/img.qcow2", "gluster://g1:24007/vol/dir/img.qcow2",
             "{\"driver\":\"gluster\",\"volume\":\"vol\",\"path\":\"dir/img.qcow2\",\"server\":[{\"type\":\"inet\",\"host\":\"g1\",\"port\":\"24007\"}]}",
             NULL);
    /* several hosts: qemu-img gets them all through json:, the identity is the first */
    xml_case("<source protocol='gluster' name='vol/img'><host name='g1'/><host name='g2' port='24008'/>"
             "<host transport='unix' socket='/run/glusterd.socket'/></source>",
             "gluster://g1:24007/vol/img",
             "json:{\"driver\":\"gluster\",\"volume\":\"vol\",\"path\":\"img\",\"server\":["
             "{\"type\":\"inet\",\"host\":\"g1\",\"port\":\"24007\"},"
             "{\"type\":\"inet\",\"host\":\"g2\",\"port\":\"24008\"},"
             "{\"type\":\"unix\",\"path\":\"/run/glusterd.socket\"}]}",
             "{\"driver\":\"gluster\",\"volume\":\"vol\",\"path\":\"img\",\"server\":["
             "{\"type\":\"inet\",\"host\":\"g1\",\"port\":\"24007\"},"
             "{\"type\":\"inet\",\"host\":\"g2\",\"port\":\"24008\"},"
             "{\"type\":\"unix\",\"path\":\"/run/glusterd.socket\"}]}",
             NULL);

    bad_xml("<source protocol='iscsi' name='iqn.x/1'><host name='h'/></source>", "not supported by vsnap");
    bad_xml("<source name='x'><host name='h'/></source>", "missing network source protocol");
    bad_xml("<source protocol='nbd' name='x'/>", "missing host");
    bad_xml("<source protocol='gluster' name='volonly'><host name='h'/></source>", "VOLUME/PATH");
    bad_xml("<source protocol='nbd' name='a b'><host name='h'/></source>", "characters");
    bad_xml("<source protocol='nbd' name='x'><host name='h' port='70000'/></source>", "port");
    bad_xml("<source protocol='nbd' name='x'><host transport='unix' socket='rel.sock'/></source>", "absolute");
    bad_xml("<source protocol='nbd' name='x'><host transport='rdma' socket='/x'/></source>", "transport");
    bad_xml("<source protocol='nbd' name='x'><host name='a'/><host name='b'/></source>", "only one host");

    url_case("nbd+unix:///e?socket=/s", "nbd+unix:///e?socket=/s");
    url_case("nbd://h/e", "nbd://h:10809/e");
    url_case("nbd+tcp://h:10809/e", "nbd://h:10809/e");
    url_case("gluster+tcp://g:24007/v/p/q", "gluster://g:24007/v/p/q");
    url_case("gluster://g/v/p", "gluster://g:24007/v/p");
    url_case("gluster+unix:///v/p?socket=/run/g.sock", "gluster+unix:///v/p?socket=/run/g.sock");
    url_case("nbd://[::1]:10900/e", "nbd://[::1]:10900/e");
    /* qemu-img's spelling of a backing file given as json: */
    url_case("json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"nbd\",\"server\":{\"type\":\"unix\",\"path\":\"/s\"},\"export\":\"e\"}}",
             "nbd+unix:///e?socket=/s");
    url_case("json:{\"driver\":\"gluster\",\"volume\":\"v\",\"path\":\"/p\",\"server\":[{\"type\":\"inet\",\"host\":\"g\",\"port\":24007}]}",
             "gluster://g:24007/v/p");
    /* QEMU's spelling of a gluster node's filename (query-block, qemu-img info):
     * the servers in flattened keys */
    url_case("json:{\"driver\": \"qcow2\", \"file\": {\"server.0.host\": \"vm\", \"driver\": \"gluster\", "
             "\"path\": \"base.qcow2\", \"server.0.type\": \"inet\", \"server.0.port\": \"24007\", "
             "\"volume\": \"gv0\"}}",
             "gluster://vm:24007/gv0/base.qcow2");
    url_case("json:{\"server.0.host\": \"a\", \"driver\": \"gluster\", \"path\": \"p\", "
             "\"server.0.type\": \"inet\", \"server.1.host\": \"b\", \"server.1.type\": \"inet\", "
             "\"volume\": \"v\"}",
             "gluster://a:24007/v/p");
    /* an overlay QEMU opened on an NBD node with backing null: one server, flattened */
    url_case("json:{\"backing\": null, \"driver\": \"qcow2\", \"file\": {\"server.path\": \"/s\", "
             "\"driver\": \"nbd\", \"export\": \"e\", \"server.type\": \"unix\"}}",
             "nbd+unix:///e?socket=/s");
    url_case("json:{\"driver\": \"qcow2\", \"file\": {\"server.host\": \"h\", \"server.port\": \"10900\", "
             "\"driver\": \"nbd\", \"export\": \"e\", \"server.type\": \"inet\"}}",
             "nbd://h:10900/e");
    ok(vs_net_locator_normalise("/var/lib/x.qcow2") == NULL, "a path is not a locator");
    ok(!vs_net_locator_is("/nbd://x") && vs_net_locator_is("nbd://x/e"), "locators by their scheme");

    bad_url("nbd+unix:///e");
    bad_url("nbd+unix://h/e?socket=/s");
    bad_url("nbd+rdma://h/e");
    bad_url("nbd://h/e#frag");
    bad_url("nbd:///e");
    bad_url("nbd://h/e?socket=/s");
    bad_url("gluster://g/vol");
    bad_url("json:{not json");
    bad_url("nbd+unix:///e?socket=/s&x=1");

    xmlFreeDoc(doc);
    return tap_done();
}
