/* lib/saveimage.c: libvirt's save-image codec, against real libvirt files
 * (in-tree copies of ../shared/reference/virsh-live/save-images, and the
 * reference itself when $VSNAP_REFERENCE is set) and constructed ones. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "memory_transfer.h"
#include "path.h"
#include "saveimage.h"
#include "testenv.h"

static char *
data_path(const char *name)
{
    const char *top = getenv("top_srcdir");

    return vs_xasprintf("%s/tests/unit/data/saveimage/%s", top && *top ? top : ".", name);
}

static char *
slurp(const char *path, size_t *len)
{
    char *data = NULL;
    vs_error err;
    size_t l = 0;

    if (vs_file_read(path, 1u << 24, &data, &l, &err) < 0) {
        printf("# %s\n", err.msg);
        return NULL;
    }
    if (len)
        *len = l;
    return data;
}

static uint32_t
u32_at(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* One real libvirt file: decoded as libvirt wrote it, and re-encoded byte for byte. */
static void
check_libvirt_file(const char *bin, const char *xmlf, const char *cookief, uint32_t running,
                   const char *label)
{
    size_t len = 0, xlen = 0, clen = 0;
    char *data = slurp(bin, &len), *xml = slurp(xmlf, &xlen), *cookie = slurp(cookief, &clen);
    vs_saveimage img;
    vs_buf b = VS_BUF_INIT;
    vs_error err;

    ok(data && xml && cookie, "%s: files read", label);
    if (!data || !xml || !cookie)
        goto out;
    ok(vs_saveimage_decode(data, len, bin, false, &img, &err) == 0, "%s: decodes", label);
    ok(img.version == 2 && img.data_len == 67192 && img.cookie_offset == 1420 &&
       img.compressed == 0 && img.complete, "%s: header fields as libvirt wrote them", label);
    ok(img.was_running == running, "%s: was_running %u", label, img.was_running);
    is_str(img.xml, xml, "%s: domain XML", label);
    is_str(img.cookie, cookie, "%s: cookie", label);
    ok(vs_saveimage_stream_offset(&img) == 67284, "%s: stream at 0x5c + data_len", label);
    ok(vs_saveimage_encode(img.xml, img.cookie, img.was_running, true, 0, &b, &err) == 0 &&
       b.len == len && memcmp(b.data, data, len) == 0,
       "%s: vsnap encodes the same XML and cookie to libvirt's bytes", label);
    vs_saveimage_clear(&img);
 out:
    vs_buf_reset(&b);
    free(data);
    free(xml);
    free(cookie);
}

/* A file with a constructed image and a fake stream after it. */
static char *
make_file(const char *dir, const char *name, const char *xml, const char *cookie, bool running,
          const char *stream)
{
    char *path = vs_path_join(dir, name);
    vs_buf b = VS_BUF_INIT;
    vs_error err;
    int fd;

    vs_saveimage_encode(xml, cookie, running, true, 0, &b, &err);
    vs_buf_add(&b, stream);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len)
        printf("# cannot write %s\n", path);
    if (fd >= 0)
        close(fd);
    vs_buf_reset(&b);
    return path;
}

