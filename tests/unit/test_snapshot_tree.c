/* snapshot_tree.c: linking, selection, orders and virsh's --tree rendering. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "path.h"
#include "snapshot_tree.h"
#include "tap.h"
#include "testenv.h"
#include "../../cmd/print.h"

/* ---- helpers ---------------------------------------------------------- */

static void
add(vs_snap_tree *t, const char *name, const char *parent, long long ctime,
    vs_snap_state state, bool external)
{
    vs_snap_entry e;

    memset(&e, 0, sizeof(e));
    e.name = (char *)name;
    e.parent = (char *)parent;
    e.creation_time = ctime;
    e.state = state;
    e.external = external;
    vs_snap_tree_add(t, &e);
}

/* "a b c" from an index list. */
static char *
names(const vs_snap_tree *t, const long *idx, size_t n)
{
    vs_buf b = VS_BUF_INIT;
    size_t i;

    for (i = 0; i < n; i++) {
        if (i)
            vs_buf_addc(&b, ' ');
        vs_buf_add(&b, t->e[idx[i]].name);
    }
    return vs_buf_steal(&b);
}

static char *
sel_names(const vs_snap_tree *t, long from, unsigned flags)
{
    long *sel;
    size_t n = vs_snap_tree_select(t, from, flags, &sel);
    char *s = names(t, sel, n);

    free(sel);
    return s;
}

/* A selection drawn as snapshot-list --tree draws it (cmd/print.c), with
 * the hierarchy vs_snap_tree_selection_parents gives it. */
static char *
render(const vs_snap_tree *t, long from, unsigned flags)
{
    vs_buf b = VS_BUF_INIT;
    long *sel, *up;
    const char **nm;
    size_t n = vs_snap_tree_select(t, from, flags, &sel), k;

    up = vs_xmalloc((n + 1) * sizeof(*up));
    nm = vs_xcalloc(n + 1, sizeof(*nm));
    vs_snap_tree_selection_parents(t, sel, n, up);
    for (k = 0; k < n; k++)
        nm[k] = t->e[sel[k]].name;
    vs_tree_draw(nm, up, n, &b, NULL);
    free(nm);
    free(up);
    free(sel);
    return vs_buf_steal(&b);
}

/* The whole tree (from < 0), or `from` and all its descendants. */
static void
tree_render(const vs_snap_tree *t, long from, vs_buf *b)
{
    char *s = render(t, from, from >= 0 ? VS_LIST_DESCENDANTS | VS_LIST_TREE_ROOT : 0);

    vs_buf_add(b, s);
    free(s);
}

#define IS_SEL(t, from, flags, want, ...) do { \
    char *got_ = sel_names(t, from, flags); \
    is_str(got_, want, __VA_ARGS__); \
    free(got_); \
} while (0)

/*
 * The stdout of command [num] in a virsh transcript, without virsh's extra
 * per-command newline. NULL when the reference is not available.
 */
static char *
transcript_stdout(const char *file, int num)
{
    const char *ref = testenv_reference();
    char *path, *data, *marker, *p, *end, *out = NULL;
    size_t len;
    vs_error err;

    if (!ref)
        return NULL;
    path = vs_xasprintf("%s/virsh-transcripts/%s", ref, file);
    if (vs_file_read(path, 1 << 24, &data, &len, &err) < 0) {
        printf("# %s\n", err.msg);
        free(path);
        return NULL;
    }
    marker = vs_xasprintf("==> [%d] ", num);
    if ((p = strstr(data, marker)) && (p = strstr(p, "--- stdout ---\n")) &&
        (end = strstr(p, "--- stderr ---\n"))) {
        p += strlen("--- stdout ---\n");
        if (end > p && end[-1] == '\n')
            end--;
        out = vs_xstrndup(p, (size_t)(end - p));
    }
    free(marker);
    free(data);
    free(path);
    return out;
}

/* Compare with the embedded expectation, and that with the transcript. */
static void
check_render(const char *got, const char *want, const char *file, int num, const char *what)
{
    char *ts = transcript_stdout(file, num);

    is_str(got, want, "%s renders as virsh does", what);
    /* Cross-check: the expectation written here is the transcript's. */
    if (testenv_reference())
        is_str(want, ts, "cross-check: %s: expectation matches %s [%d]", what, file, num);
    free(ts);
}

