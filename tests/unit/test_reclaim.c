/* Unit tests: the image graph and the reclaim decisions, table-driven over
 * tree shapes (chains, branches, shared bases, grown overlays, images other
 * domains rely on, internal and external snapshots mixed). Each case builds
 * a model in memory (model.h's vs_model_init_memory): images with the facts
 * a header would give, a domain, snapshots; then it plans a delete or a
 * revert with the planners' own decision functions and compares the steps.
 * No file is read or written. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "domain_def.h"
#include "image_graph.h"
#include "mem.h"
#include "model.h"
#include "plan.h"
#include "snapshot_def.h"
#include "snapshot_ops.h"
#include "../tap.h"

#define DIR "/nonexistent-vsnap-reclaim"
#define UUID "11111111-2222-3333-4444-555555555555"
#define MB (1024ULL * 1024ULL)

typedef struct img_spec {
    const char *name;        /* file name in DIR */
    const char *backing;     /* file name, or NULL */
    const char *tags;        /* internal snapshot names, space-separated, or NULL */
    unsigned mb;             /* virtual size */
    bool empty;              /* holds no data of its own */
} img_spec;

typedef struct snap_spec {
    const char *name;
    const char *parent;
    const char *content;     /* the image its <domain> records for vda */
    const char *overlay;     /* its <disks> overlay (external), or NULL: internal */
} snap_spec;

typedef struct shape {
    const char *title;
    img_spec imgs[10];
    const char *disk;        /* the image the domain uses now */
    snap_spec snaps[8];
    const char *current;
    const char *foreign;     /* an image another domain relies on, or NULL */
    const char *registered;  /* an image in the overlay registry, or NULL */
    const char *op;          /* "delete NAME [NAME...]", "delete-metadata NAME", "revert NAME" */
    const char *want;        /* the steps, "; "-separated (see render) */
    const char *note;        /* a substring of the plan's notes, or NULL */
    const char *error;       /* a substring of the error when the plan fails, or NULL */
} shape;

static char *
path_of(const char *name)
{
    return name ? vs_xasprintf(DIR "/%s", name) : NULL;
}

static char *
domain_xml(const char *name, const char *disk)
{
    char *p = path_of(disk), *x;

    x = vs_xasprintf("<domain type='qemu'>\n  <name>%s</name>\n  <uuid>" UUID "</uuid>\n"
                     "  <memory unit='KiB'>32768</memory>\n  <os>\n    <type arch='x86_64'>hvm"
                     "</type>\n  </os>\n  <devices>\n    <disk type='file' device='disk'>\n"
                     "      <driver name='qemu' type='qcow2'/>\n      <source file='%s'/>\n"
                     "      <target dev='vda' bus='virtio'/>\n    </disk>\n  </devices>\n"
                     "</domain>\n", name, p);
    free(p);
    return x;
}

static vs_snapshot_def *
snapshot(const snap_spec *s, long t)
{
    char *dom = domain_xml("vm", s->content), *ov = path_of(s->overlay), *parent, *disks, *x;
    vs_snapshot_def *def;
    vs_error err;

    parent = s->parent ? vs_xasprintf("<parent><name>%s</name></parent>", s->parent)
                       : vs_xstrdup("");
    disks = ov ? vs_xasprintf("<disks><disk name='vda' snapshot='external' type='file'>"
                              "<driver type='qcow2'/><source file='%s'/></disk></disks>", ov)
               : vs_xstrdup("<disks><disk name='vda' snapshot='internal'/></disks>");
    x = vs_xasprintf("<domainsnapshot><name>%s</name>%s<state>%s</state>"
                     "<creationTime>%ld</creationTime><memory snapshot='no'/>%s%s"
                     "</domainsnapshot>", s->name, parent, ov ? "disk-snapshot" : "shutoff", t,
                     disks, dom);
    vs_error_clear(&err);
    def = vs_snapshot_def_parse(x, strlen(x), "(test)", VS_SNAP_PARSE_REDEFINE, 0, &err);
    if (!def)
        printf("# snapshot %s: %s\n", s->name, err.msg);
    free(x);
    free(dom);
    free(ov);
    free(parent);
    free(disks);
    return def;
}

static const char *
base(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;

    return s ? s + 1 : p ? p : "-";
}

