#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "path.h"
#include "qcow2.h"

#define QCOW2_MAGIC 0x514649fbU           /* "QFI\xfb" */
#define EXT_BACKING_FORMAT 0xe2792acaU
#define MAX_SNAPSHOTS 65536               /* qemu's own limit */
#define MAX_TABLE (64u << 20)             /* qemu refuses bigger snapshot tables too */

static uint32_t
be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t
be64(const unsigned char *p)
{
    return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

static uint16_t
be16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* Exactly len bytes at off, or -1 (a short read means a damaged image). */
static int
read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* Reads of a region read in chunks: the snapshot table, entry by entry,
 * costs one pread per 16 KiB instead of two per snapshot. */
typedef struct chunked {
    int fd;
    unsigned char *buf;
    uint64_t start;      /* file offset of buf[0] */
    size_t len;          /* bytes valid in buf */
} chunked;

#define CHUNK ((size_t)16 * 1024)

static int
chunked_read(chunked *c, void *dst, size_t len, uint64_t off)
{
    if (!c->buf || off < c->start || off + len > c->start + c->len) {
        size_t want = len > CHUNK ? len : CHUNK;
        ssize_t r;

        free(c->buf);
        c->buf = vs_xmalloc(want);
        c->start = off;
        c->len = 0;
        while (c->len < want) {
            r = pread(c->fd, c->buf + c->len, want - c->len, (off_t)(off + c->len));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            c->len += (size_t)r;
        }
        if (c->len < len)
            return -1;
    }
    memcpy(dst, c->buf + (off - c->start), len);
    return 0;
}

bool
vs_image_has_magic(const char *path)
{
    unsigned char m[4];
    int fd = vs_path_is_network(path) ? -1   /* never opened as a path */
                                      : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    bool yes = false;

    if (fd < 0)
        return false;
    if (read_at(fd, m, 4, 0) == 0)
        yes = be32(m) == QCOW2_MAGIC || memcmp(m, "QED", 4) == 0;
    close(fd);
    return yes;
}

static char *
resolve_backing(const char *image, const char *backing)
{
    const char *slash;

    /* qemu resolves a relative backing name against the overlay's directory. */
    if (backing[0] == '/' || vs_path_is_network(backing) || !(slash = strrchr(image, '/')))
        return vs_xstrdup(backing);
    return vs_xasprintf("%.*s/%s", (int)(slash - image), image, backing);
}

static int
damaged(vs_error *err, const char *image, const char *why)
{
    return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                        "image '%s' has a damaged qcow2 header: %s", image, why);
}

