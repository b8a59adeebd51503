#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>

#include "mem.h"
#include "path.h"
#include "xml.h"

/* Per-parse state, reached through ctxt->_private from libxml2's callbacks. */
typedef struct parse_state {
    bool doctype;          /* a DOCTYPE or entity declaration was seen */
    bool have_error;
    int err_line;
    int err_level;
    char *err_msg;         /* first fatal error (else first error) */
} parse_state;

/* While false, the external entity loader refuses everything; only schema
 * loading (our own trusted .rng files) turns it on. */
static bool allow_external_load;
static xmlExternalEntityLoader default_loader;

static xmlParserInputPtr
refusing_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    if (allow_external_load && default_loader)
        return default_loader(url, id, ctxt);
    return NULL;
}

/* libxml2 reports through global handlers by default (stderr); vsnap only
 * prints from cmd/, so everything not captured by a context is dropped. */
static void
silent_generic(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void
silent_structured(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    (void)e;
}

static void
xml_init(void)
{
    static bool done;

    if (done)
        return;
    done = true;
    xmlInitParser();
    default_loader = xmlGetExternalEntityLoader();
    xmlSetExternalEntityLoader(refusing_loader);
    xmlSetGenericErrorFunc(NULL, silent_generic);
    xmlSetStructuredErrorFunc(NULL, silent_structured);
}

static char *
trimmed_copy(const char *s)
{
    size_t n;

    if (!s)
        return vs_xstrdup("unknown error");
    n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        n--;
    return vs_xstrndup(s, n);
}

static void
parse_error_cb(void *data, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = data;
    parse_state *st = ctxt ? ctxt->_private : NULL;

    if (!st || !e || e->level < XML_ERR_ERROR)
        return;
    /* libvirt reports the first fatal error: keep that, else the first error. */
    if (st->have_error && !(st->err_level < XML_ERR_FATAL && e->level == XML_ERR_FATAL))
        return;
    free(st->err_msg);
    st->err_msg = trimmed_copy(e->message);
    st->err_line = e->line;
    st->err_level = e->level;
    st->have_error = true;
}

static void
stop_parse(xmlParserCtxtPtr ctxt)
{
    parse_state *st = ctxt->_private;

    st->doctype = true;
    xmlStopParser(ctxt);
}

/* The SAX hooks fire as soon as "<!DOCTYPE name" is read, before any of the
 * internal subset (entity declarations, billion laughs) is looked at. */
static void
sax_internal_subset(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
    (void)name;
    (void)ext;
    (void)sys;
    stop_parse(ctx);
}

static void
sax_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *pub,
                const xmlChar *sys, xmlChar *content)
{
    (void)name;
    (void)type;
    (void)pub;
    (void)sys;
    (void)content;
    stop_parse(ctx);
}

static xmlEntityPtr
sax_get_entity(void *ctx, const xmlChar *name)
{
    /* only the five predefined entities exist */
    (void)ctx;
    return xmlGetPredefinedEntity(name);
}

/* The SAX hooks of every parse: errors captured, no DOCTYPE, no entities. */
static void
safe_sax(xmlParserCtxtPtr ctxt, parse_state *st)
{
    memset(st, 0, sizeof(*st));
    ctxt->_private = st;
    ctxt->sax->initialized = XML_SAX2_MAGIC;
    ctxt->sax->serror = parse_error_cb;
    ctxt->sax->internalSubset = sax_internal_subset;
    ctxt->sax->externalSubset = sax_internal_subset;
    ctxt->sax->entityDecl = sax_entity_decl;
    ctxt->sax->getEntity = sax_get_entity;
    ctxt->sax->getParameterEntity = NULL;
    ctxt->sax->resolveEntity = NULL;
}

