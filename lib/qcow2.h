/* The qcow2 header, read directly: what planning needs of an image (its
 * backing file and format, its internal snapshot names) without starting a
 * qemu-img process for each image. qemu-img stays the tool that changes
 * images and the judge of their consistency (qemu_img.h). */
#ifndef VSNAP_QCOW2_H
#define VSNAP_QCOW2_H

#include <stdbool.h>
#include "error.h"
#include "qemu_img.h"

/*
 * Read image's header. Returns 1 and fills *info (format "qcow2", virtual
 * size, backing_filename as stored, full_backing_filename resolved against
 * the image's directory, backing_format from the header extension or NULL,
 * snapshot_tags) for a qcow2 image; 0 when the file is not qcow2 (*info is
 * zeroed; the caller decides, e.g. by asking qemu-img); -1 with err filled
 * when the file cannot be read or the header is damaged. Release *info with
 * vs_image_info_clear.
 */
int vs_qcow2_probe(const char *image, vs_image_info *info, vs_error *err);

/* 1 when image is a qcow2 image whose active L1 table maps nothing (its
 * guest data is all its backing file's), 0 when it holds data or is not a
 * plain qcow2 image, -1 when it cannot be read. */
int vs_qcow2_is_empty(const char *image, vs_error *err);

/* True when the file starts with the qcow2 or QED magic. */
bool vs_image_has_magic(const char *path);

#endif
