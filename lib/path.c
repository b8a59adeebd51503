#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int
vs_file_read(const char *path, size_t max, char **data, size_t *len, vs_error *err)
{
    struct stat st;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    int fd;

    *data = NULL;
    if (len)
        *len = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
        return vs_error_sys(err, errno, "Failed to open file '%s'", path);
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
        close(fd);
        return vs_error_set(err, VS_ERR_PLAIN, "file '%s' is larger than %zu bytes", path, max);
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
            vs_error_sys(err, errno, "Failed to read file '%s'", path);
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            vs_error_set(err, VS_ERR_PLAIN, "file '%s' is larger than %zu bytes", path, max);
            goto fail;
        }
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return 0;
 fail:
    close(fd);
    free(buf);
    return -1;
}

static char *
dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return vs_xstrdup(".");
    if (slash == path)
        return vs_xstrdup("/");
    return vs_xstrndup(path, (size_t)(slash - path));
}

int
vs_dir_sync(const char *dir, vs_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return vs_error_sys(err, errno, "cannot open directory '%s'", dir);
    /* Some file systems cannot sync a directory; that is not our failure. */
    if (fsync(fd) < 0 && errno != EINVAL && errno != ENOTSUP) {
        int e = errno;
        close(fd);
        return vs_error_sys(err, e, "cannot sync directory '%s'", dir);
    }
    close(fd);
    return 0;
}

int
vs_file_write_temp(const char *path, const char *data, size_t len, mode_t mode, bool sync,
                   char **tmp_out, vs_error *err)
{
    char *dir = dir_of(path);
    /* short, so that a 255-byte target name still leaves room */
    char *tmp = vs_xasprintf("%s/.tmp.XXXXXX", dir);
    size_t done = 0;
    int fd;

    free(dir);
    *tmp_out = NULL;
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        vs_error_sys(err, errno, "cannot create temporary file for '%s'", path);
        free(tmp);
        return -1;
    }
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            vs_error_sys(err, errno, "cannot write '%s'", tmp);
            goto fail;
        }
        done += (size_t)w;
    }
    if (fchmod(fd, mode) < 0) {
        vs_error_sys(err, errno, "cannot set permissions of '%s'", tmp);
        goto fail;
    }
    if (sync && fsync(fd) < 0) {
        vs_error_sys(err, errno, "cannot sync '%s'", tmp);
        goto fail;
    }
    if (vs_failpoint("file-write-atomic")) {
        vs_error_sys(err, EIO, "cannot write '%s'", tmp);
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        vs_error_sys(err, errno, "cannot write '%s'", tmp);
        goto fail;
    }
    *tmp_out = tmp;
    return 0;

 fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return -1;
}

int
vs_file_write_atomic(const char *path, const char *data, size_t len,
                     mode_t mode, vs_error *err)
{
    char *dir, *tmp;
    int ret;

    if (vs_file_write_temp(path, data, len, mode, true, &tmp, err) < 0)
        return -1;
    if (rename(tmp, path) < 0) {
        vs_error_sys(err, errno, "cannot replace '%s'", path);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    dir = dir_of(path);
    ret = vs_dir_sync(dir, err);
    free(dir);
    return ret;
}

int
vs_fs_sync(const char *path, vs_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return vs_error_sys(err, errno, "cannot open '%s'", path);
    if (syncfs(fd) < 0) {
        int e = errno;

        close(fd);
        return vs_error_sys(err, e, "cannot sync the file system of '%s'", path);
    }
    close(fd);
    return 0;
}

int
vs_file_remove(const char *path, vs_error *err)
{
    char *dir;
    int ret;

    if (unlink(path) < 0) {
        if (errno == ENOENT)
            return 0;
        return vs_error_sys(err, errno, "cannot remove '%s'", path);
    }
    dir = dir_of(path);
    ret = vs_dir_sync(dir, err);
    free(dir);
    return ret;
}

bool
vs_file_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
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