/* ---- trees from the transcripts ------------------------------------- */

/* 02-tree-branches [9]: created root, a1, a2, (revert root) b1, b2, (revert b1) c1, same second. */
static vs_snap_tree *
tree02(void)
{
    vs_snap_tree *t = vs_snap_tree_new();

    add(t, "root", NULL, 1795626232, VS_STATE_RUNNING, false);
    add(t, "a1", "root", 1795626232, VS_STATE_RUNNING, false);
    add(t, "a2", "a1", 1795626232, VS_STATE_RUNNING, false);
    add(t, "b1", "root", 1795626232, VS_STATE_RUNNING, false);
    add(t, "b2", "b1", 1795626232, VS_STATE_RUNNING, false);
    add(t, "c1", "b1", 1795626232, VS_STATE_RUNNING, false);
    vs_snap_tree_link(t, "c1", NULL);
    return t;
}

static void
test_transcript02(void)
{
    vs_snap_tree *t = tree02();
    long root = vs_snap_tree_find(t, "root"), b1 = vs_snap_tree_find(t, "b1");
    long a2 = vs_snap_tree_find(t, "a2");
    char *s;

    ok(t->current == vs_snap_tree_find(t, "c1") && !t->inconsistent, "02: current c1, consistent");
    IS_SEL(t, -1, 0, "a1 a2 b1 b2 c1 root", "02 [10]: plain list sorted by name");
    IS_SEL(t, -1, VS_LIST_TOPOLOGICAL, "root b1 c1 b2 a1 a2", "02 [11]: --topological");
    IS_SEL(t, -1, VS_LIST_ROOTS, "root", "02 [12]: --roots");
    IS_SEL(t, -1, VS_LIST_LEAVES, "a2 b2 c1", "02 [13]: --leaves");
    IS_SEL(t, -1, VS_LIST_NO_LEAVES, "a1 b1 root", "02 [14]: --no-leaves");
    IS_SEL(t, -1, VS_LIST_LEAVES | VS_LIST_NO_LEAVES, "", "--leaves --no-leaves: nothing (10-errors [38])");
    IS_SEL(t, root, 0, "a1 b1", "02 [16]: --from root");
    IS_SEL(t, root, VS_LIST_DESCENDANTS, "a1 a2 b1 b2 c1", "02 [17]: --from root --descendants");
    IS_SEL(t, b1, VS_LIST_DESCENDANTS, "b2 c1", "02 [20]: --from b1 --descendants");
    IS_SEL(t, root, VS_LIST_DESCENDANTS | VS_LIST_LEAVES, "a2 b2 c1", "02 [21]: --descendants --leaves");
    IS_SEL(t, a2, 0, "", "02 [22]: --from a leaf");
    IS_SEL(t, root, VS_LIST_DESCENDANTS | VS_LIST_TOPOLOGICAL, "b1 c1 b2 a1 a2",
           "--from root --descendants --topological: pre-order, newest sibling first");
    IS_SEL(t, root, VS_LIST_TOPOLOGICAL, "b1 a1", "--from root --topological: children newest first");
    IS_SEL(t, root, VS_LIST_TREE_ROOT | VS_LIST_TOPOLOGICAL, "root b1 a1", "TREE_ROOT puts from first");
    IS_SEL(t, root, VS_LIST_TREE_ROOT, "a1 b1 root", "TREE_ROOT, name order");

    s = render(t, -1, 0);
    check_render(s, "root\n  |\n  +- a1\n  |   |\n  |   +- a2\n  |     \n  +- b1\n      |\n"
                 "      +- b2\n      +- c1\n        \n", "02-tree-branches.txt", 9, "02 [9] --tree");
    free(s);
    s = render(t, root, VS_LIST_TREE_ROOT);
    check_render(s, "root\n  |\n  +- a1\n  +- b1\n    \n", "02-tree-branches.txt", 18,
                 "02 [18] --from root --tree");
    free(s);
    s = render(t, b1, VS_LIST_TREE_ROOT | VS_LIST_DESCENDANTS);
    check_render(s, "b1\n  |\n  +- b2\n  +- c1\n    \n", "02-tree-branches.txt", 19,
                 "02 [19] --from b1 --descendants --tree");
    free(s);
    {
        vs_buf b = VS_BUF_INIT;

        tree_render(t, b1, &b);
        is_str(vs_buf_str(&b), "b1\n  |\n  +- b2\n  +- c1\n    \n", "vs_snap_tree_render(from) = subtree");
        vs_buf_reset(&b);
    }

    /* [33] b3 created under b2 (current then) */
    add(t, "b3", "b2", 1795626232, VS_STATE_RUNNING, false);
    vs_snap_tree_link(t, "b3", NULL);
    s = render(t, -1, 0);
    check_render(s, "root\n  |\n  +- a1\n  |   |\n  |   +- a2\n  |     \n  +- b1\n      |\n"
                 "      +- b2\n      |   |\n      |   +- b3\n      |     \n      +- c1\n        \n",
                 "02-tree-branches.txt", 34, "02 [34] --tree");
    free(s);
    {
        vs_buf b = VS_BUF_INIT;

        tree_render(t, -1, &b);
        ok(b.data && strstr(b.data, "+- b3"), "vs_snap_tree_render(-1) = whole tree");
        vs_buf_reset(&b);
    }
    vs_snap_tree_free(t);
}

