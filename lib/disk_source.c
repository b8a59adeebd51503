/* Network disk sources: libvirt XML <-> locator <-> QEMU (see disk_source.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "disk_source.h"
#include "mem.h"
#include "path.h"
#include "xml.h"

static const char *
default_port(const char *protocol)
{
    return strcmp(protocol, "nbd") == 0 ? "10809" : "24007";
}

static bool
protocol_known(const char *p)
{
    return p && (strcmp(p, "nbd") == 0 || strcmp(p, "gluster") == 0);
}

void
vs_net_source_clear(vs_net_source *ns)
{
    size_t i;

    for (i = 0; i < ns->nhosts; i++) {
        free(ns->hosts[i].name);
        free(ns->hosts[i].port);
        free(ns->hosts[i].socket);
    }
    free(ns->hosts);
    free(ns->protocol);
    free(ns->name);
    memset(ns, 0, sizeof(*ns));
}

/* Characters a locator carries as they are (vsnap writes no %-escapes, so
 * a name that would need one is refused rather than misread). */
static bool
plain(const char *s, const char *extra)
{
    for (; s && *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._-~+:@,=", *s) || (extra && strchr(extra, *s))))
            return false;
    return true;
}

static bool
port_ok(const char *p)
{
    size_t n = p ? strlen(p) : 0;

    if (n == 0 || n > 5 || strspn(p, "0123456789") != n)
        return false;
    return atoi(p) > 0 && atoi(p) < 65536;
}

/* The checks every source passes, however it was written. */
static int
check(const vs_net_source *ns, vs_error *err)
{
    size_t i;

    if (!protocol_known(ns->protocol))
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "network disk protocol '%s' is not supported by vsnap (nbd, gluster)",
                            ns->protocol ? ns->protocol : "");
    if (ns->nhosts == 0)
        return vs_error_set(err, VS_ERR_XML, "missing host for the '%s' network disk source",
                            ns->protocol);
    if (strcmp(ns->protocol, "gluster") == 0) {
        const char *slash = ns->name ? strchr(ns->name, '/') : NULL;

        if (!slash || slash == ns->name || !slash[1])
            return vs_error_set(err, VS_ERR_XML,
                                "the gluster source name '%s' must be VOLUME/PATH",
                                ns->name ? ns->name : "");
    } else if (ns->nhosts > 1) {
        return vs_error_set(err, VS_ERR_XML, "protocol 'nbd' accepts only one host");
    }
    if (ns->name && (!plain(ns->name, "/") || strstr(ns->name, "//")))
        return vs_error_set(err, VS_ERR_XML,
                            "the network source name '%s' has characters vsnap does not put "
                            "in a URL (use letters, digits, '/' and ._-~+:@,=)", ns->name);
    for (i = 0; i < ns->nhosts; i++) {
        const vs_net_host *h = &ns->hosts[i];

        if (h->socket) {
            if (h->socket[0] != '/' || !plain(h->socket, "/"))
                return vs_error_set(err, VS_ERR_XML,
                                    "the network source socket '%s' must be an absolute path "
                                    "of letters, digits, '/' and ._-~+:@,=", h->socket);
            if (h->name || h->port)
                return vs_error_set(err, VS_ERR_XML,
                                    "a unix socket host takes no name or port");
        } else {
            if (!h->name || !*h->name || !plain(h->name, "[]") || strchr(h->name, '@'))
                return vs_error_set(err, VS_ERR_XML, "invalid network source host name '%s'",
                                    h->name ? h->name : "");
            if (h->port && !port_ok(h->port))
                return vs_error_set(err, VS_ERR_XML, "invalid network source port '%s'",
                                    h->port);
        }
    }
    return 0;
}

static vs_net_host *
add_host(vs_net_source *ns)
{
    vs_net_host *h;

    ns->hosts = vs_xreallocarray(ns->hosts, ns->nhosts + 1, sizeof(*ns->hosts));
    h = &ns->hosts[ns->nhosts++];
    memset(h, 0, sizeof(*h));
    return h;
}