/* One step as "kind file [file]": the image and, for image steps that have
 * one, the other image (backing, or the image a commit fills). */
static void
render(const vs_step *s, vs_buf *b)
{
    const char *kind = vs_step_info(s->kind)->name;

    switch (vs_step_info(s->kind)->mech) {
    case VS_MECH_STORE:
        vs_buf_addf(b, "%s%s%s", kind, s->name || s->kind == VS_STEP_SET_CURRENT ? " " : "",
                    s->kind == VS_STEP_SET_CURRENT ? (s->name ? s->name : "-")
                                                   : s->name ? s->name : "");
        break;
    default:
        vs_buf_addf(b, "%s %s", kind, base(s->path));
        if (s->kind == VS_STEP_TAG_APPLY || s->kind == VS_STEP_TAG_DELETE ||
            s->kind == VS_STEP_TAG_CREATE)
            vs_buf_addf(b, " %s", s->name);
        else if (s->backing && *s->backing)
            vs_buf_addf(b, " %s", base(s->backing));
        break;
    }
}

static void
run_shape(const shape *c)
{
    vs_snapshot_def *defs[8];
    vs_domain_def *dom;
    vs_model m;
    vs_plan *p;
    vs_buf b = VS_BUF_INIT;
    vs_error err;
    char *x, *op = vs_xstrdup(c->op), *verb, *save = NULL, **names = NULL, *w;
    size_t n = 0, i;
    int rc;

    x = domain_xml("vm", c->disk);
    vs_error_clear(&err);
    dom = vs_domain_def_parse(x, strlen(x), "(test)", &err);
    free(x);
    for (n = 0; n < 8 && c->snaps[n].name; n++)
        defs[n] = snapshot(&c->snaps[n], 1000 + (long)n);
    vs_model_init_memory(&m, dom, defs, n);
    m.now = 2000;
    m.current = vs_xstrdup(c->current);
    m.current_before = vs_xstrdup(c->current);
    if (c->registered) {
        w = path_of(c->registered);
        vs_strv_push(&m.registry, w);
        free(w);
    }
    vs_model_refs_initial(&m);
    for (i = 0; i < 10 && c->imgs[i].name; i++) {
        const img_spec *is = &c->imgs[i];
        char *path = path_of(is->name);
        long k = vs_graph_add(&m.g, path, NULL);
        vs_image *im = &m.g.v[k];

        free(path);
        im->probed = im->exists = im->regular = true;
        free(im->fmt);
        im->fmt = vs_xstrdup("qcow2");
        im->backing = path_of(is->backing);
        im->backing_fmt = is->backing ? vs_xstrdup("qcow2") : NULL;
        im->vsize = (unsigned long long)is->mb * MB;
        im->empty = is->empty ? 1 : 0;
        if (is->tags) {
            char *t = vs_xstrdup(is->tags), *tok, *ts = NULL;

            for (tok = strtok_r(t, " ", &ts); tok; tok = strtok_r(NULL, " ", &ts))
                vs_strv_push(&im->tags, tok);
            free(t);
        }
    }
    vs_model_refs_initial(&m);
    if (c->foreign) {
        w = path_of(c->foreign);
        m.g.v[vs_graph_add(&m.g, w, NULL)].foreign = vs_xstrdup("domain 'other' uses it");
        free(w);
    }
    vs_graph_close_chains(&m.g, false, NULL);
    /* what another domain relies on, its chain below is relied on too */
    for (i = 0; i < m.g.n; i++) {
        long bk;

        for (bk = i; m.g.v[bk].foreign && (bk = vs_graph_find(&m.g, m.g.v[bk].backing)) >= 0;)
            if (!m.g.v[bk].foreign)
                m.g.v[bk].foreign = vs_xstrdup("the backing chain of another domain's image");
    }
    vs_model_recount(&m);

    p = vs_plan_new("test", "vm", UUID, NULL);
    verb = strtok_r(op, " ", &save);
    for (w = strtok_r(NULL, " ", &save); w; w = strtok_r(NULL, " ", &save))
        vs_strv_push(&names, w);
    vs_error_clear(&err);
    if (strcmp(verb, "revert") == 0)
        rc = vs_revert_plan_model(&m, vs_model_find(&m, names[0]), p, &err);
    else
        rc = vs_delete_plan_model(&m, names,
                                  strcmp(verb, "delete-metadata") == 0 ? VS_DELETE_METADATA_ONLY : 0,
                                  p, &err);
    if (c->error) {
        ok(rc < 0 && strstr(err.msg, c->error), "%s: refused (%s)", c->title, err.msg);
    } else {
        for (i = 0; i < p->n; i++) {
            if (i)
                vs_buf_add(&b, "; ");
            if (i == p->commit && p->commit)
                vs_buf_add(&b, "| ");
            render(&p->steps[i], &b);
        }
        ok(rc == 0, "%s: planned (%s)", c->title, err.msg);
        is_str(vs_buf_str(&b), c->want, "%s: the steps", c->title);
        if (c->note) {
            bool found = false;

            for (i = 0; p->notes && p->notes[i]; i++)
                found = found || strstr(p->notes[i], c->note);
            ok(found, "%s: the plan notes '%s'", c->title, c->note);
            for (i = 0; !found && p->notes && p->notes[i]; i++)
                printf("#   note: %s\n", p->notes[i]);
        }
        ok(vs_plan_validate(p, &err) == 0, "%s: the plan obeys the step table (%s)", c->title,
           err.msg);
    }
    vs_buf_reset(&b);
    vs_plan_free(p);
    vs_model_release(&m);
    vs_strv_free(names);
    free(op);
}