static void
test_transcript01(void)
{
    vs_snap_tree *t = vs_snap_tree_new();
    char *s;

    s = render(t, -1, 0);
    check_render(s, "", "01-create-list-info.txt", 3, "01 [3] empty --tree");
    free(s);
    add(t, "s1", NULL, 1795626230, VS_STATE_RUNNING, false);
    add(t, "s2", "s1", 1795626230, VS_STATE_RUNNING, false);
    add(t, "s3", "s2", 1795626230, VS_STATE_RUNNING, false);
    add(t, "s4", "s3", 1795626230, VS_STATE_RUNNING, false);
    vs_snap_tree_link(t, "s4", NULL);
    s = render(t, -1, 0);
    check_render(s, "s1\n  |\n  +- s2\n      |\n      +- s3\n          |\n          +- s4\n            \n",
                 "01-create-list-info.txt", 10, "01 [10] chain --tree");
    free(s);
    IS_SEL(t, -1, VS_LIST_TOPOLOGICAL, "s1 s2 s3 s4", "01 [15]: --topological chain");
    IS_SEL(t, vs_snap_tree_find(t, "s2"), 0, "s3", "01 [18]: --from s2");
    IS_SEL(t, vs_snap_tree_find(t, "s4"), 0, "", "01 [17]: --current (s4) has no children");
    vs_snap_tree_free(t);
}

static void
test_transcript07(void)
{
    vs_snap_tree *t = vs_snap_tree_new();
    long long c = 1795626240;
    char *s;

    add(t, "root", NULL, c, VS_STATE_RUNNING, false);
    add(t, "a", "root", c, VS_STATE_RUNNING, false);
    add(t, "a1", "a", c, VS_STATE_RUNNING, false);
    add(t, "a2", "a", c, VS_STATE_RUNNING, false);
    add(t, "b", "root", c, VS_STATE_RUNNING, false);
    add(t, "b1", "b", c, VS_STATE_RUNNING, false);
    add(t, "b1x", "b1", c, VS_STATE_RUNNING, false);
    add(t, "c", "root", c, VS_STATE_RUNNING, false);
    add(t, "c1", "c", c, VS_STATE_RUNNING, false);
    add(t, "c2", "c1", c, VS_STATE_RUNNING, false);
    vs_snap_tree_link(t, "c2", NULL);
    s = render(t, -1, 0);
    check_render(s, "root\n  |\n  +- a\n  |   |\n  |   +- a1\n  |   +- a2\n  |     \n  +- b\n"
                 "  |   |\n  |   +- b1\n  |       |\n  |       +- b1x\n  |         \n  +- c\n"
                 "      |\n      +- c1\n          |\n          +- c2\n            \n",
                 "07-delete.txt", 14, "07 [14] --tree");
    free(s);

    /* delete a1; delete a (a2 re-parented to root); delete b --children */
    vs_snap_tree_remove(t, "a1");
    vs_snap_tree_link(t, "c2", NULL);
    ok(vs_snap_tree_reparent_children(t, vs_snap_tree_find(t, "a")) == 1, "delete a: one child moves");
    vs_snap_tree_remove(t, "a");
    vs_snap_tree_remove(t, "b1x");
    vs_snap_tree_remove(t, "b1");
    vs_snap_tree_remove(t, "b");
    vs_snap_tree_link(t, "c2", NULL);
    is_str(t->e[vs_snap_tree_find(t, "a2")].parent, "root", "a2's parent is now root");
    s = render(t, -1, 0);
    check_render(s, "root\n  |\n  +- a2\n  +- c\n      |\n      +- c1\n          |\n          +- c2\n            \n",
                 "07-delete.txt", 19, "07 [19] --tree after deletes");
    free(s);
    vs_snap_tree_remove(t, "c2");
    vs_snap_tree_remove(t, "c1");
    vs_snap_tree_link(t, "c", NULL);
    s = render(t, -1, 0);
    check_render(s, "root\n  |\n  +- a2\n  +- c\n    \n", "07-delete.txt", 21, "07 [21] --tree");
    free(s);
    vs_snap_tree_remove(t, "c");
    vs_snap_tree_remove(t, "a2");
    vs_snap_tree_link(t, NULL, NULL);
    s = render(t, -1, 0);
    check_render(s, "root\n\n", "07-delete.txt", 29, "07 [29] lone root --tree");
    free(s);
    vs_snap_tree_free(t);
}