xmlDocPtr
vs_xml_parse(const char *data, size_t len, const char *what, vs_error *err)
{
    xmlParserCtxtPtr ctxt;
    parse_state st;
    xmlDocPtr doc;

    xml_init();
    if (len > VS_XML_MAX_SIZE) {
        vs_error_set(err, VS_ERR_XML, "%s: document is larger than %d bytes",
                     what, VS_XML_MAX_SIZE);
        return NULL;
    }
    if (!(ctxt = xmlNewParserCtxt()))
        abort();   /* only fails on memory exhaustion */
    safe_sax(ctxt, &st);

    /* No NOENT, DTDLOAD, DTDATTR, DTDVALID or XINCLUDE; blanks are kept
     * because vsnap preserves the author's whitespace. */
    doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOWARNING);
    if (st.doctype || (doc && (doc->intSubset || doc->extSubset))) {
        vs_error_set(err, VS_ERR_XML, "%s: DOCTYPE and entity declarations are not allowed", what);
        xmlFreeDoc(doc);
        doc = NULL;
    } else if (!doc) {
        if (st.have_error)
            vs_error_set(err, VS_ERR_PLAIN, "%s:%d: %s", what, st.err_line, st.err_msg);
        else
            vs_error_set(err, VS_ERR_XML, "%s: failed to parse xml document", what);
    } else if (!xmlDocGetRootElement(doc)) {
        vs_error_set(err, VS_ERR_XML, "%s: missing root element", what);
        xmlFreeDoc(doc);
        doc = NULL;
    }
    free(st.err_msg);
    ctxt->_private = NULL;
    xmlFreeParserCtxt(ctxt);
    return doc;
}

/* Hand the complete children of root (all but the last, which the parser
 * may still be filling, unless `all`) to fn, one by one, freeing each. */
static int
stream_children(xmlNodePtr root, bool all, const char *what, vs_xml_element_fn fn, void *ctx,
                vs_error *err)
{
    xmlNodePtr c;

    while ((c = root->children) && (all || c != root->last)) {
        int rc = 0;

        if (c->type == XML_ELEMENT_NODE) {
            rc = fn(c, 1, ctx, err);
        } else if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            const xmlChar *p;

            for (p = c->content; p && *p; p++)
                if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
                    break;
            if (p && *p)
                rc = vs_error_set(err, VS_ERR_XML, "%s: text outside the elements of <%s>",
                                  what, (const char *)root->name);
        }
        xmlUnlinkNode(c);
        xmlFreeNode(c);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int
vs_xml_parse_stream(const char *data, size_t len, size_t max, const char *what,
                    const char *root_name, vs_xml_element_fn fn, void *ctx, vs_error *err)
{
    const size_t chunk = 256 * 1024;
    xmlParserCtxtPtr ctxt;
    parse_state st;
    xmlNodePtr root = NULL;
    size_t off = 0;
    int ret = -1;

    xml_init();
    if (len > max)
        return vs_error_set(err, VS_ERR_XML, "%s: document is larger than %zu bytes", what, max);
    if (len == 0)
        return vs_error_set(err, VS_ERR_XML, "%s: the document is empty", what);
    if (!(ctxt = xmlCreatePushParserCtxt(NULL, NULL, NULL, 0, NULL)))
        abort();   /* only fails on memory exhaustion */
    safe_sax(ctxt, &st);
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    do {
        size_t n = len - off < chunk ? len - off : chunk;
        bool last = off + n == len;

        xmlParseChunk(ctxt, data + off, (int)n, last);
        off += n;
        if (st.doctype) {
            vs_error_set(err, VS_ERR_XML, "%s: DOCTYPE and entity declarations are not allowed",
                         what);
            goto out;
        }
        if (st.have_error || !ctxt->wellFormed) {
            if (st.have_error)
                vs_error_set(err, VS_ERR_PLAIN, "%s:%d: %s", what, st.err_line, st.err_msg);
            else
                vs_error_set(err, VS_ERR_XML, "%s: failed to parse xml document", what);
            goto out;
        }
        if (!root && ctxt->myDoc && (root = xmlDocGetRootElement(ctxt->myDoc))) {
            if (strcmp((const char *)root->name, root_name) != 0) {
                vs_error_set(err, VS_ERR_XML, "expecting root element of '%s', not '%s'",
                             root_name, (const char *)root->name);
                goto out;
            }
            if (fn(root, 0, ctx, err) < 0)
                goto out;
        }
        if (root && stream_children(root, last, what, fn, ctx, err) < 0)
            goto out;
    } while (off < len);
    if (!root) {
        vs_error_set(err, VS_ERR_XML, "%s: missing root element", what);
        goto out;
    }
    ret = 0;
 out:
    free(st.err_msg);
    if (ctxt->myDoc)
        xmlFreeDoc(ctxt->myDoc);
    ctxt->myDoc = NULL;
    ctxt->_private = NULL;
    xmlFreeParserCtxt(ctxt);
    return ret;
}

xmlDocPtr
vs_xml_parse_file(const char *path, vs_error *err)
{
    char *data;
    size_t len;
    xmlDocPtr doc;

    if (vs_file_read(path, VS_XML_MAX_SIZE, &data, &len, err) < 0)
        return NULL;
    doc = vs_xml_parse(data, len, path, err);
    free(data);
    return doc;
}

/* ---- formatting ---- */

static bool
is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
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

/*
 * libxml2's serializer, which libvirt uses for <metadata> children: double
 * quotes; text escapes < > & and CR; attributes also " and the whitespace
 * characters that attribute normalisation would otherwise eat.
 */
static void
add_libxml_escaped(vs_buf *b, const char *s, bool attr)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': vs_buf_add(b, "&lt;"); break;
        case '>': vs_buf_add(b, "&gt;"); break;
        case '&': vs_buf_add(b, "&amp;"); break;
        case '\r': vs_buf_add(b, "&#13;"); break;
        case '"':
            vs_buf_add(b, attr ? "&quot;" : "\"");
            break;
        case '\n':
            vs_buf_add(b, attr ? "&#10;" : "\n");
            break;
        case '\t':
            vs_buf_add(b, attr ? "&#9;" : "\t");
            break;
        default:
            vs_buf_addc(b, *s);
        }
    }
}

