#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "failpoint.h"
#include "mem.h"
#include "path.h"

/* How much of an over-long name the message repeats. */
#define NAME_ECHO_MAX 40

/* Length of the control character at p: C0 and DEL are one byte, a C1
 * control (U+0080..U+009F, which some terminals act on as ESC sequences) is
 * two bytes of UTF-8; 0 for anything else. */
static size_t
control_char_len(const char *p)
{
    unsigned char c = (unsigned char)p[0];

    if (c < 0x20 || c == 0x7f)
        return 1;
    if (c == 0xc2 && (unsigned char)p[1] >= 0x80 && (unsigned char)p[1] <= 0x9f)
        return 2;
    return 0;
}

/* Echo a name in a message without letting control bytes reach the terminal. */
static char *
name_echo(const char *name, size_t max)
{
    vs_buf b = VS_BUF_INIT;
    size_t n = strlen(name);
    size_t i;

    if (n > max) {
        n = max;
        /* do not cut a UTF-8 sequence in half */
        while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
            n--;
    }
    for (i = 0; i < n; i++) {
        size_t k, cl = control_char_len(name + i);

        if (cl == 0) {
            vs_buf_addc(&b, name[i]);
            continue;
        }
        for (k = 0; k < cl && i + k < n; k++)
            vs_buf_addf(&b, "\\x%02x", (unsigned char)name[i + k]);
        i += k - 1;
    }
    if (n < strlen(name))
        vs_buf_add(&b, "...");
    return vs_buf_steal(&b);
}

int
vs_name_check(const char *what, const char *name, vs_error *err)
{
    const char *reason = NULL;
    size_t len = strlen(name);
    const char *p;
    char *echo;

    if (len == 0) {
        reason = "name can't be empty";
    } else if (strchr(name, '/')) {
        reason = "name can't contain '/'";
    } else if (name[0] == '.') {
        reason = "name can't start with '.'";
    } else {
        for (p = name; *p; p++) {
            if (control_char_len(p) > 0) {
                reason = "name can't contain control characters";
                break;
            }
        }
        /* a snapshot's file is "<name>.xml", which must fit NAME_MAX too */
        int max = strcmp(what, "snapshot") == 0 ? VS_SNAPSHOT_NAME_MAX : VS_NAME_MAX;
        if (!reason && len > (size_t)max) {
            echo = name_echo(name, NAME_ECHO_MAX);
            vs_error_set(err, VS_ERR_PLAIN,
                         "invalid %s name '%s': name can't be longer than %d bytes",
                         what, echo, max);
            free(echo);
            return -1;
        }
    }
    if (!reason)
        return 0;
    echo = name_echo(name, SIZE_MAX);
    vs_error_set(err, VS_ERR_PLAIN, "invalid %s name '%s': %s", what, echo, reason);
    free(echo);
    return -1;
}

char *
vs_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);

    if (n > 0 && dir[n - 1] == '/')
        return vs_xasprintf("%s%s", dir, name);
    return vs_xasprintf("%s/%s", dir, name);
}

static const char *
nonempty_env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

bool
vs_default_root_is_implicit(const char *override)
{
    return !(override && *override) && !nonempty_env("VSNAP_DIR");
}

char *
vs_default_root(const char *override)
{
    const char *v;

    if (override && *override)
        return vs_xstrdup(override);
    if ((v = nonempty_env("VSNAP_DIR")))
        return vs_xstrdup(v);
    if (geteuid() == 0)
        return vs_xstrdup("/var/lib/vsnap");
    /* The XDG spec says relative values are to be ignored. */
    if ((v = nonempty_env("XDG_DATA_HOME")) && v[0] == '/')
        return vs_path_join(v, "vsnap");
    if (!(v = nonempty_env("HOME"))) {
        struct passwd *pw = getpwuid(geteuid());
        v = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/";
    }
    return vs_xasprintf("%s%s.local/share/vsnap", v,
                        v[strlen(v) - 1] == '/' ? "" : "/");
}

int
vs_mkdir_p(const char *path, mode_t mode, vs_error *err)
{
    char *copy = vs_xstrdup(path);
    char *p = copy;
    struct stat st;
    int ret = -1;

    for (;;) {
        char save;

        while (*p == '/')
            p++;
        while (*p && *p != '/')
            p++;
        save = *p;
        *p = '\0';
        if (mkdir(copy, mode) < 0) {
            int e = errno;
            if (e != EEXIST) {
                vs_error_sys(err, e, "cannot create directory '%s'", copy);
                goto out;
            }
            if (stat(copy, &st) < 0 || !S_ISDIR(st.st_mode)) {
                vs_error_sys(err, ENOTDIR, "cannot create directory '%s'", copy);
                goto out;
            }
        }
        *p = save;
        while (*p == '/')
            p++;
        if (!*p)
            break;
    }
    ret = 0;
 out:
    free(copy);
    return ret;
}

