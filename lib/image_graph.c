/* The image graph: images, backing edges, facts from the headers. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk_source.h"
#include "image_graph.h"
#include "mem.h"
#include "path.h"
#include "qcow2.h"
#include "qemu_img.h"

#define MAX_CHAIN 200          /* libvirt's limit on backing chain depth */
#define MAX_IMAGES 100000

void
vs_graph_clear(vs_graph *g)
{
    size_t i;

    for (i = 0; i < g->n; i++) {
        vs_image *im = &g->v[i];

        free(im->path);
        free(im->fmt);
        free(im->backing);
        free(im->backing_fmt);
        free(im->overlay_target);
        free(im->foreign);
        vs_strv_free(im->tags);
    }
    free(g->v);
    memset(g, 0, sizeof(*g));
}

/* One spelling per image: an absolute path, or a network image's canonical locator. */
static char *
spelling(const char *path)
{
    char *n = vs_path_is_network(path) ? vs_net_locator_normalise(path) : NULL;

    return n ? n : vs_path_absolute(path);
}

long
vs_graph_find(const vs_graph *g, const char *path)
{
    vs_file_id id;
    size_t i;
    char *n;

    if (!path)
        return -1;
    for (i = 0; i < g->n; i++)
        if (strcmp(g->v[i].path, path) == 0)
            return (long)i;
    n = spelling(path);
    for (i = 0; i < g->n; i++)
        if (strcmp(g->v[i].path, n) == 0) {
            free(n);
            return (long)i;
        }
    free(n);
    /* another spelling of a file that is there: a link, "..", a hard link */
    vs_file_id_get(path, &id);
    for (i = 0; id.exists && i < g->n; i++)
        if (vs_file_id_same(&g->v[i].id, &id))
            return (long)i;
    return -1;
}

long
vs_graph_add(vs_graph *g, const char *path, const char *fmt)
{
    long i = vs_graph_find(g, path);
    vs_image *im;

    if (i >= 0) {
        if (!g->v[i].fmt && fmt)
            g->v[i].fmt = vs_xstrdup(fmt);
        return i;
    }
    vs_xgrow(&g->v, &g->cap, g->n, sizeof(*g->v));
    im = &g->v[g->n];
    memset(im, 0, sizeof(*im));
    im->path = spelling(path);
    im->network = vs_path_is_network(im->path);
    if (!im->network)
        vs_file_id_get(im->path, &im->id);
    im->fmt = vs_xstrdup(fmt);
    im->tags = vs_xcalloc(1, sizeof(char *));
    im->overlay_snap = -1;
    im->depth = -1;
    im->empty = -1;
    return (long)g->n++;
}

static unsigned long long
file_size(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    off_t end;

    if (fd < 0)
        return 0;
    end = lseek(fd, 0, SEEK_END);
    close(fd);
    return end > 0 ? (unsigned long long)end : 0;
}

/* The facts of an image header (info is cleared). */
static void
take_header(vs_image *im, vs_image_info *info, const char *default_fmt)
{
    free(im->fmt);
    im->fmt = vs_xstrdup(info->format ? info->format : default_fmt);
    free(im->backing);
    im->backing = info->full_backing_filename ? spelling(info->full_backing_filename) :
                  info->backing_filename ? spelling(info->backing_filename) : NULL;
    free(im->backing_fmt);
    im->backing_fmt = vs_xstrdup(info->backing_format);
    vs_strv_free(im->tags);
    im->tags = info->snapshot_tags ? info->snapshot_tags : vs_xcalloc(1, sizeof(char *));
    info->snapshot_tags = NULL;
    im->vsize = info->virtual_size;
    vs_image_info_clear(info);
}

int
vs_graph_probe(vs_graph *g, long i, vs_error *err)
{
    vs_image *im = &g->v[i];
    vs_image_info info;
    struct stat sb;
    int rc;

    im->probed = true;
    if (im->network) {
        /* never stat'ed: its server says what it is (-U: only read) */
        if (vs_qemu_img_info(im->path, true, &info, err) < 0)
            return -1;
        im->exists = true;
        im->regular = false;
        im->empty = 0;
        take_header(im, &info, "raw");
        return 0;
    }
    if (stat(im->path, &sb) < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            return vs_error_sys(err, errno, "cannot stat image '%s'", im->path);
        im->exists = false;
        return 0;
    }
    im->exists = true;
    im->regular = S_ISREG(sb.st_mode) && !im->device;
    vs_file_id_get(im->path, &im->id);
    rc = vs_qcow2_probe(im->path, &info, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        im->empty = vs_qcow2_is_empty(im->path, NULL) == 1 ? 1 : 0;
    } else if (vs_image_has_magic(im->path)) {
        /* QED: only qemu-img knows it (-U: a running QEMU may hold it;
         * the probe only reads) */
        if (vs_qemu_img_info(im->path, true, &info, err) < 0)
            return -1;
        rc = 1;
        im->empty = 0;
    }
    if (rc == 1) {
        take_header(im, &info, "qcow2");
    } else {
        /* raw, or a format vsnap does not look into: no backing file, no tags */
        if (!im->fmt)
            im->fmt = vs_xstrdup("raw");
        im->vsize = S_ISREG(sb.st_mode) ? (unsigned long long)sb.st_size : file_size(im->path);
        im->empty = 0;
    }
    return 0;
}

