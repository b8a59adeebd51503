/* libvirt's save-image format (see saveimage.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "path.h"
#include "saveimage.h"

/* Field offsets in the header. */
#define OFF_VERSION     16
#define OFF_DATA_LEN    20
#define OFF_WAS_RUNNING 24
#define OFF_COMPRESSED  28
#define OFF_COOKIE      32
#define OFF_UNUSED      36

static int backup_restore(const char *path, vs_error *err);

static const char *const compress_names[] = { "raw", "gzip", "bzip2", "xz", "lzop", "zstd" };

static void
put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t
get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t
bswap(uint32_t v)
{
    return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

void
vs_saveimage_clear(vs_saveimage *img)
{
    free(img->xml);
    free(img->cookie);
    memset(img, 0, sizeof(*img));
}

off_t
vs_saveimage_stream_offset(const vs_saveimage *img)
{
    return (off_t)VS_SAVEIMAGE_HEADER_SIZE + (off_t)img->data_len;
}

const char *
vs_saveimage_default_cookie(void)
{
    return "<cookie>\n</cookie>\n";
}

int
vs_saveimage_encode(const char *xml, const char *cookie, bool was_running, bool complete,
                    uint32_t data_len, vs_buf *out, vs_error *err)
{
    unsigned char h[VS_SAVEIMAGE_HEADER_SIZE];
    size_t xml_len = strlen(xml) + 1, cookie_len = cookie ? strlen(cookie) + 1 : 0;
    size_t len = xml_len + cookie_len, zeros;

    if (len > VS_SAVEIMAGE_MAX_DATA - VS_SAVEIMAGE_PAD)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                            "domain XML of %zu bytes is too large for a save image", len);
    if (data_len == 0)
        data_len = (uint32_t)(len + VS_SAVEIMAGE_PAD);
    else if (data_len < len)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED, "new xml too large to fit in file");
    zeros = data_len - len;
    memset(h, 0, sizeof(h));
    memcpy(h, complete ? VS_SAVEIMAGE_MAGIC : VS_SAVEIMAGE_PARTIAL, VS_SAVEIMAGE_MAGIC_LEN);
    put_u32(h + OFF_VERSION, VS_SAVEIMAGE_VERSION);
    put_u32(h + OFF_DATA_LEN, data_len);
    put_u32(h + OFF_WAS_RUNNING, was_running ? 1 : 0);
    put_u32(h + OFF_COMPRESSED, 0);
    put_u32(h + OFF_COOKIE, (uint32_t)xml_len);
    vs_buf_addn(out, (const char *)h, sizeof(h));
    vs_buf_addn(out, xml, xml_len);
    if (cookie)
        vs_buf_addn(out, cookie, cookie_len);
    while (zeros > 0) {
        static const char z[4096];
        size_t n = zeros < sizeof(z) ? zeros : sizeof(z);

        vs_buf_addn(out, z, n);
        zeros -= n;
    }
    return 0;
}