int
vs_net_source_from_xml(xmlNodePtr src, vs_net_source *ns, vs_error *err)
{
    xmlNodePtr n;

    memset(ns, 0, sizeof(*ns));
    if (!(ns->protocol = vs_xml_prop(src, "protocol"))) {
        return vs_error_set(err, VS_ERR_XML, "missing network source protocol type");
    }
    ns->name = vs_xml_prop(src, "name");
    if (ns->name && !*ns->name) {
        free(ns->name);
        ns->name = NULL;
    }
    for (n = src->children; n; n = n->next) {
        char *transport;
        vs_net_host *h;

        if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "host") != 0)
            continue;
        h = add_host(ns);
        transport = vs_xml_prop(n, "transport");
        if (transport && strcmp(transport, "unix") == 0) {
            h->socket = vs_xml_prop(n, "socket");
            if (!h->socket) {
                free(transport);
                vs_net_source_clear(ns);
                return vs_error_set(err, VS_ERR_XML,
                                    "missing socket for unix transport");
            }
        } else if (transport && strcmp(transport, "tcp") != 0) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                         "network disk transport '%s' is not supported (tcp, unix)", transport);
            free(transport);
            vs_net_source_clear(ns);
            return -1;
        } else {
            h->name = vs_xml_prop(n, "name");
            h->port = vs_xml_prop(n, "port");
        }
        free(transport);
    }
    if (check(ns, err) < 0) {
        vs_net_source_clear(ns);
        return -1;
    }
    return 0;
}

bool
vs_net_locator_is(const char *s)
{
    return vs_path_is_network(s);
}

static char *
jstr(json_object *o, const char *key)
{
    json_object *v;

    if (!o || !json_object_object_get_ex(o, key, &v))
        return NULL;
    if (json_object_is_type(v, json_type_int))
        return vs_xasprintf("%d", json_object_get_int(v));
    if (!json_object_is_type(v, json_type_string))
        return NULL;
    return vs_xstrdup(json_object_get_string(v));
}

static void
host_from_json(vs_net_source *ns, json_object *srv)
{
    vs_net_host *h = add_host(ns);
    char *type = jstr(srv, "type");

    if (type && strcmp(type, "unix") == 0) {
        h->socket = jstr(srv, "path");
    } else {
        h->name = jstr(srv, "host");
        h->port = jstr(srv, "port");
    }
    free(type);
}

/* The servers as QEMU reports a gluster node's filename (query-block,
 * qemu-img info): flattened keys "server.0.type", "server.0.host",
 * "server.0.port", "server.0.path", "server.1.type", ...; an NBD node's
 * one server (a format node opened on it with backing null):
 * "server.type", "server.path", ... */
static void
hosts_from_flat_json(vs_net_source *ns, json_object *o)
{
    size_t i;
    bool one = json_object_object_get_ex(o, "server.type", NULL);

    for (i = 0;; i++) {
        json_object *srv = json_object_new_object(), *v;
        const char *keys[] = { "type", "host", "port", "path" };
        bool any = false;
        size_t k;

        for (k = 0; k < sizeof(keys) / sizeof(keys[0]) && !(one && i > 0); k++) {
            char *key = one ? vs_xasprintf("server.%s", keys[k])
                            : vs_xasprintf("server.%zu.%s", i, keys[k]);

            if (json_object_object_get_ex(o, key, &v)) {
                json_object_object_add(srv, keys[k], json_object_get(v));
                any = true;
            }
            free(key);
        }
        if (any)
            host_from_json(ns, srv);
        json_object_put(srv);
        if (!any)
            break;
    }
}

/* json:{...} as vs_net_source_filename writes it, or with "file": {...}
 * wrapped around it as qemu-img prints a backing file. */
