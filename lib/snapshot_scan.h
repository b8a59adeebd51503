/* What a listing needs of a snapshot file, scanned from its text without
 * building an XML tree: the fields of a vs_snap_entry, for the index's
 * rebuild. */
#ifndef VSNAP_SNAPSHOT_SCAN_H
#define VSNAP_SNAPSHOT_SCAN_H

#include <stddef.h>
#include "snapshot_tree.h"

/*
 * Scan buf (len bytes, NUL-terminated; changed in place) for the fields of
 * its snapshot: name, parent, creation time, state, and the external flags,
 * exactly as vs_snapshot_def_parse (VS_SNAP_PARSE_REDEFINE) with
 * vs_snap_entry_from_def would give them. 1 with *e filled (its strings
 * point into buf); 0 when the text is not plainly of the shape vsnap writes
 * (anything outside printable ASCII, a DOCTYPE, CDATA, namespaces, an
 * element or attribute the scan does not know where it looks, a value it
 * would have to judge): then the caller parses the file whole, which also
 * says what is wrong with it. The scan checks that the XML is well formed
 * (tags nest, attributes are quoted and not repeated, references are known)
 * but not what a full parse checks of the embedded <domain>.
 */
int vs_snapshot_scan(char *buf, size_t len, vs_snap_entry *e);

#endif
