/* libvirt domain XML: the fields vsnap needs, everything else kept verbatim. */
#ifndef VSNAP_DOMAIN_DEF_H
#define VSNAP_DOMAIN_DEF_H

#include <stdbool.h>
#include <libxml/tree.h>
#include "buf.h"
#include "error.h"

typedef enum vs_storage_type {
    VS_STORAGE_FILE = 0,
    VS_STORAGE_BLOCK,
    VS_STORAGE_NETWORK,
    VS_STORAGE_DIR,
    VS_STORAGE_VOLUME,
    VS_STORAGE_NVME,
    VS_STORAGE_VHOSTUSER,
    VS_STORAGE_OTHER,     /* "vhostvdpa" (named so by vs_storage_type_name/parse) */
} vs_storage_type;

/* Snapshot location keywords, shared by domain disks and snapshot XML. */
typedef enum vs_snap_location {
    VS_LOC_DEFAULT = 0,   /* never printed */
    VS_LOC_NO,
    VS_LOC_INTERNAL,
    VS_LOC_EXTERNAL,
    VS_LOC_MANUAL,
} vs_snap_location;

typedef struct vs_domain_disk {
    char *device;          /* "disk", "cdrom", "floppy", "lun" */
    char *target;          /* <target dev=> e.g. "vda" */
    char *bus;             /* <target bus=> or NULL */
    vs_storage_type type;  /* <disk type=> */
    char *source;          /* source file= or dev= (dir=, vhostuser path=) (NULL when empty, e.g. a CD-ROM) */
    char *protocol;        /* network: <source protocol=> */
    char *source_name;     /* network: <source name=> */
    char *driver_name;     /* <driver name=> */
    char *format;          /* <driver type=> e.g. "qcow2", "raw"; NULL if unset */
    bool readonly;         /* <readonly/> */
    vs_snap_location snapshot; /* <disk snapshot=>; readonly disks default to VS_LOC_NO */
    xmlNodePtr node;       /* the <disk> element inside the def's document */
} vs_domain_disk;

typedef struct vs_domain_def {
    xmlDocPtr doc;         /* owned; root is <domain>, whitespace normalised to depth 0 */
    char *type;            /* <domain type=> e.g. "qemu", "kvm" */
    char *name;
    char *uuid;            /* canonical lower-case 8-4-4-4-12, generated when absent */
    vs_domain_disk *disks;
    size_t ndisks;
} vs_domain_def;

/*
 * Parse a domain from text (virsh dumpxml output, or vsnap's domain.xml).
 * Root must be <domain> ("XML error: expecting root element of 'domain', not 'X'"),
 * must have a <name> ("XML error: missing name in domain") that passes
 * vs_name_check. A missing <uuid> is generated. Live-only attributes
 * (the root's id=) are dropped. Free with vs_domain_def_free.
 */
vs_domain_def *vs_domain_def_parse(const char *xml, size_t len, const char *what, vs_error *err);

/* Parse an element embedded in another document (a snapshot's <domain> or
 * <inactiveDomain>) that is indented `depth` levels (2 spaces each). The node is
 * copied; the result is a standalone depth-0 definition. */
vs_domain_def *vs_domain_def_parse_node(xmlNodePtr node, int depth, vs_error *err);

/*
 * Append the definition as libvirt formats it. extra_indent spaces are added
 * to every line but the first (for embedding); the output has no trailing
 * newline. Without `secure`, security-sensitive attributes (graphics passwd=,
 * secret bits) are left out, as virsh does without --security-info.
 * When `root_name` is non-NULL the root element is written under that name
 * (e.g. "inactiveDomain").
 */
void vs_domain_def_format(vs_buf *b, const vs_domain_def *def, int extra_indent,
                          bool secure, const char *root_name);

/* Deep copy. */
vs_domain_def *vs_domain_def_copy(const vs_domain_def *def);

/* Find a disk by target ("vda") or, when name starts with '/', by source path;
 * an ambiguous path matches nothing. Returns the index or -1. */
int vs_domain_def_disk_index(const vs_domain_def *def, const char *name);

/* Replace disk i's source (file or dev according to `type`) and driver format,
 * in the struct and in the document. Used when overlays take over a disk. */
int vs_domain_def_set_disk_source(vs_domain_def *def, size_t i, vs_storage_type type,
                                  const char *path, const char *format, vs_error *err);

void vs_domain_def_free(vs_domain_def *def);

const char *vs_storage_type_name(vs_storage_type t);
int vs_storage_type_parse(const char *s);        /* -1 when unknown */
const char *vs_snap_location_name(vs_snap_location l);
int vs_snap_location_parse(const char *s);       /* -1 when unknown; "default" -> -1 */

#endif