static void
add_attr_value(vs_buf *b, const char *v, bool libxml_style)
{
    if (libxml_style) {
        vs_buf_addc(b, '"');
        add_libxml_escaped(b, v, true);
        vs_buf_addc(b, '"');
    } else {
        vs_buf_addc(b, '\'');
        vs_buf_add_xml_escaped(b, v);
        vs_buf_addc(b, '\'');
    }
}

static void
add_attr(vs_buf *b, xmlAttrPtr a, bool libxml_style)
{
    xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);

    add_qname(b, a->ns, a->name);
    vs_buf_addc(b, '=');
    add_attr_value(b, v ? (const char *)v : "", libxml_style);
    xmlFree(v);
}

static void
add_blank_indented(vs_buf *b, const char *s, int extra_indent)
{
    for (; *s; s++) {
        vs_buf_addc(b, *s);
        if (*s == '\n')
            vs_buf_indent(b, extra_indent);
    }
}

static void
format_node(vs_buf *b, xmlNodePtr node, int extra_indent, bool lx)
{
    xmlNodePtr c;
    xmlAttrPtr a;
    xmlNsPtr ns;

    switch (node->type) {
    case XML_ELEMENT_NODE:
        vs_buf_addc(b, '<');
        add_qname(b, node->ns, node->name);
        for (ns = node->nsDef; ns; ns = ns->next) {
            vs_buf_add(b, " xmlns");
            if (ns->prefix) {
                vs_buf_addc(b, ':');
                vs_buf_add(b, (const char *)ns->prefix);
            }
            vs_buf_addc(b, '=');
            add_attr_value(b, ns->href ? (const char *)ns->href : "", lx);
        }
        for (a = node->properties; a; a = a->next) {
            vs_buf_addc(b, ' ');
            add_attr(b, a, lx);
        }
        if (!node->children) {
            vs_buf_add(b, "/>");
            break;
        }
        vs_buf_addc(b, '>');
        for (c = node->children; c; c = c->next)
            format_node(b, c, extra_indent, lx);
        vs_buf_add(b, "</");
        add_qname(b, node->ns, node->name);
        vs_buf_addc(b, '>');
        break;
    case XML_TEXT_NODE:
        if (!node->content)
            break;
        if (is_blank((const char *)node->content))
            add_blank_indented(b, (const char *)node->content, extra_indent);
        else if (lx)
            add_libxml_escaped(b, (const char *)node->content, false);
        else
            vs_buf_add_xml_escaped(b, (const char *)node->content);
        break;
    case XML_CDATA_SECTION_NODE:
        vs_buf_add(b, "<![CDATA[");
        if (node->content)
            vs_buf_add(b, (const char *)node->content);
        vs_buf_add(b, "]]>");
        break;
    case XML_COMMENT_NODE:
        vs_buf_add(b, "<!--");
        if (node->content)
            vs_buf_add(b, (const char *)node->content);
        vs_buf_add(b, "-->");
        break;
    case XML_PI_NODE:
        vs_buf_add(b, "<?");
        vs_buf_add(b, (const char *)node->name);
        if (node->content && *node->content) {
            vs_buf_addc(b, ' ');
            vs_buf_add(b, (const char *)node->content);
        }
        vs_buf_add(b, "?>");
        break;
    case XML_ENTITY_REF_NODE:
        vs_buf_addf(b, "&%s;", (const char *)node->name);
        break;
    case XML_ATTRIBUTE_NODE:
        add_attr(b, (xmlAttrPtr)node, lx);
        break;
    case XML_DOCUMENT_NODE:
    case XML_HTML_DOCUMENT_NODE:
        for (c = node->children; c; c = c->next) {
            if (c->type == XML_DTD_NODE)
                continue;
            format_node(b, c, extra_indent, lx);
            if (c->next)
                vs_buf_addc(b, '\n');
        }
        break;
    default:
        break;
    }
}

