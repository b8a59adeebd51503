/* What a planner knows: a domain's definition, every one of its snapshots,
 * its current snapshot and overlay registry, and (for plans that touch
 * images) the image graph with every reference to every image from the
 * whole store: this domain's metadata, every other domain's definitions,
 * snapshots and backing chains, and every open journal. A model is loaded
 * completely or not at all: an unreadable snapshot file anywhere it looks
 * stops the load with the file's name. */
#ifndef VSNAP_MODEL_H
#define VSNAP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include "domain_def.h"
#include "domain_run.h"
#include "error.h"
#include "image_graph.h"
#include "plan.h"
#include "snapshot_def.h"
#include "store.h"

typedef struct vs_model_snap {
    vs_snapshot_def *def;
    char *text;              /* the file's content as loaded (formatted SECURE) */
    bool removed;            /* the plan deletes it */
    int removed_order;       /* 1, 2, ...: the order it was deleted in */
    bool dirty;              /* its file must be written */
} vs_model_snap;

typedef struct vs_model {
    vs_dom *d;
    vs_domain_def *dom;      /* the domain definition as the plan leaves it */
    char *dom_text;          /* ... and as loaded (formatted), for the undo */
    bool dom_dirty;
    vs_model_snap *snaps;
    size_t nsnaps;
    char *current;           /* current snapshot as the plan leaves it */
    char *current_before;
    char **registry;         /* the overlay registry as loaded */
    bool images;             /* the graph was loaded */
    vs_graph g;
    long now;                /* time(NULL) at load */
    /* the running domain (VS_MODEL_LIVE) */
    bool live;               /* QEMU has the domain's images open (running or paused) */
    vs_run_info run;         /* its state when live */
    vs_domain_def *live_dom; /* the definition QEMU runs, when live */
    struct vs_model_held *held;  /* what QEMU holds, as loaded (vs_model_qemu_holds) */
    size_t nheld;
} vs_model;

enum {
    VS_MODEL_IMAGES = 1 << 0,  /* load the image graph and the other domains' references */
    VS_MODEL_LIVE   = 1 << 1,  /* with IMAGES: a running domain is planned for too (its
                                * images probed read-only), not refused */
    VS_MODEL_DISTINCT = 1 << 2,/* only the first of the snapshots that name the same
                                * images the same way (vs_snap_shapes): every image and
                                * every reference kind is there, so a reclaim plan does
                                * the same to images (metadata steps and snapshot names
                                * may differ), in memory that does not grow with the
                                * number of alike snapshots; for telling whether a plan
                                * has work, never for running one */
};

/*
 * Load d's model. Every snapshot file of d must be usable: one that is not
 * (store.h's vs_dom_damaged), or parent links that name a missing snapshot
 * or form a cycle, fail with "cannot plan on domain 'D': snapshot file
 * '.../B.xml' cannot be used (why); run 'vsnap snapshot-check D'". With
 * VS_MODEL_IMAGES also the graph: every image this domain's metadata names,
 * probed, with its chain; every image another domain's definition or
 * snapshots name, and their chains, and every file another domain's open
 * journal names, marked foreign (an unreadable definition, snapshot file or
 * journal of another domain fails the load too, naming it).
 * Release with vs_model_release, also after a failure.
 */
int vs_model_load(vs_model *m, vs_dom *d, unsigned flags, vs_error *err);
/* A model of only some snapshots (names; unknown ones are left out), for
 * plans that touch no image and no other snapshot: the rules of
 * vs_model_load hold for the whole domain all the same, with the damage
 * the index records for the files not read (the snapshots read are read
 * whole). Those in `gone` (a subset, may be NULL), which the plan removes,
 * are read as stored: their text is what the plan puts back, and unless
 * they are external only the fields the tree needs are taken from it. */
int vs_model_load_some(vs_model *m, vs_dom *d, char *const *names, char *const *gone,
                       vs_error *err);
/* Only the first rule (every snapshot file usable, the tree consistent),
 * without reading the files: planners that add a snapshot use it. A damaged
 * file the new snapshot `replacing` (NULL: none) takes the place of is no
 * obstacle: writing it is one of the ways out. */