static void
test_errors(void)
{
    static const char xml[] = "<domain type='qemu'><name>a</name></domain>\n";
    vs_buf b = VS_BUF_INIT;
    vs_saveimage img;
    vs_error err;
    unsigned char *p;

    vs_saveimage_encode(xml, vs_saveimage_default_cookie(), true, false, 0, &b, &err);
    p = (unsigned char *)b.data;
    ok(memcmp(p, "LibvirtQemudPart", 16) == 0, "a new image is written partial");
    ok(vs_saveimage_decode(b.data, b.len, "f", false, &img, &err) < 0, "partial refused");
    is_str(err.msg, "operation failed: save image is incomplete", "libvirt's message for it");
    ok(vs_saveimage_decode(b.data, b.len, "f", true, &img, &err) == 0 && !img.complete &&
       strcmp(img.xml, xml) == 0, "partial read when asked (repair)");
    vs_saveimage_clear(&img);

    memcpy(p, "LibvirtQemudSave", 16);
    ok(vs_saveimage_decode(b.data, 50, "f", false, &img, &err) < 0, "short header");
    is_str(err.msg, "operation failed: failed to read qemu header", "short header message");
    ok(vs_saveimage_decode(b.data, 100, "f", false, &img, &err) < 0, "short XML");
    is_str(err.msg, "operation failed: failed to read domain XML", "short XML message");
    ok(vs_saveimage_decode(b.data, 92 + sizeof(xml) + 3, "f", false, &img, &err) < 0,
       "short cookie");
    is_str(err.msg, "operation failed: failed to read cookie", "short cookie message");

    memcpy(p, "LibvirtQemudXXXX", 16);
    ok(vs_saveimage_decode(b.data, b.len, "f", false, &img, &err) < 0, "bad magic");
    is_str(err.msg, "operation failed: image magic is incorrect", "bad magic message");
    memcpy(p, "LibvirtQemudSave", 16);

    put_u32(p + 16, 3);
    ok(vs_saveimage_decode(b.data, b.len, "f", false, &img, &err) < 0, "version 3");
    is_str(err.msg, "operation failed: image version is not supported (3 > 2)", "version msg");
    put_u32(p + 16, 2);

    {
        /* big-endian header: libvirt swaps and reads it */
        uint32_t f[5];
        int i;

        for (i = 0; i < 5; i++)
            f[i] = u32_at(p + 16 + 4 * i);
        for (i = 0; i < 5; i++) {
            p[16 + 4 * i] = (unsigned char)(f[i] >> 24);
            p[17 + 4 * i] = (unsigned char)(f[i] >> 16);
            p[18 + 4 * i] = (unsigned char)(f[i] >> 8);
            p[19 + 4 * i] = (unsigned char)f[i];
        }
        ok(vs_saveimage_decode(b.data, b.len, "f", false, &img, &err) == 0 &&
           img.version == 2 && img.was_running == 1 && strcmp(img.xml, xml) == 0,
           "a byte-swapped header is read");
        vs_saveimage_clear(&img);
        for (i = 0; i < 5; i++)
            put_u32(p + 16 + 4 * i, f[i]);
    }

    put_u32(p + 28, 1);
    ok(vs_saveimage_decode(b.data, b.len, "/x/f", false, &img, &err) < 0 &&
       strstr(err.msg, "compressed (format 1, gzip)") && strstr(err.msg, "/x/f"),
       "compressed image refused, naming the format: %s", err.msg);
    put_u32(p + 28, 0);

    put_u32(p + 20, 0);
    ok(vs_saveimage_decode(b.data, b.len, "f", false, &img, &err) < 0, "data_len 0");
    is_str(err.msg, "operation failed: invalid header data length", "data_len message");
    put_u32(p + 20, 0x7fffff00);
    ok(vs_saveimage_decode(b.data, b.len, "f", false, &img, &err) < 0 &&
       strcmp(err.msg, "operation failed: invalid header data length") == 0,
       "absurd data_len refused before any allocation");
    put_u32(p + 20, (uint32_t)(b.len - 92));

    put_u32(p + 32, (uint32_t)(b.len));
    ok(vs_saveimage_decode(b.data, b.len, "f", false, &img, &err) < 0 &&
       strstr(err.msg, "cookie offset"), "cookie offset past the data refused");
    put_u32(p + 32, sizeof(xml));

    /* version 1: no cookie; the whole data is XML */
    put_u32(p + 16, 1);
    ok(vs_saveimage_decode(b.data, b.len, "f", false, &img, &err) == 0 && img.version == 1 &&
       img.cookie == NULL && strcmp(img.xml, xml) == 0, "version 1 image: XML, no cookie");
    vs_saveimage_clear(&img);
    put_u32(p + 16, 2);

    /* an XML that is not NUL-terminated */
    memset(p + 92, 'x', b.len - 92);
    ok(vs_saveimage_decode(b.data, b.len, "f", false, &img, &err) < 0 &&
       strstr(err.msg, "NUL"), "XML without NUL refused: %s", err.msg);
    vs_buf_reset(&b);

    /* encode: no cookie, exact room */
    vs_saveimage_encode(xml, NULL, false, true, 0, &b, &err);
    ok(b.len == 92 + sizeof(xml) + VS_SAVEIMAGE_PAD && u32_at((unsigned char *)b.data + 32) ==
       sizeof(xml), "no cookie: cookieOffset still after the XML, padding 64 KiB");
    ok(vs_saveimage_decode(b.data, b.len, "f", false, &img, &err) == 0 && !img.cookie,
       "no cookie read back as none");
    vs_saveimage_clear(&img);
    vs_buf_reset(&b);
    ok(vs_saveimage_encode(xml, "<cookie/>", false, true, 10, &b, &err) < 0, "does not fit");
    is_str(err.msg, "operation failed: new xml too large to fit in file", "libvirt's message");
    vs_buf_reset(&b);
}