/* Read fd to its end (at most max bytes); `shown` names it in messages. */
static int
read_fd(int fd, const char *shown, size_t max, char **data, size_t *len, vs_error *err)
{
    struct stat st;
    char *buf = NULL;
    size_t cap = 0, n = 0;

    bool reg = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);

    if (reg && (unsigned long long)st.st_size > max)
        return vs_error_set(err, VS_ERR_PLAIN, "file '%s' is larger than %zu bytes", shown, max);
    /* a regular file's size is the first guess (one read, and one more for EOF) */
    if (reg && st.st_size > 0) {
        cap = (size_t)st.st_size + 2;
        buf = vs_xmalloc(cap);
    }
    /* Pipes and growing files have no trustworthy size: read until EOF or max+1. */
    for (;;) {
        ssize_t r;

        if (n + 1 >= cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > max + 2)
                cap = max + 2;
            buf = vs_xreallocarray(buf, cap, 1);
        }
        r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            vs_error_sys(err, errno, "Failed to read file '%s'", shown);
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            vs_error_set(err, VS_ERR_PLAIN, "file '%s' is larger than %zu bytes", shown, max);
            goto fail;
        }
    }
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return 0;
 fail:
    free(buf);
    return -1;
}

int
vs_fd_read(int fd, const char *shown, size_t max, char **data, size_t *len, vs_error *err)
{
    *data = NULL;
    if (len)
        *len = 0;
    return read_fd(fd, shown, max, data, len, err);
}

int
vs_file_read(const char *path, size_t max, char **data, size_t *len, vs_error *err)
{
    int fd, ret;

    *data = NULL;
    if (len)
        *len = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
        return vs_error_sys(err, errno, "Failed to open file '%s'", path);
    ret = read_fd(fd, path, max, data, len, err);
    close(fd);
    return ret;
}

int
vs_link_error(vs_error *err, const char *shown)
{
    return vs_error_set(err, VS_ERR_PLAIN,
                        "'%s' is a symbolic link; vsnap does not follow links inside its "
                        "metadata directory", shown);
}

/* Is name, in dirfd, a symbolic link? (False when it does not exist.) */
static bool
is_link_at(int dirfd, const char *name)
{
    struct stat st;

    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

int
vs_file_read_at(int dirfd, const char *name, const char *shown, size_t max, char **data,
                size_t *len, vs_error *err)
{
    struct stat st;
    int fd, ret;

    *data = NULL;
    if (len)
        *len = 0;
    /* O_NONBLOCK: a FIFO planted in the file's place must not hang the open. */
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;

        if ((e == ELOOP || e == EMLINK) && is_link_at(dirfd, name))
            return vs_link_error(err, shown);
        return vs_error_sys(err, e, "Failed to open file '%s'", shown);
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vs_error_set(err, VS_ERR_PLAIN, "'%s' is not a regular file", shown);
    }
    ret = read_fd(fd, shown, max, data, len, err);
    close(fd);
    return ret;
}

char *
vs_path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return vs_xstrdup(".");
    if (slash == path)
        return vs_xstrdup("/");
    return vs_xstrndup(path, (size_t)(slash - path));
}

static int
sync_fd(int fd, const char *shown, vs_error *err)
{
    /* Some file systems cannot sync a directory; that is not our failure. */
    if (fsync(fd) < 0 && errno != EINVAL && errno != ENOTSUP)
        return vs_error_sys(err, errno, "cannot sync directory '%s'", shown);
    return 0;
}

int
vs_dir_sync(const char *dir, vs_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ret;

    if (fd < 0)
        return vs_error_sys(err, errno, "cannot open directory '%s'", dir);
    ret = sync_fd(fd, dir, err);
    close(fd);
    return ret;
}

int
vs_dir_sync_fd(int dirfd, const char *shown, vs_error *err)
{
    return sync_fd(dirfd, shown, err);
}

/* ".tmp.XXXXXX" with six random characters: short, so that a 255-byte
 * target name still leaves room, and never a valid domain or snapshot name. */
static void
temp_name(char out[12])
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static unsigned long counter;
    unsigned char rnd[6];
    size_t i;

    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
        struct timespec ts;
        unsigned long long x;

        clock_gettime(CLOCK_REALTIME, &ts);
        x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 20) ^ ++counter * 2654435761ULL;
        for (i = 0; i < sizeof(rnd); i++, x >>= 8)
            rnd[i] = (unsigned char)x;
    }
    memcpy(out, ".tmp.", 5);
    for (i = 0; i < sizeof(rnd); i++)
        out[5 + i] = set[rnd[i] % (sizeof(set) - 1)];
    out[11] = '\0';
}