static void
test_transcript08b(void)
{
    vs_snap_tree *t = vs_snap_tree_new();
    char *s;

    /* redefined child before parent: only links matter */
    add(t, "r3", "r2", 1795626236, VS_STATE_RUNNING, false);
    add(t, "r2", "r1", 1795626236, VS_STATE_RUNNING, false);
    add(t, "r1", NULL, 1795626236, VS_STATE_RUNNING, false);
    vs_snap_tree_link(t, "r3", NULL);
    s = render(t, -1, 0);
    check_render(s, "r1\n  |\n  +- r2\n      |\n      +- r3\n        \n", "08b-redefine.txt", 6,
                 "08b [6] --tree");
    free(s);
    vs_snap_tree_free(t);
}

/* The libvirt test tree quoted in virsh-behaviour.md A.6. */
static void
test_doc_example(void)
{
    vs_snap_tree *t = vs_snap_tree_new();
    char *s;

    add(t, "s1", NULL, 1, VS_STATE_RUNNING, false);
    add(t, "s3", "s1", 3, VS_STATE_RUNNING, false);
    add(t, "s2", "s3", 2, VS_STATE_RUNNING, false);
    add(t, "s6", "s3", 6, VS_STATE_RUNNING, false);
    add(t, "s4", "s6", 4, VS_STATE_RUNNING, false);
    add(t, "s5", "s6", 5, VS_STATE_RUNNING, false);
    add(t, "s7", "s1", 7, VS_STATE_RUNNING, false);
    add(t, "s8", "s7", 8, VS_STATE_RUNNING, false);
    vs_snap_tree_link(t, NULL, NULL);
    s = render(t, -1, 0);
    is_str(s, "s1\n  |\n  +- s3\n  |   |\n  |   +- s2\n  |   +- s6\n  |       |\n  |       +- s4\n"
           "  |       +- s5\n  |         \n  +- s7\n      |\n      +- s8\n        \n",
           "A.6 example renders with its whitespace-only lines");
    free(s);
    /* --tree --topological keeps libvirt's sibling order */
    s = render(t, -1, VS_LIST_TOPOLOGICAL);
    is_str(s, "s1\n  |\n  +- s7\n  |   |\n  |   +- s8\n  |     \n  +- s3\n      |\n      +- s6\n"
           "      |   |\n      |   +- s5\n      |   +- s4\n      |     \n      +- s2\n        \n",
           "--tree --topological: newest sibling first");
    free(s);
    IS_SEL(t, -1, VS_LIST_TOPOLOGICAL, "s1 s7 s8 s3 s6 s5 s4 s2", "creation time decides sibling order");
    vs_snap_tree_free(t);
}