static void
test_files(void)
{
    char tmpl[] = "/tmp/vsnap-saveimage-XXXXXX", *dir = mkdtemp(tmpl), *path, *data, *tmp;
    static const char xml[] = "<domain type='qemu'>\n  <name>f</name>\n</domain>\n";
    static const char stream[] = "QEVM\0\0\0\3stream-bytes";
    vs_saveimage img;
    vs_error err;
    struct stat st;
    off_t off = 0;
    size_t len;
    char buf[32];
    int fd;

    /* write_header + a stream + mark_complete, as a save does */
    path = vs_path_join(dir, "w.save");
    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    ok(fd >= 0 && vs_saveimage_write_header(fd, path, xml, vs_saveimage_default_cookie(), true,
                                            &off, &err) == 0, "header written");
    ok(off == (off_t)(92 + sizeof(xml) + strlen(vs_saveimage_default_cookie()) + 1 +
                      VS_SAVEIMAGE_PAD) && lseek(fd, 0, SEEK_CUR) == off,
       "fd left at the stream offset");
    ok(write(fd, stream, sizeof(stream) - 1) == (ssize_t)sizeof(stream) - 1, "stream written");
    ok(vs_saveimage_open(path, O_RDONLY, &img, &err) < 0 &&
       strcmp(err.msg, "operation failed: save image is incomplete") == 0,
       "before mark_complete the image reads as incomplete");
    ok(vs_saveimage_mark_complete(fd, path, &err) == 0, "marked complete");
    close(fd);
    data = slurp(path, &len);
    ok(data && memcmp(data, "LibvirtQemudSave", 16) == 0 && u32_at((unsigned char *)data + 16) == 2 &&
       u32_at((unsigned char *)data + 20) == off - 92 && u32_at((unsigned char *)data + 24) == 1 &&
       u32_at((unsigned char *)data + 28) == 0 && u32_at((unsigned char *)data + 32) == sizeof(xml),
       "header field by field: magic, version 2, data_len, was_running 1, raw, cookieOffset");
    {
        bool zero = true;
        size_t i;

        for (i = 36; data && i < 92; i++)
            zero = zero && data[i] == 0;
        for (i = 92 + sizeof(xml) + strlen(vs_saveimage_default_cookie()) + 1;
             data && i < (size_t)off; i++)
            zero = zero && data[i] == 0;
        ok(zero, "unused words and the padding are zero");
    }
    ok(data && memcmp(data + off, stream, sizeof(stream) - 1) == 0, "stream after the padding");
    free(data);
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600");

    fd = vs_saveimage_open(path, O_RDWR, &img, &err);
    ok(fd >= 0 && lseek(fd, 0, SEEK_CUR) == off && strcmp(img.xml, xml) == 0 &&
       img.was_running == 1, "open: fd at the stream, XML read");
    ok(fd >= 0 && read(fd, buf, 4) == 4 && memcmp(buf, "QEVM", 4) == 0,
       "the stream reads from there");

    /* save-image-define: a bigger XML in place, paused */
    {
        vs_buf big = VS_BUF_INIT;

        vs_buf_add(&big, "<domain type='qemu'>\n  <name>f</name>\n");
        for (int i = 0; i < 1000; i++)
            vs_buf_add(&big, "  <!-- filler -->\n");
        vs_buf_add(&big, "</domain>\n");
        ok(vs_saveimage_rewrite_fd(fd, path, &img, big.data, 0, &err) == 0, "rewrite fits");
        vs_saveimage_clear(&img);
        close(fd);
        fd = vs_saveimage_open(path, O_RDONLY, &img, &err);
        ok(fd >= 0 && strcmp(img.xml, big.data) == 0 && img.was_running == 0 &&
           img.cookie && strcmp(img.cookie, vs_saveimage_default_cookie()) == 0 &&
           vs_saveimage_stream_offset(&img) == off,
           "new XML and was_running read back; cookie and stream offset kept");
        ok(fd >= 0 && read(fd, buf, sizeof(stream) - 1) == (ssize_t)sizeof(stream) - 1 &&
           memcmp(buf, stream, sizeof(stream) - 1) == 0, "the stream is untouched");
        vs_buf_reset(&big);
        close(fd);
        vs_saveimage_clear(&img);
    }
    {
        vs_buf huge = VS_BUF_INIT;

        fd = vs_saveimage_open(path, O_RDWR, &img, &err);
        vs_buf_add(&huge, "<domain>");
        while (huge.len < 70000)
            vs_buf_add(&huge, "<!-- more than the room there is -->");
        vs_buf_add(&huge, "</domain>");
        data = slurp(path, &len);
        ok(vs_saveimage_rewrite_fd(fd, path, &img, huge.data, -1, &err) < 0 &&
           strcmp(err.msg, "operation failed: new xml too large to fit in file") == 0,
           "too large: libvirt's refusal");
        close(fd);
        vs_saveimage_clear(&img);
        {
            size_t l2;
            char *again = slurp(path, &l2);

            ok(data && again && l2 == len && memcmp(data, again, len) == 0,
               "and the file is unchanged");
            free(again);
        }
        free(data);
        vs_buf_reset(&huge);
    }
    ok(vs_saveimage_open("/nonexistent/nosuch.save", O_RDONLY, &img, &err) < 0, "missing file");
    is_str(err.msg, "Failed to open file '/nonexistent/nosuch.save': No such file or directory",
           "virsh's message for a missing file");
    unlink(path);
    free(path);

    path = make_file(dir, "p.save", xml, NULL, false, "QEVM");
    fd = vs_saveimage_open(path, O_RDONLY, &img, &err);
    ok(fd >= 0 && !img.cookie && img.was_running == 0, "constructed image without cookie");
    if (fd >= 0)
        close(fd);
    vs_saveimage_clear(&img);
    unlink(path);
    free(path);

    tmp = vs_mem_temp_path("/a/b/x.save");
    is_str(tmp, "/a/b/.x.save.vsnap-part", "temporary name beside the file");
    free(tmp);
    tmp = vs_mem_temp_path("x.save");
    is_str(tmp, ".x.save.vsnap-part", "relative name");
    free(tmp);
    rmdir(dir);
}

