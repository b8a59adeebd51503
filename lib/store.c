/* The metadata directory: domains, snapshot files, current, the derived index. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "failpoint.h"
#include "mem.h"
#include "path.h"
#include "store.h"

#define DIR_MODE 0700
#define FILE_MODE 0600
#define INDEX_MAGIC "vsnap-index 1"
/* The index of a domain with a million snapshots is well below this. */
#define INDEX_MAX_SIZE ((size_t)512 * 1024 * 1024)
#define SMALL_FILE_MAX 4096

static long long
ts_ns(const struct timespec *ts)
{
    return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static char *
snapdir_path(const vs_dom *d)
{
    return vs_path_join(d->dir, "snapshots");
}

static char *
dom_file(const vs_dom *d, const char *name)
{
    return vs_path_join(d->dir, name);
}

char *
vs_dom_snapshot_path(const vs_dom *d, const char *name)
{
    return vs_xasprintf("%s/snapshots/%s.xml", d->dir, name);
}

static int
no_snapshot(vs_error *err, const char *name)
{
    return vs_error_set(err, VS_ERR_NO_SNAPSHOT, "no domain snapshot with matching name '%s'", name);
}

static int
no_domain(vs_error *err, const char *name)
{
    return vs_error_set(err, VS_ERR_NO_DOMAIN, "no domain with matching name '%s'", name);
}

/* define and undefine must not run over an interrupted operation: its
 * journal names files that only its repair may keep or remove. */
static int
refuse_interrupted(const char *dir, const char *name, const char *what, vs_error *err)
{
    char *path = vs_path_join(dir, "journal");
    bool yes = vs_file_exists(path);

    free(path);
    if (!yes)
        return 0;
    return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                        "cannot %s domain '%s': it has an interrupted snapshot operation; run "
                        "'vsnap snapshot-check %s --repair' to finish or roll it back first",
                        what, name, name);
}

/* ---- store ---------------------------------------------------------- */

vs_store *
vs_store_open(const char *root, vs_error *err)
{
    vs_store *st;

    if (!root || !*root) {
        vs_error_set(err, VS_ERR_INVALID_ARG, "metadata directory must not be empty");
        return NULL;
    }
    st = vs_xcalloc(1, sizeof(*st));
    st->root = vs_xstrdup(root);
    st->lock_wait = 30;
    return st;
}

void
vs_store_free(vs_store *st)
{
    if (!st)
        return;
    free(st->root);
    free(st);
}

static bool
domain_exists(const char *dir)
{
    char *p = vs_path_join(dir, "domain.xml");
    bool ok = vs_is_regular_file(p);

    free(p);
    return ok;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
vs_store_list_domains(vs_store *st, char ***names, vs_error *err)
{
    char **v = vs_xcalloc(1, sizeof(*v));
    size_t n = 0;
    DIR *dir;
    struct dirent *de;

    *names = NULL;
    if (!(dir = opendir(st->root))) {
        if (errno == ENOENT) {
            *names = v;
            return 0;
        }
        free(v);
        return vs_error_sys(err, errno, "cannot read directory '%s'", st->root);
    }
    while ((de = readdir(dir))) {
        char *sub;

        if (vs_name_check("domain", de->d_name, NULL) < 0)
            continue;
        sub = vs_path_join(st->root, de->d_name);
        if (domain_exists(sub)) {
            v = vs_xreallocarray(v, n + 2, sizeof(*v));
            v[n++] = vs_xstrdup(de->d_name);
            v[n] = NULL;
        }
        free(sub);
    }
    closedir(dir);
    qsort(v, n, sizeof(*v), cmp_str);
    *names = v;
    return 0;
}

static vs_domain_def *
read_domain_file(const char *dir, vs_error *err)
{
    char *path = vs_path_join(dir, "domain.xml");
    char *data;
    size_t len;
    vs_domain_def *def = NULL;

    if (vs_file_read(path, VS_XML_MAX_SIZE, &data, &len, err) == 0) {
        def = vs_domain_def_parse(data, len, path, err);
        free(data);
    }
    free(path);
    return def;
}

static int
write_domain_file(const char *dir, const vs_domain_def *def, vs_error *err)
{
    vs_buf b = VS_BUF_INIT;
    char *path = vs_path_join(dir, "domain.xml");
    int ret;

    vs_domain_def_format(&b, def, 0, true, NULL);
    vs_buf_addc(&b, '\n');
    ret = vs_file_write_atomic(path, b.data, b.len, FILE_MODE, err);
    vs_buf_reset(&b);
    free(path);
    return ret;
}

/* libvirt refuses a second domain with the same uuid under another name. */
static int
check_uuid_unique(vs_store *st, const vs_domain_def *def, vs_error *err)
{
    char **names;
    size_t i;
    int ret = 0;

    if (vs_store_list_domains(st, &names, err) < 0)
        return -1;
    for (i = 0; names[i] && ret == 0; i++) {
        char *dir;
        vs_domain_def *other;

        if (strcmp(names[i], def->name) == 0)
            continue;
        dir = vs_path_join(st->root, names[i]);
        /* A broken definition elsewhere must not block this one. */
        other = read_domain_file(dir, NULL);
        if (other && other->uuid && def->uuid && strcasecmp(other->uuid, def->uuid) == 0)
            ret = vs_error_set(err, VS_ERR_OPERATION_FAILED,
                               "domain '%s' is already defined with uuid %s", names[i], def->uuid);
        vs_domain_def_free(other);
        free(dir);
    }
    vs_strv_free(names);
    return ret;
}

/*
 * Lock <dir>/lock. A waiter may get the lock of a domain that was undefined
 * (its directory renamed away and removed) meanwhile: then the file it holds
 * is no longer the one at the path, and it must not think it owns the domain.
 */
static int
lock_domain(vs_store *st, const char *dir, const char *name, vs_lock_mode mode, vs_error *err)
{
    char *path = vs_path_join(dir, "lock");
    int fd = -1;
    int tries;

    for (tries = 0; tries < 100; tries++) {
        struct stat a, b;

        fd = vs_lock_acquire(path, name, mode, st->lock_wait, err);
        if (fd < 0)
            break;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            if (domain_exists(dir))
                break;
            vs_lock_release(fd);
            fd = no_domain(err, name);
            break;
        }
        vs_lock_release(fd);
        fd = -1;
        if (!domain_exists(dir)) {
            no_domain(err, name);
            break;
        }
    }
    if (tries == 100)
        vs_error_set(err, VS_ERR_INTERNAL, "cannot lock domain '%s'", name);
    free(path);
    return fd;
}