static void
test_multiple_roots(void)
{
    vs_snap_tree *t = vs_snap_tree_new();
    char *s;

    add(t, "Beta", NULL, 10, VS_STATE_SHUTOFF, false);
    add(t, "alpha", NULL, 20, VS_STATE_SHUTOFF, false);
    add(t, "c", "alpha", 30, VS_STATE_SHUTOFF, false);
    add(t, "gamma", NULL, 5, VS_STATE_SHUTOFF, false);
    vs_snap_tree_link(t, NULL, NULL);
    IS_SEL(t, -1, 0, "alpha Beta c gamma", "sort is case-insensitive ASCII");
    IS_SEL(t, -1, VS_LIST_ROOTS, "alpha Beta gamma", "--roots");
    IS_SEL(t, -1, VS_LIST_ROOTS | VS_LIST_TOPOLOGICAL, "alpha Beta gamma", "--roots --topological: newest first");
    s = render(t, -1, 0);
    is_str(s, "alpha\n  |\n  +- c\n    \nBeta\n\ngamma\n\n", "several roots, name order, each closed");
    free(s);
    vs_snap_tree_free(t);

    t = vs_snap_tree_new();
    add(t, "A", NULL, 1, VS_STATE_SHUTOFF, false);
    add(t, "a", NULL, 1, VS_STATE_SHUTOFF, false);
    add(t, "B", NULL, 1, VS_STATE_SHUTOFF, false);
    vs_snap_tree_link(t, NULL, NULL);
    IS_SEL(t, -1, 0, "A a B", "names equal but for case: stable bytewise tie-break");
    vs_snap_tree_free(t);
}

/* ---- filters -------------------------------------------------------- */

static void
test_filters(void)
{
    vs_snap_tree *t = vs_snap_tree_new();
    unsigned all_status = VS_LIST_INACTIVE | VS_LIST_ACTIVE | VS_LIST_DISK_ONLY;

    add(t, "off", NULL, 1, VS_STATE_SHUTOFF, false);
    add(t, "run", "off", 2, VS_STATE_RUNNING, false);
    add(t, "pause", "run", 3, VS_STATE_PAUSED, true);
    add(t, "disk", "off", 4, VS_STATE_DISK_SNAPSHOT, true);
    add(t, "crash", "disk", 5, VS_STATE_CRASHED, false);
    vs_snap_tree_link(t, NULL, NULL);

    IS_SEL(t, -1, VS_LIST_INACTIVE, "off", "--inactive = shutoff");
    IS_SEL(t, -1, VS_LIST_ACTIVE, "crash pause run", "--active = neither shutoff nor disk-snapshot");
    IS_SEL(t, -1, VS_LIST_DISK_ONLY, "disk", "--disk-only = disk-snapshot");
    IS_SEL(t, -1, VS_LIST_INACTIVE | VS_LIST_DISK_ONLY, "disk off", "status flags are OR-ed");
    IS_SEL(t, -1, VS_LIST_ACTIVE | VS_LIST_INACTIVE, "crash off pause run", "--active --inactive");
    IS_SEL(t, -1, all_status, "crash disk off pause run", "all status flags = no filter");
    IS_SEL(t, -1, VS_LIST_INTERNAL, "crash off run", "--internal");
    IS_SEL(t, -1, VS_LIST_EXTERNAL, "disk pause", "--external");
    IS_SEL(t, -1, VS_LIST_INTERNAL | VS_LIST_EXTERNAL, "crash disk off pause run", "--internal --external");
    IS_SEL(t, -1, VS_LIST_METADATA, "crash disk off pause run", "--metadata: all have metadata");
    IS_SEL(t, -1, VS_LIST_NO_METADATA, "", "--no-metadata: none");
    IS_SEL(t, -1, VS_LIST_METADATA | VS_LIST_NO_METADATA, "crash disk off pause run", "both metadata flags");
    IS_SEL(t, -1, VS_LIST_LEAVES | VS_LIST_EXTERNAL, "pause", "groups combine with AND");
    IS_SEL(t, -1, VS_LIST_NO_LEAVES | VS_LIST_ACTIVE, "run", "--no-leaves --active");
    IS_SEL(t, vs_snap_tree_find(t, "off"), VS_LIST_DESCENDANTS | VS_LIST_EXTERNAL, "disk pause",
           "filters apply below --from");
    IS_SEL(t, vs_snap_tree_find(t, "off"), VS_LIST_TREE_ROOT | VS_LIST_EXTERNAL, "disk off",
           "from itself is never filtered out");
    vs_snap_tree_free(t);
}

/* ---- linking -------------------------------------------------------- */