/* save-image-define's backup: never left behind, put back after a crash */
static void
test_backup(void)
{
    char tmpl[] = "/tmp/vsnap-saveimage-bak-XXXXXX", *dir = mkdtemp(tmpl), *path, *bak, *tmpb;
    static const char xml[] = "<domain type='qemu'>\n  <name>b</name>\n</domain>\n";
    char *before = NULL, *after = NULL;
    size_t lb = 0, la = 0;
    vs_saveimage img;
    vs_error err;
    int fd;

    path = make_file(dir, "b.save", xml, vs_saveimage_default_cookie(), true, "QEVMstream");
    bak = vs_xasprintf("%s/.b.save" VS_SAVEIMAGE_BACKUP_SUFFIX, dir);
    tmpb = vs_xasprintf("%s/.b.save" VS_SAVEIMAGE_BACKUP_SUFFIX ".tmp", dir);
    before = slurp(path, &lb);
    fd = vs_saveimage_open(path, O_RDWR, &img, &err);
    ok(fd >= 0 && vs_saveimage_rewrite_fd(fd, path, &img, "<domain><name>b</name><x/></domain>\n",
                                          -1, &err) == 0, "rewrite");
    ok(!vs_file_exists(bak) && !vs_file_exists(tmpb), "no backup left after a rewrite");
    if (fd >= 0)
        close(fd);
    vs_saveimage_clear(&img);

    /* a rewrite that died half way: the backup holds the old start, the
     * image a torn one */
    fd = open(bak, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, before, (size_t)(92 + u32_at((unsigned char *)before + 20))) < 0)
        printf("# cannot write the backup\n");
    if (fd >= 0)
        close(fd);
    fd = open(path, O_WRONLY);
    if (fd < 0 || pwrite(fd, "<domain><name>b</na", 19, 92) != 19)
        printf("# cannot tear the image\n");
    if (fd >= 0)
        close(fd);
    fd = vs_saveimage_open(path, O_RDONLY, &img, &err);
    ok(fd >= 0 && strcmp(img.xml, xml) == 0, "open puts the interrupted rewrite's backup back");
    if (fd >= 0)
        close(fd);
    vs_saveimage_clear(&img);
    after = slurp(path, &la);
    ok(after && la == lb && memcmp(after, before, lb) == 0, "... byte for byte, stream included");
    ok(!vs_file_exists(bak), "... and removes it");
    free(after);

    /* a backup that was never finished (only its temporary): ignored */
    fd = open(tmpb, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        if (write(fd, "Libvirt", 7) < 0)
            printf("# short write\n");
        close(fd);
    }
    fd = vs_saveimage_open(path, O_RDONLY, &img, &err);
    ok(fd >= 0 && strcmp(img.xml, xml) == 0, "a half-written backup temporary is not used");
    if (fd >= 0)
        close(fd);
    vs_saveimage_clear(&img);
    unlink(tmpb);
    unlink(path);
    rmdir(dir);
    free(before);
    free(bak);
    free(tmpb);
    free(path);
}