int
vs_store_define(vs_store *st, const vs_domain_def *def, bool *created, vs_error *err)
{
    char *dir = NULL, *lockpath = NULL;
    vs_domain_def *old = NULL;
    int fd = -1, ret = -1;

    if (vs_name_check("domain", def->name, err) < 0)
        return -1;
    if (check_uuid_unique(st, def, err) < 0)
        return -1;
    if (vs_mkdir_p(st->root, DIR_MODE, err) < 0)
        return -1;
    dir = vs_path_join(st->root, def->name);
    if (mkdir(dir, DIR_MODE) < 0 && errno != EEXIST) {
        vs_error_sys(err, errno, "cannot create directory '%s'", dir);
        goto out;
    }
    /* Not lock_domain(): a new domain has no domain.xml yet. */
    lockpath = vs_path_join(dir, "lock");
    if ((fd = vs_lock_acquire(lockpath, def->name, VS_LOCK_EXCLUSIVE, st->lock_wait, err)) < 0)
        goto out;
    if (domain_exists(dir)) {
        if (refuse_interrupted(dir, def->name, "redefine", err) < 0)
            goto out;
        if (!(old = read_domain_file(dir, err)))
            goto out;
        if (old->uuid && def->uuid && strcasecmp(old->uuid, def->uuid) != 0) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain '%s' already exists with uuid %s",
                         def->name, old->uuid);
            goto out;
        }
        if (created)
            *created = false;
    } else if (created) {
        *created = true;
    }
    ret = write_domain_file(dir, def, err);
 out:
    vs_lock_release(fd);
    vs_domain_def_free(old);
    free(lockpath);
    free(dir);
    return ret;
}

/* rm -r below an open directory, never following symlinks. `shown` is the
 * path messages name (the domain directory as the user knows it). */