static void
test_link(void)
{
    vs_snap_tree *t = vs_snap_tree_new();
    bool bad = false;
    long x, y, z, *kids;
    size_t n;

    add(t, "x", NULL, 100, VS_STATE_SHUTOFF, false);
    add(t, "y", "x", 200, VS_STATE_SHUTOFF, false);
    add(t, "z", "y", 300, VS_STATE_SHUTOFF, false);
    add(t, "w", "x", 50, VS_STATE_SHUTOFF, false);
    vs_snap_tree_link(t, "z", &bad);
    x = vs_snap_tree_find(t, "x");
    y = vs_snap_tree_find(t, "y");
    z = vs_snap_tree_find(t, "z");
    ok(!bad && t->current == z, "consistent tree keeps current");
    ok(t->e[y].parent_idx == x && t->e[z].parent_idx == y && t->e[x].parent_idx == -1, "parent links");
    ok(t->e[x].nchildren == 2 && t->e[y].nchildren == 1 && t->e[z].nchildren == 0, "child counts");
    ok(vs_snap_tree_descendants(t, x) == 3 && vs_snap_tree_descendants(t, z) == 0, "descendant counts");
    n = vs_snap_tree_collect_descendants(t, x, &kids);
    {
        char *s = names(t, kids, n);

        is_str(s, "y z w", "collect_descendants: pre-order, parents first, newest first");
        free(s);
    }
    free(kids);
    ok(vs_snap_tree_is_ancestor(t, x, z) && vs_snap_tree_is_ancestor(t, z, z) &&
       !vs_snap_tree_is_ancestor(t, z, x) && !vs_snap_tree_is_ancestor(t, vs_snap_tree_find(t, "w"), z),
       "is_ancestor");
    n = vs_snap_tree_children(t, x, &kids);
    {
        char *s = names(t, kids, n);

        is_str(s, "y w", "children of x, newest first");
        free(s);
    }
    free(kids);
    n = vs_snap_tree_children(t, -1, &kids);
    ok(n == 1 && kids[0] == x, "children(-1) are the roots");
    free(kids);
    vs_snap_tree_link(t, "nosuch", &bad);
    ok(!bad && t->current == -1, "unknown current name: none");

    /* re-parenting helpers */
    vs_snap_tree_set_parent(t, z, "x");
    vs_snap_tree_link(t, NULL, NULL);
    ok(t->e[z].parent_idx == x && t->e[x].nchildren == 3, "set_parent moves z under x");
    vs_snap_tree_set_parent(t, z, NULL);
    vs_snap_tree_link(t, NULL, NULL);
    ok(t->e[z].parent_idx == -1 && t->e[z].parent == NULL, "set_parent(NULL) makes a root");
    vs_snap_tree_set_parent(t, z, "y");
    vs_snap_tree_link(t, NULL, NULL);
    ok(vs_snap_tree_reparent_children(t, y) == 1, "reparent_children counts");
    vs_snap_tree_remove(t, "y");
    vs_snap_tree_link(t, NULL, NULL);
    z = vs_snap_tree_find(t, "z");
    x = vs_snap_tree_find(t, "x");
    ok(t->e[z].parent_idx == x && strcmp(t->e[z].parent, "x") == 0, "child of a removed node goes to its parent");
    n = vs_snap_tree_children(t, vs_snap_tree_find(t, "z"), &kids);
    ok(n == 0 && kids == NULL, "no children: NULL");
    /* removing entries keeps current pointing at the same snapshot, or none */
    vs_snap_tree_link(t, "z", NULL);
    ok(t->n == 3 && t->current == 2, "current is the last entry");
    vs_snap_tree_remove(t, "x");
    ok(t->current >= 0 && strcmp(t->e[t->current].name, "z") == 0,
       "current follows its entry when the last one moves");
    vs_snap_tree_set_parent(t, vs_snap_tree_find(t, "z"), NULL);   /* x is gone */
    vs_snap_tree_set_parent(t, vs_snap_tree_find(t, "w"), NULL);
    vs_snap_tree_link(t, "w", NULL);
    ok(t->current == (long)t->n - 1, "current is the last entry again (%ld of %zu, %s)", t->current, t->n,
       t->inconsistent ? "inconsistent" : "consistent");
    vs_snap_tree_remove(t, "w");
    ok(t->current == -1, "removing the current (last) entry clears current");
    vs_snap_tree_free(t);

    /* missing parent */
    t = vs_snap_tree_new();
    add(t, "a", NULL, 1, VS_STATE_SHUTOFF, false);
    add(t, "b", "gone", 2, VS_STATE_SHUTOFF, false);
    vs_snap_tree_link(t, "a", &bad);
    ok(bad && t->inconsistent, "missing parent is inconsistent");
    ok(t->e[vs_snap_tree_find(t, "b")].parent_idx == -1, "... and makes a root");
    ok(t->current == -1, "... and no snapshot is current (B.6)");
    IS_SEL(t, -1, VS_LIST_ROOTS, "a b", "both are roots");
    vs_snap_tree_free(t);

    /* cycles: a two-cycle hanging below a root, and a self-parent */
    t = vs_snap_tree_new();
    add(t, "r", NULL, 1, VS_STATE_SHUTOFF, false);
    add(t, "p", "q", 2, VS_STATE_SHUTOFF, false);
    add(t, "q", "p", 3, VS_STATE_SHUTOFF, false);
    add(t, "k", "q", 4, VS_STATE_SHUTOFF, false);
    add(t, "self", "self", 5, VS_STATE_SHUTOFF, false);
    vs_snap_tree_link(t, "r", &bad);
    ok(bad && t->current == -1, "cycle is inconsistent, no current");
    ok(t->e[vs_snap_tree_find(t, "p")].parent_idx == -1, "smallest name of the cycle becomes a root");
    ok(t->e[vs_snap_tree_find(t, "q")].parent_idx == vs_snap_tree_find(t, "p"), "rest of the cycle stays below it");
    ok(t->e[vs_snap_tree_find(t, "self")].parent_idx == -1, "self-parent becomes a root");
    IS_SEL(t, -1, VS_LIST_TOPOLOGICAL, "self p q k r", "every node is reachable after breaking cycles");
    vs_snap_tree_free(t);
}