/* Header fields of h into img, checked as libvirt does. */
static int
decode_header(const unsigned char *h, const char *path, bool allow_partial, vs_saveimage *img,
              vs_error *err)
{
    memset(img, 0, sizeof(*img));
    if (memcmp(h, VS_SAVEIMAGE_MAGIC, VS_SAVEIMAGE_MAGIC_LEN) == 0) {
        img->complete = true;
    } else if (memcmp(h, VS_SAVEIMAGE_PARTIAL, VS_SAVEIMAGE_MAGIC_LEN) == 0) {
        if (!allow_partial)
            return vs_error_set(err, VS_ERR_OPERATION_FAILED, "save image is incomplete");
    } else {
        return vs_error_set(err, VS_ERR_OPERATION_FAILED, "image magic is incorrect");
    }
    img->version = get_u32(h + OFF_VERSION);
    img->data_len = get_u32(h + OFF_DATA_LEN);
    img->was_running = get_u32(h + OFF_WAS_RUNNING);
    img->compressed = get_u32(h + OFF_COMPRESSED);
    img->cookie_offset = get_u32(h + OFF_COOKIE);
    if (img->version > VS_SAVEIMAGE_VERSION && bswap(img->version) <= VS_SAVEIMAGE_VERSION) {
        /* written on a host of the other byte order */
        img->version = bswap(img->version);
        img->data_len = bswap(img->data_len);
        img->was_running = bswap(img->was_running);
        img->compressed = bswap(img->compressed);
        img->cookie_offset = bswap(img->cookie_offset);
    }
    if (img->version > VS_SAVEIMAGE_VERSION)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                            "image version is not supported (%u > %d)", img->version,
                            VS_SAVEIMAGE_VERSION);
    if (img->version < 2)
        img->cookie_offset = 0;     /* version 1 has no cookie */
    if (img->data_len == 0 || img->data_len > VS_SAVEIMAGE_MAX_DATA ||
        img->data_len > 0x7fffffffu)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED, "invalid header data length");
    if (img->cookie_offset > img->data_len)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                            "invalid cookie offset %u in save image '%s' (data length %u)",
                            img->cookie_offset, path, img->data_len);
    if (img->compressed != 0) {
        const char *n = img->compressed < sizeof(compress_names) / sizeof(compress_names[0])
                        ? compress_names[img->compressed] : "unknown";
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "save image '%s' is compressed (format %u, %s): vsnap reads only "
                            "uncompressed images (qemu.conf save_image_format = \"raw\")",
                            path, img->compressed, n);
    }
    return 0;
}

/* XML and cookie from the data_len bytes after the header. */
static int
decode_data(const unsigned char *d, const char *path, vs_saveimage *img, vs_error *err)
{
    size_t xml_len = img->cookie_offset ? img->cookie_offset : img->data_len;
    size_t cookie_len = img->data_len - xml_len;
    const unsigned char *nul = memchr(d, '\0', xml_len);

    if (!nul || nul == d)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                            "save image '%s' holds no domain XML ending in a NUL byte", path);
    img->xml = vs_xstrndup((const char *)d, (size_t)(nul - d));
    if (cookie_len > 0 && d[xml_len] != '\0') {
        nul = memchr(d + xml_len, '\0', cookie_len);
        if (!nul) {
            vs_saveimage_clear(img);
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "the cookie in save image '%s' does not end in a NUL byte", path);
        }
        img->cookie = vs_xstrndup((const char *)d + xml_len, (size_t)(nul - (d + xml_len)));
    }
    return 0;
}

int
vs_saveimage_decode(const void *data, size_t len, const char *path, bool allow_partial,
                    vs_saveimage *img, vs_error *err)
{
    const unsigned char *p = data;

    memset(img, 0, sizeof(*img));
    if (len < VS_SAVEIMAGE_HEADER_SIZE)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED, "failed to read qemu header");
    if (decode_header(p, path, allow_partial, img, err) < 0)
        return -1;
    if (len - VS_SAVEIMAGE_HEADER_SIZE < (img->cookie_offset ? img->cookie_offset
                                                             : img->data_len))
        return vs_error_set(err, VS_ERR_OPERATION_FAILED, "failed to read domain XML");
    if (len - VS_SAVEIMAGE_HEADER_SIZE < img->data_len)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED, "failed to read cookie");
    return decode_data(p + VS_SAVEIMAGE_HEADER_SIZE, path, img, err);
}