static int
remove_tree_at(int parent, const char *name, const char *shown, vs_error *err)
{
    int fd;
    DIR *dir;
    struct dirent *de;
    int ret = 0;

    if (unlinkat(parent, name, 0) == 0)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return errno == ENOENT ? 0 : vs_error_sys(err, errno, "cannot remove '%s'", shown);
    if ((fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return vs_error_sys(err, errno, "cannot open '%s'", shown);
    if (!(dir = fdopendir(fd))) {
        close(fd);
        return vs_error_sys(err, errno, "cannot read '%s'", shown);
    }
    while ((de = readdir(dir)) && ret == 0) {
        char *sub;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        sub = vs_path_join(shown, de->d_name);
        ret = remove_tree_at(fd, de->d_name, sub, err);
        free(sub);
    }
    closedir(dir);
    if (ret == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        ret = vs_error_sys(err, errno, "cannot remove '%s'", shown);
    return ret;
}

/* Entries can only be removed from a directory we may write and search:
 * find out before the domain is renamed away, so that a refusal changes
 * nothing (as root this always passes; the removal itself still reports). */
static int
check_removable(const char *dir, vs_error *err)
{
    char *sdir = vs_path_join(dir, "snapshots");
    int ret = 0;

    if (access(dir, W_OK | X_OK) < 0)
        ret = vs_error_sys(err, errno, "cannot remove domain directory '%s'", dir);
    else if (vs_file_exists(sdir) && access(sdir, W_OK | X_OK) < 0)
        ret = vs_error_sys(err, errno, "cannot remove domain directory '%s'", sdir);
    free(sdir);
    return ret;
}

int
vs_store_undefine(vs_store *st, const char *name, bool with_snapshots, vs_error *err)
{
    vs_dom *d;
    vs_snap_tree *t;
    char *base = NULL, *grave = NULL;
    int rootfd = -1, ret = -1;
    unsigned i;

    if (!(d = vs_dom_open(st, name, VS_LOCK_EXCLUSIVE, err)))
        return -1;
    if (refuse_interrupted(d->dir, name, "undefine", err) < 0)
        goto out;
    if (!(t = vs_dom_tree(d, err)))
        goto out;
    if (t->n > 0 && !with_snapshots) {
        vs_error_set(err, VS_ERR_OPERATION_INVALID,
                     "cannot delete inactive domain with %zu snapshots", t->n);
        goto out;
    }
    if (check_removable(d->dir, err) < 0)
        goto out;
    /* Rename first so the domain disappears in one step; a crash part-way
     * through the removal leaves a dot-directory no domain can be named after.
     * Only the start of the name goes into it: a 255-byte name plus the
     * suffix would not fit in a file name. */
    for (i = 0; i < 1000; i++) {
        free(grave);
        grave = vs_xasprintf("%s/.%.64s.undefined.%ld.%u", st->root, name, (long)getpid(), i);
        if (rename(d->dir, grave) == 0)
            break;
        if (errno != EEXIST && errno != ENOTEMPTY) {
            vs_error_sys(err, errno, "cannot remove domain directory '%s'", d->dir);
            goto out;
        }
    }
    if (i == 1000) {
        vs_error_set(err, VS_ERR_INTERNAL, "cannot remove domain directory '%s'", d->dir);
        goto out;
    }
    d->index_dirty = false;   /* nothing left to flush into */
    vs_dir_sync(st->root, NULL);
    if ((rootfd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        vs_error_sys(err, errno, "cannot open '%s'", st->root);
    } else {
        base = vs_xstrdup(strrchr(grave, '/') + 1);
        ret = remove_tree_at(rootfd, base, d->dir, err);
    }
    /* An error must not leave the domain gone: put back what is left. */
    if (ret < 0 && rename(grave, d->dir) == 0)
        vs_dir_sync(st->root, NULL);
 out:
    if (rootfd >= 0)
        close(rootfd);
    free(base);
    free(grave);
    vs_dom_close(d);
    return ret;
}

/* ---- domain --------------------------------------------------------- */

vs_dom *
vs_dom_open(vs_store *st, const char *name, vs_lock_mode mode, vs_error *err)
{
    vs_dom *d;
    char *dir;

    if (vs_name_check("domain", name, err) < 0)
        return NULL;
    dir = vs_path_join(st->root, name);
    if (!domain_exists(dir)) {
        no_domain(err, name);
        free(dir);
        return NULL;
    }
    d = vs_xcalloc(1, sizeof(*d));
    d->store = st;
    d->name = vs_xstrdup(name);
    d->dir = dir;
    d->lock_fd = -1;
    d->lock_mode = VS_LOCK_NONE;
    if (mode != VS_LOCK_NONE) {
        if ((d->lock_fd = lock_domain(st, dir, name, mode, err)) < 0) {
            vs_dom_close(d);
            return NULL;
        }
        d->lock_mode = mode;
    }
    return d;
}

int
vs_dom_relock(vs_dom *d, vs_lock_mode mode, vs_error *err)
{
    if (d->index_dirty)
        vs_dom_flush_index(d, NULL);
    vs_lock_release(d->lock_fd);
    d->lock_fd = -1;
    d->lock_mode = VS_LOCK_NONE;
    /* Whatever was cached may be stale once another command had the domain. */
    vs_domain_def_free(d->def);
    d->def = NULL;
    vs_snap_tree_free(d->tree);
    d->tree = NULL;
    d->tree_stale = false;
    if (mode == VS_LOCK_NONE)
        return 0;
    if ((d->lock_fd = lock_domain(d->store, d->dir, d->name, mode, err)) < 0)
        return -1;
    d->lock_mode = mode;
    return 0;
}

static void damaged_clear(vs_dom *d);

void
vs_dom_close(vs_dom *d)
{
    if (!d)
        return;
    damaged_clear(d);
    vs_dom_batch_end(d, false, NULL);
    /* The index is a cache: failing to write it costs a rebuild later. */
    if (d->index_dirty)
        vs_dom_flush_index(d, NULL);
    vs_lock_release(d->lock_fd);
    vs_domain_def_free(d->def);
    vs_snap_tree_free(d->tree);
    free(d->name);
    free(d->dir);
    free(d);
}

vs_domain_def *
vs_dom_def(vs_dom *d, vs_error *err)
{
    if (!d->def)
        d->def = read_domain_file(d->dir, err);
    return d->def;
}

int
vs_dom_save_def(vs_dom *d, const vs_domain_def *def, vs_error *err)
{
    vs_domain_def *copy;

    if (write_domain_file(d->dir, def, err) < 0)
        return -1;
    copy = vs_domain_def_copy(def);
    vs_domain_def_free(d->def);
    d->def = copy;
    return 0;
}

/* ---- current -------------------------------------------------------- */

char *
vs_dom_current(vs_dom *d)
{
    char *path = dom_file(d, "current");
    char *data = NULL;
    size_t len = 0;

    if (vs_file_read(path, SMALL_FILE_MAX, &data, &len, NULL) < 0) {
        free(path);
        return NULL;
    }
    free(path);
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    /* A damaged file means no current snapshot, never a path outside. */
    if (strlen(data) != len || vs_name_check("snapshot", data, NULL) < 0) {
        free(data);
        return NULL;
    }
    return data;
}

int
vs_dom_set_current(vs_dom *d, const char *name, vs_error *err)
{
    char *path = dom_file(d, "current");
    int ret;

    if (!name) {
        ret = vs_file_remove(path, err);
    } else if (vs_name_check("snapshot", name, err) < 0) {
        ret = -1;
    } else {
        char *text = vs_xasprintf("%s\n", name);

        ret = vs_file_write_atomic(path, text, strlen(text), FILE_MODE, err);
        free(text);
    }
    free(path);
    if (ret == 0 && d->tree)
        d->tree->current = d->tree->inconsistent ? -1 : vs_snap_tree_find(d->tree, name);
    return ret;
}

/* ---- snapshot files ------------------------------------------------- */

static vs_snapshot_def *
parse_snapshot_file(const char *path, const char *name, vs_error *err)
{
    char *data;
    size_t len;
    vs_snapshot_def *def;

    if (vs_file_read(path, VS_XML_MAX_SIZE, &data, &len, err) < 0)
        return NULL;
    def = vs_snapshot_def_parse(data, len, path,
                                VS_SNAP_PARSE_REDEFINE | VS_SNAP_PARSE_ACTIVE_OPTIONAL, 0, err);
    free(data);
    if (def && (!def->name || strcmp(def->name, name) != 0)) {
        vs_error_set(err, VS_ERR_INTERNAL, "snapshot file '%s' holds snapshot '%s'",
                     path, def->name ? def->name : "");
        vs_snapshot_def_free(def);
        return NULL;
    }
    return def;
}

vs_snapshot_def *
vs_dom_read_snapshot(vs_dom *d, const char *name, vs_error *err)
{
    char *path;
    vs_snapshot_def *def;
    vs_error local;

    /* Such a name can never have been stored. */
    if (vs_name_check("snapshot", name, NULL) < 0) {
        no_snapshot(err, name);
        return NULL;
    }
    path = vs_dom_snapshot_path(d, name);
    vs_error_clear(&local);
    def = parse_snapshot_file(path, name, &local);
    if (!def) {
        if (local.code == VS_ERR_SYSTEM && local.sys_errno == ENOENT)
            no_snapshot(err, name);
        else if (err)
            *err = local;
    }
    free(path);
    return def;
}

bool
vs_dom_has_snapshot(vs_dom *d, const char *name)
{
    char *path;
    bool ok;

    if (vs_name_check("snapshot", name, NULL) < 0)
        return false;
    /* The tree, not the file: a file the tree skips (unparseable, wrong
     * <name>) is a snapshot no other command can see, so it must not make
     * create say "already exists" while info says "not found". */
    if (d->tree || vs_dom_tree(d, NULL))
        return vs_snap_tree_find(d->tree, name) >= 0;
    path = vs_dom_snapshot_path(d, name);
    ok = vs_is_regular_file(path);
    free(path);
    return ok;
}

static long long
dir_mtime(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? ts_ns(&st.st_mtim) : 0;
}

/* From this many files on a batch syncs the file system once (syncfs)
 * instead of each file. */
#define BATCH_SYNCFS_MIN 16

static int
fsync_file(const char *path, vs_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), ret = 0;

    if (fd < 0)
        return vs_error_sys(err, errno, "cannot open '%s'", path);
    if (fsync(fd) < 0)
        ret = vs_error_sys(err, errno, "cannot sync '%s'", path);
    close(fd);
    return ret;
}

/* The files of a batch waiting for vs_dom_batch_end. */
typedef struct vs_dom_batch {
    char **tmp;              /* the new file, beside... */
    char **path;             /* ... its place */
    char **name;             /* the snapshot */
    size_t n, cap;
    bool removed;            /* something was unlinked: the directory needs a sync */
} vs_dom_batch;

void
vs_dom_batch_begin(vs_dom *d)
{
    if (!d->batch)
        d->batch = vs_xcalloc(1, sizeof(*d->batch));
}

int
vs_dom_batch_end(vs_dom *d, bool commit, vs_error *err)
{
    vs_dom_batch *b = d->batch;
    char *sdir;
    size_t i = 0;
    int ret = 0;

    if (!b)
        return 0;
    d->batch = NULL;
    sdir = snapdir_path(d);
    /* Data first, then the names: each file is old or new after a crash.
     * A few files are synced one by one; many at once with one syncfs,
     * which costs what the file system has pending, not a sync per file. */
    if (commit && b->n >= BATCH_SYNCFS_MIN) {
        if (vs_fs_sync(sdir, err) < 0) {
            commit = false;
            ret = -1;
        }
    } else {
        for (i = 0; commit && i < b->n; i++) {
            if (fsync_file(b->tmp[i], err) < 0) {
                commit = false;
                ret = -1;
            }
        }
        i = 0;
    }
    for (i = 0; commit && i < b->n; i++) {
        struct stat st;
        long k;

        /* tests: a crash (or failure) between two renames of a batch */
        if (vs_failpoint("store-batch")) {
            ret = vs_error_set(err, VS_ERR_INTERNAL, "failpoint store-batch");
            break;
        }
        if (rename(b->tmp[i], b->path[i]) < 0) {
            ret = vs_error_sys(err, errno, "cannot replace '%s'", b->path[i]);
            break;
        }
        if (d->tree && (k = vs_snap_tree_find(d->tree, b->name[i])) >= 0 &&
            stat(b->path[i], &st) == 0) {
            d->tree->e[k].file_mtime = ts_ns(&st.st_mtim);
            d->tree->e[k].file_size = (long long)st.st_size;
        }
    }
    if ((b->n || b->removed) && ret == 0 && vs_dir_sync(sdir, err) < 0)
        ret = -1;
    for (; i < b->n; i++)
        unlink(b->tmp[i]);
    if (ret < 0 || !commit) {
        /* what the tree says may not be on disk */
        vs_snap_tree_free(d->tree);
        d->tree = NULL;
        d->tree_stale = false;
        d->index_dirty = false;
    } else if (d->tree) {
        d->snapdir_mtime = dir_mtime(sdir);
    }
    vs_strv_free(b->tmp);
    vs_strv_free(b->path);
    vs_strv_free(b->name);
    free(b);
    free(sdir);
    return ret;
}

static void
batch_add(vs_dom_batch *b, char *tmp, const char *path, const char *name)
{
    if (b->n + 1 >= b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->tmp = vs_xreallocarray(b->tmp, b->cap, sizeof(*b->tmp));
        b->path = vs_xreallocarray(b->path, b->cap, sizeof(*b->path));
        b->name = vs_xreallocarray(b->name, b->cap, sizeof(*b->name));
    }
    b->tmp[b->n] = tmp;
    b->path[b->n] = vs_xstrdup(path);
    b->name[b->n] = vs_xstrdup(name);
    b->n++;
    b->tmp[b->n] = b->path[b->n] = b->name[b->n] = NULL;
}

int
vs_dom_write_snapshot(vs_dom *d, const vs_snapshot_def *def, vs_error *err)
{
    char *sdir = NULL, *path = NULL, *text = NULL;
    struct stat st;
    int ret = -1;

    if (vs_name_check("snapshot", def->name, err) < 0)
        return -1;
    sdir = snapdir_path(d);
    /* (a batch made sure of the directory with its first file) */
    if ((!d->batch || !d->batch->n) && mkdir(sdir, DIR_MODE) < 0 && errno != EEXIST) {
        vs_error_sys(err, errno, "cannot create directory '%s'", sdir);
        goto out;
    }
    path = vs_dom_snapshot_path(d, def->name);
    text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
    /* Every reader caps a snapshot file at VS_XML_MAX_SIZE: a bigger file
     * would be a snapshot that can be neither shown nor deleted. */
    if (strlen(text) > VS_XML_MAX_SIZE) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED,
                     "metadata of snapshot '%s' would take %zu bytes, more than the %d bytes "
                     "a snapshot file may have",
                     def->name, strlen(text), VS_XML_MAX_SIZE);
        goto out;
    }
    if (d->batch) {
        char *tmp;

        if (vs_file_write_temp(path, text, strlen(text), FILE_MODE, false, &tmp, err) < 0)
            goto out;
        batch_add(d->batch, tmp, path, def->name);
    } else if (vs_file_write_atomic(path, text, strlen(text), FILE_MODE, err) < 0) {
        goto out;
    }
    if (d->tree) {
        vs_snap_entry e;

        vs_snap_entry_from_def(&e, def);
        /* a batched file is not in place yet: vs_dom_batch_end records it */
        if (!d->batch && stat(path, &st) == 0) {
            e.file_mtime = ts_ns(&st.st_mtim);
            e.file_size = (long long)st.st_size;
        }
        vs_snap_tree_update(d->tree, &e);
        d->tree_stale = true;
        d->index_dirty = true;
        if (!d->batch)   /* vs_dom_batch_end takes it */
            d->snapdir_mtime = dir_mtime(sdir);
    }
    ret = 0;
 out:
    free(text);
    free(path);
    free(sdir);
    return ret;
}

int
vs_dom_remove_snapshot(vs_dom *d, const char *name, vs_error *err)
{
    char *path, *sdir;
    bool in_tree = d->tree && vs_snap_tree_find(d->tree, name) >= 0;

    if (vs_name_check("snapshot", name, NULL) < 0)
        return no_snapshot(err, name);
    path = vs_dom_snapshot_path(d, name);
    if (!in_tree && !vs_file_exists(path)) {
        free(path);
        return no_snapshot(err, name);
    }
    if (d->batch) {
        /* the directory is synced once, at vs_dom_batch_end */
        if (vs_failpoint("store-batch")) {
            free(path);
            return vs_error_set(err, VS_ERR_INTERNAL, "failpoint store-batch");
        }
        if (unlink(path) < 0 && errno != ENOENT) {
            vs_error_sys(err, errno, "cannot remove '%s'", path);
            free(path);
            return -1;
        }
        d->batch->removed = true;
    } else if (vs_file_remove(path, err) < 0) {
        free(path);
        return -1;
    }
    free(path);
    if (d->tree) {
        vs_snap_tree_remove(d->tree, name);
        d->tree_stale = true;
        d->index_dirty = true;
        if (!d->batch) {   /* vs_dom_batch_end takes it */
            sdir = snapdir_path(d);
            d->snapdir_mtime = dir_mtime(sdir);
            free(sdir);
        }
    }
    return 0;
}

/* ---- the index ------------------------------------------------------ */

/*
 * One line per snapshot, fields separated by TAB (names cannot hold control
 * characters):
 *   name  parent-or-empty  ctime  state  flags  file-mtime-ns  file-size
 * flags: 'e' external or '-', then 'l' location external or '-'.
 */

typedef struct index_data {
    char *buf;               /* the file, cut into strings in place */
    long long dir_mtime;
    size_t count;            /* from the header */
    long long written;       /* the index file's own mtime (ns) */
    bool complete;           /* header parsed and count matches the lines */
} index_data;

/* Decimal, optionally negative; the whole string. (strtoll showed up in
 * profiles: three numbers a line, ten thousand lines.) */
static bool
parse_ll(const char *s, long long *v)
{
    unsigned long long x = 0;
    bool neg = *s == '-';

    if (neg)
        s++;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (unsigned long long)LLONG_MAX / 10)
            return false;
        x = x * 10 + (unsigned long long)(*s - '0');
    }
    if (x > (unsigned long long)LLONG_MAX)
        return false;
    *v = neg ? -(long long)x : (long long)x;
    return true;
}