/* ---- the map, at size ----------------------------------------------- */

static void
test_scale(void)
{
    vs_snap_tree *t = vs_snap_tree_new();
    char name[32], parent[32];
    int i, bad = 0;
    size_t n;
    long *sel;
    struct timespec t0, t1;
    double ms;

    for (i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "snap-%05d", i);
        /* a bushy tree: parent is i/3 */
        snprintf(parent, sizeof(parent), "snap-%05d", i / 3);
        add(t, name, i ? parent : NULL, 1000 + i, VS_STATE_SHUTOFF, false);
    }
    ok(t->n == 10000, "10,000 entries");
    for (i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "snap-%05d", i);
        if (vs_snap_tree_find(t, name) < 0 || strcmp(t->e[vs_snap_tree_find(t, name)].name, name) != 0)
            bad++;
    }
    ok(bad == 0 && vs_snap_tree_find(t, "snap-10000") < 0, "every name found, others not");
    /* remove every third, then check the map still answers for all */
    for (i = 0; i < 10000; i += 3) {
        snprintf(name, sizeof(name), "snap-%05d", i);
        vs_snap_tree_remove(t, name);
    }
    bad = 0;
    for (i = 0; i < 10000; i++) {
        long idx;

        snprintf(name, sizeof(name), "snap-%05d", i);
        idx = vs_snap_tree_find(t, name);
        if ((i % 3 == 0) != (idx < 0) || (idx >= 0 && strcmp(t->e[idx].name, name) != 0))
            bad++;
    }
    ok(bad == 0 && t->n == 6666, "map consistent after 3,334 removals");
    for (i = 0; i < 10000; i += 3) {
        snprintf(name, sizeof(name), "snap-%05d", i);
        snprintf(parent, sizeof(parent), "snap-%05d", i / 3);
        add(t, name, i ? parent : NULL, 1000 + i, VS_STATE_SHUTOFF, false);
    }
    ok(t->n == 10000, "re-added");

    clock_gettime(CLOCK_MONOTONIC, &t0);
    vs_snap_tree_link(t, NULL, NULL);
    n = vs_snap_tree_select(t, -1, 0, &sel);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ok(n == 10000 && strcmp(t->e[sel[0]].name, "snap-00000") == 0 &&
       strcmp(t->e[sel[9999]].name, "snap-09999") == 0, "sorted selection of 10,000");
    ok(ms < 500, "link + sort of 10,000 took %.1f ms", ms);
    free(sel);
    ok(vs_snap_tree_descendants(t, vs_snap_tree_find(t, "snap-00000")) == 9999, "all below the root");
    vs_snap_tree_free(t);

    /* a 10,000-deep chain must not blow the stack */
    t = vs_snap_tree_new();
    for (i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        snprintf(parent, sizeof(parent), "c%d", i - 1);
        add(t, name, i ? parent : NULL, i, VS_STATE_SHUTOFF, false);
    }
    vs_snap_tree_link(t, "c9999", NULL);
    n = vs_snap_tree_select(t, 0, VS_LIST_DESCENDANTS | VS_LIST_TOPOLOGICAL, &sel);
    ok(n == 9999 && strcmp(t->e[sel[9998]].name, "c9999") == 0, "deep chain pre-order");
    free(sel);
    {
        vs_buf b = VS_BUF_INIT;
        long last = vs_snap_tree_find(t, "c9999");

        tree_render(t, t->e[t->e[last].parent_idx].parent_idx, &b);
        is_str(vs_buf_str(&b), "c9997\n  |\n  +- c9998\n      |\n      +- c9999\n        \n",
               "render from deep inside a chain");
        vs_buf_reset(&b);
    }
    vs_snap_tree_free(t);
}