int vs_model_check_usable(vs_dom *d, const char *replacing, vs_error *err);
void vs_model_release(vs_model *m);

/* Whether the live domain's QEMU has image `path` open (when the model was
 * loaded, whatever the plan changed in it since): 1 as the active layer of
 * a disk (*target, may be NULL: that disk's target, the model's), 2 in the
 * backing chain below one, 0 not at all (or not live). */
int vs_model_qemu_holds(const vs_model *m, const char *path, const char **target);

/* The model of an in-memory domain (tests of the planners' decisions): dom
 * and defs are adopted; the caller fills m->g's facts by hand. */
void vs_model_init_memory(vs_model *m, vs_domain_def *dom, vs_snapshot_def **defs, size_t n);

/* Snapshot `name` not removed by the plan: its index, or -1. */
long vs_model_find(const vs_model *m, const char *name);
bool vs_model_has_children(const vs_model *m, const char *name);

/* References: fill was_* once (after the graph is loaded), and r_* /
 * overlay_snap from the metadata as the plan leaves it. */
void vs_model_refs_initial(vs_model *m);
void vs_model_recount(vs_model *m);

/* Where snapshot def keeps domain disk dd: its entry's location, or what a
 * definition without entries means (C.2's rule for internal snapshots). */
vs_snap_location vs_model_disk_location(const vs_snapshot_def *def, const vs_domain_disk *dd);
/* Snapshot def's <disks> entry for disk `target`, or NULL; an entry's
 * format (qcow2 when it names none). */
vs_snap_disk *vs_model_disk_entry(const vs_snapshot_def *def, const char *target);
const char *vs_model_entry_fmt(const vs_snap_disk *e);
/* The image snapshot s recorded for disk target (a local disk), or NULL. */
const vs_domain_disk *vs_model_snap_disk(const vs_model *m, long s, const char *target);
/* A local disk: file or block storage with a source. */
/* Whether the disk has an image in the graph: a file, a block device, or an
 * NBD/gluster image named by its locator (disk_source.h). */
bool vs_disk_is_local(const vs_domain_disk *dd);

/* Every reference to image `from` now names image `to` (same content): the
 * domain, snapshots' <domain>, <disks> and <revertDisks>. */
int vs_model_rename_refs(vs_model *m, const vs_image *from, const vs_image *to, vs_error *err);
/* Drop snapshot def's <revertDisks>. */
void vs_model_clear_revert_disks(vs_snapshot_def *def);
/* Mark released every image a definition / a snapshot refers to. */
void vs_model_release_dom(vs_model *m, const vs_domain_def *dom);
void vs_model_release_snap(vs_model *m, const vs_snapshot_def *def);

/*
 * The metadata steps that make the store what the model now says: snapshot
 * files rewritten (`first`, if dirty, first), the domain, current, the
 * overlay registry, then the removed snapshots' files in the order they were
 * deleted (children before parents), each with the value it replaces.
 */
void vs_model_plan_metadata(vs_model *m, vs_plan *p, const char *first);

/*
 * Snapshots alike in what they say about images: the same <domain> and
 * <inactiveDomain> disks, the same <disks> and <revertDisks> entries, the
 * same memory and state (name, parent, time, description and everything
 * else may differ). A set of such "shapes" gives the first definition added
 * of each: a caller that reads snapshots one at a time keeps one
 * definition per shape instead of one per snapshot. The set does not own
 * the definitions. A definition naming a network image is never alike any
 * other (its <source> may hold more than its fields say).
 */
typedef struct vs_snap_shapes vs_snap_shapes;
vs_snap_shapes *vs_snap_shapes_new(void);
/* The definition added before with def's shape, or NULL (def is then added). */
const vs_snapshot_def *vs_snap_shapes_add(vs_snap_shapes *sh, const vs_snapshot_def *def);
void vs_snap_shapes_free(vs_snap_shapes *sh);

/* The text a snapshot file / the domain file holds for def (caller frees). */
char *vs_model_format_snapshot(const vs_snapshot_def *def);
char *vs_model_format_domain(const vs_domain_def *def);

#endif