int
main(void)
{
    const char *ref = testenv_reference();
    static const char *const refs[][2] = {
        { "save-running", "1" }, { "save-paused-flag", "0" },
        { "extmem-snapshot-m1", "1" }, { "extmem-snapshot-live-l1", "1" },
    };
    char *b, *x, *c;
    size_t i;

    b = data_path("save-running.bin");
    x = data_path("save-running.xml");
    c = data_path("save-running.cookie.xml");
    check_libvirt_file(b, x, c, 1, "in-tree save-running");
    free(b), free(x), free(c);
    b = data_path("save-paused-flag.bin");
    x = data_path("save-paused-flag.xml");
    c = data_path("save-paused-flag.cookie.xml");
    check_libvirt_file(b, x, c, 0, "in-tree save-paused-flag");
    free(b), free(x), free(c);

    test_errors();
    test_files();
    test_backup();

    if (!ref) {
        testenv_skip_cross_checks();
        return tap_done();
    }
    for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        const char *n = refs[i][0];
        size_t len;
        char *data;
        vs_saveimage img;
        vs_error err;

        b = vs_xasprintf("%s/virsh-live/save-images/%s.header-and-xml.bin", ref, n);
        x = vs_xasprintf("%s/virsh-live/save-images/%s.xml", ref, n);
        c = vs_xasprintf("%s/virsh-live/save-images/%s.cookie.xml", ref, n);
        if (strncmp(n, "extmem-snapshot-live", 20) == 0) {
            /* its XML is longer: only decode and re-encode */
            data = slurp(b, &len);
            ok(data && vs_saveimage_decode(data, len, b, false, &img, &err) == 0,
               "reference %s decodes", n);
            if (data) {
                vs_buf e = VS_BUF_INIT;
                char *xml = slurp(x, NULL);

                ok(xml && strcmp(img.xml, xml) == 0 &&
                   vs_saveimage_encode(img.xml, img.cookie, img.was_running, true, 0, &e,
                                       &err) == 0 && e.len == len && memcmp(e.data, data, len) == 0,
                   "reference %s: XML as recorded, re-encoded byte for byte", n);
                vs_buf_reset(&e);
                free(xml);
                vs_saveimage_clear(&img);
            }
            free(data);
        } else {
            check_libvirt_file(b, x, c, refs[i][1][0] == '1' ? 1 : 0, n);
        }
        free(b), free(x), free(c);
    }
    return tap_done();
}
