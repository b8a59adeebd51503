/* Safe XML parsing, libvirt-style formatting and schema validation. */
#ifndef VSNAP_XML_H
#define VSNAP_XML_H

#include <stdbool.h>
#include <libxml/tree.h>
#include "buf.h"
#include "error.h"

/*
 * Parse a document without network access, entity substitution or DTD
 * loading; documents with a DOCTYPE, entity declarations or more than
 * VS_XML_MAX_SIZE bytes are refused. No external file is ever read.
 * `what` names the input in messages (a file name, or e.g. "(snapshot_definition)").
 * The caller frees the document with xmlFreeDoc.
 * Error: "XML error: <what>:LINE: <libxml2 message>" style, one line.
 */
xmlDocPtr vs_xml_parse(const char *data, size_t len, const char *what, vs_error *err);
xmlDocPtr vs_xml_parse_file(const char *path, vs_error *err);
/*
 * The same parse for a big document read element by element (a snapshot
 * export): the root must be `root_name` ("expecting root element of 'R',
 * not 'X'"); fn gets the root element once (depth 0: its attributes, no
 * children yet) and then every element child of the root in document order
 * (depth 1, complete), each freed after its call; whitespace between them
 * is skipped, other text is an error. fn returns 0 or -1 (err set), which
 * stops the parse. The size limit is `max` instead of VS_XML_MAX_SIZE; an
 * empty document is an error. fn runs while the document is still being
 * read: a caller that must see all of it valid before acting keeps what fn
 * gathered until this returns 0.
 */
typedef int (*vs_xml_element_fn)(xmlNodePtr node, int depth, void *ctx, vs_error *err);
int vs_xml_parse_stream(const char *data, size_t len, size_t max, const char *what,
                        const char *root_name, vs_xml_element_fn fn, void *ctx, vs_error *err);

/*
 * Write node and its subtree as libvirt does: attributes in single quotes,
 * text and attributes escaped with vs_buf_add_xml_escaped, empty elements
 * self-closed, comments kept. Whitespace-only text nodes are copied with
 * `extra_indent` spaces added after every newline (to nest a depth-0 document
 * inside another element); other text is copied unchanged.
 */
void vs_xml_format_node(vs_buf *b, xmlNodePtr node, int extra_indent);

/*
 * The same walk in the style of libxml2's own serializer: attributes in double
 * quotes, libxml2's escaping. libvirt writes the children of <metadata> this
 * way, so this keeps them byte for byte.
 */
void vs_xml_format_node_libxml(vs_buf *b, xmlNodePtr node, int extra_indent);

/* Remove `n` leading spaces after each newline of every whitespace-only text
 * node below node (the inverse of extra_indent). */
void vs_xml_unindent(xmlNodePtr node, int n);

/* Helpers over element children / attributes. Returned strings are copies the
 * caller frees; NULL when absent. */
char *vs_xml_prop(xmlNodePtr node, const char *name);
xmlNodePtr vs_xml_child(xmlNodePtr node, const char *name);   /* first element child named name */
char *vs_xml_child_text(xmlNodePtr node, const char *name);   /* text of that child */
char *vs_xml_text(xmlNodePtr node);                           /* text content */

/* Validate against a RelaxNG schema file (e.g. domainsnapshot.rng), schema
 * errors reported as "XML document failed to validate against schema: Unable
 * to validate doc against PATH" + the first detail, on one line. */
int vs_xml_validate(xmlDocPtr doc, const char *rng_file, vs_error *err);

/* Directory holding libvirt's schemas: $VSNAP_SCHEMA_DIR, else the configured
 * default. Not owned by the caller. */
const char *vs_xml_schema_dir(void);

/* Evaluate an XPath expression that must yield a node set; each node is
 * formatted and appended to *out with a newline, or, with wrap, all copied
 * under <nodes> and printed as one document followed by a newline. As virsh,
 * the nodes are written by libxml2's serializer (attributes in double quotes).
 * Non node-set results and invalid expressions:
 * "internal error: Incorrect xpath 'EXPR'". */
int vs_xml_xpath_print(xmlDocPtr doc, const char *expr, bool wrap, vs_buf *out, vs_error *err);

#endif
