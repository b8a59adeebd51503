/* <domainsnapshot> XML: parse and format (virsh-behaviour.md B.1, B.2). */
#ifndef VSNAP_SNAPSHOT_DEF_H
#define VSNAP_SNAPSHOT_DEF_H

#include <stdbool.h>
#include <libxml/tree.h>
#include "buf.h"
#include "domain_def.h"
#include "error.h"

typedef enum vs_snap_state {
    VS_STATE_NOSTATE = 0,
    VS_STATE_RUNNING,
    VS_STATE_BLOCKED,
    VS_STATE_PAUSED,
    VS_STATE_SHUTDOWN,
    VS_STATE_SHUTOFF,
    VS_STATE_CRASHED,
    VS_STATE_PMSUSPENDED,
    VS_STATE_DISK_SNAPSHOT,
} vs_snap_state;

typedef struct vs_snap_disk {
    char *name;                 /* target ("vda") or absolute path as given */
    vs_snap_location snapshot;  /* VS_LOC_DEFAULT when the attribute is absent */
    vs_storage_type type;       /* storage type, default file */
    char *source;               /* source file= / dev= path (network: the source name=),
                                 * NULL if none */
    char *format;               /* <driver type=>, NULL if none */
    bool has_metadata_cache;
    unsigned long long metadata_cache_max_size; /* bytes */
    bool delete_in_progress;    /* <snapshotDeleteInProgress/> */
    xmlNodePtr source_node;     /* the <source> element as parsed, owned by the
                                 * def's private document; kept so network hosts and
                                 * seclabels round-trip; NULL when vsnap built the disk.
                                 * When source changes, set this to NULL. */
} vs_snap_disk;

typedef struct vs_snapshot_def {
    char *name;
    char *description;
    vs_snap_state state;
    char *parent;               /* parent snapshot name or NULL */
    long long creation_time;    /* seconds; 0 = unset */
    vs_snap_location memory;    /* VS_LOC_DEFAULT = no <memory> element */
    char *memory_file;
    vs_snap_disk *disks;
    size_t ndisks;
    vs_snap_disk *revert_disks;  /* <revertDisks> */
    size_t nrevert_disks;
    vs_domain_def *dom;         /* embedded <domain type=...>, or NULL */
    char *dom_uuid;             /* legacy <domain><uuid/></domain> stub, when no dom */
    vs_domain_def *inactive_dom;/* <inactiveDomain>, or NULL */
    char *cookie;               /* the <cookie> element's children formatted at depth 0, or NULL */
    int active;                 /* -1 absent; 0/1 from libvirt's on-disk <active> */
    xmlDocPtr priv;             /* private document owning source_node copies */
} vs_snapshot_def;

/* Parse flags (B.2). */
enum {
    VS_SNAP_PARSE_REDEFINE = 1 << 0,  /* a full existing definition: name, state, creationTime required */
    VS_SNAP_PARSE_INTERNAL = 1 << 1,  /* libvirt's on-disk form: <active> required */
    VS_SNAP_PARSE_OFFLINE  = 1 << 2,  /* disk-only or inactive domain: memory must be absent/no */
    VS_SNAP_PARSE_VALIDATE = 1 << 3,  /* RelaxNG-validate against domainsnapshot.rng first */
    VS_SNAP_PARSE_ACTIVE_OPTIONAL = 1 << 4, /* read <active> if present (importing libvirt files) */
};

/* Format flags (B.1). */
enum {
    VS_SNAP_FORMAT_SECURE   = 1 << 0,  /* security-sensitive domain fields */
    VS_SNAP_FORMAT_INTERNAL = 1 << 1,  /* append <active>N</active> (libvirt's on-disk form) */
};

/*
 * Parse. Without REDEFINE, creationTime/parent/state/domain/revertDisks in the
 * input are ignored, creation_time is set to `now` and a missing name becomes
 * the decimal `now` (now == 0 skips that step: name and time stay unset, as in
 * libvirt's in->in tests). `what` names the input in XML error messages.
 * Every error message is virsh's (B.2). Free with vs_snapshot_def_free.
 */
vs_snapshot_def *vs_snapshot_def_parse(const char *xml, size_t len, const char *what,
                                       unsigned flags, long long now, vs_error *err);

/* The same for a <domainsnapshot> element of a document parsed by
 * lib/xml.c, written as at depth 0 (an element of a bigger document at
 * the start of its lines, as an export document holds them). Nothing of
 * the node is kept. */
vs_snapshot_def *vs_snapshot_def_parse_node(xmlNodePtr node, unsigned flags, long long now,
                                            vs_error *err);

/* Format as B.1: 2-space indent, no XML declaration, ends with "\n". */
void vs_snapshot_def_format(vs_buf *b, const vs_snapshot_def *def, unsigned flags);
char *vs_snapshot_def_format_str(const vs_snapshot_def *def, unsigned flags);

vs_snapshot_def *vs_snapshot_def_copy(const vs_snapshot_def *def);
void vs_snapshot_def_free(vs_snapshot_def *def);

/* B.5: memory external or any disk external. */
bool vs_snapshot_def_is_external(const vs_snapshot_def *def);
/* A.5's Location column: external/internal rule of snapshot-info. */
bool vs_snapshot_def_location_external(const vs_snapshot_def *def);

const char *vs_snap_state_name(vs_snap_state s);   /* "running", ..., "disk-snapshot" */
int vs_snap_state_parse(const char *s);            /* -1 when unknown */

/* Free the contents of one disk entry (not the entry itself). */
void vs_snap_disk_clear(vs_snap_disk *d);

/* Deep-copy disk entry src into *dst (overwritten, not cleared first); a kept
 * source_node is copied into dst_def's private document, so src may belong
 * to another definition. */
void vs_snap_disk_copy(vs_snapshot_def *dst_def, vs_snap_disk *dst, const vs_snap_disk *src);

/*
 * snapshot-create-as: build the XML document virsh builds (A.2) from a name,
 * description (either may be NULL), --memspec (NULL if absent) and the
 * diskspecs (NULL-terminated, may be NULL). A name vs_name_check refuses is
 * refused here, before any XML is built. Errors: "unable to parse memspec: S",
 * "unable to parse diskspec: S" (preceded in the message by
 * "Unknown storage type: 'X'" handling as virsh prints two lines: the first
 * line goes to *warn, caller frees).
 */
int vs_snapshot_args_to_xml(const char *name, const char *description, const char *memspec,
                            char *const *diskspecs, vs_buf *out, char **warn, vs_error *err);

/* virsh's comma splitter: ",," is a literal comma. Returns a NULL-terminated vector. */
char **vs_split_commas(const char *s);

#endif
