/* Network disk sources (NBD, GlusterFS): libvirt's <source protocol=...>
 * model, its one-string locator, and what QEMU and qemu-img are given.
 *
 * A network image is named everywhere else in vsnap (the image graph, the
 * plans, the journal) by its locator: a canonical URL such as
 * "nbd+unix:///export?socket=/run/nbd.sock", "nbd://host:10809/export" or
 * "gluster://host:24007/volume/path". The locator is also "the same image"
 * rule for network sources (protocol, first host, export or volume/path,
 * with the default port written out), and it is a filename qemu-img opens.
 * A locator is never a path: nothing stats, opens or unlinks it. */
#ifndef VSNAP_DISK_SOURCE_H
#define VSNAP_DISK_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
#include <libxml/tree.h>

#include "buf.h"
#include "error.h"

typedef struct vs_net_host {
    char *name;        /* host name or address (tcp), NULL for unix */
    char *port;        /* NULL: the protocol's default */
    char *socket;      /* unix transport: the socket's path; NULL for tcp */
} vs_net_host;

typedef struct vs_net_source {
    char *protocol;    /* "nbd" or "gluster" */
    char *name;        /* nbd: the export (may be NULL); gluster: "VOLUME/PATH" */
    vs_net_host *hosts;
    size_t nhosts;
} vs_net_source;

/* Lifetime: a vs_net_source is zeroed or filled by one of the parsers;
 * vs_net_source_clear frees what it holds (the struct itself is the caller's). */
void vs_net_source_clear(vs_net_source *ns);

/* From a <source protocol=... name=...><host .../></source> element. */
int vs_net_source_from_xml(xmlNodePtr src, vs_net_source *ns, vs_error *err);
/* From a locator (URL) or a qemu "json:{...}" pseudo-filename. */
int vs_net_source_from_locator(const char *s, vs_net_source *ns, vs_error *err);

/* Whether s names a network image (a URL of a protocol vsnap speaks, or
 * json:): such a string is never a path. */
bool vs_net_locator_is(const char *s);
/* The canonical locator of s (another spelling of the same image gives
 * the same string); NULL when s is not a network locator vsnap reads.
 * Caller frees. */
char *vs_net_locator_normalise(const char *s);

/* The canonical locator (caller frees). */
char *vs_net_source_locator(const vs_net_source *ns);
/* What qemu-img is given: the locator, or a json: pseudo-filename when a
 * gluster source names several hosts (caller frees). */
char *vs_net_source_filename(const vs_net_source *ns);
/* QEMU's blockdev options of the protocol node (BlockdevOptionsNbd,
 * BlockdevOptionsGluster) without node-name; caller puts the reference. */
json_object *vs_net_source_blockdev(const vs_net_source *ns);
/* A new <source> element in doc as libvirt writes it (caller links it). */
xmlNodePtr vs_net_source_to_node(const vs_net_source *ns, xmlDocPtr doc);
/* The <source> element as text at `indent` (no trailing newline). */
void vs_net_source_format(vs_buf *b, const vs_net_source *ns, int indent);

#endif