static char *
next_field(char **p, char sep)
{
    char *s = *p, *e;

    if (!s)
        return NULL;
    e = strchr(s, sep);
    if (e) {
        *e = '\0';
        *p = e + 1;
    } else {
        *p = NULL;
    }
    return s;
}

/* Parse one line (without its '\n') into e; strings point into line. */
static bool
index_line(char *line, vs_snap_entry *e)
{
    char *p = line;
    char *f[7];
    int i, st;

    for (i = 0; i < 6; i++)
        if (!(f[i] = next_field(&p, '\t')))
            return false;
    if (!p || strchr(p, '\t'))
        return false;
    f[6] = p;
    memset(e, 0, sizeof(*e));
    /* The index can be damaged or edited: names from it later build paths. */
    if (!*f[0] || f[0][0] == '.' || strchr(f[0], '/') || strlen(f[0]) > VS_NAME_MAX)
        return false;
    e->name = f[0];
    e->parent = *f[1] ? f[1] : NULL;
    if (!parse_ll(f[2], &e->creation_time))
        return false;
    if ((st = vs_snap_state_parse(f[3])) < 0)
        return false;
    e->state = (vs_snap_state)st;
    if (strlen(f[4]) != 2)
        return false;
    e->external = f[4][0] == 'e';
    e->location_external = f[4][1] == 'l';
    return parse_ll(f[5], &e->file_mtime) && parse_ll(f[6], &e->file_size);
}

