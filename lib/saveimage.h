/* libvirt's save-image format (what `virsh save`, `managedsave` and external
 * memory snapshots write), read and written byte for byte as libvirt 9.0
 * does, so that files go both ways between vsnap and libvirt. No policy and
 * no QEMU: memory_transfer.h moves the QEMU stream after the header.
 *
 * Layout (all integers u32 little-endian; offsets from the file's start):
 *   0x00  magic[16]    "LibvirtQemudPart" while being written,
 *                      "LibvirtQemudSave" once the QEMU stream is complete
 *   0x10  version      2 (1: no cookie; a byte-swapped header is read too)
 *   0x14  data_len     bytes from 0x5c to the QEMU stream
 *   0x18  was_running  1: restore resumes the guest, 0: leaves it paused
 *   0x1c  compressed   0 raw (1 gzip, 2 bzip2, 3 xz, 4 lzop: refused here)
 *   0x20  cookieOffset where the cookie starts, from 0x5c (= xml + 1)
 *   0x24  unused[14]   zero
 *   0x5c  domain XML, NUL; cookie XML ("<cookie>...</cookie>\n"), NUL;
 *         zero padding (64 KiB when written new: room for save-image-define)
 *   0x5c + data_len    the QEMU migration stream ("QEVM...")
 *
 * API for other parts of vsnap:
 *   - write: vs_saveimage_write_header(fd, ...) at offset 0 (partial magic),
 *     leaves fd at the stream offset; hand fd to QEMU (`migrate fd:`), then
 *     vs_saveimage_mark_complete(fd) (fdatasync, magic, fdatasync).
 *     memory_transfer.h does all of that for a running QEMU.
 *   - read: vs_saveimage_open(path, O_RDONLY, &img) returns a descriptor
 *     positioned at the stream (for `migrate-incoming fd:`) with the header,
 *     XML and cookie in img; vs_saveimage_read_fd for an open file;
 *     vs_saveimage_decode for bytes in memory.
 *   - rewrite the XML (save-image-define): vs_saveimage_encode with the
 *     file's data_len, then write the bytes over the start of the file.
 * Errors copy libvirt's messages ("operation failed: image magic is
 * incorrect", "... save image is incomplete", ...).
 */
#ifndef VSNAP_SAVEIMAGE_H
#define VSNAP_SAVEIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "buf.h"
#include "error.h"

#define VS_SAVEIMAGE_MAGIC        "LibvirtQemudSave"
#define VS_SAVEIMAGE_PARTIAL      "LibvirtQemudPart"
#define VS_SAVEIMAGE_MAGIC_LEN    16
#define VS_SAVEIMAGE_VERSION      2
#define VS_SAVEIMAGE_HEADER_SIZE  92          /* 0x5c */
#define VS_SAVEIMAGE_PAD          (64u * 1024)
/* The most data_len vsnap reads: the XML limit twice, plus the padding. */
#define VS_SAVEIMAGE_MAX_DATA     (2u * 10 * 1024 * 1024 + VS_SAVEIMAGE_PAD)

typedef struct vs_saveimage {
    uint32_t version;
    uint32_t data_len;
    uint32_t was_running;
    uint32_t compressed;
    uint32_t cookie_offset;
    bool complete;          /* magic "LibvirtQemudSave" (decode refuses "Part" unless asked) */
    char *xml;              /* the domain XML (owned) */
    char *cookie;           /* the cookie XML (owned), NULL when the image has none */
} vs_saveimage;

/* Free img's strings and zero it (the struct itself is the caller's). */
void vs_saveimage_clear(vs_saveimage *img);

/* Where the QEMU stream starts: 0x5c + data_len. */
off_t vs_saveimage_stream_offset(const vs_saveimage *img);

/*
 * The header, XML, cookie and padding, as libvirt writes them, appended to
 * *out. data_len 0: a new image (padding of VS_SAVEIMAGE_PAD); otherwise
 * the room an existing image has, which the XML and cookie must fit in
 * ("operation failed: new xml too large to fit in file"). cookie NULL: an
 * image without cookie (cookieOffset still set, the cookie empty).
 */
int vs_saveimage_encode(const char *xml, const char *cookie, bool was_running, bool complete,
                        uint32_t data_len, vs_buf *out, vs_error *err);

/* The cookie vsnap writes: libvirt's element, with nothing libvirt would
 * have to act on (no CPU, no slirp helper). Static string. */
const char *vs_saveimage_default_cookie(void);

/*
 * Decode the start of an image (at least the header, then data_len more
 * bytes; fewer: libvirt's "failed to read ..." for the part missing). path
 * only names the file in messages. An incomplete ("Part") image fails
 * ("operation failed: save image is incomplete") unless allow_partial (for
 * repair). A compressed image fails: vsnap does not decompress.
 */
int vs_saveimage_decode(const void *data, size_t len, const char *path, bool allow_partial,
                        vs_saveimage *img, vs_error *err);

/* The same from an open file, from offset 0; on success fd is at the
 * stream offset. */
int vs_saveimage_read_fd(int fd, const char *path, bool allow_partial, vs_saveimage *img,
                         vs_error *err);

/*
 * Open path (flags O_RDONLY or O_RDWR; O_CLOEXEC added) and read it: the
 * descriptor (caller closes) at the stream offset, or -1. A missing file:
 * "Failed to open file 'P': No such file or directory", as virsh.
 */
int vs_saveimage_open(const char *path, int flags, vs_saveimage *img, vs_error *err);

/* Write the header ("Part"), XML, cookie and padding at offset 0 of fd, and
 * leave fd at the stream offset. *stream_off (may be NULL) is that offset. */
int vs_saveimage_write_header(int fd, const char *path, const char *xml, const char *cookie,
                              bool was_running, off_t *stream_off, vs_error *err);

/* The stream is complete: fdatasync, write "LibvirtQemudSave" at 0,
 * fdatasync. */
int vs_saveimage_mark_complete(int fd, const char *path, vs_error *err);

/*
 * save-image-define's change, on an open image (O_RDWR) read into img:
 * new XML and (was_running >= 0) a new was_running, in the room the image
 * has; the bytes before the stream are rewritten in place and synced. The
 * magic stays as it was. img is updated. What is overwritten is first saved
 * beside the image, ".NAME" VS_SAVEIMAGE_BACKUP_SUFFIX, removed once the new
 * bytes are synced: vs_saveimage_open puts an interrupted rewrite's backup
 * back, so the image has the old start or the new one, never a mix.
 */
#define VS_SAVEIMAGE_BACKUP_SUFFIX ".vsnap-define"
int vs_saveimage_rewrite_fd(int fd, const char *path, vs_saveimage *img, const char *xml,
                            int was_running, vs_error *err);

#endif