/*
 * Names: "b" a base image; "oX" snapshot X's overlay; the domain's image is
 * the last overlay unless a case says otherwise. Sizes in MiB.
 */
static const shape shapes[] = {
    { "chain: delete the root",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, false }, { "oB", "oA", NULL, 16, false } },
      "oB", { { "A", NULL, "b", "oA" }, { "B", "A", "oA", "oB" } }, "B", NULL, NULL,
      "delete A",
      "commit-image oA b; retarget-image oB b; write-snapshot B; remove-snapshot A; "
      "remove-image oA", NULL, NULL },
    { "chain: the root's overlay holds nothing: no commit",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, true }, { "oB", "oA", NULL, 16, false } },
      "oB", { { "A", NULL, "b", "oA" }, { "B", "A", "oA", "oB" } }, "B", NULL, NULL,
      "delete A", "retarget-image oB b; | write-snapshot B; remove-snapshot A; remove-image oA",
      NULL, NULL },
    { "chain: the empty overlay was grown: it is committed",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 32, true }, { "oB", "oA", NULL, 32, false } },
      "oB", { { "A", NULL, "b", "oA" }, { "B", "A", "oA", "oB" } }, "B", NULL, NULL,
      "delete A",
      "commit-image oA b; retarget-image oB b; write-snapshot B; remove-snapshot A; "
      "remove-image oA", NULL, NULL },
    { "chain: delete the current leaf",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, false }, { "oB", "oA", NULL, 16, false } },
      "oB", { { "A", NULL, "b", "oA" }, { "B", "A", "oA", "oB" } }, "B", NULL, NULL,
      "delete B",
      "commit-image oB oA; write-domain; set-current A; remove-snapshot B; remove-image oB",
      NULL, NULL },
    { "chain: delete the only snapshot: back on the base",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, false } },
      "oA", { { "A", NULL, "b", "oA" } }, "A", NULL, NULL,
      "delete A",
      "commit-image oA b; write-domain; set-current -; remove-snapshot A; remove-image oA",
      NULL, NULL },
    { "chain: --metadata touches no image",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, false }, { "oB", "oA", NULL, 16, false } },
      "oB", { { "A", NULL, "b", "oA" }, { "B", "A", "oA", "oB" } }, "B", NULL, NULL,
      "delete-metadata A", "write-snapshot B; remove-snapshot A", NULL, NULL },
    { "branch: an overlay another snapshot's content still is stays, registered",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, false },
        { "oB", "oA", NULL, 16, false }, { "r", "oA", NULL, 16, false },
        { "oC", "r", NULL, 16, false } },
      "oC", { { "A", NULL, "b", "oA" }, { "B", "A", "oA", "oB" }, { "C", "A", "r", "oC" },
              { "R", NULL, "oA", "r" } }, "C", NULL, NULL,
      "delete R", "write-registry; remove-snapshot R", NULL, NULL },
    { "branch: the single upper of a layer nothing owns is merged down into it",
      /* Z recorded b and made X; P1 and P2 were taken on two overlays of X */
      { { "b", NULL, NULL, 16, false }, { "X", "b", NULL, 16, false },
        { "U1", "X", NULL, 16, false }, { "U2", "X", NULL, 16, false },
        { "o1", "U1", NULL, 16, false }, { "o2", "U2", NULL, 16, false } },
      "o2", { { "Z", NULL, "b", "X" }, { "Y", "Z", "X", "U1" }, { "P1", "Y", "U1", "o1" },
              { "P2", "Y", "U2", "o2" } }, "P2", NULL, "U2",
      "delete Z Y",
      "commit-image X b; retarget-image U1 b; retarget-image U2 b; write-snapshot P1; "
      "write-snapshot P2; write-registry; remove-snapshot Z; remove-snapshot Y; "
      "remove-image X", NULL, NULL },
    { "branch: a layer nothing owns with two uppers on a base others own is rebased away",
      /* as above, but b is also W's content, so nothing is committed into it */
      { { "b", NULL, NULL, 16, false }, { "oW", "b", NULL, 16, false },
        { "X", "b", NULL, 16, false },
        { "U1", "X", NULL, 16, false }, { "U2", "X", NULL, 16, false },
        { "o1", "U1", NULL, 16, false }, { "o2", "U2", NULL, 16, false } },
      "o2", { { "W", NULL, "b", "oW" }, { "Z", "W", "b", "X" }, { "Y", "Z", "X", "U1" },
              { "P1", "Y", "U1", "o1" }, { "P2", "Y", "U2", "o2" } }, "P2", NULL, "U2",
      "delete Z Y",
      "rebase-image U1 b; rebase-image U2 b; | write-snapshot P1; write-snapshot P2; "
      "write-registry; remove-snapshot Z; remove-snapshot Y; remove-image X", NULL, NULL },
    { "branch: the shared base of two branches stays",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, false },
        { "r", "b", NULL, 16, false }, { "oC", "r", NULL, 16, false } },
      "oC", { { "A", NULL, "b", "oA" }, { "C", NULL, "r", "oC" } }, "C", NULL, NULL,
      "delete A",
      "commit-image r b; retarget-image oC b; write-snapshot C; remove-snapshot A; "
      "remove-image oA; remove-image r", NULL, NULL },
    { "shared: another domain relies on the base: nothing is committed into it",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, false } },
      "oA", { { "A", NULL, "b", "oA" } }, "A", "b", NULL,
      "delete A", "set-current -; write-registry; remove-snapshot A", "keeps " DIR "/b", NULL },
    { "shared: another domain relies on an overlay: it is not removed",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, false }, { "oB", "b", NULL, 16, false } },
      "oB", { { "A", NULL, "b", "oA" }, { "B", NULL, "b", "oB" } }, "B", "oA", NULL,
      "delete A", "remove-snapshot A", "keeps " DIR "/oA", NULL },
    { "garbage: a registered overlay nothing needs goes",
      { { "b", NULL, NULL, 16, false }, { "x", "b", NULL, 16, false }, { "oA", "b", NULL, 16, false } },
      "oA", { { "A", NULL, "b", "oA" } }, "A", NULL, "x",
      "delete-metadata A", "set-current -; remove-snapshot A", NULL, NULL },
    { "mixed: delete an external snapshot above an internal one",
      { { "b", NULL, "I", 16, false }, { "oE", "b", NULL, 16, false } },
      "oE", { { "I", NULL, "b", NULL }, { "E", "I", "b", "oE" } }, "E", NULL, NULL,
      "delete E",
      "commit-image oE b; write-domain; set-current I; remove-snapshot E; remove-image oE",
      NULL, NULL },
    { "mixed: delete the internal snapshot under an external one",
      { { "b", NULL, "I", 16, false }, { "oE", "b", NULL, 16, false } },
      "oE", { { "I", NULL, "b", NULL }, { "E", "I", "b", "oE" } }, "E", NULL, NULL,
      "delete I", "tag-delete b I; write-snapshot E; remove-snapshot I", NULL, NULL },
    { "mixed: revert to an internal snapshot under an external one is refused",
      { { "b", NULL, "I", 16, false }, { "oE", "b", NULL, 16, false } },
      "oE", { { "I", NULL, "b", NULL }, { "E", "I", "b", "oE" } }, "E", NULL, NULL,
      "revert I", NULL, NULL, "cannot revert to internal snapshot 'I'" },
    { "internal: revert applies the tag",
      { { "b", NULL, "I", 16, false } },
      "b", { { "I", NULL, "b", NULL } }, NULL, NULL, NULL,
      "revert I", "tag-apply b I; write-domain; set-current I", NULL, NULL },
    { "internal: revert is refused when another domain uses the image",
      { { "b", NULL, "I", 16, false } },
      "b", { { "I", NULL, "b", NULL } }, NULL, "b", NULL,
      "revert I", NULL, NULL, "domain 'other' uses it" },
    { "revert to the current leaf: its own overlay, recreated empty",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, false } },
      "oA", { { "A", NULL, "b", "oA" } }, "A", NULL, NULL,
      "revert A",
      "create-image oA.vsnap-" UUID " b; | write-domain; replace-image oA b", NULL, NULL },
    { "revert to a snapshot with children: a fresh overlay in <revertDisks>",
      { { "b", NULL, NULL, 16, false }, { "oA", "b", NULL, 16, false }, { "oB", "oA", NULL, 16, false } },
      "oB", { { "A", NULL, "b", "oA" }, { "B", "A", "oA", "oB" } }, "B", NULL, NULL,
      "revert A",
      "create-image b.2000 b; | write-snapshot A; write-domain; set-current A; "
      "create-image oB.vsnap-" UUID " oA; replace-image oB oA", NULL, NULL },
};