/* Read the index into `t` (strings borrowed from idx->buf). False when there
 * is none or it is unusable; whatever lines parsed are still in t. */
static bool
index_load(const vs_dom *d, vs_snap_tree *t, index_data *idx)
{
    char *path = dom_file(d, "index");
    struct stat st;
    char *p, *line;
    size_t len, n = 0;
    long long hdr_mtime, hdr_count;
    int fd;
    bool ok = false;

    memset(idx, 0, sizeof(*idx));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    free(path);
    if (fd < 0)
        return false;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > INDEX_MAX_SIZE) {
        close(fd);
        return false;
    }
    idx->written = ts_ns(&st.st_mtim);
    len = (size_t)st.st_size;
    idx->buf = vs_xmalloc(len + 1);
    {
        size_t got = 0;

        while (got < len) {
            ssize_t r = read(fd, idx->buf + got, len - got);

            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        len = got;
    }
    close(fd);
    idx->buf[len] = '\0';
    if (strlen(idx->buf) != len)
        return false;

    p = idx->buf;
    line = next_field(&p, '\n');
    if (!line || sscanf(line, INDEX_MAGIC " %lld %lld", &hdr_mtime, &hdr_count) != 2 ||
        hdr_count < 0 || strncmp(line, INDEX_MAGIC " ", sizeof(INDEX_MAGIC)) != 0)
        return false;
    idx->dir_mtime = hdr_mtime;
    idx->count = (size_t)hdr_count;
    if (idx->count <= len / 8)
        vs_snap_tree_reserve(t, idx->count);
    ok = true;
    while (p && *p) {
        char *end = strchr(p, '\n');
        vs_snap_entry e;

        if (!end) {        /* truncated last line */
            ok = false;
            break;
        }
        *end = '\0';
        line = p;
        p = end + 1;
        if (!index_line(line, &e) || vs_snap_tree_find(t, e.name) >= 0) {
            ok = false;
            continue;
        }
        vs_snap_tree_add_borrowed(t, &e);
        n++;
    }
    idx->complete = ok && n == idx->count;
    return true;
}