/* The first half of an atomic write: data into a new temporary file of
 * dirfd, its name in tmp; synced when `sync`. Nothing is left on failure. */
static int
stage_temp(int dirfd, const char *shown, const char *shown_dir, const char *data, size_t len,
           mode_t mode, bool sync, char tmp[12], struct stat *sb, vs_error *err)
{
    char *tmp_shown = NULL;
    size_t done = 0;
    int fd = -1, tries;

    for (tries = 0; tries < 100; tries++) {
        temp_name(tmp);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0)
        return vs_error_sys(err, errno, "cannot create temporary file for '%s'", shown);
    tmp_shown = vs_path_join(shown_dir, tmp);
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            vs_error_sys(err, errno, "cannot write '%s'", tmp_shown);
            goto fail;
        }
        done += (size_t)w;
    }
    if (fchmod(fd, mode) < 0) {
        vs_error_sys(err, errno, "cannot set permissions of '%s'", tmp_shown);
        goto fail;
    }
    if (sync && fsync(fd) < 0) {
        vs_error_sys(err, errno, "cannot sync '%s'", tmp_shown);
        goto fail;
    }
    if (vs_failpoint("file-write-atomic")) {
        vs_error_sys(err, EIO, "cannot write '%s'", tmp_shown);
        goto fail;
    }
    /* (a rename keeps the mtime and size: the caller's record of the file) */
    if (sb && fstat(fd, sb) < 0) {
        vs_error_sys(err, errno, "cannot write '%s'", tmp_shown);
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        vs_error_sys(err, errno, "cannot write '%s'", tmp_shown);
        goto fail;
    }
    free(tmp_shown);
    return 0;

 fail:
    if (fd >= 0)
        close(fd);
    unlinkat(dirfd, tmp, 0);
    free(tmp_shown);
    return -1;
}

#define SYNC_VALID(how) ((how) == VS_SYNC_ALL || (how) == VS_SYNC_FILE || (how) == VS_SYNC_NONE)

/* The atomic write, in an open directory; `shown` is the target as messages
 * name it, `shown_dir` its directory. */
static int
write_atomic_in(int dirfd, const char *name, const char *shown, const char *shown_dir,
                const char *data, size_t len, mode_t mode, bool refuse_link, vs_sync how,
                vs_error *err)
{
    char tmp[12];

    assert(SYNC_VALID(how));
    if (refuse_link && is_link_at(dirfd, name))
        return vs_link_error(err, shown);
    if (stage_temp(dirfd, shown, shown_dir, data, len, mode, how != VS_SYNC_NONE, tmp, NULL,
                   err) < 0)
        return -1;
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        vs_error_sys(err, errno, "cannot replace '%s'", shown);
        unlinkat(dirfd, tmp, 0);
        return -1;
    }
    if (how != VS_SYNC_ALL)
        return 0;
    /* (tests: the new file is in place, but whether it lasts is not known) */
    if (vs_failpoint("file-write-dirsync"))
        return vs_error_sys(err, EIO, "cannot sync directory '%s'", shown_dir);
    return sync_fd(dirfd, shown_dir, err);
}

/* ---- a batch of atomic writes into one directory ------------------------ */

void
vs_file_batch_init(vs_file_batch *b, int dirfd, const char *shown_dir)
{
    memset(b, 0, sizeof(*b));
    b->dirfd = dirfd;
    b->shown_dir = vs_xstrdup(shown_dir);
}

int
vs_file_batch_add(vs_file_batch *b, const char *name, const char *data, size_t len, mode_t mode,
                  vs_error *err)
{
    char *shown = vs_path_join(b->shown_dir, name);
    struct stat sb;
    int ret = -1;

    if (is_link_at(b->dirfd, name)) {
        vs_link_error(err, shown);
        goto out;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->e = vs_xreallocarray(b->e, b->cap, sizeof(*b->e));
    }
    if (stage_temp(b->dirfd, shown, b->shown_dir, data, len, mode, false, b->e[b->n].tmp,
                   &sb, err) < 0)
        goto out;
    b->e[b->n].mtime_ns = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
    b->e[b->n].size = (long long)sb.st_size;
    b->e[b->n].name = vs_xstrdup(name);
    b->n++;
    ret = 0;
 out:
    free(shown);
    return ret;
}