/* model.h's vs_snap_shapes: snapshots alike in what they say about images
 * share one definition (snapshot-check and VS_MODEL_DISTINCT rely on it);
 * any difference in images keeps them apart. */
static void
test_shapes(void)
{
    static const snap_spec specs[] = {
        { "a", NULL, "base.qcow2", NULL },
        { "b", "a", "base.qcow2", NULL },          /* a's alike: only name, parent, time */
        { "c", "a", "other.qcow2", NULL },         /* another image */
        { "e1", "a", "base.qcow2", "e1.qcow2" },   /* external */
        { "e2", "e1", "base.qcow2", "e2.qcow2" },  /* another overlay */
        { "e3", "b", "base.qcow2", "e1.qcow2" },   /* e1's alike */
    };
    enum { N = sizeof(specs) / sizeof(specs[0]) };
    vs_snapshot_def *defs[N + 2];
    vs_snap_shapes *sh = vs_snap_shapes_new();
    const vs_snapshot_def *got[N + 2];
    size_t i;

    for (i = 0; i < N; i++) {
        defs[i] = snapshot(&specs[i], 1700000000 + (long)i);
        got[i] = defs[i] ? vs_snap_shapes_add(sh, defs[i]) : NULL;
    }
    ok(defs[0] && !got[0], "shapes: the first one is new");
    ok(got[1] == defs[0], "shapes: same images, other name and parent: alike");
    ok(!got[2], "shapes: another image in <domain>: not alike");
    ok(!got[3] && !got[4], "shapes: another overlay in <disks>: not alike");
    ok(got[5] == defs[3], "shapes: the same overlay: alike");
    /* the memory state file, and a network image (never alike) */
    defs[N] = snapshot(&specs[1], 1);
    defs[N + 1] = snapshot(&specs[1], 2);
    if (defs[N] && defs[N + 1]) {
        defs[N]->memory = VS_LOC_EXTERNAL;
        defs[N]->memory_file = vs_xstrdup(DIR "/mem");
        ok(!vs_snap_shapes_add(sh, defs[N]), "shapes: a memory state file: not alike");
        free(defs[N + 1]->dom->disks[0].source);
        defs[N + 1]->dom->disks[0].source = vs_xstrdup("nbd://host/export");
        defs[N + 1]->dom->disks[0].type = VS_STORAGE_NETWORK;
        ok(!vs_snap_shapes_add(sh, defs[N + 1]) && !vs_snap_shapes_add(sh, defs[N + 1]),
           "shapes: a network image: never alike, not even itself");
    }
    vs_snap_shapes_free(sh);
    for (i = 0; i < N + 2; i++)
        vs_snapshot_def_free(defs[i]);
}

int
main(void)
{
    size_t i;

    for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        run_shape(&shapes[i]);
    test_shapes();
    return tap_done() + (tap_failed ? 1 : 0);
}