void
vs_xml_format_node(vs_buf *b, xmlNodePtr node, int extra_indent)
{
    if (node)
        format_node(b, node, extra_indent, false);
}

void
vs_xml_format_node_libxml(vs_buf *b, xmlNodePtr node, int extra_indent)
{
    if (node)
        format_node(b, node, extra_indent, true);
}

static void
unindent_text(xmlNodePtr node, int n)
{
    const char *s = (const char *)node->content;
    vs_buf b = VS_BUF_INIT;
    char *out;

    while (*s) {
        int skip = 0;

        vs_buf_addc(&b, *s);
        if (*s++ != '\n')
            continue;
        while (skip < n && *s == ' ') {
            s++;
            skip++;
        }
    }
    out = vs_buf_steal(&b);
    xmlNodeSetContent(node, (const xmlChar *)out);
    free(out);
}

void
vs_xml_unindent(xmlNodePtr node, int n)
{
    xmlNodePtr c;

    if (!node || n <= 0)
        return;
    for (c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE) {
            if (c->content && is_blank((const char *)c->content))
                unindent_text(c, n);
        } else if (c->type == XML_ELEMENT_NODE) {
            vs_xml_unindent(c, n);
        }
    }
}

/* ---- accessors ---- */

static char *
own_string(xmlChar *s)
{
    char *r;

    if (!s)
        return NULL;
    r = vs_xstrdup((const char *)s);
    xmlFree(s);
    return r;
}

char *
vs_xml_prop(xmlNodePtr node, const char *name)
{
    if (!node)
        return NULL;
    return own_string(xmlGetNoNsProp(node, (const xmlChar *)name));
}

xmlNodePtr
vs_xml_child(xmlNodePtr node, const char *name)
{
    xmlNodePtr c;

    if (!node)
        return NULL;
    for (c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, (const xmlChar *)name))
            return c;
    return NULL;
}

char *
vs_xml_text(xmlNodePtr node)
{
    if (!node)
        return NULL;
    return own_string(xmlNodeGetContent(node));
}

char *
vs_xml_child_text(xmlNodePtr node, const char *name)
{
    return vs_xml_text(vs_xml_child(node, name));
}

/* ---- RelaxNG ---- */

typedef struct schema_errors {
    char *first;
} schema_errors;

static void
schema_error_cb(void *data, xmlErrorPtr e)
{
    schema_errors *se = data;

    if (!e || e->level < XML_ERR_ERROR || se->first)
        return;
    se->first = trimmed_copy(e->message);
}

const char *
vs_xml_schema_dir(void)
{
    const char *d = getenv("VSNAP_SCHEMA_DIR");

    return d && *d ? d : VSNAP_SCHEMA_DIR;
}

/* Parsing domaincommon.rng costs far more than validating, and a shell
 * session may validate many times: keep the last schema. */
static char *cached_rng_path;
static xmlRelaxNGPtr cached_rng;

static xmlRelaxNGPtr
load_schema(const char *rng_file, vs_error *err)
{
    xmlRelaxNGParserCtxtPtr pctxt;
    xmlRelaxNGPtr schema;
    schema_errors se = { NULL };

    if (cached_rng && strcmp(cached_rng_path, rng_file) == 0)
        return cached_rng;
    if (!vs_is_regular_file(rng_file)) {
        vs_error_set(err, VS_ERR_INTERNAL, "Unable to open RNG schema '%s'", rng_file);
        return NULL;
    }
    if (!(pctxt = xmlRelaxNGNewParserCtxt(rng_file)))
        abort();
    xmlRelaxNGSetParserStructuredErrors(pctxt, schema_error_cb, &se);
    allow_external_load = true;
    schema = xmlRelaxNGParse(pctxt);
    allow_external_load = false;
    xmlRelaxNGFreeParserCtxt(pctxt);
    if (!schema) {
        vs_error_set(err, VS_ERR_INTERNAL, "Unable to parse RNG %s%s%s", rng_file,
                     se.first ? ": " : "", se.first ? se.first : "");
        free(se.first);
        return NULL;
    }
    free(se.first);
    if (cached_rng)
        xmlRelaxNGFree(cached_rng);
    free(cached_rng_path);
    cached_rng = schema;
    cached_rng_path = vs_xstrdup(rng_file);
    return schema;
}

