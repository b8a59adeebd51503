/* The metadata directory: domains, snapshot files, current, the derived index,
 * the journal and the overlay registry, every one opened through the layout
 * table relative to the root's directory descriptor (store.h). */
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
#include "snapshot_scan.h"
#include "store.h"
#include "store_index.h"

#define DIR_MODE 0700
#define FILE_MODE 0600
/* The index of a domain with a million snapshots is well below this. */
#define INDEX_MAX_SIZE ((size_t)512 * 1024 * 1024)
#define SMALL_FILE_MAX 4096
#define JOURNAL_MAX ((size_t)256 * 1024 * 1024)
#define REGISTRY_MAX ((size_t)64 * 1024 * 1024)
#define SEQ_PI_PREFIX "<?" VS_SNAPSHOT_SEQ_PI " "

const vs_dom_layout_entry vs_dom_layout[VS_DOM_NENTRIES] = {
    [VS_DOM_DEFINITION] = { "domain.xml", false, true, false,
                            "the persistent definition, as dumpxml --security-info prints it" },
    [VS_DOM_SNAPSHOTS]  = { "snapshots", true, false, false,
                            "one <name>.xml per snapshot, as snapshot-dumpxml --security-info "
                            "prints it, after a <?vsnap-seq N?> line" },
    [VS_DOM_CURRENT]    = { "current", false, false, false,
                            "name of the current snapshot and a newline; absent = none" },
    [VS_DOM_INDEX]      = { "index", false, false, true,
                            "derived listing cache; rebuilt from snapshots/ when stale" },
    [VS_DOM_LOCK]       = { "lock", false, false, false, "flock(2) target" },
    [VS_DOM_JOURNAL]    = { "journal", false, false, false,
                            "the plan of an operation in progress (JSON)" },
    [VS_DOM_REGISTRY]   = { "overlays", false, false, false,
                            "overlays vsnap made that no <disks> names any more, one path a line" },
    [VS_DOM_MANAGED_SAVE] = { "managed.save", false, false, false,
                            "the managed-save image (libvirt's save-image format), if any" },
    [VS_DOM_AUTOSTART]  = { "autostart", false, false, false,
                            "empty; present = the domain is started at boot (autostart)" },
    [VS_DOM_RUN]        = { "run", true, false, false,
                            "a running domain's pid file, monitor and agent sockets, state, "
                            "log and definition as it runs (domain_run.c)" },
};

/* Every entry of the enum has its row: a row left out would open "(null)". */
_Static_assert(sizeof(vs_dom_layout) / sizeof(vs_dom_layout[0]) == VS_DOM_NENTRIES,
               "vs_dom_layout has one row per vs_dom_entry");

static const char *
entry_name(vs_dom_entry e)
{
    return vs_dom_layout[e].name;
}

static long long
ts_ns(const struct timespec *ts)
{
    return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

char *
vs_dom_entry_path(const vs_dom *d, vs_dom_entry e)
{
    return vs_path_join(d->dir, entry_name(e));
}

char *
vs_dom_snapshot_path(const vs_dom *d, const char *name)
{
    return vs_xasprintf("%s/%s/%s" VS_SNAPSHOT_FILE_SUFFIX, d->dir, entry_name(VS_DOM_SNAPSHOTS),
                        name);
}

/* "<name>.xml" (caller frees). */
static char *
snapshot_file(const char *name)
{
    return vs_xasprintf("%s" VS_SNAPSHOT_FILE_SUFFIX, name);
}

static char *
snapdir_shown(const vs_dom *d)
{
    return vs_dom_entry_path(d, VS_DOM_SNAPSHOTS);
}

/* The shown path of file (an entry of snapshots/). */
static char *
snapfile_shown(const vs_dom *d, const char *file)
{
    return vs_xasprintf("%s/%s/%s", d->dir, entry_name(VS_DOM_SNAPSHOTS), file);
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
refuse_interrupted(bool interrupted, const char *name, const char *what, vs_error *err)
{
    if (!interrupted)
        return 0;
    return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                        "cannot %s domain '%s': it has an interrupted snapshot operation; run "
                        "'vsnap snapshot-check %s --repair' to finish or roll it back first",
                        what, name, name);
}

static int
wrong_type(vs_error *err, const char *shown, bool want_dir)
{
    return vs_error_set(err, VS_ERR_PLAIN, "'%s' is not a %s", shown,
                        want_dir ? "directory" : "regular file");
}

/* Do two descriptors (or a descriptor and an entry) name the same file? */
static bool
same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static bool
entry_is(int dirfd, const char *name, int fd)
{
    struct stat a, b;

    return fstatat(dirfd, name, &a, AT_SYMLINK_NOFOLLOW) == 0 && fstat(fd, &b) == 0 &&
           same_file(&a, &b);
}

static void close_parked(vs_store *st, const char *name);
static void dom_free(vs_dom *d);
static vs_sync sync_mode(vs_dom *d, bool in_snapdir);
static void stale_after_failure(vs_dom *d);
static void link_tree(vs_dom *d);
static void touch(vs_dom *d, const char *name);
static void touched_clear(vs_dom *d);

/* ---- store ---------------------------------------------------------- */

vs_store *
vs_store_open(const char *root, unsigned flags, vs_error *err)
{
    vs_store *st;

    if (!root || !*root) {
        vs_error_set(err, VS_ERR_INVALID_ARG, "metadata directory must not be empty");
        return NULL;
    }
    st = vs_xcalloc(1, sizeof(*st));
    /* Absolute from the start: QEMU's command line names files in run/ by
     * this path, and `cd` in a command string must not move the store. */
    st->root = vs_path_absolute(root);
    st->lock_wait = 30;
    st->flags = flags;
    return st;
}

void
vs_store_free(vs_store *st)
{
    if (!st)
        return;
    st->hold = 0;
    vs_store_release(st);
    free(st->parked);
    free(st->root);
    free(st);
}

/*
 * Open the root (following a link: the admin chose the root); the caller
 * closes it. Opened afresh each time, never cached: a root removed and made
 * again while a shell session runs must not leave vsnap writing into the
 * removed one. With `create` a missing root is made (mode 0700). When it does
 * not exist and the store may be absent, -1 with *absent set and err
 * untouched.
 */
static int
root_open(vs_store *st, bool create, bool *absent, vs_error *err)
{
    struct stat sb;
    int fd;

    if (absent)
        *absent = false;
    fd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (vs_mkdir_p(st->root, DIR_MODE, err) < 0)
            return -1;
        fd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;

        if (stat(st->root, &sb) == 0 && !S_ISDIR(sb.st_mode))
            return vs_error_set(err, VS_ERR_PLAIN, "metadata directory '%s' is not a directory",
                                st->root);
        if (e == ENOENT && lstat(st->root, &sb) < 0) {
            if ((st->flags & VS_STORE_MAY_BE_ABSENT) && absent) {
                *absent = true;
                return -1;
            }
            return vs_error_set(err, VS_ERR_PLAIN,
                                "metadata directory '%s' does not exist; only define creates it",
                                st->root);
        }
        return vs_error_sys(err, e, "cannot open metadata directory '%s'", st->root);
    }
    return fd;
}

/*
 * Open entry `name` of dirfd as a directory, never through a link. A missing
 * entry: -1 with errno ENOENT and err untouched.
 */
static int
open_dir_at(int dirfd, const char *name, const char *shown, vs_error *err)
{
    struct stat sb;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd >= 0)
        return fd;
    if (errno == ENOENT)
        return -1;
    if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(sb.st_mode))
            vs_link_error(err, shown);
        else if (!S_ISDIR(sb.st_mode))
            wrong_type(err, shown, true);
        else
            vs_error_sys(err, errno, "cannot open '%s'", shown);
    } else {
        vs_error_sys(err, errno, "cannot open '%s'", shown);
    }
    errno = EINVAL;   /* anything but ENOENT: err says what */
    return -1;
}

/*
 * Check the entries of the layout present in the domain directory dfd: a
 * link or an entry of the wrong type is an error. *has_def tells whether
 * domain.xml is there.
 */
static int
check_layout(int dfd, const char *dir, bool *has_def, vs_error *err)
{
    int e;

    *has_def = false;
    for (e = 0; e < VS_DOM_NENTRIES; e++) {
        const vs_dom_layout_entry *l = &vs_dom_layout[e];
        struct stat sb;
        char *shown;
        int ret = 0;

        if (fstatat(dfd, l->name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            shown = vs_path_join(dir, l->name);
            ret = vs_error_sys(err, errno, "cannot access '%s'", shown);
        } else {
            shown = vs_path_join(dir, l->name);
            if (S_ISLNK(sb.st_mode))
                ret = vs_link_error(err, shown);
            else if (l->directory ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))
                ret = wrong_type(err, shown, l->directory);
            else if (l->required)
                *has_def = true;
        }
        free(shown);
        if (ret < 0)
            return -1;
    }
    return 0;
}

/*
 * Open <root>/<name> (made first when `create`), check its layout and lock
 * it in `mode` (none: no lock). A waiter may get the lock of a directory that
 * was undefined (renamed away) meanwhile: then <root>/<name> is no longer the
 * directory it holds, and it opens the name again. On success *dfd is the
 * domain directory and *lockfd its lock (-1 without one).
 */