/* Up to this many files a batch fsyncs each: syncfs(2) writes out every
 * dirty page of the file system (a running guest's, another program's),
 * which takes far longer than a few fsyncs when there is much of it. */
#define BATCH_FSYNC_MAX 16

/* fsync of each temporary file of b, by name. */
static int
batch_fsync_each(const vs_file_batch *b)
{
    size_t i;

    for (i = b->renamed; i < b->n; i++) {
        int fd = openat(b->dirfd, b->e[i].tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        int e;

        if (fd < 0)
            return -1;
        e = fsync(fd) < 0 ? errno : 0;
        close(fd);
        if (e) {
            errno = e;
            return -1;
        }
    }
    return 0;
}

int
vs_file_batch_commit(vs_file_batch *b, vs_sync how, vs_error *err)
{
    size_t i;

    assert(SYNC_VALID(how));
    if (how != VS_SYNC_NONE && b->n) {
        /* many files: one sync of the file system for all the temporary
         * files rather than one fsync each (each a journal commit); a few:
         * an fsync each */
        if ((b->n - b->renamed <= BATCH_FSYNC_MAX ? batch_fsync_each(b) : syncfs(b->dirfd)) < 0)
            return vs_error_sys(err, errno, "cannot sync the files written in '%s'", b->shown_dir);
        if (vs_failpoint("file-write-atomic"))
            return vs_error_sys(err, EIO, "cannot sync the files written in '%s'", b->shown_dir);
    }
    for (i = b->renamed; i < b->n; i++) {
        if (renameat(b->dirfd, b->e[i].tmp, b->dirfd, b->e[i].name) < 0) {
            char *shown = vs_path_join(b->shown_dir, b->e[i].name);

            vs_error_sys(err, errno, "cannot replace '%s'", shown);
            free(shown);
            return -1;
        }
        b->renamed = i + 1;
    }
    if (how != VS_SYNC_ALL || !b->n)
        return 0;
    if (vs_failpoint("file-write-dirsync"))
        return vs_error_sys(err, EIO, "cannot sync directory '%s'", b->shown_dir);
    return sync_fd(b->dirfd, b->shown_dir, err);
}

void
vs_file_batch_clear(vs_file_batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        if (i >= b->renamed)
            unlinkat(b->dirfd, b->e[i].tmp, 0);
        free(b->e[i].name);
    }
    free(b->e);
    free(b->shown_dir);
    memset(b, 0, sizeof(*b));
    b->dirfd = -1;
}

static int
write_atomic(const char *path, const char *data, size_t len, mode_t mode, bool durable,
             vs_error *err)
{
    char *dir = vs_path_dir(path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dirfd, ret;

    if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        ret = vs_error_sys(err, errno, "cannot create temporary file for '%s'", path);
    } else {
        ret = write_atomic_in(dirfd, base, path, dir, data, len, mode, false, durable ? VS_SYNC_ALL : VS_SYNC_NONE, err);
        close(dirfd);
    }
    free(dir);
    return ret;
}

int
vs_file_write_atomic(const char *path, const char *data, size_t len,
                     mode_t mode, vs_error *err)
{
    return write_atomic(path, data, len, mode, true, err);
}

int
vs_file_replace(const char *path, const char *data, size_t len, mode_t mode, vs_error *err)
{
    return write_atomic(path, data, len, mode, false, err);
}

int
vs_file_write_atomic_at(int dirfd, const char *name, const char *shown, const char *data,
                        size_t len, mode_t mode, vs_error *err)
{
    return vs_file_write_at(dirfd, name, shown, data, len, mode, VS_SYNC_ALL, err);
}

int
vs_file_write_at(int dirfd, const char *name, const char *shown, const char *data, size_t len,
                 mode_t mode, vs_sync how, vs_error *err)
{
    char *dir = vs_path_dir(shown);
    int ret = write_atomic_in(dirfd, name, shown, dir, data, len, mode, true, how, err);

    free(dir);
    return ret;
}

int
vs_file_replace_at(int dirfd, const char *name, const char *shown, const char *data, size_t len,
                   mode_t mode, vs_error *err)
{
    char *dir = vs_path_dir(shown);
    int ret = write_atomic_in(dirfd, name, shown, dir, data, len, mode, true, VS_SYNC_NONE, err);

    free(dir);
    return ret;
}

bool
vs_path_is_network(const char *s)
{
    static const char *const pfx[] = { "nbd:", "nbd+", "gluster:", "gluster+", "json:", NULL };
    size_t i;

    for (i = 0; s && pfx[i]; i++)
        if (strncmp(s, pfx[i], strlen(pfx[i])) == 0)
            return true;
    return false;
}