int
vs_qcow2_probe(const char *image, vs_image_info *info, vs_error *err)
{
    unsigned char h[104];
    struct stat sb;
    uint32_t version, hdr_len, bsize, nsnap;
    uint64_t boff, soff, ext_off;
    int fd, ret = -1;

    memset(info, 0, sizeof(*info));
    fd = open(image, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return vs_error_sys(err, errno, "cannot open image '%s'", image);
    if (fstat(fd, &sb) < 0) {
        vs_error_sys(err, errno, "cannot stat image '%s'", image);
        goto out;
    }
    memset(h, 0, sizeof(h));
    if (read_at(fd, h, 72, 0) < 0 || be32(h) != QCOW2_MAGIC) {
        ret = 0;
        goto out;
    }
    version = be32(h + 4);
    if (version != 2 && version != 3) {
        damaged(err, image, "unknown version");
        goto out;
    }
    hdr_len = 72;
    if (version == 3) {
        if (read_at(fd, h + 72, 32, 72) < 0) {
            damaged(err, image, "short header");
            goto out;
        }
        hdr_len = be32(h + 100);
        if (hdr_len < 104 || hdr_len > 65536) {
            damaged(err, image, "bad header length");
            goto out;
        }
    }
    info->filename = vs_xstrdup(image);
    info->format = vs_xstrdup("qcow2");
    info->virtual_size = be64(h + 24);
    info->actual_size = (unsigned long long)sb.st_blocks * 512ULL;
    info->snapshot_tags = vs_xcalloc(1, sizeof(char *));

    boff = be64(h + 8);
    bsize = be32(h + 16);
    if (boff && bsize) {
        char *name;

        if (bsize > 1023) {
            damaged(err, image, "backing file name too long");
            goto fail;
        }
        name = vs_xcalloc(1, bsize + 1);
        if (read_at(fd, name, bsize, boff) < 0) {
            free(name);
            damaged(err, image, "cannot read the backing file name");
            goto fail;
        }
        info->backing_filename = name;
        info->full_backing_filename = resolve_backing(image, name);
    }

    /* Header extensions: the backing format is one of them. */
    ext_off = hdr_len;
    for (;;) {
        unsigned char e[8];
        uint32_t type, len;

        if (ext_off + 8 > 1024 * 1024 || read_at(fd, e, 8, ext_off) < 0)
            break;
        type = be32(e);
        len = be32(e + 4);
        if (type == 0)
            break;
        if (type == EXT_BACKING_FORMAT && len > 0 && len < 64) {
            char *fmt = vs_xcalloc(1, len + 1);

            if (read_at(fd, fmt, len, ext_off + 8) == 0) {
                free(info->backing_format);
                info->backing_format = fmt;
            } else {
                free(fmt);
            }
        }
        ext_off += 8 + (((uint64_t)len + 7) & ~(uint64_t)7);
    }

    nsnap = be32(h + 60);
    soff = be64(h + 64);
    if (nsnap > MAX_SNAPSHOTS) {
        damaged(err, image, "too many internal snapshots");
        goto fail;
    }
    if (nsnap > 0) {
        chunked tbl = { fd, NULL, 0, 0 };
        uint64_t off = soff;
        uint32_t k;

        for (k = 0; k < nsnap; k++) {
            unsigned char s[40];
            uint32_t extra, idlen, namelen;
            char *name;

            if (off - soff > MAX_TABLE || chunked_read(&tbl, s, 40, off) < 0) {
                free(tbl.buf);
                damaged(err, image, "cannot read the snapshot table");
                goto fail;
            }
            idlen = be16(s + 12);
            namelen = be16(s + 14);
            extra = be32(s + 36);
            if (extra > 1024) {
                free(tbl.buf);
                damaged(err, image, "bad snapshot table entry");
                goto fail;
            }
            name = vs_xcalloc(1, namelen + 1);
            if (chunked_read(&tbl, name, namelen, off + 40 + extra + idlen) < 0) {
                free(name);
                free(tbl.buf);
                damaged(err, image, "cannot read a snapshot name");
                goto fail;
            }
            vs_strv_push(&info->snapshot_tags, name);
            free(name);
            off += 40 + extra + idlen + namelen;
            off = (off + 7) & ~(uint64_t)7;
        }
        free(tbl.buf);
    }
    ret = 1;
    goto out;
 fail:
    vs_image_info_clear(info);
    ret = -1;
 out:
    close(fd);
    return ret;
}

int
vs_qcow2_is_empty(const char *image, vs_error *err)
{
    unsigned char h[104], buf[4096];
    uint32_t version, l1_size;
    uint64_t l1_off, done = 0;
    int fd, ret = 0;

    fd = open(image, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return vs_error_sys(err, errno, "cannot open image '%s'", image);
    memset(h, 0, sizeof(h));
    if (read_at(fd, h, 72, 0) < 0 || be32(h) != QCOW2_MAGIC)
        goto out;
    version = be32(h + 4);
    /* an external data file or any incompatible feature: do not guess */
    if (version == 3 && (read_at(fd, h + 72, 32, 72) < 0 || be64(h + 72) != 0))
        goto out;
    if (version != 2 && version != 3)
        goto out;
    l1_size = be32(h + 36);
    l1_off = be64(h + 40);
    if (l1_size > (32u << 20) / 8)
        goto out;
    while (done < (uint64_t)l1_size * 8) {
        size_t chunk = sizeof(buf), k;

        if ((uint64_t)l1_size * 8 - done < chunk)
            chunk = (size_t)((uint64_t)l1_size * 8 - done);
        if (read_at(fd, buf, chunk, l1_off + done) < 0)
            goto out;
        for (k = 0; k < chunk; k++)
            if (buf[k])
                goto out;
        done += chunk;
    }
    ret = 1;
 out:
    close(fd);
    return ret;
}
