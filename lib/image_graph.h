/* The image graph: every image file a plan may have to reason about, what
 * its header says (format, backing file, internal snapshots, size, whether
 * it holds data), the backing edges between them, and who refers to each.
 * Facts come from vs_graph_probe (the files) or are set directly (tests);
 * the graph itself never touches the file system otherwise. */
#ifndef VSNAP_IMAGE_GRAPH_H
#define VSNAP_IMAGE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include "error.h"
#include "image_id.h"

typedef struct vs_image {
    char *path;              /* normalised absolute path */
    vs_file_id id;           /* device and inode when it exists (the same image: image_id.h) */
    /* facts */
    char *fmt;               /* the header's format, else the metadata's, else "raw" */
    char *backing;           /* normalised backing path, NULL when none */
    char *backing_fmt;
    char **tags;             /* internal snapshots in it (NULL-terminated, never NULL) */
    bool probed;             /* the facts were read (vs_graph_probe) */
    bool exists, regular;
    bool device;             /* named as type='block' somewhere (model.c): never regular */
    bool network;            /* an NBD/gluster image named by its locator: never stat'ed,
                              * never regular, so never merged away or removed */
    unsigned long long vsize;/* virtual size (bytes); 0 unknown */
    int empty;               /* 1: a qcow2 whose active layer maps nothing; 0: it holds
                              * data or is not plain qcow2; -1 unknown */
    bool registered;         /* named by the domain's overlay registry */
    char *foreign;           /* who else relies on it (another domain, an open journal of
                              * one), for messages; NULL when nobody */
    /* references before the operation (set once, by vs_model_refs_initial) */
    bool was_content, was_domain, was_overlay, was_revert;
    /* references as the plan leaves them (vs_model_recount) */
    int r_domain, r_content, r_content_ext, r_content_int, r_overlay, r_revert;
    long overlay_snap;       /* a snapshot whose <disks> names it (-1 none) */
    char *overlay_target;    /* that entry's disk target */
    /* planning state */
    bool gone;               /* the plan removes it */
    bool reset;              /* the plan recreates it empty */
    bool released;           /* something that referred to it went away */
    int depth;               /* images below it in its chain (-1 not computed) */
} vs_image;

typedef struct vs_graph {
    vs_image *v;
    size_t n, cap;
} vs_graph;

/* Zero it first; vs_graph_clear frees everything in it. */
void vs_graph_clear(vs_graph *g);

/* The image `path` names (the same image by image_id.h's rule), or -1. */
long vs_graph_find(const vs_graph *g, const char *path);
/* Find or add it (fmt, if given, fills an unknown format). Indexes stay
 * valid; pointers into g->v do not survive an add. */
long vs_graph_add(vs_graph *g, const char *path, const char *fmt);

/* Read image i's facts from its file (qcow2 header directly, QED through
 * qemu-img, anything else as raw of its file size). A missing file is a fact
 * too (exists false). */
int vs_graph_probe(vs_graph *g, long i, vs_error *err);

/* Add every image's backing file until the chains end, probing (with
 * probe) every image not probed yet; fails when a chain is longer than
 * libvirt's limit (200) or loops. */
int vs_graph_close_chains(vs_graph *g, bool probe, vs_error *err);

/* Chain depths (images below each one, as the plan leaves them). */
void vs_graph_depths(vs_graph *g);

/* Images (still there, not removed by the plan) whose backing file is i;
 * *out (caller frees) is never NULL. */
size_t vs_graph_uppers(const vs_graph *g, long i, long **out);

/* Every image in chain order: deepest first (desc) or bases first. *out
 * (caller frees) has g->n entries. */
long *vs_graph_depth_order(vs_graph *g, bool desc);

/*
 * Temporary images (an overlay recreated empty is made beside it, then moved
 * over it) are named "<image>.vsnap-<uuid>" after the domain whose plan made
 * them, so that repairing one domain never takes another's. Caller frees.
 * vs_tmp_image_owner: the uuid in such a name (caller frees), or NULL when
 * the name is no vsnap temporary image; an earlier release's
 * "<image>.vsnap-new" gives "" (owner unknown).
 */
char *vs_tmp_image_name(const char *image, const char *uuid);
char *vs_tmp_image_owner(const char *name);

bool vs_image_has_tag(const vs_image *im, const char *tag);
void vs_image_drop_tag(vs_image *im, const char *tag);
static inline bool
vs_image_has_tags(const vs_image *im)
{
    return im->tags && im->tags[0];
}

#endif