static void
index_format_line(vs_buf *b, const vs_snap_entry *e)
{
    char num[96];
    int len;

    vs_buf_add(b, e->name);
    vs_buf_addc(b, '\t');
    if (e->parent)
        vs_buf_add(b, e->parent);
    len = snprintf(num, sizeof(num), "\t%lld\t", e->creation_time);
    vs_buf_addn(b, num, (size_t)len);
    vs_buf_add(b, vs_snap_state_name(e->state));
    len = snprintf(num, sizeof(num), "\t%c%c\t%lld\t%lld\n", e->external ? 'e' : '-',
                   e->location_external ? 'l' : '-', e->file_mtime, e->file_size);
    vs_buf_addn(b, num, (size_t)len);
}

/*
 * File times come from a clock that only ticks every few milliseconds. A
 * change to snapshots/ in the same tick as the mtime the index records would
 * leave that mtime unchanged, so an index is trusted only when it was written
 * in a later tick (vs_dom_tree checks this). Waiting out the rest of the tick
 * here, at most a few milliseconds and only when the index changed, keeps the
 * next listing on the fast path.
 */
static void
wait_past(long long mtime_ns)
{
    int i;

    for (i = 0; i < 25; i++) {
        struct timespec now, pause = { 0, 1000 * 1000 };

#ifdef CLOCK_REALTIME_COARSE
        clock_gettime(CLOCK_REALTIME_COARSE, &now);
#else
        clock_gettime(CLOCK_REALTIME, &now);
#endif
        if (ts_ns(&now) > mtime_ns)
            return;
        nanosleep(&pause, NULL);
    }
}