/* Creation sequence numbers decide the sibling order, whatever the times
 * and names; entries without one come after, as before. */
static void
add_seq(vs_snap_tree *t, const char *name, const char *parent, long long ctime,
        unsigned long long seq)
{
    vs_snap_entry e;

    memset(&e, 0, sizeof(e));
    e.name = (char *)name;
    e.parent = (char *)parent;
    e.creation_time = ctime;
    e.state = VS_STATE_SHUTOFF;
    e.seq = seq;
    vs_snap_tree_add(t, &e);
}

static void
test_seq_order(void)
{
    vs_snap_tree *t = vs_snap_tree_new(), *u;
    char *s;

    /* virsh's transcript 02 shape, every snapshot in the same second, names
     * chosen so that name order would give another answer */
    add_seq(t, "root", NULL, 100, 1);
    add_seq(t, "z1", "root", 100, 2);
    add_seq(t, "z2", "z1", 100, 3);
    add_seq(t, "b1", "root", 100, 4);
    add_seq(t, "y2", "b1", 100, 5);
    add_seq(t, "a3", "b1", 100, 6);
    vs_snap_tree_link(t, NULL, NULL);
    IS_SEL(t, -1, VS_LIST_TOPOLOGICAL, "root b1 a3 y2 z1 z2",
           "same second: siblings newest first by creation sequence");
    /* a later number wins over an earlier creation time (a clock step back) */
    add_seq(t, "late", "root", 50, 7);
    /* unnumbered siblings come last, by time then name, newest first */
    add_seq(t, "old1", "root", 90, 0);
    add_seq(t, "old2", "root", 90, 0);
    add_seq(t, "old0", "root", 95, 0);
    vs_snap_tree_link(t, NULL, NULL);
    IS_SEL(t, -1, VS_LIST_TOPOLOGICAL, "root late b1 a3 y2 z1 z2 old0 old2 old1",
           "numbered siblings first, then unnumbered by time and name");
    IS_SEL(t, -1, 0, "a3 b1 late old0 old1 old2 root y2 z1 z2", "the name listing is unchanged");

    /* replace: the new contents under the old pointer, borrowed strings kept */
    u = vs_snap_tree_new();
    {
        long i;

        for (i = 0; i < (long)t->n; i++)
            vs_snap_tree_add_borrowed(u, &t->e[i]);
    }
    vs_snap_tree_remove(u, "late");
    vs_snap_tree_replace(t, u);
    vs_snap_tree_link(t, NULL, NULL);
    IS_SEL(t, -1, VS_LIST_TOPOLOGICAL, "root b1 a3 y2 z1 z2 old0 old2 old1",
           "replace: the tree holds the new contents, strings still valid");
    add_seq(t, "more", "a3", 1, 9);
    vs_snap_tree_link(t, NULL, NULL);
    s = sel_names(t, vs_snap_tree_find(t, "a3"), 0);
    is_str(s, "more", "replace: the tree still grows");
    free(s);
    vs_snap_tree_free(t);
}

int
main(void)
{
    test_transcript02();
    test_transcript01();
    test_transcript07();
    test_transcript08b();
    test_doc_example();
    test_multiple_roots();
    test_filters();
    test_link();
    test_scale();
    test_seq_order();
    if (!testenv_reference())
        testenv_skip_cross_checks();
    return tap_done() || tap_failed != 0;
}