static int
from_json(const char *s, vs_net_source *ns, vs_error *err)
{
    json_object *root = json_tokener_parse(s + 5), *o, *srv;
    int ret = -1;
    size_t i;

    o = root;
    if (o && json_object_object_get_ex(o, "file", &srv) && json_object_is_type(srv, json_type_object))
        o = srv;
    if (!o || !json_object_is_type(o, json_type_object)) {
        vs_error_set(err, VS_ERR_INVALID_ARG, "cannot read the pseudo-filename '%s'", s);
        goto out;
    }
    ns->protocol = jstr(o, "driver");
    if (json_object_object_get_ex(o, "server", &srv)) {
        if (json_object_is_type(srv, json_type_array)) {
            for (i = 0; i < json_object_array_length(srv); i++)
                host_from_json(ns, json_object_array_get_idx(srv, i));
        } else {
            host_from_json(ns, srv);
        }
    } else {
        hosts_from_flat_json(ns, o);
    }
    if (ns->protocol && strcmp(ns->protocol, "gluster") == 0) {
        char *vol = jstr(o, "volume"), *path = jstr(o, "path");

        if (vol && path)
            ns->name = vs_xasprintf("%s/%s", vol, path[0] == '/' ? path + 1 : path);
        free(vol);
        free(path);
    } else {
        ns->name = jstr(o, "export");
    }
    ret = 0;
out:
    json_object_put(root);
    return ret;
}

int
vs_net_source_from_locator(const char *s, vs_net_source *ns, vs_error *err)
{
    const char *p, *auth, *auth_end, *path, *query;
    char *scheme = NULL, *transport;
    vs_net_host *h;

    memset(ns, 0, sizeof(*ns));
    if (!s)
        s = "";
    if (!vs_net_locator_is(s))
        goto syntax;
    if (strncmp(s, "json:", 5) == 0) {
        if (from_json(s, ns, err) < 0)
            goto bad;
        goto checked;
    }
    if (!(p = strstr(s, "://")))
        goto syntax;
    scheme = vs_xstrndup(s, (size_t)(p - s));
    transport = strchr(scheme, '+');
    if (transport)
        *transport++ = '\0';
    ns->protocol = vs_xstrdup(scheme);
    if (transport && strcmp(transport, "tcp") != 0 && strcmp(transport, "unix") != 0)
        goto syntax;
    auth = p + 3;
    auth_end = auth + strcspn(auth, "/?#");
    path = *auth_end == '/' ? auth_end + 1 : auth_end;
    query = strchr(path, '?');
    if (strchr(s, '#'))
        goto syntax;
    if (query ? query > path : *path)
        ns->name = query ? vs_xstrndup(path, (size_t)(query - path)) : vs_xstrdup(path);
    h = add_host(ns);
    if (transport && strcmp(transport, "unix") == 0) {
        if (auth_end != auth || !query || strncmp(query, "?socket=", 8) != 0 ||
            strchr(query + 8, '&'))
            goto syntax;
        h->socket = vs_xstrdup(query + 8);
    } else {
        const char *colon;

        if (query || auth_end == auth)
            goto syntax;
        colon = auth[0] == '[' ? strstr(auth, "]:") : memchr(auth, ':', (size_t)(auth_end - auth));
        if (colon && auth[0] == '[')
            colon++;
        if (colon && colon < auth_end) {
            h->name = vs_xstrndup(auth, (size_t)(colon - auth));
            h->port = vs_xstrndup(colon + 1, (size_t)(auth_end - colon - 1));
        } else {
            h->name = vs_xstrndup(auth, (size_t)(auth_end - auth));
        }
    }
checked:
    free(scheme);
    if (check(ns, err) < 0)
        goto bad;
    return 0;
syntax:
    free(scheme);
    vs_error_set(err, VS_ERR_INVALID_ARG,
                 "cannot read the network image URL '%s' (nbd://HOST[:PORT]/EXPORT, "
                 "nbd+unix:///EXPORT?socket=PATH, gluster://HOST[:PORT]/VOLUME/PATH, "
                 "gluster+unix:///VOLUME/PATH?socket=PATH)", s);
bad:
    vs_net_source_clear(ns);
    return -1;
}

static char *
host_locator(const vs_net_source *ns, const vs_net_host *h)
{
    const char *name = ns->name ? ns->name : "";

    if (h->socket)
        return vs_xasprintf("%s+unix:///%s?socket=%s", ns->protocol, name, h->socket);
    return vs_xasprintf("%s://%s:%s%s%s", ns->protocol, h->name,
                        h->port ? h->port : default_port(ns->protocol), *name ? "/" : "", name);
}

char *
vs_net_source_locator(const vs_net_source *ns)
{
    return host_locator(ns, &ns->hosts[0]);
}