int
vs_dom_flush_index(vs_dom *d, vs_error *err)
{
    vs_buf b = VS_BUF_INIT;
    char *path;
    long long recorded;
    long *order;
    size_t i;
    int ret;

    if (!d->tree || !d->index_dirty)
        return 0;
    /* The mtime the tree matches, taken before it was read or right after
     * our own last change; if the directory changed behind our back since,
     * the header will not match it and the next load checks the files. */
    recorded = d->snapdir_mtime;
    vs_buf_addf(&b, INDEX_MAGIC " %lld %zu\n", recorded, d->tree->n);
    /* In listing order, so that a listing loaded from it needs no sort. */
    order = vs_xmalloc((d->tree->n ? d->tree->n : 1) * sizeof(*order));
    for (i = 0; i < d->tree->n; i++)
        order[i] = (long)i;
    vs_snap_tree_sort_by_name(d->tree, order, d->tree->n);
    for (i = 0; i < d->tree->n; i++)
        index_format_line(&b, &d->tree->e[order[i]]);
    free(order);
    wait_past(recorded);
    path = dom_file(d, "index");
    ret = vs_file_write_atomic(path, b.data, b.len, FILE_MODE, err);
    free(path);
    vs_buf_reset(&b);
    if (ret == 0)
        d->index_dirty = false;
    return ret;
}

static bool
ends_with_xml(const char *s, size_t *base_len)
{
    size_t n = strlen(s);

    if (n <= 4 || strcmp(s + n - 4, ".xml") != 0)
        return false;
    *base_len = n - 4;
    return true;
}

/*
 * List snapshots/ and build the tree: entries of `old` whose file is
 * unchanged (same mtime and size, and older than the index, so not
 * possibly rewritten within the same clock tick) are reused, every other
 * file is parsed. Reused strings stay in `old_buf`, which `t` adopts.
 */
static int
rebuild(vs_dom *d, const char *sdir, const vs_snap_tree *old, const index_data *idx,
        vs_snap_tree *t, vs_error *err)
{
    DIR *dir;
    struct dirent *de;
    int dfd;

    if (!(dir = opendir(sdir)))
        return vs_error_sys(err, errno, "cannot read directory '%s'", sdir);
    dfd = dirfd(dir);
    vs_snap_tree_reserve(t, old->n);
    while ((de = readdir(dir))) {
        struct stat st;
        size_t blen;
        char *name, *path;
        long o;
        vs_snapshot_def *def;
        vs_snap_entry e;

        if (de->d_name[0] == '.' || !ends_with_xml(de->d_name, &blen))
            continue;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        name = vs_xstrndup(de->d_name, blen);
        if (vs_name_check("snapshot", name, NULL) < 0) {
            free(name);
            continue;
        }
        o = vs_snap_tree_find(old, name);
        if (o >= 0 && old->e[o].file_mtime == ts_ns(&st.st_mtim) &&
            old->e[o].file_size == (long long)st.st_size &&
            old->e[o].file_mtime < idx->written) {
            vs_snap_tree_add_borrowed(t, &old->e[o]);
            free(name);
            continue;
        }
        path = vs_path_join(sdir, de->d_name);
        def = parse_snapshot_file(path, name, NULL);
        d->tree_parsed++;
        if (def) {
            vs_snap_entry_from_def(&e, def);
            e.file_mtime = ts_ns(&st.st_mtim);
            e.file_size = (long long)st.st_size;
            vs_snap_tree_update(t, &e);
            vs_snapshot_def_free(def);
        }
        free(path);
        free(name);
    }
    closedir(dir);
    return 0;
}

vs_snap_tree *
vs_dom_tree(vs_dom *d, vs_error *err)
{
    char *sdir, *cur;
    struct stat st;
    vs_snap_tree *old, *t;
    index_data idx;

    if (d->tree) {
        if (d->tree_stale) {
            cur = vs_dom_current(d);
            vs_snap_tree_link(d->tree, cur, NULL);
            free(cur);
            d->tree_stale = false;
        }
        return d->tree;
    }

    d->tree_from_index = false;
    d->tree_parsed = 0;
    sdir = snapdir_path(d);
    /* The directory's mtime is taken before anything is read, so a change
     * made while we read shows up as a newer mtime next time. */
    if (stat(sdir, &st) < 0) {
        if (errno != ENOENT) {
            vs_error_sys(err, errno, "cannot access '%s'", sdir);
            free(sdir);
            return NULL;
        }
        free(sdir);
        d->snapdir_mtime = 0;
        d->tree = vs_snap_tree_new();
        d->tree_from_index = true;
        goto link;
    }
    d->snapdir_mtime = ts_ns(&st.st_mtim);

    old = vs_snap_tree_new();
    if (index_load(d, old, &idx) && idx.complete && idx.dir_mtime == d->snapdir_mtime &&
        idx.written > idx.dir_mtime) {
        vs_snap_tree_adopt(old, idx.buf);
        d->tree = old;
        d->tree_from_index = true;
        free(sdir);
        goto link;
    }
    t = vs_snap_tree_new();
    if (rebuild(d, sdir, old, &idx, t, err) < 0) {
        vs_snap_tree_free(t);
        vs_snap_tree_free(old);
        free(idx.buf);
        free(sdir);
        return NULL;
    }
    /* Reused entries point into the old index text. */
    if (idx.buf)
        vs_snap_tree_adopt(t, idx.buf);
    vs_snap_tree_free(old);
    free(sdir);
    d->tree = t;
    d->index_dirty = true;

 link:
    cur = vs_dom_current(d);
    vs_snap_tree_link(d->tree, cur, NULL);
    free(cur);
    d->tree_stale = false;
    return d->tree;
}