int
vs_xml_validate(xmlDocPtr doc, const char *rng_file, vs_error *err)
{
    xmlRelaxNGValidCtxtPtr vctxt;
    xmlRelaxNGPtr schema;
    schema_errors se = { NULL };
    int r;

    xml_init();
    if (!(schema = load_schema(rng_file, err)))
        return -1;
    if (!(vctxt = xmlRelaxNGNewValidCtxt(schema)))
        abort();
    xmlRelaxNGSetValidStructuredErrors(vctxt, schema_error_cb, &se);
    r = xmlRelaxNGValidateDoc(vctxt, doc);
    xmlRelaxNGFreeValidCtxt(vctxt);
    if (r != 0) {
        vs_error_set(err, VS_ERR_SCHEMA, "Unable to validate doc against %s%s%s", rng_file,
                     se.first ? "\n" : "", se.first ? se.first : "");
        free(se.first);
        return -1;
    }
    free(se.first);
    return 0;
}

/* ---- XPath ---- */

/* virsh prints XPath results through libxml2's own serializer (double-quoted
 * attributes, libxml2's escaping), so the same is used here to match it. */
static void
dump_node(vs_buf *b, xmlDocPtr doc, xmlNodePtr node)
{
    xmlBufferPtr xb = xmlBufferCreate();

    if (!xb)
        abort();
    xmlNodeDump(xb, doc, node, 0, 1);
    vs_buf_addn(b, (const char *)xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
    xmlBufferFree(xb);
}

/* Drop the text nodes that only indent the document, so that a node
 * dumped on its own is indented from its own depth, as virsh prints it. */
static void
strip_blanks(xmlNodePtr node)
{
    xmlNodePtr c = node->children, next;

    for (; c; c = next) {
        next = c->next;
        if (c->type == XML_TEXT_NODE && xmlIsBlankNode(c)) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        } else if (c->type == XML_ELEMENT_NODE) {
            strip_blanks(c);
        }
    }
}

int
vs_xml_xpath_print(xmlDocPtr doc, const char *expr, bool wrap, vs_buf *out, vs_error *err)
{
    xmlXPathContextPtr xctxt;
    xmlXPathObjectPtr obj;
    xmlNodeSetPtr set;
    int i, n, ret = -1;

    xml_init();
    if (!(xctxt = xmlXPathNewContext(doc)))
        abort();
    xctxt->node = xmlDocGetRootElement(doc);
    obj = xmlXPathEvalExpression((const xmlChar *)expr, xctxt);
    if (!obj || obj->type != XPATH_NODESET) {
        vs_error_set(err, VS_ERR_INTERNAL, "Incorrect xpath '%s'", expr);
        goto out;
    }
    set = obj->nodesetval;
    n = set ? set->nodeNr : 0;
    if (wrap) {
        xmlDocPtr nd = xmlNewDoc((const xmlChar *)"1.0");
        xmlNodePtr root = xmlNewDocNode(nd, NULL, (const xmlChar *)"nodes", NULL);

        xmlDocSetRootElement(nd, root);
        for (i = 0; i < n; i++) {
            xmlNodePtr node = set->nodeTab[i], copy;

            if (node->type == XML_NAMESPACE_DECL)
                continue;
            if (node->type == XML_DOCUMENT_NODE && !(node = xmlDocGetRootElement(doc)))
                continue;
            copy = xmlDocCopyNode(node, nd, 1);
            if (copy && !xmlAddChild(root, copy))
                xmlFreeNode(copy);
        }
        strip_blanks(root);
        dump_node(out, nd, root);
        vs_buf_addc(out, '\n');
        xmlFreeDoc(nd);
    } else {
        for (i = 0; i < n; i++) {
            xmlNodePtr node = set->nodeTab[i], copy;

            if (node->type == XML_NAMESPACE_DECL)
                continue;
            if (node->type != XML_ELEMENT_NODE) {
                dump_node(out, doc, node);
            } else {
                /* a copy in the same document keeps the namespaces in scope */
                if (!(copy = xmlDocCopyNode(node, doc, 1)))
                    abort();
                strip_blanks(copy);
                dump_node(out, doc, copy);
                xmlFreeNode(copy);
            }
            vs_buf_addc(out, '\n');
        }
    }
    ret = 0;
 out:
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(xctxt);
    return ret;
}