/* ---- removing many files at once ----------------------------------------- */

/*
 * Unlinking a file is mostly waiting: the filesystem frees its blocks (and,
 * mounted with discard, tells the disk: about 12 ms for 50 MiB here) before
 * unlink returns. A few threads unlinking at once overlap those waits: 255
 * small files go in about half the time one at a time takes, two large
 * images in little more than the larger one takes.
 */
#define UNLINK_THREADS 4

typedef struct unlink_job {
    int dirfd;
    char *const *files;
    int *errs;
    size_t n;
    size_t next;
    bool refuse_links;
    pthread_mutex_t mu;
} unlink_job;

static void *
unlink_worker(void *arg)
{
    unlink_job *j = arg;

    for (;;) {
        size_t i;
        struct stat st;

        pthread_mutex_lock(&j->mu);
        i = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->n)
            return NULL;
        j->errs[i] = 0;
        if (j->refuse_links && fstatat(j->dirfd, j->files[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode))
            j->errs[i] = -1;
        else if (unlinkat(j->dirfd, j->files[i], 0) < 0 && errno != ENOENT)
            j->errs[i] = errno;
    }
}

void
vs_unlink_many(int dirfd, char *const *files, int *errs, size_t n, size_t per_thread,
               bool refuse_links)
{
    unlink_job j = { dirfd, files, errs, n, 0, refuse_links, PTHREAD_MUTEX_INITIALIZER };
    pthread_t th[UNLINK_THREADS];
    size_t k, started = 0, want = n / (per_thread ? per_thread : 1) + 1;

    if (want > UNLINK_THREADS)
        want = UNLINK_THREADS;
    if (want > n)
        want = n;
    /* this thread works too; without threads it does all of it */
    for (k = 1; k < want; k++)
        if (pthread_create(&th[started], NULL, unlink_worker, &j) == 0)
            started++;
    unlink_worker(&j);
    for (k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    pthread_mutex_destroy(&j.mu);
}

int
vs_file_remove(const char *path, vs_error *err)
{
    char *dir;
    int ret;

    /* The property that keeps network images: they are never unlinked. */
    if (vs_path_is_network(path))
        return vs_error_set(err, VS_ERR_INTERNAL,
                            "'%s' is a network image: vsnap never removes one", path);
    if (unlink(path) < 0) {
        if (errno == ENOENT)
            return 0;
        return vs_error_sys(err, errno, "cannot remove '%s'", path);
    }
    dir = vs_path_dir(path);
    ret = vs_dir_sync(dir, err);
    free(dir);
    return ret;
}

int
vs_file_remove_at(int dirfd, const char *name, const char *shown, vs_error *err)
{
    return vs_file_unlink_at(dirfd, name, shown, VS_SYNC_ALL, err);
}

int
vs_file_unlink_at(int dirfd, const char *name, const char *shown, vs_sync how, vs_error *err)
{
    char *dir;
    int ret;

    assert(SYNC_VALID(how));
    if (is_link_at(dirfd, name))
        return vs_link_error(err, shown);
    if (unlinkat(dirfd, name, 0) < 0) {
        if (errno == ENOENT)
            return 0;
        return vs_error_sys(err, errno, "cannot remove '%s'", shown);
    }
    if (how != VS_SYNC_ALL)
        return 0;
    dir = vs_path_dir(shown);
    ret = sync_fd(dirfd, dir, err);
    free(dir);
    return ret;
}

bool
vs_file_exists(const char *path)
{
    struct stat st;

    /* a network image is not a file: its server holds it, vsnap assumes it is there */
    return vs_path_is_network(path) || lstat(path, &st) == 0;
}

bool
vs_is_regular_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *
vs_path_absolute(const char *path)
{
    vs_buf b = VS_BUF_INIT;
    const char *p = path;

    if (vs_path_is_network(path))
        return vs_xstrdup(path);
    if (path[0] != '/') {
        char *cwd = getcwd(NULL, 0);
        if (!cwd)
            return vs_xstrdup(path);   /* cwd removed: the best we can say */
        vs_buf_add(&b, cwd);
        free(cwd);
    }
    /* Drop "." and empty components only: ".." depends on symlinks. */
    while (*p) {
        const char *end;
        size_t n;

        while (*p == '/')
            p++;
        end = strchr(p, '/');
        n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.')) {
            p += n;
            continue;
        }
        if (b.len == 0 || b.data[b.len - 1] != '/')
            vs_buf_addc(&b, '/');
        vs_buf_addn(&b, p, n);
        p += n;
    }
    if (b.len == 0)
        vs_buf_addc(&b, '/');
    return vs_buf_steal(&b);
}