/* ---- the files the plan code needs (spine) -------------------------- */

int
vs_dom_journal_load(vs_dom *d, char **text, size_t *len, vs_error *err)
{
    char *path = dom_file(d, "journal");
    vs_error local;
    int ret = 0;

    *text = NULL;
    *len = 0;
    vs_error_clear(&local);
    if (vs_file_read(path, (size_t)256 << 20, text, len, &local) < 0) {
        if (!(local.code == VS_ERR_SYSTEM && local.sys_errno == ENOENT)) {
            if (err)
                *err = local;
            ret = -1;
        }
        *text = NULL;
    }
    free(path);
    return ret;
}

int
vs_dom_journal_store(vs_dom *d, const char *text, size_t len, vs_error *err)
{
    char *path = dom_file(d, "journal");
    int ret = vs_file_write_atomic(path, text, len, FILE_MODE, err);

    free(path);
    return ret;
}

int
vs_dom_journal_remove(vs_dom *d, vs_error *err)
{
    char *path = dom_file(d, "journal");
    int ret = vs_file_remove(path, err);

    free(path);
    return ret;
}

bool
vs_dom_journal_exists(vs_dom *d)
{
    char *path = dom_file(d, "journal");
    bool yes = vs_file_exists(path);

    free(path);
    return yes;
}

int
vs_dom_registry_load(vs_dom *d, char ***paths, vs_error *err)
{
    char *path = dom_file(d, "overlays"), *data = NULL, *line, *save = NULL;
    size_t len = 0;
    vs_error local;

    *paths = vs_xcalloc(1, sizeof(char *));
    vs_error_clear(&local);
    if (vs_file_read(path, (size_t)64 << 20, &data, &len, &local) < 0) {
        free(path);
        if (local.code == VS_ERR_SYSTEM && local.sys_errno == ENOENT)
            return 0;
        if (err)
            *err = local;
        return -1;
    }
    for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (line[0] == '/')
            vs_strv_push(paths, line);
    free(data);
    free(path);
    return 0;
}

int
vs_dom_registry_store(vs_dom *d, char *const *paths, vs_error *err)
{
    char *path = dom_file(d, "overlays");
    vs_buf b = VS_BUF_INIT;
    size_t i;
    int ret;

    for (i = 0; paths && paths[i]; i++)
        vs_buf_addf(&b, "%s\n", paths[i]);
    if (b.len == 0)
        ret = vs_file_remove(path, err);
    else
        ret = vs_file_write_atomic(path, b.data, b.len, FILE_MODE, err);
    vs_buf_reset(&b);
    free(path);
    return ret;
}

static void
damaged_clear(vs_dom *d)
{
    size_t i;

    for (i = 0; i < d->ndamaged; i++) {
        free(d->damaged[i].file);
        free(d->damaged[i].reason);
    }
    free(d->damaged);
    d->damaged = NULL;
    d->ndamaged = 0;
    d->damaged_loaded = false;
}

size_t
vs_dom_damaged(vs_dom *d, const vs_snap_damage **out, vs_error *err)
{
    char *sdir;
    DIR *dir;
    struct dirent *de;
    vs_snap_tree *t;

    *out = NULL;
    if (!(t = vs_dom_tree(d, err)))
        return 0;
    damaged_clear(d);
    d->damaged_loaded = true;
    sdir = snapdir_path(d);
    if ((dir = opendir(sdir))) {
        while ((de = readdir(dir))) {
            size_t blen;
            char *name;

            if (de->d_name[0] == '.' || !ends_with_xml(de->d_name, &blen))
                continue;
            name = vs_xstrndup(de->d_name, blen);
            if (vs_snap_tree_find(t, name) < 0) {
                char *path = vs_path_join(sdir, de->d_name);
                vs_error e;
                vs_snapshot_def *def;
                struct stat st;

                vs_error_clear(&e);
                if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
                    vs_error_set(&e, VS_ERR_PLAIN, "it is not a regular file");
                else if ((def = parse_snapshot_file(path, name, &e)))
                    vs_snapshot_def_free(def), vs_error_set(&e, VS_ERR_PLAIN, "it changed");
                d->damaged = vs_xreallocarray(d->damaged, d->ndamaged + 1, sizeof(*d->damaged));
                d->damaged[d->ndamaged].file = vs_xstrdup(de->d_name);
                d->damaged[d->ndamaged].reason = vs_xstrdup(e.msg);
                d->ndamaged++;
                free(path);
            }
            free(name);
        }
        closedir(dir);
    }
    free(sdir);
    *out = d->damaged;
    return d->ndamaged;
}

void
vs_dom_forget(vs_dom *d)
{
    if (d->index_dirty)
        vs_dom_flush_index(d, NULL);
    vs_domain_def_free(d->def);
    d->def = NULL;
    vs_snap_tree_free(d->tree);
    d->tree = NULL;
    d->tree_stale = false;
}

bool
vs_dom_snapshot_file_exists(vs_dom *d, const char *name)
{
    char *path;
    bool yes;

    if (vs_name_check("snapshot", name, NULL) < 0)
        return false;
    path = vs_dom_snapshot_path(d, name);
    yes = vs_file_exists(path);
    free(path);
    return yes;
}