/* Read exactly len bytes at off (fewer: returns how many). */
static ssize_t
read_at(int fd, void *buf, size_t len, off_t off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t r = pread(fd, (char *)buf + got, len - got, off + (off_t)got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int
write_at(int fd, const void *buf, size_t len, off_t off, const char *path, vs_error *err)
{
    size_t done = 0;

    while (done < len) {
        ssize_t w = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return vs_error_sys(err, errno, "cannot write save image '%s'", path);
        done += (size_t)w;
    }
    return 0;
}

int
vs_saveimage_read_fd(int fd, const char *path, bool allow_partial, vs_saveimage *img,
                     vs_error *err)
{
    unsigned char h[VS_SAVEIMAGE_HEADER_SIZE], *d;
    size_t xml_len;
    ssize_t r;

    memset(img, 0, sizeof(*img));
    r = read_at(fd, h, sizeof(h), 0);
    if (r < 0)
        return vs_error_sys(err, errno, "cannot read save image '%s'", path);
    if ((size_t)r < sizeof(h))
        return vs_error_set(err, VS_ERR_OPERATION_FAILED, "failed to read qemu header");
    if (decode_header(h, path, allow_partial, img, err) < 0)
        return -1;
    d = vs_xmalloc(img->data_len);
    r = read_at(fd, d, img->data_len, VS_SAVEIMAGE_HEADER_SIZE);
    if (r < 0) {
        free(d);
        return vs_error_sys(err, errno, "cannot read save image '%s'", path);
    }
    xml_len = img->cookie_offset ? img->cookie_offset : img->data_len;
    if ((size_t)r < img->data_len) {
        free(d);
        return vs_error_set(err, VS_ERR_OPERATION_FAILED, (size_t)r < xml_len
                            ? "failed to read domain XML" : "failed to read cookie");
    }
    r = decode_data(d, path, img, err);
    free(d);
    if (r < 0)
        return -1;
    if (lseek(fd, vs_saveimage_stream_offset(img), SEEK_SET) < 0) {
        vs_saveimage_clear(img);
        return vs_error_sys(err, errno, "cannot seek in save image '%s'", path);
    }
    return 0;
}

int
vs_saveimage_open(const char *path, int flags, vs_saveimage *img, vs_error *err)
{
    int fd;

    memset(img, 0, sizeof(*img));
    if (access(path, F_OK) == 0 && backup_restore(path, err) < 0)
        return -1;
    fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return vs_error_sys(err, errno, "Failed to open file '%s'", path);
    if (vs_saveimage_read_fd(fd, path, false, img, err) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int
vs_saveimage_write_header(int fd, const char *path, const char *xml, const char *cookie,
                          bool was_running, off_t *stream_off, vs_error *err)
{
    vs_buf b = VS_BUF_INIT;
    int ret = -1;

    if (vs_saveimage_encode(xml, cookie, was_running, false, 0, &b, err) < 0)
        goto out;
    if (write_at(fd, b.data, b.len, 0, path, err) < 0)
        goto out;
    if (lseek(fd, (off_t)b.len, SEEK_SET) < 0) {
        vs_error_sys(err, errno, "cannot seek in save image '%s'", path);
        goto out;
    }
    if (stream_off)
        *stream_off = (off_t)b.len;
    ret = 0;
 out:
    vs_buf_reset(&b);
    return ret;
}

int
vs_saveimage_mark_complete(int fd, const char *path, vs_error *err)
{
    if (fdatasync(fd) < 0)
        return vs_error_sys(err, errno, "cannot sync save image '%s'", path);
    if (write_at(fd, VS_SAVEIMAGE_MAGIC, VS_SAVEIMAGE_MAGIC_LEN, 0, path, err) < 0)
        return -1;
    if (fdatasync(fd) < 0)
        return vs_error_sys(err, errno, "cannot sync save image '%s'", path);
    return 0;
}

/* ---- the rewrite's backup ---------------------------------------------------------

 * save-image-define rewrites the start of an image in place. Before it does,
 * the bytes it overwrites are saved beside the image as
 * ".<name>" VS_SAVEIMAGE_BACKUP_SUFFIX (written as a temporary, synced and
 * renamed: it exists only whole), and removed once the new bytes are
 * synced. An image found with its backup (vs_saveimage_open) was being
 * rewritten when the machine or vsnap died: the backup is put back. */

static char *
backup_path(const char *path, const char *suffix)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return vs_xasprintf(".%s%s", path, suffix);
    return vs_xasprintf("%.*s/.%s%s", (int)(slash - path), path, slash + 1, suffix);
}

static int
sync_dir_of(const char *path, vs_error *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? vs_xstrndup(path, (size_t)(slash - path)) : vs_xstrdup(".");
    int fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

    if (fd < 0 || fsync(fd) < 0)
        ret = vs_error_sys(err, errno, "cannot sync directory '%s'", dir);
    if (fd >= 0)
        close(fd);
    free(dir);
    return ret;
}

static int
backup_write(int fd, const char *path, size_t len, vs_error *err)
{
    char *tmp = backup_path(path, VS_SAVEIMAGE_BACKUP_SUFFIX ".tmp");
    char *bak = backup_path(path, VS_SAVEIMAGE_BACKUP_SUFFIX);
    char *old = vs_xmalloc(len);
    int bfd = -1, ret = -1;

    if (read_at(fd, old, len, 0) != (ssize_t)len) {
        vs_error_sys(err, errno ? errno : EIO, "cannot read save image '%s'", path);
        goto out;
    }
    unlink(tmp);
    if ((bfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
        vs_error_sys(err, errno, "cannot create '%s'", tmp);
        goto out;
    }
    if (write_at(bfd, old, len, 0, tmp, err) < 0)
        goto out;
    if (fsync(bfd) < 0) {
        vs_error_sys(err, errno, "cannot sync '%s'", tmp);
        goto out;
    }
    if (rename(tmp, bak) < 0) {
        vs_error_sys(err, errno, "cannot rename '%s' to '%s'", tmp, bak);
        goto out;
    }
    ret = sync_dir_of(path, err);
 out:
    if (bfd >= 0)
        close(bfd);
    if (ret < 0)
        unlink(tmp);
    free(old);
    free(tmp);
    free(bak);
    return ret;
}

static int
backup_remove(const char *path, vs_error *err)
{
    char *bak = backup_path(path, VS_SAVEIMAGE_BACKUP_SUFFIX);
    int ret = 0;

    if (unlink(bak) < 0 && errno != ENOENT)
        ret = vs_error_sys(err, errno, "cannot remove '%s'", bak);
    else
        ret = sync_dir_of(path, err);
    free(bak);
    return ret;
}

/* Put back what an interrupted rewrite overwrote (nothing to do without a
 * backup). The backup must be a whole start of an image. */
static int
backup_restore(const char *path, vs_error *err)
{
    char *bak = backup_path(path, VS_SAVEIMAGE_BACKUP_SUFFIX), *data = NULL;
    vs_saveimage img;
    size_t len = 0;
    int fd = -1, ret = -1;

    if (access(bak, F_OK) < 0) {
        free(bak);
        return 0;
    }
    if (vs_file_read(bak, VS_SAVEIMAGE_MAX_DATA + VS_SAVEIMAGE_HEADER_SIZE, &data, &len,
                         err) < 0)
        goto out;
    if (vs_saveimage_decode(data, len, bak, true, &img, err) < 0)
        goto out;
    if (len != (size_t)vs_saveimage_stream_offset(&img)) {
        vs_saveimage_clear(&img);
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "'%s' is not a whole backup of the start of "
                     "save image '%s'", bak, path);
        goto out;
    }
    vs_saveimage_clear(&img);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        vs_error_sys(err, errno, "Failed to open file '%s'", path);
        goto out;
    }
    if (write_at(fd, data, len, 0, path, err) < 0)
        goto out;
    if (fdatasync(fd) < 0) {
        vs_error_sys(err, errno, "cannot sync save image '%s'", path);
        goto out;
    }
    ret = backup_remove(path, err);
 out:
    if (fd >= 0)
        close(fd);
    free(data);
    free(bak);
    return ret;
}

int
vs_saveimage_rewrite_fd(int fd, const char *path, vs_saveimage *img, const char *xml,
                        int was_running, vs_error *err)
{
    vs_buf b = VS_BUF_INIT;
    bool running = was_running >= 0 ? was_running != 0 : img->was_running != 0;
    int ret = -1;

    if (vs_saveimage_encode(xml, img->cookie, running, img->complete, img->data_len, &b,
                            err) < 0)
        goto out;
    if (img->version < 2) {
        /* keep a version 1 image's layout: no cookie field */
        memset(b.data + OFF_COOKIE, 0, 4);
        put_u32((unsigned char *)b.data + OFF_VERSION, img->version);
    }
    if (backup_write(fd, path, b.len, err) < 0)
        goto out;
    if (write_at(fd, b.data, b.len, 0, path, err) < 0)
        goto out;
    if (fdatasync(fd) < 0) {
        vs_error_sys(err, errno, "cannot sync save image '%s'", path);
        goto out;
    }
    if (backup_remove(path, err) < 0)
        goto out;
    free(img->xml);
    img->xml = vs_xstrdup(xml);
    img->was_running = running ? 1 : 0;
    ret = 0;
 out:
    vs_buf_reset(&b);
    return ret;
}