static int
chain_depth(vs_graph *g, long i)
{
    long j = i;
    int steps = 0;

    while (j >= 0 && steps <= MAX_CHAIN + 1) {
        if (g->v[j].depth >= 0) {
            steps += g->v[j].depth;
            break;
        }
        j = vs_graph_find(g, g->v[j].backing);
        if (j >= 0)
            steps++;
    }
    g->v[i].depth = steps;
    return steps;
}

int
vs_graph_close_chains(vs_graph *g, bool probe, vs_error *err)
{
    size_t i;

    for (i = 0; i < g->n; i++) {
        if (probe && !g->v[i].probed && vs_graph_probe(g, (long)i, err) < 0)
            return -1;
        if (g->v[i].backing) {
            long j = vs_graph_find(g, g->v[i].backing);

            if (j < 0) {
                if (g->n > MAX_IMAGES)
                    return vs_error_set(err, VS_ERR_OPERATION_FAILED, "too many images");
                j = vs_graph_add(g, g->v[i].backing, g->v[i].backing_fmt);
            }
            /* one spelling per image, so that edges compare as strings */
            if (strcmp(g->v[j].path, g->v[i].backing) != 0) {
                free(g->v[i].backing);
                g->v[i].backing = vs_xstrdup(g->v[j].path);
            }
        }
    }
    for (i = 0; i < g->n; i++)
        g->v[i].depth = -1;
    for (i = 0; i < g->n; i++)
        if (chain_depth(g, (long)i) > MAX_CHAIN)
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "the backing chain of image '%s' is longer than %d images or loops",
                                g->v[i].path, MAX_CHAIN);
    return 0;
}

void
vs_graph_depths(vs_graph *g)
{
    size_t i;

    for (i = 0; i < g->n; i++)
        g->v[i].depth = g->v[i].gone ? 0 : -1;
    for (i = 0; i < g->n; i++)
        if (g->v[i].depth < 0)
            chain_depth(g, (long)i);
}

size_t
vs_graph_uppers(const vs_graph *g, long i, long **out)
{
    size_t j, n = 0;

    *out = vs_xcalloc(g->n + 1, sizeof(**out));
    for (j = 0; j < g->n; j++) {
        const vs_image *u = &g->v[j];

        if ((long)j != i && !u->gone && u->exists && u->backing &&
            strcmp(u->backing, g->v[i].path) == 0)
            (*out)[n++] = (long)j;
    }
    return n;
}

static int
by_depth_desc(const void *a, const void *b, void *ctx)
{
    const vs_graph *g = ctx;
    long ia = *(const long *)a, ib = *(const long *)b;
    int da = g->v[ia].depth, db = g->v[ib].depth;

    return da != db ? db - da : (ia > ib) - (ia < ib);
}

long *
vs_graph_depth_order(vs_graph *g, bool desc)
{
    long *o = vs_xcalloc(g->n + 1, sizeof(*o));
    size_t i;

    for (i = 0; i < g->n; i++)
        o[i] = (long)i;
    qsort_r(o, g->n, sizeof(*o), by_depth_desc, g);
    if (!desc) {
        for (i = 0; i < g->n / 2; i++) {
            long t = o[i];

            o[i] = o[g->n - 1 - i];
            o[g->n - 1 - i] = t;
        }
    }
    return o;
}

bool
vs_image_has_tag(const vs_image *im, const char *tag)
{
    char **t;

    for (t = im->tags; t && *t; t++)
        if (strcmp(*t, tag) == 0)
            return true;
    return false;
}

void
vs_image_drop_tag(vs_image *im, const char *tag)
{
    size_t i, j;

    for (i = j = 0; im->tags && im->tags[i]; i++) {
        if (strcmp(im->tags[i], tag) == 0)
            free(im->tags[i]);
        else
            im->tags[j++] = im->tags[i];
    }
    if (im->tags)
        im->tags[j] = NULL;
}

#define TMP_MARK ".vsnap-"
#define UUID_LEN 36

char *
vs_tmp_image_name(const char *image, const char *uuid)
{
    return vs_xasprintf("%s" TMP_MARK "%s", image, uuid ? uuid : "new");
}

char *
vs_tmp_image_owner(const char *name)
{
    const char *base = strrchr(name, '/'), *mark, *u;
    size_t i;

    base = base ? base + 1 : name;
    if (!(mark = strstr(base, TMP_MARK)))
        return NULL;
    /* the last mark: an image name may hold the text too */
    while ((u = strstr(mark + 1, TMP_MARK)))
        mark = u;
    u = mark + strlen(TMP_MARK);
    if (strcmp(u, "new") == 0)
        return vs_xstrdup("");
    if (strlen(u) != UUID_LEN)
        return NULL;
    for (i = 0; i < UUID_LEN; i++) {
        char c = u[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return NULL;
    }
    return vs_xstrdup(u);
}