char *
vs_net_locator_normalise(const char *s)
{
    vs_net_source ns;
    char *out;

    if (!vs_net_locator_is(s) || vs_net_source_from_locator(s, &ns, NULL) < 0)
        return NULL;
    out = vs_net_source_locator(&ns);
    vs_net_source_clear(&ns);
    return out;
}

static json_object *
server_json(const vs_net_source *ns, const vs_net_host *h)
{
    json_object *o = json_object_new_object();

    if (h->socket) {
        json_object_object_add(o, "type", json_object_new_string("unix"));
        json_object_object_add(o, "path", json_object_new_string(h->socket));
    } else {
        json_object_object_add(o, "type", json_object_new_string("inet"));
        json_object_object_add(o, "host", json_object_new_string(h->name));
        json_object_object_add(o, "port",
                               json_object_new_string(h->port ? h->port
                                                              : default_port(ns->protocol)));
    }
    return o;
}

json_object *
vs_net_source_blockdev(const vs_net_source *ns)
{
    json_object *o = json_object_new_object();
    size_t i;

    json_object_object_add(o, "driver", json_object_new_string(ns->protocol));
    if (strcmp(ns->protocol, "gluster") == 0) {
        const char *slash = strchr(ns->name, '/');
        json_object *arr = json_object_new_array();

        json_object_object_add(o, "volume",
                               json_object_new_string_len(ns->name, (int)(slash - ns->name)));
        json_object_object_add(o, "path", json_object_new_string(slash + 1));
        for (i = 0; i < ns->nhosts; i++)
            json_object_array_add(arr, server_json(ns, &ns->hosts[i]));
        json_object_object_add(o, "server", arr);
    } else {
        json_object_object_add(o, "server", server_json(ns, &ns->hosts[0]));
        if (ns->name)
            json_object_object_add(o, "export", json_object_new_string(ns->name));
    }
    return o;
}

char *
vs_net_source_filename(const vs_net_source *ns)
{
    json_object *o;
    char *s;

    if (ns->nhosts == 1)
        return vs_net_source_locator(ns);
    o = vs_net_source_blockdev(ns);
    s = vs_xasprintf("json:%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

xmlNodePtr
vs_net_source_to_node(const vs_net_source *ns, xmlDocPtr doc)
{
    xmlNodePtr src = xmlNewDocNode(doc, NULL, BAD_CAST "source", NULL);
    size_t i;

    xmlSetProp(src, BAD_CAST "protocol", BAD_CAST ns->protocol);
    if (ns->name)
        xmlSetProp(src, BAD_CAST "name", BAD_CAST ns->name);
    for (i = 0; i < ns->nhosts; i++) {
        const vs_net_host *h = &ns->hosts[i];
        xmlNodePtr hn = xmlNewDocNode(doc, NULL, BAD_CAST "host", NULL);

        if (h->socket) {
            xmlSetProp(hn, BAD_CAST "transport", BAD_CAST "unix");
            xmlSetProp(hn, BAD_CAST "socket", BAD_CAST h->socket);
        } else {
            xmlSetProp(hn, BAD_CAST "name", BAD_CAST h->name);
            if (h->port)
                xmlSetProp(hn, BAD_CAST "port", BAD_CAST h->port);
        }
        xmlAddChild(src, hn);
    }
    return src;
}

static void
attr(vs_buf *b, const char *name, const char *value)
{
    vs_buf_addf(b, " %s='", name);
    vs_buf_add_xml_escaped(b, value);
    vs_buf_addc(b, '\'');
}

void
vs_net_source_format(vs_buf *b, const vs_net_source *ns, int indent)
{
    size_t i;

    vs_buf_add(b, "<source");
    attr(b, "protocol", ns->protocol);
    if (ns->name)
        attr(b, "name", ns->name);
    vs_buf_add(b, ">\n");
    for (i = 0; i < ns->nhosts; i++) {
        const vs_net_host *h = &ns->hosts[i];

        vs_buf_indent(b, indent + 2);
        vs_buf_add(b, "<host");
        if (h->socket) {
            attr(b, "transport", "unix");
            attr(b, "socket", h->socket);
        } else {
            attr(b, "name", h->name);
            if (h->port)
                attr(b, "port", h->port);
        }
        vs_buf_add(b, "/>\n");
    }
    vs_buf_indent(b, indent);
    vs_buf_add(b, "</source>");
}