static int
dom_attach(vs_store *st, const char *name, bool create, vs_lock_mode mode, int *dfd_out,
           int *lock_out, vs_error *err)
{
    char *dir = vs_path_join(st->root, name), *lockshown = vs_path_join(dir, entry_name(VS_DOM_LOCK));
    bool absent, has_def;
    int rfd, dfd = -1, lfd = -1, tries, ret = -1;

    *dfd_out = *lock_out = -1;
    if ((rfd = root_open(st, create, &absent, err)) < 0) {
        if (absent)
            no_domain(err, name);
        goto out;
    }
    for (tries = 0; tries < 100; tries++) {
        if (create) {
            if (mkdirat(rfd, name, DIR_MODE) == 0) {
                if (vs_dir_sync_fd(rfd, st->root, err) < 0)
                    goto out;
            } else if (errno != EEXIST) {
                vs_error_sys(err, errno, "cannot create directory '%s'", dir);
                goto out;
            }
        }
        if ((dfd = open_dir_at(rfd, name, dir, err)) < 0) {
            if (errno == ENOENT)
                no_domain(err, name);
            goto out;
        }
        if (check_layout(dfd, dir, &has_def, err) < 0)
            goto out;
        if (!has_def && !create) {
            no_domain(err, name);
            goto out;
        }
        if (mode == VS_LOCK_NONE)
            break;
        if ((lfd = vs_lock_acquire_at(dfd, entry_name(VS_DOM_LOCK), lockshown, name, mode,
                                      st->lock_wait, err)) < 0)
            goto out;
        if (entry_is(rfd, name, dfd) && entry_is(dfd, entry_name(VS_DOM_LOCK), lfd)) {
            /* Ours now: look again, the layout may have changed while we waited. */
            if (check_layout(dfd, dir, &has_def, err) < 0)
                goto out;
            if (create || has_def)
                break;
            no_domain(err, name);
            goto out;
        }
        vs_lock_release(lfd);
        lfd = -1;
        close(dfd);
        dfd = -1;
    }
    if (tries == 100) {
        vs_error_set(err, VS_ERR_INTERNAL, "cannot lock domain '%s'", name);
        goto out;
    }
    *dfd_out = dfd;
    *lock_out = lfd;
    dfd = lfd = -1;
    ret = 0;
 out:
    vs_lock_release(lfd);
    if (dfd >= 0)
        close(dfd);
    if (rfd >= 0)
        close(rfd);
    free(lockshown);
    free(dir);
    return ret;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
vs_store_scan(vs_store *st, char ***names, char ***skipped, vs_error *err)
{
    char **v = vs_xcalloc(1, sizeof(*v));
    size_t n = 0;
    DIR *dir;
    struct dirent *de;
    bool absent;
    int rfd, fd;

    *names = NULL;
    if (skipped)
        *skipped = vs_xcalloc(1, sizeof(char *));
    if ((rfd = root_open(st, false, &absent, err)) < 0) {
        if (absent) {
            *names = v;
            return 0;
        }
        goto fail;
    }
    /* A descriptor of its own: readdir must not share the root's offset. */
    if ((fd = openat(rfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(dir = fdopendir(fd))) {
        vs_error_sys(err, errno, "cannot read directory '%s'", st->root);
        if (fd >= 0)
            close(fd);
        close(rfd);
        goto fail;
    }
    while ((de = readdir(dir))) {
        char *sub;
        struct stat sb;
        int dfd;

        if (vs_name_check("domain", de->d_name, NULL) < 0)
            continue;
        if (fstatat(rfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        sub = vs_path_join(st->root, de->d_name);
        if (S_ISLNK(sb.st_mode)) {
            if (skipped) {
                vs_error e;

                vs_link_error(&e, sub);
                vs_strv_push(skipped, e.msg);
            }
        } else if (S_ISDIR(sb.st_mode) &&
                   (dfd = openat(rfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
            char *def = vs_path_join(sub, entry_name(VS_DOM_DEFINITION));

            if (fstatat(dfd, entry_name(VS_DOM_DEFINITION), &sb, AT_SYMLINK_NOFOLLOW) == 0) {
                if (S_ISREG(sb.st_mode)) {
                    v = vs_xreallocarray(v, n + 2, sizeof(*v));
                    v[n++] = vs_xstrdup(de->d_name);
                    v[n] = NULL;
                } else if (skipped) {
                    vs_error e;

                    if (S_ISLNK(sb.st_mode))
                        vs_link_error(&e, def);
                    else
                        wrong_type(&e, def, false);
                    vs_strv_push(skipped, e.msg);
                }
            }
            free(def);
            close(dfd);
        }
        free(sub);
    }
    closedir(dir);
    close(rfd);
    qsort(v, n, sizeof(*v), cmp_str);
    if (skipped)
        qsort(*skipped, vs_strv_len(*skipped), sizeof(char *), cmp_str);
    *names = v;
    return 0;
 fail:
    vs_strv_free(v);
    if (skipped) {
        vs_strv_free(*skipped);
        *skipped = NULL;
    }
    return -1;
}

int
vs_store_list_domains(vs_store *st, char ***names, vs_error *err)
{
    return vs_store_scan(st, names, NULL, err);
}

static vs_domain_def *
read_domain_file(int dfd, const char *dir, vs_error *err)
{
    char *shown = vs_path_join(dir, entry_name(VS_DOM_DEFINITION));
    char *data;
    size_t len;
    vs_domain_def *def = NULL;

    if (vs_file_read_at(dfd, entry_name(VS_DOM_DEFINITION), shown, VS_XML_MAX_SIZE, &data, &len,
                        err) == 0) {
        def = vs_domain_def_parse(data, len, shown, err);
        free(data);
    }
    free(shown);
    return def;
}

static int
write_domain_file(int dfd, const char *dir, const vs_domain_def *def, vs_sync how, vs_error *err)
{
    vs_buf b = VS_BUF_INIT;
    char *shown = vs_path_join(dir, entry_name(VS_DOM_DEFINITION));
    int ret;

    vs_domain_def_format(&b, def, 0, true, NULL);
    vs_buf_addc(&b, '\n');
    ret = vs_file_write_at(dfd, entry_name(VS_DOM_DEFINITION), shown, b.data, b.len, FILE_MODE,
                           how, err);
    vs_buf_reset(&b);
    free(shown);
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
        vs_dom *o;
        vs_domain_def *other;

        if (strcmp(names[i], def->name) == 0)
            continue;
        /* A broken definition elsewhere must not block this one. */
        if (!(o = vs_dom_open(st, names[i], VS_LOCK_NONE, NULL)))
            continue;
        other = vs_dom_def(o, NULL);
        if (other && other->uuid && def->uuid && strcasecmp(other->uuid, def->uuid) == 0)
            ret = vs_error_set(err, VS_ERR_OPERATION_FAILED,
                               "domain '%s' is already defined with uuid %s", names[i], def->uuid);
        vs_dom_close(o);
    }
    vs_strv_free(names);
    return ret;
}

int
vs_store_define(vs_store *st, const vs_domain_def *def, bool *created, vs_error *err)
{
    char *dir = NULL;
    vs_domain_def *old = NULL;
    int dfd = -1, lfd = -1, ret = -1;
    bool has_def;

    if (vs_name_check("domain", def->name, err) < 0)
        return -1;
    close_parked(st, def->name);
    if ((dfd = root_open(st, true, NULL, err)) < 0)
        return -1;
    close(dfd);
    if (check_uuid_unique(st, def, err) < 0)
        return -1;
    if (dom_attach(st, def->name, true, VS_LOCK_EXCLUSIVE, &dfd, &lfd, err) < 0)
        return -1;
    dir = vs_path_join(st->root, def->name);
    if (check_layout(dfd, dir, &has_def, err) < 0)
        goto out;
    if (has_def) {
        struct stat jsb;

        if (refuse_interrupted(fstatat(dfd, vs_dom_layout[VS_DOM_JOURNAL].name, &jsb,
                                       AT_SYMLINK_NOFOLLOW) == 0, def->name, "redefine", err) < 0)
            goto out;
        if (!(old = read_domain_file(dfd, dir, err)))
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
    ret = write_domain_file(dfd, dir, def, VS_SYNC_ALL, err);
 out:
    vs_lock_release(lfd);
    if (dfd >= 0)
        close(dfd);
    vs_domain_def_free(old);
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

/* A symbolic link among the entries of dirfd: an error naming it. */
static int
refuse_links_in(int dirfd, const char *shown, vs_error *err)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir;
    struct dirent *de;
    int ret = 0;

    if (fd < 0 || !(dir = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return vs_error_sys(err, errno, "cannot read '%s'", shown);
    }
    while (ret == 0 && (de = readdir(dir))) {
        struct stat sb;
        bool link = de->d_type == DT_LNK;

        if (de->d_type == DT_UNKNOWN)
            link = fstatat(dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode);
        if (link) {
            char *sub = vs_path_join(shown, de->d_name);

            ret = vs_link_error(err, sub);
            free(sub);
        }
    }
    closedir(dir);
    return ret;
}

/* Entries can only be removed from a directory we may write and search:
 * find out before the domain is renamed away, so that a refusal changes
 * nothing (as root this always passes; the removal itself still reports).
 * A link inside is refused too: an undefine never touches what one names. */
static int
check_removable(vs_dom *d, vs_error *err)
{
    char *sdir = snapdir_shown(d);
    int sfd, ret = 0;

    if (faccessat(d->fd, ".", W_OK | X_OK, 0) < 0)
        ret = vs_error_sys(err, errno, "cannot remove domain directory '%s'", d->dir);
    else if (refuse_links_in(d->fd, d->dir, err) < 0)
        ret = -1;
    else if ((sfd = open_dir_at(d->fd, entry_name(VS_DOM_SNAPSHOTS), sdir, err)) >= 0) {
        if (faccessat(sfd, ".", W_OK | X_OK, 0) < 0)
            ret = vs_error_sys(err, errno, "cannot remove domain directory '%s'", sdir);
        else
            ret = refuse_links_in(sfd, sdir, err);
        close(sfd);
    } else if (errno != ENOENT) {
        ret = -1;
    }
    free(sdir);
    return ret;
}

int
vs_store_undefine(vs_store *st, const char *name, bool with_snapshots, vs_error *err)
{
    vs_dom *d;
    vs_snap_tree *t;
    const vs_snap_damage *dmg;
    size_t ndmg;
    char *grave = NULL;
    int rfd = -1, ret = -1;
    unsigned i;

    if (vs_name_check("domain", name, err) < 0)
        return -1;
    close_parked(st, name);
    if (!(d = vs_dom_open(st, name, VS_LOCK_EXCLUSIVE, err)))
        return -1;
    if ((rfd = root_open(st, false, NULL, err)) < 0)
        goto out;
    if (!(t = vs_dom_tree(d, err)) || vs_dom_damaged(d, &dmg, &ndmg, err) < 0)
        goto out;
    if (t->n + ndmg > 0 && !with_snapshots) {
        vs_error_set(err, VS_ERR_OPERATION_INVALID,
                     "cannot delete inactive domain with %zu snapshots", t->n + ndmg);
        goto out;
    }
    if (check_removable(d, err) < 0)
        goto out;
    {
        /* a link in the journal's place is refused as such by the load */
        char *jt = NULL;
        size_t jl = 0;
        bool interrupted;

        if (vs_dom_journal_load(d, &jt, &jl, err) < 0)
            goto out;
        interrupted = jt != NULL;
        free(jt);
        if (refuse_interrupted(interrupted, name, "undefine", err) < 0)
            goto out;
    }
    if (!entry_is(rfd, name, d->fd)) {
        no_domain(err, name);
        goto out;
    }
    /* Rename first so the domain disappears in one step; a crash part-way
     * through the removal leaves a dot-directory no domain can be named after.
     * Only the start of the name goes into it: a 255-byte name plus the
     * suffix would not fit in a file name. */
    for (i = 0; i < 1000; i++) {
        free(grave);
        grave = vs_xasprintf(".%.64s.undefined.%ld.%u", name, (long)getpid(), i);
        if (renameat(rfd, name, rfd, grave) == 0)
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
    /* Only the directory we hold: an entry swapped in meanwhile goes back. */
    if (!entry_is(rfd, grave, d->fd)) {
        if (renameat(rfd, grave, rfd, name) == 0)
            vs_dir_sync_fd(rfd, st->root, NULL);
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain directory '%s' changed while it was "
                     "being undefined; nothing was removed", d->dir);
        goto out;
    }
    d->index_dirty = false;   /* nothing left to flush into */
    vs_dir_sync_fd(rfd, st->root, NULL);
    ret = remove_tree_at(rfd, grave, d->dir, err);
    /* An error must not leave the domain gone: put back what is left. */
    if (ret < 0 && renameat(rfd, grave, rfd, name) == 0)
        vs_dir_sync_fd(rfd, st->root, NULL);
 out:
    if (rfd >= 0)
        close(rfd);
    free(grave);
    /* never kept: its directory is gone */
    dom_free(d);
    return ret;
}

/* ---- domain --------------------------------------------------------- */

static void
damage_clear(vs_dom *d)
{
    size_t i;

    for (i = 0; i < d->ndamage; i++) {
        free(d->damage[i].file);
        free(d->damage[i].reason);
    }
    d->ndamage = 0;
}

/* Drop what was read: the definition, the tree and what came with it. */
static void
drop_cache(vs_dom *d)
{
    vs_domain_def_free(d->def);
    d->def = NULL;
    vs_snap_tree_free(d->tree);
    d->tree = NULL;
    d->tree_stale = false;
    d->tree_verified = false;
    d->max_seq_known = false;
    d->index_written = 0;
    d->index_exact = false;
    touched_clear(d);
    damage_clear(d);
    if (d->snap_fd >= 0)
        close(d->snap_fd);
    d->snap_fd = -1;
}

/* ---- deferred directory syncs ---------------------------------------- */

/*
 * How a metadata write of d syncs: everything, or (while deferring) the
 * file's data only, with the directory (snapshots/ when in_snapdir, else
 * the domain directory) noted for vs_dom_sync. A journal write is never
 * deferred (store_entry syncs what is pending first).
 */
static vs_sync
sync_mode(vs_dom *d, bool in_snapdir)
{
    if (!d->defer_sync)
        return VS_SYNC_ALL;
    if (in_snapdir)
        d->snapdir_unsynced = true;
    else
        d->dir_unsynced = true;
    return VS_SYNC_FILE;
}

void
vs_dom_defer_sync(vs_dom *d, bool on)
{
    if (!on)
        vs_dom_sync(d, NULL);
    d->defer_sync = on;
}

/* fsync directory fd (shown), with the failpoint of an atomic write's own
 * directory sync (tests: the names are in place, whether they last is not
 * known). */
static int
dir_sync(int fd, const char *shown, vs_error *err)
{
    if (vs_failpoint("file-write-dirsync"))
        return vs_error_sys(err, EIO, "cannot sync directory '%s'", shown);
    return vs_dir_sync_fd(fd, shown, err);
}

int
vs_dom_sync(vs_dom *d, vs_error *err)
{
    char *shown;
    int ret = 0;

    if (d->snapdir_unsynced && d->snap_fd >= 0) {
        shown = snapdir_shown(d);
        ret = dir_sync(d->snap_fd, shown, err);
        free(shown);
        if (ret < 0)
            return -1;
    }
    d->snapdir_unsynced = false;
    if (d->dir_unsynced && dir_sync(d->fd, d->dir, err) < 0)
        return -1;
    d->dir_unsynced = false;
    return 0;
}

/* A snapshot write or removal failed part-way (the new name may be in
 * place): what is cached may no longer match the files, so the next
 * vs_dom_tree reads them again. The index on disk does not match the
 * directory any more either, so it is not trusted. */
static void
stale_after_failure(vs_dom *d)
{
    vs_snap_tree_free(d->tree);
    d->tree = NULL;
    d->tree_stale = false;
    d->tree_verified = false;
    d->max_seq_known = false;
    d->index_written = 0;
    d->index_dirty = false;
    d->index_exact = false;
    touched_clear(d);
    damage_clear(d);
}

/* ---- domains kept open between the commands of a string --------------- */

void
vs_store_hold(vs_store *st)
{
    st->hold++;
}

static void
unpark(vs_store *st, size_t i)
{
    st->parked[i] = st->parked[--st->nparked];
}

void
vs_store_release(vs_store *st)
{
    if (st->hold > 0)
        st->hold--;
    if (st->hold > 0)
        return;
    while (st->nparked > 0) {
        vs_dom *d = st->parked[st->nparked - 1];

        unpark(st, st->nparked - 1);
        dom_free(d);
    }
}

/* The kept domain `name`, taken out of the store's keeping; NULL if none. */
static vs_dom *
take_parked(vs_store *st, const char *name)
{
    size_t i;

    for (i = 0; i < st->nparked; i++) {
        if (strcmp(st->parked[i]->name, name) == 0) {
            vs_dom *d = st->parked[i];

            unpark(st, i);
            return d;
        }
    }
    return NULL;
}

/* define and undefine take the domain's lock themselves: a kept opening of
 * it (whose lock would block them) is closed first. */
static void
close_parked(vs_store *st, const char *name)
{
    vs_dom *d = take_parked(st, name);

    if (d)
        dom_free(d);
}

vs_dom *
vs_dom_open(vs_store *st, const char *name, vs_lock_mode mode, vs_error *err)
{
    vs_dom *d;
    int dfd, lfd;

    if (vs_name_check("domain", name, err) < 0)
        return NULL;
    if ((d = take_parked(st, name))) {
        /* kept with a lock at least as strong: as it was left */
        if (d->lock_mode >= mode)
            return d;
        if (vs_dom_relock(d, mode, err) == 0)
            return d;
        dom_free(d);
        return NULL;
    }
    if (dom_attach(st, name, false, mode, &dfd, &lfd, err) < 0)
        return NULL;
    d = vs_xcalloc(1, sizeof(*d));
    d->store = st;
    d->name = vs_xstrdup(name);
    d->dir = vs_path_join(st->root, name);
    d->fd = dfd;
    d->snap_fd = -1;
    d->lock_fd = lfd;
    d->lock_mode = lfd >= 0 ? mode : VS_LOCK_NONE;
    return d;
}

vs_snap_tree *
vs_dom_tree_take(vs_dom *d)
{
    vs_snap_tree *t;

    vs_dom_sync(d, NULL);
    if (d->index_dirty)
        vs_dom_flush_index(d, NULL);
    d->index_dirty = false;
    t = d->tree;
    d->tree = NULL;
    drop_cache(d);
    return t;
}

int
vs_dom_relock(vs_dom *d, vs_lock_mode mode, vs_error *err)
{
    int dfd, lfd;

    vs_dom_sync(d, NULL);
    if (d->index_dirty)
        vs_dom_flush_index(d, NULL);
    vs_lock_release(d->lock_fd);
    d->lock_fd = -1;
    d->lock_mode = VS_LOCK_NONE;
    /* Whatever was cached may be stale once another command had the domain. */
    drop_cache(d);
    d->index_dirty = false;
    if (mode == VS_LOCK_NONE)
        return 0;
    /* The directory may have been replaced meanwhile (undefined, defined
     * again): attach to whatever the name is now. */
    if (dom_attach(d->store, d->name, false, mode, &dfd, &lfd, err) < 0)
        return -1;
    close(d->fd);
    d->fd = dfd;
    d->lock_fd = lfd;
    d->lock_mode = mode;
    return 0;
}

void
vs_dom_forget(vs_dom *d)
{
    if (d->index_dirty)
        vs_dom_flush_index(d, NULL);
    drop_cache(d);
    d->index_dirty = false;
}

void
vs_dom_close(vs_dom *d)
{
    if (!d)
        return;
    /* Kept for the next command of the string, lock and all. */
    if (d->store->hold > 0 && d->lock_fd >= 0 && !d->defer_sync) {
        vs_xgrow(&d->store->parked, &d->store->parked_cap, d->store->nparked,
                 sizeof(*d->store->parked));
        d->store->parked[d->store->nparked++] = d;
        return;
    }
    dom_free(d);
}

/* Close d for real: pending syncs, the index, the lock. */
static void
dom_free(vs_dom *d)
{
    vs_dom_sync(d, NULL);
    /* The index is a cache: failing to write it costs a rebuild later. */
    if (d->index_dirty)
        vs_dom_flush_index(d, NULL);
    vs_lock_release(d->lock_fd);
    if (d->runtime && d->runtime_free)
        d->runtime_free(d->runtime);
    drop_cache(d);
    free(d->damage);
    free(d->touched);
    if (d->fd >= 0)
        close(d->fd);
    free(d->name);
    free(d->dir);
    free(d);
}

vs_domain_def *
vs_dom_def(vs_dom *d, vs_error *err)
{
    if (!d->def)
        d->def = read_domain_file(d->fd, d->dir, err);
    return d->def;
}

int
vs_dom_save_def(vs_dom *d, const vs_domain_def *def, vs_error *err)
{
    vs_domain_def *copy;

    if (write_domain_file(d->fd, d->dir, def, sync_mode(d, false), err) < 0)
        return -1;
    copy = vs_domain_def_copy(def);
    vs_domain_def_free(d->def);
    d->def = copy;
    return 0;
}

int
vs_dom_check_writable(vs_dom *d, vs_error *err)
{
    char *sdir;
    int ret = 0;

    if (faccessat(d->fd, ".", W_OK | X_OK, 0) < 0)
        return vs_error_sys(err, errno, "cannot change the metadata in '%s'", d->dir);
    sdir = snapdir_shown(d);
    if (faccessat(d->fd, entry_name(VS_DOM_SNAPSHOTS), W_OK | X_OK, 0) < 0 &&
        errno != ENOENT)
        ret = vs_error_sys(err, errno, "cannot change the metadata in '%s'", sdir);
    free(sdir);
    return ret;
}

/* ---- small files: current, journal, overlay registry ---------------- */

/* Read entry e of d: 0 with *data NULL when it does not exist. */
static int
load_entry(vs_dom *d, vs_dom_entry e, size_t max, char **data, size_t *len, vs_error *err)
{
    char *shown = vs_dom_entry_path(d, e);
    vs_error local;
    int ret;

    vs_error_clear(&local);
    ret = vs_file_read_at(d->fd, entry_name(e), shown, max, data, len, &local);
    free(shown);
    if (ret < 0 && local.code == VS_ERR_SYSTEM && local.sys_errno == ENOENT)
        return 0;
    if (ret < 0 && err)
        *err = local;
    return ret;
}

/* The index is a cache, checked when read: never synced. The journal
 * must be durable, and so must every deferred write before it: it records
 * what the plan has done. */
static int
store_entry(vs_dom *d, vs_dom_entry e, const char *data, size_t len, vs_error *err)
{
    char *shown;
    int ret;

    if (e == VS_DOM_JOURNAL && vs_dom_sync(d, err) < 0)
        return -1;
    shown = vs_dom_entry_path(d, e);
    ret = vs_file_write_at(d->fd, entry_name(e), shown, data, len, FILE_MODE,
                           vs_dom_layout[e].derived ? VS_SYNC_NONE
                           : e == VS_DOM_JOURNAL ? VS_SYNC_ALL : sync_mode(d, false),
                           err);
    free(shown);
    return ret;
}

static int
remove_entry(vs_dom *d, vs_dom_entry e, vs_error *err)
{
    char *shown;
    int ret;

    if (e == VS_DOM_JOURNAL && vs_dom_sync(d, err) < 0)
        return -1;
    shown = vs_dom_entry_path(d, e);
    ret = vs_file_unlink_at(d->fd, entry_name(e), shown,
                            e == VS_DOM_JOURNAL ? VS_SYNC_ALL : sync_mode(d, false), err);
    free(shown);
    return ret;
}

char *
vs_dom_current(vs_dom *d)
{
    char *data = NULL;
    size_t len = 0;

    if (load_entry(d, VS_DOM_CURRENT, SMALL_FILE_MAX, &data, &len, NULL) < 0 || !data)
        return NULL;
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
    int ret;

    if (!name) {
        ret = remove_entry(d, VS_DOM_CURRENT, err);
    } else if (vs_name_check("snapshot", name, err) < 0) {
        ret = -1;
    } else {
        char *text = vs_xasprintf("%s\n", name);

        ret = store_entry(d, VS_DOM_CURRENT, text, strlen(text), err);
        free(text);
    }
    if (ret == 0 && d->tree)
        d->tree->current = d->tree->inconsistent ? -1 : vs_snap_tree_find(d->tree, name);
    return ret;
}

int
vs_dom_journal_load(vs_dom *d, char **text, size_t *len, vs_error *err)
{
    return load_entry(d, VS_DOM_JOURNAL, JOURNAL_MAX, text, len, err);
}

int
vs_dom_journal_store(vs_dom *d, const char *text, size_t len, vs_error *err)
{
    return store_entry(d, VS_DOM_JOURNAL, text, len, err);
}

int
vs_dom_journal_remove(vs_dom *d, vs_error *err)
{
    return remove_entry(d, VS_DOM_JOURNAL, err);
}

bool
vs_dom_journal_exists(vs_dom *d)
{
    struct stat sb;

    return fstatat(d->fd, entry_name(VS_DOM_JOURNAL), &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

bool
vs_dom_managed_save_exists(vs_dom *d)
{
    struct stat sb;

    return fstatat(d->fd, entry_name(VS_DOM_MANAGED_SAVE), &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(sb.st_mode);
}

int
vs_dom_managed_save_remove(vs_dom *d, vs_error *err)
{
    return remove_entry(d, VS_DOM_MANAGED_SAVE, err);
}

int
vs_dom_entry_at(const vs_dom *d, vs_dom_entry e, const char **name)
{
    *name = entry_name(e);
    return d->fd;
}

bool
vs_dom_entry_exists(vs_dom *d, vs_dom_entry e)
{
    struct stat sb;

    return fstatat(d->fd, entry_name(e), &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

bool
vs_dom_autostart(vs_dom *d)
{
    return vs_dom_entry_exists(d, VS_DOM_AUTOSTART);
}

int
vs_dom_set_autostart(vs_dom *d, bool on, vs_error *err)
{
    return on ? store_entry(d, VS_DOM_AUTOSTART, "", 0, err)
              : remove_entry(d, VS_DOM_AUTOSTART, err);
}

int
vs_dom_registry_load(vs_dom *d, char ***paths, vs_error *err)
{
    char *data = NULL, *line, *save = NULL;
    size_t len = 0;

    *paths = vs_xcalloc(1, sizeof(char *));
    if (load_entry(d, VS_DOM_REGISTRY, REGISTRY_MAX, &data, &len, err) < 0)
        return -1;
    if (!data)
        return 0;
    for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (line[0] == '/')
            vs_strv_push(paths, line);
    free(data);
    return 0;
}

int
vs_dom_registry_store(vs_dom *d, char *const *paths, vs_error *err)
{
    vs_buf b = VS_BUF_INIT;
    size_t i;
    int ret;

    for (i = 0; paths && paths[i]; i++) {
        if (paths[i][0] != '/' || strchr(paths[i], '\n')) {
            vs_buf_reset(&b);
            return vs_error_set(err, VS_ERR_INTERNAL,
                                "overlay registry entry '%s' is not an absolute path", paths[i]);
        }
        vs_buf_addf(&b, "%s\n", paths[i]);
    }
    if (b.len == 0)
        ret = remove_entry(d, VS_DOM_REGISTRY, err);
    else
        ret = store_entry(d, VS_DOM_REGISTRY, b.data, b.len, err);
    vs_buf_reset(&b);
    return ret;
}

/* ---- snapshot files ------------------------------------------------- */

/*
 * snapshots/ of d: -1 with *absent set (err untouched) when it does not
 * exist and not `create`, -1 with err on other failures.
 */
static int
snapdir(vs_dom *d, bool create, bool *absent, vs_error *err)
{
    char *shown;
    int fd;

    if (absent)
        *absent = false;
    if (d->snap_fd >= 0)
        return d->snap_fd;
    shown = snapdir_shown(d);
    fd = open_dir_at(d->fd, entry_name(VS_DOM_SNAPSHOTS), shown, err);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdirat(d->fd, entry_name(VS_DOM_SNAPSHOTS), DIR_MODE) < 0 && errno != EEXIST)
            vs_error_sys(err, errno, "cannot create directory '%s'", shown);
        else if (vs_dir_sync_fd(d->fd, d->dir, err) == 0)
            fd = open_dir_at(d->fd, entry_name(VS_DOM_SNAPSHOTS), shown, err);
        if (fd < 0 && errno == ENOENT)
            vs_error_sys(err, ENOENT, "cannot open '%s'", shown);
    } else if (fd < 0 && errno == ENOENT) {
        if (absent)
            *absent = true;
        else
            vs_error_sys(err, ENOENT, "cannot open '%s'", shown);
    }
    free(shown);
    if (fd >= 0)
        d->snap_fd = fd;
    return fd;
}

/* "<?vsnap-seq N?>\n" at the start of data: N, else 0. *skip = its length. */
static unsigned long long
seq_of(const char *data, size_t len, size_t *skip)
{
    size_t pl = sizeof(SEQ_PI_PREFIX) - 1, i;
    unsigned long long n = 0;

    *skip = 0;
    if (len < pl || memcmp(data, SEQ_PI_PREFIX, pl) != 0)
        return 0;
    for (i = pl; i < len && data[i] >= '0' && data[i] <= '9' && i < pl + 19; i++)
        n = n * 10 + (unsigned long long)(data[i] - '0');
    if (i == pl || len - i < 3 || memcmp(data + i, "?>\n", 3) != 0)
        return 0;
    *skip = i + 3;
    return n;
}

/*
 * Read and parse snapshots/<file>, which must hold snapshot `name`; *seq
 * (may be NULL) its sequence number. A missing file: VS_ERR_SYSTEM, ENOENT.
 */
static vs_snapshot_def *
parse_snapshot_at(vs_dom *d, int sfd, const char *file, const char *name, unsigned long long *seq,
                  vs_error *err)
{
    char *shown = snapfile_shown(d, file);
    char *data;
    size_t len, skip;
    unsigned long long n;
    vs_snapshot_def *def = NULL;

    if (vs_file_read_at(sfd, file, shown, VS_XML_MAX_SIZE, &data, &len, err) < 0)
        goto out;
    n = seq_of(data, len, &skip);
    def = vs_snapshot_def_parse(data, len, shown,
                                VS_SNAP_PARSE_REDEFINE | VS_SNAP_PARSE_ACTIVE_OPTIONAL, 0, err);
    free(data);
    if (def && (!def->name || strcmp(def->name, name) != 0)) {
        vs_error_set(err, VS_ERR_INTERNAL, "snapshot file '%s' holds snapshot '%s'",
                     shown, def->name ? def->name : "");
        vs_snapshot_def_free(def);
        def = NULL;
    }
    if (def && seq)
        *seq = n;
 out:
    free(shown);
    return def;
}

/*
 * The index's record of snapshots/<file>, which must hold snapshot `name`,
 * into *e (strings copied into t by the caller before *data is freed): the
 * fields scanned from the text, or, when the scan leaves it to the full
 * parser, parsed. *data (caller frees) is the text. 0, or -1 with err when
 * the file cannot be used.
 */
static int
entry_of_file(vs_dom *d, int sfd, const char *file, const char *name, vs_snap_entry *e,
              vs_snapshot_def **def, char **data, vs_error *err)
{
    char *shown = snapfile_shown(d, file);
    size_t len, skip;
    unsigned long long n;
    int ret = -1;

    *def = NULL;
    if (vs_file_read_at(sfd, file, shown, VS_XML_MAX_SIZE, data, &len, err) < 0)
        goto out;
    n = seq_of(*data, len, &skip);
    if (vs_snapshot_scan(*data, len, e) == 1) {
        if (strcmp(e->name, name) != 0) {
            vs_error_set(err, VS_ERR_INTERNAL, "snapshot file '%s' holds snapshot '%s'", shown,
                         e->name);
            goto out;
        }
    } else {
        /* (the scan changed the text in place: read it again) */
        free(*data);
        *def = parse_snapshot_at(d, sfd, file, name, &n, err);
        *data = NULL;
        if (!*def)
            goto out;
        vs_snap_entry_from_def(e, *def);
    }
    e->seq = n;
    ret = 0;
 out:
    free(shown);
    return ret;
}

vs_snapshot_def *
vs_dom_read_snapshot(vs_dom *d, const char *name, vs_error *err)
{
    char *file;
    vs_snapshot_def *def;
    vs_error local;
    bool absent;
    int sfd;

    /* Such a name can never have been stored. */
    if (vs_name_check("snapshot", name, NULL) < 0) {
        no_snapshot(err, name);
        return NULL;
    }
    vs_error_clear(&local);
    if ((sfd = snapdir(d, false, &absent, &local)) < 0) {
        if (absent)
            no_snapshot(err, name);
        else if (err)
            *err = local;
        return NULL;
    }
    file = snapshot_file(name);
    def = parse_snapshot_at(d, sfd, file, name, NULL, &local);
    if (!def) {
        if (local.code == VS_ERR_SYSTEM && local.sys_errno == ENOENT)
            no_snapshot(err, name);
        else if (err)
            *err = local;
    }
    free(file);
    return def;
}

char *
vs_dom_read_snapshot_text(vs_dom *d, const char *name, vs_error *err)
{
    return vs_dom_read_snapshot_stored(d, name, NULL, err);
}

char *
vs_dom_read_snapshot_stored(vs_dom *d, const char *name, bool *numbered, vs_error *err)
{
    char *file, *shown, *data = NULL, *text = NULL;
    vs_error local;
    size_t len, skip;
    bool absent;
    int sfd;

    if (vs_name_check("snapshot", name, NULL) < 0) {
        no_snapshot(err, name);
        return NULL;
    }
    vs_error_clear(&local);
    if ((sfd = snapdir(d, false, &absent, &local)) < 0) {
        if (absent)
            no_snapshot(err, name);
        else if (err)
            *err = local;
        return NULL;
    }
    file = snapshot_file(name);
    shown = snapfile_shown(d, file);
    if (vs_file_read_at(sfd, file, shown, VS_XML_MAX_SIZE, &data, &len, &local) == 0) {
        seq_of(data, len, &skip);
        if (numbered)
            *numbered = skip > 0;
        text = vs_xstrdup(data + skip);
    } else if (local.code == VS_ERR_SYSTEM && local.sys_errno == ENOENT) {
        no_snapshot(err, name);
    } else if (err) {
        *err = local;
    }
    free(data);
    free(shown);
    free(file);
    return text;
}

int
vs_dom_damaged_recorded(vs_dom *d, const vs_snap_damage **out, size_t *n, vs_error *err)
{
    *out = NULL;
    *n = 0;
    if (!vs_dom_tree(d, err))
        return -1;
    *out = d->damage;
    *n = d->ndamage;
    return 0;
}

int
vs_dom_snapshot_unknown(vs_dom *d, const char *name, vs_error *err)
{
    char *file;
    size_t i;

    if (vs_name_check("snapshot", name, NULL) == 0 && (d->tree || vs_dom_tree(d, NULL))) {
        file = snapshot_file(name);
        for (i = 0; i < d->ndamage; i++) {
            if (strcmp(d->damage[i].file, file) == 0) {
                free(file);
                return vs_error_set(err, VS_ERR_PLAIN, "%s", d->damage[i].reason);
            }
        }
        free(file);
    }
    return no_snapshot(err, name);
}

bool
vs_dom_has_snapshot(vs_dom *d, const char *name)
{
    if (vs_name_check("snapshot", name, NULL) < 0)
        return false;
    /* The tree, not the file: a file the tree skips (unparseable, wrong
     * <name>) is a snapshot no other command can see, so it must not make
     * create say "already exists" while info says "not found". */
    if (d->tree || vs_dom_tree(d, NULL))
        return vs_snap_tree_find(d->tree, name) >= 0;
    return vs_dom_snapshot_file_exists(d, name);
}

bool
vs_dom_snapshot_file_exists(vs_dom *d, const char *name)
{
    struct stat sb;
    char *file;
    bool yes;
    int sfd;

    if (vs_name_check("snapshot", name, NULL) < 0 || (sfd = snapdir(d, false, NULL, NULL)) < 0)
        return false;
    file = snapshot_file(name);
    yes = fstatat(sfd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0;
    free(file);
    return yes;
}

static long long
fd_mtime(int fd)
{
    struct stat sb;

    return fstat(fd, &sb) == 0 ? ts_ns(&sb.st_mtim) : 0;
}

/* Forget the damage recorded for file (written or removed). */
static void
damage_forget(vs_dom *d, const char *file)
{
    size_t i;

    for (i = 0; i < d->ndamage; i++) {
        if (strcmp(d->damage[i].file, file) == 0) {
            free(d->damage[i].file);
            free(d->damage[i].reason);
            d->damage[i] = d->damage[--d->ndamage];
            d->index_dirty = true;
            d->index_exact = false;   /* damaged-file lines are only rewritten whole */
            return;
        }
    }
}

static void
damage_add(vs_dom *d, const char *file, const char *reason, long long mtime, long long size)
{
    vs_snap_damage *x;

    vs_xgrow(&d->damage, &d->damage_cap, d->ndamage, sizeof(*d->damage));
    x = &d->damage[d->ndamage++];
    x->file = vs_xstrdup(file);
    x->reason = vs_xstrdup(reason);
    x->file_mtime = mtime;
    x->file_size = size;
}

/* The sequence number the next new snapshot gets (the highest is kept
 * with the tree once known). */
static unsigned long long
next_seq(vs_dom *d, const vs_snap_tree *t)
{
    size_t i;

    if (!d->max_seq_known) {
        d->max_seq = 0;
        for (i = 0; i < t->n; i++)
            if (t->e[i].seq > d->max_seq)
                d->max_seq = t->e[i].seq;
        d->max_seq_known = true;
    }
    return d->max_seq + 1;
}

static bool
same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/*
 * Entry idx was just written (vs_snap_tree_update) into a linked tree:
 * keep the links without relinking everything when that is possible. A
 * rewrite that keeps the parent and the place among the siblings changes
 * no link; a new snapshot usually goes first among its parent's children.
 * Otherwise the tree is relinked on its next use.
 */
static void
relink_after_write(vs_dom *d, long idx, bool existed, bool same_place)
{
    vs_snap_tree *t = d->tree;

    if (d->tree_stale)
        return;
    if (existed) {
        if (!same_place)
            d->tree_stale = true;
        return;
    }
    if (!vs_snap_tree_link_leaf(t, idx)) {
        d->tree_stale = true;
        return;
    }
    if (t->current < 0 && !t->inconsistent) {
        char *cur = vs_dom_current(d);

        if (cur && strcmp(cur, t->e[idx].name) == 0)
            t->current = idx;
        free(cur);
    }
}

int
vs_dom_write_snapshot(vs_dom *d, const vs_snapshot_def *def, vs_error *err)
{
    char *file = NULL, *shown = NULL, *text = NULL, *data = NULL;
    vs_snap_tree *t;
    vs_snap_entry e;
    struct stat sb;
    unsigned long long seq;
    size_t len;
    long have, idx;
    bool same_place;
    int sfd, ret = -1;

    if (vs_name_check("snapshot", def->name, err) < 0)
        return -1;
    /* The tree tells whether this snapshot exists (it keeps its number) or
     * is new (the next one). */
    if (!(t = vs_dom_tree(d, err)))
        return -1;
    have = vs_snap_tree_find(t, def->name);
    seq = have >= 0 ? t->e[have].seq : next_seq(d, t);
    /* a rewrite keeps its place among its siblings (the sort keys) */
    same_place = have >= 0 && same_str(t->e[have].parent, def->parent) &&
                 (seq || t->e[have].creation_time == def->creation_time);
    text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
    if (seq)
        data = vs_xasprintf(SEQ_PI_PREFIX "%llu?>\n%s", seq, text);
    else
        data = vs_xstrdup(text);
    len = strlen(data);
    /* Every reader caps a snapshot file at VS_XML_MAX_SIZE: a bigger file
     * would be a snapshot that can be neither shown nor deleted. */
    if (len > VS_XML_MAX_SIZE) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED,
                     "metadata of snapshot '%s' would take %zu bytes, more than the %d bytes "
                     "a snapshot file may have",
                     def->name, len, VS_XML_MAX_SIZE);
        goto out;
    }
    if ((sfd = snapdir(d, true, NULL, err)) < 0)
        goto out;
    file = snapshot_file(def->name);
    shown = snapfile_shown(d, file);
    if (vs_file_write_at(sfd, file, shown, data, len, FILE_MODE, sync_mode(d, true), err) < 0) {
        stale_after_failure(d);
        goto out;
    }
    vs_snap_entry_from_def(&e, def);
    e.seq = seq;
    if (fstatat(sfd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        e.file_mtime = ts_ns(&sb.st_mtim);
        e.file_size = (long long)sb.st_size;
    }
    /* its old parent's line and its own (with their ancestors') change */
    if (have >= 0)
        touch(d, t->e[have].parent);
    touch(d, def->name);
    idx = vs_snap_tree_update(d->tree, &e);
    if (seq > d->max_seq)
        d->max_seq = seq;
    relink_after_write(d, idx, have >= 0, same_place);
    damage_forget(d, file);
    d->index_dirty = true;
    d->snapdir_mtime = fd_mtime(sfd);
    ret = 0;
 out:
    free(data);
    free(text);
    free(shown);
    free(file);
    return ret;
}

/* One snapshot of a batch (vs_dom_write_snapshot_texts): its entry, from
 * a scan of the text or else a parse, and the file's data. */
typedef struct staged_snap {
    char *buf;               /* the scanned copy the entry's strings point into */
    vs_snapshot_def *def;    /* when the scan could not vouch for the text */
    vs_snap_entry e;
    char *file;
} staged_snap;

static int
stage_snapshot(vs_dom *d, const char *text, staged_snap *s, char **data, vs_error *err)
{
    size_t len = strlen(text);
    const char *body = text;
    char *canon = NULL;
    long have;
    unsigned long long seq;

    s->buf = vs_xstrdup(text);
    if (vs_snapshot_scan(s->buf, len, &s->e) != 1) {
        /* not plainly the formatter's output: parse it as a redefinition does */
        if (!(s->def = vs_snapshot_def_parse(text, len, "(snapshot_definition)",
                                             VS_SNAP_PARSE_REDEFINE | VS_SNAP_PARSE_ACTIVE_OPTIONAL,
                                             0, err)))
            return -1;
        s->def->active = -1;
        body = canon = vs_snapshot_def_format_str(s->def, VS_SNAP_FORMAT_SECURE);
        vs_snap_entry_from_def(&s->e, s->def);
    }
    if (vs_name_check("snapshot", s->e.name, err) < 0) {
        free(canon);
        return -1;
    }
    have = vs_snap_tree_find(d->tree, s->e.name);
    seq = have >= 0 ? d->tree->e[have].seq : next_seq(d, d->tree);
    s->e.seq = seq;
    *data = seq ? vs_xasprintf(SEQ_PI_PREFIX "%llu?>\n%s", seq, body) : vs_xstrdup(body);
    free(canon);
    if (strlen(*data) > VS_XML_MAX_SIZE) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED,
                     "metadata of snapshot '%s' would take %zu bytes, more than the %d bytes "
                     "a snapshot file may have", s->e.name, strlen(*data), VS_XML_MAX_SIZE);
        free(*data);
        *data = NULL;
        return -1;
    }
    s->file = snapshot_file(s->e.name);
    /* the tree as it will be (a failure below drops it: stale_after_failure) */
    if (have >= 0)
        touch(d, d->tree->e[have].parent);
    touch(d, s->e.name);
    vs_snap_tree_update(d->tree, &s->e);
    if (seq > d->max_seq)
        d->max_seq = seq;
    d->tree_stale = true;
    return 0;
}

int
vs_dom_write_snapshot_texts(vs_dom *d, char *const *texts, size_t n, vs_error *err)
{
    staged_snap *sv;
    vs_file_batch b;
    char *shown;
    size_t i;
    int sfd, ret = -1;

    if (n == 0)
        return 0;
    if (!vs_dom_tree(d, err) || (sfd = snapdir(d, true, NULL, err)) < 0)
        return -1;
    sv = vs_xcalloc(n, sizeof(*sv));
    shown = snapdir_shown(d);
    vs_file_batch_init(&b, sfd, shown);
    for (i = 0; i < n; i++) {
        char *data = NULL;

        if (stage_snapshot(d, texts[i], &sv[i], &data, err) < 0 ||
            vs_file_batch_add(&b, sv[i].file, data, strlen(data), FILE_MODE, err) < 0) {
            free(data);
            goto out;
        }
        free(data);
    }
    if (vs_file_batch_commit(&b, sync_mode(d, true), err) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        long idx = vs_snap_tree_find(d->tree, sv[i].e.name);

        if (idx >= 0) {
            d->tree->e[idx].file_mtime = b.e[i].mtime_ns;
            d->tree->e[idx].file_size = b.e[i].size;
        }
        damage_forget(d, sv[i].file);
    }
    d->index_dirty = true;
    d->snapdir_mtime = fd_mtime(sfd);
    ret = 0;
 out:
    if (ret < 0)
        stale_after_failure(d);
    vs_file_batch_clear(&b);
    for (i = 0; i < n; i++) {
        free(sv[i].buf);
        free(sv[i].file);
        vs_snapshot_def_free(sv[i].def);
    }
    free(sv);
    free(shown);
    return ret;
}

int
vs_dom_remove_snapshot(vs_dom *d, const char *name, vs_error *err)
{
    char *file, *shown;
    bool in_tree = d->tree && vs_snap_tree_find(d->tree, name) >= 0;
    int sfd, ret;

    if (vs_name_check("snapshot", name, NULL) < 0)
        return no_snapshot(err, name);
    if (!in_tree && !vs_dom_snapshot_file_exists(d, name))
        return no_snapshot(err, name);
    if ((sfd = snapdir(d, false, NULL, err)) < 0)
        return -1;
    file = snapshot_file(name);
    shown = snapfile_shown(d, file);
    ret = vs_file_unlink_at(sfd, file, shown, sync_mode(d, true), err);
    if (ret < 0)
        stale_after_failure(d);
    if (ret == 0) {
        damage_forget(d, file);
        if (d->tree) {
            long k = vs_snap_tree_find(d->tree, name);

            /* the next number is one more than the highest left */
            if (k >= 0 && d->tree->e[k].seq >= d->max_seq)
                d->max_seq_known = false;
            if (k >= 0)
                touch(d, d->tree->e[k].parent);
            touch(d, name);
            vs_snap_tree_remove(d->tree, name);
            d->tree_stale = true;
            d->index_dirty = true;
            d->snapdir_mtime = fd_mtime(sfd);
        }
    }
    free(shown);
    free(file);
    return ret;
}

/* ---- removing many snapshot files at once ------------------------------ */

int
vs_dom_remove_snapshots(vs_dom *d, char *const *names, size_t n, vs_error *err)
{
    char **files, **go;
    int *errs, sfd, ret = 0;
    size_t i, ngo = 0;

    if (n == 1)
        return vs_dom_remove_snapshot(d, names[0], err);
    for (i = 0; i < n; i++) {
        bool in_tree = d->tree && vs_snap_tree_find(d->tree, names[i]) >= 0;

        if (vs_name_check("snapshot", names[i], NULL) < 0 ||
            (!in_tree && !vs_dom_snapshot_file_exists(d, names[i])))
            return no_snapshot(err, names[i]);
    }
    if ((sfd = snapdir(d, false, NULL, err)) < 0)
        return -1;
    files = vs_xcalloc(n + 1, sizeof(*files));
    go = vs_xcalloc(n + 1, sizeof(*go));
    errs = vs_xcalloc(n + 1, sizeof(*errs));
    for (i = 0; i < n; i++)
        files[i] = snapshot_file(names[i]);
    vs_unlink_many(sfd, files, errs, n, 16, true);
    for (i = 0; i < n; i++) {
        if (errs[i]) {
            if (ret == 0) {
                char *shown = snapfile_shown(d, files[i]);

                ret = errs[i] < 0 ? vs_link_error(err, shown)
                                  : vs_error_sys(err, errs[i], "cannot remove '%s'", shown);
                free(shown);
            }
            continue;
        }
        damage_forget(d, files[i]);
        go[ngo++] = names[i];
    }
    if (ret < 0)
        stale_after_failure(d);
    /* what went, as vs_dom_remove_snapshot books each */
    for (i = 0; d->tree && i < ngo; i++) {
        long k = vs_snap_tree_find(d->tree, go[i]);

        if (k >= 0 && d->tree->e[k].seq >= d->max_seq)
            d->max_seq_known = false;
        if (k >= 0)
            touch(d, d->tree->e[k].parent);
        touch(d, go[i]);
        vs_snap_tree_remove(d->tree, go[i]);
        d->tree_stale = true;
        d->index_dirty = true;
    }
    if (d->tree && ngo)
        d->snapdir_mtime = fd_mtime(sfd);
    /* the directory once for all of them (or at vs_dom_sync, deferring) */
    if (ngo && sync_mode(d, true) == VS_SYNC_ALL) {
        char *shown = snapdir_shown(d);

        if (vs_dir_sync_fd(sfd, shown, ret < 0 ? NULL : err) < 0 && ret == 0)
            ret = -1;
        free(shown);
    }
    for (i = 0; i < n; i++)
        free(files[i]);
    free(files);
    free(go);
    free(errs);
    return ret;
}

/* ---- the index ------------------------------------------------------ */

/* The index file as a whole read found it (store_index.h has the format). */
typedef struct index_data {
    char *buf;               /* the file, cut into strings in place */
    long long dir_mtime;     /* the snapshots/ mtime it matches */
    long long file_mtime;    /* the index file's own mtime (ns) */
    long long written;       /* when its base was written: files as new are read again */
    bool complete;           /* well formed, counts as recorded */
    unsigned long long ino;  /* the file, for appending to it */
    long long size, base_len;
    vs_index_read r;         /* its damaged-file lines */
} index_data;

static void
index_data_clear(index_data *idx)
{
    vs_index_read_clear(&idx->r);
}

/* Open the index for reading: -1 when there is none (or it is no regular
 * file, or too big); else the descriptor and its stat. */
static int
index_open(const vs_dom *d, struct stat *st)
{
    int fd = openat(d->fd, entry_name(VS_DOM_INDEX), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || (size_t)st->st_size > INDEX_MAX_SIZE) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read the index into `t` (strings borrowed from idx->buf) and idx's damage.
 * False when there is none or it is unusable; whatever lines parsed are
 * still there. */
static bool
index_load(const vs_dom *d, vs_snap_tree *t, index_data *idx)
{
    struct stat st;
    size_t len, got = 0;
    int fd;

    memset(idx, 0, sizeof(*idx));
    if ((fd = index_open(d, &st)) < 0)
        return false;
    idx->file_mtime = ts_ns(&st.st_mtim);
    idx->ino = (unsigned long long)st.st_ino;
    len = (size_t)st.st_size;
    idx->buf = vs_xmalloc(len + 1);
    while (got < len) {
        ssize_t r = read(fd, idx->buf + got, len - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    idx->buf[got] = '\0';
    idx->size = (long long)got;
    if (got != len || !vs_index_parse(idx->buf, got, t, &idx->r))
        return false;
    idx->dir_mtime = idx->r.st.dir_mtime;
    /* the earlier of the base's record and the file's own time: a file as
     * new as either may have changed in the same clock tick unseen */
    idx->written = idx->r.st.written && idx->r.st.written < idx->file_mtime ? idx->r.st.written
                                                                           : idx->file_mtime;
    idx->base_len = (long long)idx->r.base_len;
    idx->complete = idx->r.complete;
    return true;
}

/* The coarse clock now: a file written from now on has an mtime at least
 * this (file times come from it, or from a finer clock never behind it). */
static long long
coarse_now(void)
{
    struct timespec now;

#ifdef CLOCK_REALTIME_COARSE
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
#else
    clock_gettime(CLOCK_REALTIME, &now);
#endif
    return ts_ns(&now);
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

/* Note that name's line (and its ancestors') may change in the index. */
static void
touch(vs_dom *d, const char *name)
{
    if (!name || !d->index_exact)
        return;
    vs_xgrow(&d->touched, &d->touched_cap, d->ntouched, sizeof(*d->touched));
    d->touched[d->ntouched++] = vs_xstrdup(name);
}

static void
touched_clear(vs_dom *d)
{
    size_t i;

    for (i = 0; i < d->ntouched; i++)
        free(d->touched[i]);
    d->ntouched = 0;
}

static int
cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The index rewritten whole from the tree: 0 or -1. */
static int
index_compact(vs_dom *d, const size_t *ndesc, long long recorded, vs_error *err)
{
    vs_buf b = VS_BUF_INIT;
    long long written = coarse_now();
    struct stat st;
    int ret;

    vs_index_format(&b, d->tree, ndesc, d->damage, d->ndamage, recorded, written);
    ret = store_entry(d, VS_DOM_INDEX, b.data, b.len, err);
    d->index_exact = false;
    if (ret == 0 && fstatat(d->fd, entry_name(VS_DOM_INDEX), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        (size_t)st.st_size == b.len) {
        d->index_exact = true;
        d->index_ino = (unsigned long long)st.st_ino;
        d->index_size = d->index_base = (long long)st.st_size;
        d->index_first_written = written;
    }
    vs_buf_reset(&b);
    return ret;
}

/*
 * The changes since the index was read (or last written) appended to it
 * as one transaction: the lines of the snapshots written and of their
 * ancestors (whose counts of children and descendants move), the names
 * removed. 1 appended; 0 when it cannot be (not the file it was, too much
 * for the log: rewrite it whole instead).
 */
static int
index_append(vs_dom *d, const size_t *ndesc, long long recorded)
{
    vs_snap_tree *t = d->tree;
    unsigned char *mark;
    long *idx;
    char **gone;
    size_t n = 0, ngone = 0, i, off = 0;
    vs_buf b = VS_BUF_INIT;
    struct stat st;
    int fd, ret = 0;

    if (!d->index_exact || d->lock_mode != VS_LOCK_EXCLUSIVE)
        return 0;
    mark = vs_xcalloc(t->n ? t->n : 1, 1);
    idx = vs_xmalloc((t->n ? t->n : 1) * sizeof(*idx));
    gone = vs_xcalloc(d->ntouched + 1, sizeof(*gone));
    qsort(d->touched, d->ntouched, sizeof(*d->touched), cmp_strp);
    for (i = 0; i < d->ntouched; i++) {
        long k;

        if (i && strcmp(d->touched[i], d->touched[i - 1]) == 0)
            continue;
        if ((k = vs_snap_tree_find(t, d->touched[i])) < 0) {
            gone[ngone++] = d->touched[i];
            continue;
        }
        for (; k >= 0 && !mark[k]; k = t->e[k].parent_idx) {
            mark[k] = 1;
            idx[n++] = k;
        }
    }
    vs_index_format_append(&b, t, ndesc, idx, n, gone, ngone, d->ndamage, recorded,
                           d->index_first_written);
    if ((size_t)(d->index_size - d->index_base) + b.len > VS_INDEX_LOG_MAX(d->index_base))
        goto out;
    fd = openat(d->fd, entry_name(VS_DOM_INDEX), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
                O_NONBLOCK);
    if (fd < 0)
        goto out;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (unsigned long long)st.st_ino == d->index_ino && (long long)st.st_size == d->index_size) {
        while (off < b.len) {
            ssize_t w = write(fd, b.data + off, b.len - off);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        /* a part written is a transaction cut short: readers ignore it,
         * and the rewrite below replaces the file */
        if (off == b.len) {
            d->index_size += (long long)b.len;
            ret = 1;
        }
    }
    close(fd);
 out:
    vs_buf_reset(&b);
    free(gone);
    free(idx);
    free(mark);
    return ret;
}

int
vs_dom_flush_index(vs_dom *d, vs_error *err)
{
    long long recorded;
    size_t *ndesc;
    int ret = 0;

    if (!d->tree || !d->index_dirty)
        return 0;
    if (d->tree_stale)
        link_tree(d);
    /* The mtime the tree matches, taken before it was read or right after
     * our own last change; if the directory changed behind our back since,
     * the record will not match it and the next load checks the files. */
    recorded = d->snapdir_mtime;
    ndesc = vs_index_descendants(d->tree);
    wait_past(recorded);
    if (index_append(d, ndesc, recorded) != 1)
        ret = index_compact(d, ndesc, recorded, err);
    free(ndesc);
    touched_clear(d);
    if (ret == 0)
        d->index_dirty = false;
    return ret;
}

static bool
ends_with_xml(const char *s, size_t *base_len)
{
    size_t n = strlen(s), sl = sizeof(VS_SNAPSHOT_FILE_SUFFIX) - 1;

    if (n <= sl || strcmp(s + n - sl, VS_SNAPSHOT_FILE_SUFFIX) != 0)
        return false;
    *base_len = n - sl;
    return true;
}

/* A record of an unchanged file can be reused: same mtime and size, and
 * older than the index, so not possibly rewritten within the same tick. */
static bool
unchanged(long long mtime, long long size, const struct stat *sb, long long written)
{
    return mtime == ts_ns(&sb->st_mtim) && size == (long long)sb->st_size && mtime < written;
}

/*
 * List snapshots/ and build the tree and the damage list: entries of `old`
 * (and damage records of `old_damage`) whose file is unchanged are reused,
 * every other file is parsed. Reused strings stay in the storage of `old`,
 * which the caller keeps alive for t. `written`: the mtime of the index old
 * came from (0: none, nothing is reused).
 */
static int
rebuild(vs_dom *d, int sfd, const vs_snap_tree *old, const vs_snap_damage *old_damage,
        size_t old_ndamage, long long written, vs_snap_tree *t, vs_error *err)
{
    DIR *dir;
    struct dirent *de;
    int fd;

    damage_clear(d);
    if ((fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(dir = fdopendir(fd))) {
        char *shown = snapdir_shown(d);

        vs_error_sys(err, errno, "cannot read directory '%s'", shown);
        free(shown);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    vs_snap_tree_reserve(t, old->n);
    while ((de = readdir(dir))) {
        struct stat sb;
        size_t blen, k;
        char *name;
        long o;
        bool reused = false;
        vs_snapshot_def *def;
        vs_snap_entry e;
        vs_error why;

        if (de->d_name[0] == '.' || !ends_with_xml(de->d_name, &blen))
            continue;
        if (fstatat(sfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;       /* gone meanwhile */
        for (k = 0; k < old_ndamage && !reused; k++) {
            if (strcmp(old_damage[k].file, de->d_name) == 0 &&
                unchanged(old_damage[k].file_mtime, old_damage[k].file_size, &sb, written)) {
                damage_add(d, de->d_name, old_damage[k].reason, old_damage[k].file_mtime,
                           old_damage[k].file_size);
                reused = true;
            }
        }
        if (reused)
            continue;
        name = vs_xstrndup(de->d_name, blen);
        vs_error_clear(&why);
        if (vs_name_check("snapshot", name, &why) < 0 || S_ISLNK(sb.st_mode) ||
            !S_ISREG(sb.st_mode)) {
            char *shown = snapfile_shown(d, de->d_name);

            if (S_ISLNK(sb.st_mode)) {
                vs_link_error(&why, shown);
            } else if (!S_ISREG(sb.st_mode)) {
                wrong_type(&why, shown, false);
            } else {
                char *msg = vs_xstrdup(why.msg);

                vs_error_set(&why, VS_ERR_PLAIN, "'%s' is not named after a snapshot: %s", shown,
                             msg);
                free(msg);
            }
            damage_add(d, de->d_name, why.msg, ts_ns(&sb.st_mtim), (long long)sb.st_size);
            free(shown);
            free(name);
            continue;
        }
        o = vs_snap_tree_find(old, name);
        if (o >= 0 && unchanged(old->e[o].file_mtime, old->e[o].file_size, &sb, written)) {
            vs_snap_tree_add_borrowed(t, &old->e[o]);
            free(name);
            continue;
        }
        vs_error_clear(&why);
        {
            char *data = NULL;

            d->tree_parsed++;
            if (entry_of_file(d, sfd, de->d_name, name, &e, &def, &data, &why) == 0) {
                e.file_mtime = ts_ns(&sb.st_mtim);
                e.file_size = (long long)sb.st_size;
                vs_snap_tree_update(t, &e);
            } else {
                damage_add(d, de->d_name, why.msg, ts_ns(&sb.st_mtim), (long long)sb.st_size);
            }
            vs_snapshot_def_free(def);
            free(data);
        }
        free(name);
    }
    closedir(dir);
    return 0;
}

static int
cmp_damage(const void *a, const void *b)
{
    return strcmp(((const vs_snap_damage *)a)->file, ((const vs_snap_damage *)b)->file);
}

static void
link_tree(vs_dom *d)
{
    char *cur = vs_dom_current(d);

    vs_snap_tree_link(d->tree, cur, NULL);
    free(cur);
    d->tree_stale = false;
}

vs_snap_tree *
vs_dom_tree(vs_dom *d, vs_error *err)
{
    vs_snap_tree *old, *t;
    index_data idx;
    bool absent;
    size_t i;
    int sfd;

    if (d->tree) {
        if (d->tree_stale)
            link_tree(d);
        return d->tree;
    }

    d->tree_from_index = false;
    d->tree_parsed = 0;
    damage_clear(d);
    /* The directory's mtime is taken before anything is read, so a change
     * made while we read shows up as a newer mtime next time. */
    if ((sfd = snapdir(d, false, &absent, err)) < 0) {
        if (!absent)
            return NULL;
        d->snapdir_mtime = 0;
        d->tree = vs_snap_tree_new();
        d->tree_from_index = true;
        d->tree_verified = true;
        goto link;
    }
    d->snapdir_mtime = fd_mtime(sfd);

    old = vs_snap_tree_new();
    d->index_exact = false;
    touched_clear(d);
    if (index_load(d, old, &idx) && idx.complete && idx.dir_mtime == d->snapdir_mtime &&
        idx.file_mtime > idx.dir_mtime) {
        vs_snap_tree_adopt(old, idx.buf);
        for (i = 0; i < idx.r.ndamage; i++)
            damage_add(d, idx.r.damage[i].file, idx.r.damage[i].reason,
                       idx.r.damage[i].file_mtime, idx.r.damage[i].file_size);
        index_data_clear(&idx);
        d->tree = old;
        d->tree_from_index = true;
        d->tree_verified = false;
        d->index_written = idx.written;
        /* the file describes this tree exactly: changes can be appended */
        d->index_exact = true;
        d->index_ino = idx.ino;
        d->index_size = idx.size;
        d->index_base = idx.base_len;
        d->index_first_written = idx.written;
        goto link;
    }
    t = vs_snap_tree_new();
    if (rebuild(d, sfd, old, idx.r.damage, idx.r.ndamage, idx.buf ? idx.written : 0, t, err) < 0) {
        vs_snap_tree_free(t);
        vs_snap_tree_free(old);
        free(idx.buf);
        index_data_clear(&idx);
        return NULL;
    }
    /* Reused entries point into the old index text. */
    if (idx.buf)
        vs_snap_tree_adopt(t, idx.buf);
    index_data_clear(&idx);
    vs_snap_tree_free(old);
    d->tree = t;
    d->tree_verified = true;
    d->index_written = 0;
    d->index_dirty = true;

 link:
    if (d->ndamage > 1)
        qsort(d->damage, d->ndamage, sizeof(*d->damage), cmp_damage);
    link_tree(d);
    return d->tree;
}

int
vs_dom_damaged(vs_dom *d, const vs_snap_damage **out, size_t *n, vs_error *err)
{
    vs_snap_tree *t;
    vs_snap_damage *old_damage;
    size_t old_ndamage, old_cap, parsed, i;
    bool same;
    int sfd;

    *out = NULL;
    *n = 0;
    if (!vs_dom_tree(d, err))
        return -1;
    if (!d->tree_verified) {
        /* Served from the index without looking at the files: compare each
         * one's mtime and size with its line, parsing only what changed. */
        if ((sfd = snapdir(d, false, NULL, err)) < 0)
            return -1;
        old_damage = d->damage;
        old_ndamage = d->ndamage;
        old_cap = d->damage_cap;
        d->damage = NULL;
        d->ndamage = d->damage_cap = 0;
        parsed = d->tree_parsed;
        t = vs_snap_tree_new();
        if (rebuild(d, sfd, d->tree, old_damage, old_ndamage, d->index_written, t, err) < 0) {
            vs_snap_tree_free(t);
            damage_clear(d);
            free(d->damage);
            d->damage = old_damage;
            d->ndamage = old_ndamage;
            d->damage_cap = old_cap;
            return -1;
        }
        same = d->tree_parsed == parsed && t->n == d->tree->n && d->ndamage == old_ndamage;
        for (i = 0; i < old_ndamage; i++) {
            free(old_damage[i].file);
            free(old_damage[i].reason);
        }
        free(old_damage);
        /* t borrows from the old tree's storage, which replace keeps. */
        vs_snap_tree_replace(d->tree, t);
        d->tree_verified = true;
        d->max_seq_known = false;
        if (!same) {
            d->index_dirty = true;
            d->index_exact = false;   /* rewritten whole */
        }
        if (d->ndamage > 1)
            qsort(d->damage, d->ndamage, sizeof(*d->damage), cmp_damage);
        link_tree(d);
    }
    *out = d->damage;
    *n = d->ndamage;
    return 0;
}

/* ---- one snapshot, without the tree ---------------------------------- */

/*
 * The index, open, with the snapshots/ mtime now in *dir_mtime; -1 when
 * either is missing.
 */
static int
index_and_dir(vs_dom *d, struct stat *st, long long *dir_mtime)
{
    struct stat sd;

    if (fstatat(d->fd, entry_name(VS_DOM_SNAPSHOTS), &sd, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISDIR(sd.st_mode))
        return -1;
    *dir_mtime = ts_ns(&sd.st_mtim);
    return index_open(d, st);
}

/* vs_dom_tree's rule: the index matches snapshots/ and was written after
 * it last changed. */
static bool
index_fresh(const struct stat *st, const vs_index_state *is, long long dir_mtime)
{
    return is->dir_mtime == dir_mtime && ts_ns(&st->st_mtim) > is->dir_mtime;
}

static void
brief_fill(vs_snap_brief *out, const vs_snap_entry *e, size_t nchildren, size_t ndesc,
           bool has_parent, bool current)
{
    size_t nl = strlen(e->name) + 1;

    out->e = *e;
    out->e.name = out->storage;
    memcpy(out->storage, e->name, nl);
    out->e.parent = NULL;
    if (e->parent) {
        out->e.parent = out->storage + nl;
        memcpy(out->e.parent, e->parent, strlen(e->parent) + 1);
    }
    out->e.nchildren = out->nchildren = nchildren;
    out->ndescendants = ndesc;
    out->has_parent = has_parent;
    out->current = current;
}

/* From a fresh, consistent index: 1 found, 0 not there, -1 cannot tell. */
static int
brief_from_index(vs_dom *d, const char *name, vs_snap_brief *out)
{
    vs_index_entry *ie;
    vs_index_state is;
    struct stat st;
    long long dir_mtime;
    int fd, r;

    if ((fd = index_and_dir(d, &st, &dir_mtime)) < 0)
        return -1;
    ie = vs_xmalloc(sizeof(*ie));
    r = vs_index_lookup(fd, (long long)st.st_size, name, ie, &is);
    close(fd);
    if (r < 0 || !is.consistent || !index_fresh(&st, &is, dir_mtime))
        r = -1;
    if (r == 1) {
        char *cur = vs_dom_current(d);

        /* names and parent names fit: each at most VS_NAME_MAX */
        brief_fill(out, &ie->e, ie->nchildren, ie->ndescendants, ie->e.parent != NULL,
                   cur && strcmp(cur, name) == 0);
        free(cur);
    }
    free(ie);
    return r;
}

int
vs_dom_snapshot_brief(vs_dom *d, const char *name, vs_snap_brief *out, vs_error *err)
{
    vs_snap_tree *t;
    long idx;
    int r;

    memset(out, 0, sizeof(*out) - sizeof(out->storage));
    if (vs_name_check("snapshot", name, NULL) < 0)
        return 0;
    if (!d->tree && (r = brief_from_index(d, name, out)) >= 0)
        return r;
    if (!(t = vs_dom_tree(d, err)))
        return -1;
    if ((idx = vs_snap_tree_find(t, name)) < 0)
        return 0;
    brief_fill(out, &t->e[idx], t->e[idx].nchildren, vs_snap_tree_descendants(t, idx),
               t->e[idx].parent_idx >= 0, t->current == idx);
    return 1;
}

int
vs_dom_current_brief(vs_dom *d, vs_snap_brief *out, vs_error *err)
{
    vs_snap_tree *t;
    char *cur;
    int r;

    memset(out, 0, sizeof(*out) - sizeof(out->storage));
    if (!d->tree) {
        if (!(cur = vs_dom_current(d)))
            return 0;
        r = brief_from_index(d, cur, out);
        free(cur);
        if (r >= 0)
            return r;
    }
    if (!(t = vs_dom_tree(d, err)))
        return -1;
    if (t->current < 0)
        return 0;
    brief_fill(out, &t->e[t->current], t->e[t->current].nchildren,
               vs_snap_tree_descendants(t, t->current), t->e[t->current].parent_idx >= 0, true);
    return 1;
}

int
vs_dom_snapshot_names(vs_dom *d, const char *prefix, char ***names, vs_error *err)
{
    vs_index_state is;
    vs_snap_tree *t;
    struct stat st;
    long long dir_mtime;
    size_t i, n = 0, pl = strlen(prefix);
    long *sel;
    int fd;

    *names = NULL;
    if (!d->tree && (fd = index_and_dir(d, &st, &dir_mtime)) >= 0) {
        int r = vs_index_prefix(fd, (long long)st.st_size, prefix, names, &is);

        close(fd);
        /* (an inconsistent tree lists every snapshot all the same) */
        if (r == 0 && index_fresh(&st, &is, dir_mtime))
            return 0;
        vs_strv_free(*names);
        *names = NULL;
    }
    if (!(t = vs_dom_tree(d, err)))
        return -1;
    vs_snap_tree_select(t, -1, 0, &sel);
    *names = vs_xcalloc(t->n + 1, sizeof(**names));
    for (i = 0; i < t->n; i++)
        if (strncmp(t->e[sel[i]].name, prefix, pl) == 0)
            (*names)[n++] = vs_xstrdup(t->e[sel[i]].name);
    free(sel);
    return 0;
}
