/* snapshot-export / snapshot-import: a domain's definition and its whole
 * snapshot tree as one document, to move them to another store (another
 * host). The document (vsnap(1), EXPORT DOCUMENT):
 *
 *   <vsnap-export version='1'>
 *   <domain ...>...</domain>                 as dumpxml --security-info prints it
 *   <domainsnapshot>...</domainsnapshot>     each as snapshot-dumpxml --security-info
 *   ...                                      prints it, parents before children
 *   <current name='NAME'/>                   the current snapshot, when there is one
 *   </vsnap-export>
 *
 * Every element starts a line and is copied byte for byte as those commands
 * print it, so each <domainsnapshot> cut out of the document is a file
 * libvirt's `snapshot-create --redefine` accepts, in document order. */
#ifndef VSNAP_SNAPSHOT_EXPORT_H
#define VSNAP_SNAPSHOT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "domain_def.h"
#include "store.h"

#define VS_EXPORT_ROOT "vsnap-export"
#define VS_EXPORT_VERSION "1"
/* An export document may be this big (about 60,000 snapshots of 1.7 KB):
 * the import's journal holds every text, and with --replace every text it
 * replaces too, and must stay below what the store reads back as a journal
 * (256 MiB) for a repair to roll it back. */
#define VS_EXPORT_MAX_SIZE ((size_t)100 * 1024 * 1024)

/*
 * Append d's export document to out; *count (may be NULL) is the number of
 * snapshots in it. Refused, with nothing appended, when d has an interrupted
 * operation, a snapshot file it cannot use, or parent links that are broken
 * (a missing parent or a cycle): the document would not rebuild the tree
 * (each error names `vsnap snapshot-check`). d needs at least a shared lock.
 */
int vs_snapshot_export(vs_dom *d, vs_buf *out, size_t *count, vs_error *err);

/* A document read and checked by itself (vs_export_doc_read). */
typedef struct vs_export_doc {
    vs_domain_def *dom;
    size_t n, cap;
    char **names;           /* snapshot i's name */
    char **parents;         /* its parent's name, NULL for a root */
    char **texts;           /* its XML as the store writes it (disks aligned) */
    unsigned char *kind;    /* private: online / disk-only, for the checks against a store */
    char *current;          /* the current snapshot's name, or NULL */
} vs_export_doc;

/*
 * Parse and check a whole export document (`what` names it in messages):
 * the root and its version, one <domain> before every snapshot, each
 * snapshot as `snapshot-create --redefine` parses it (libvirt's messages),
 * its name, its uuid against the domain's, no name twice, every parent
 * earlier in the document (or, to be checked on import, in the store), and
 * <current/> naming one of its snapshots. Clear with vs_export_doc_clear
 * (also after a failure).
 */
int vs_export_doc_read(const char *data, size_t len, const char *what, vs_export_doc *doc,
                       vs_error *err);
void vs_export_doc_clear(vs_export_doc *doc);

enum {
    /* A different definition of the domain, and snapshots of the same names
     * that differ from the imported ones, are replaced (as define and
     * snapshot-create --redefine would); without it they are refused. */
    VS_IMPORT_REPLACE = 1 << 0,
};

typedef struct vs_import_result {
    bool created;           /* the domain was defined by the import */
    bool replaced_def;      /* its existing definition was replaced */
    size_t written;         /* snapshots written (new or replaced) */
    size_t replaced;        /* of which replaced an existing, different one */
    size_t unchanged;       /* already there exactly as imported: left alone */
} vs_import_result;

/*
 * Import doc into st: define the domain when it is not there (a different
 * existing definition is refused unless REPLACE; another uuid always), then
 * every snapshot in document order with the rules of a redefinition, and
 * the current snapshot, in one plan: checked whole against the domain
 * first (clashing names are refused, naming the first, unless REPLACE), so
 * that a refusal changes nothing; the snapshot files are written in groups
 * with one sync each (store.h). A failure rolls the plan back and undefines
 * a domain the import defined. Takes the domain's lock itself: the caller
 * must not hold it.
 */
int vs_snapshot_import(vs_store *st, const vs_export_doc *doc, unsigned flags,
                       vs_import_result *res, vs_error *err);

#endif
