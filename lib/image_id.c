#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk_source.h"
#include "image_id.h"
#include "path.h"

void
vs_file_id_get(const char *path, vs_file_id *id)
{
    struct stat sb;

    memset(id, 0, sizeof(*id));
    /* a network image has no device and inode here: never stat'ed */
    if (!path || vs_path_is_network(path) || stat(path, &sb) < 0)
        return;
    id->exists = true;
    id->dev = (unsigned long long)sb.st_dev;
    id->ino = (unsigned long long)sb.st_ino;
    id->size = (long long)sb.st_size;
    id->ctime_ns = (long long)sb.st_ctim.tv_sec * 1000000000LL + sb.st_ctim.tv_nsec;
}

bool
vs_file_id_same(const vs_file_id *a, const vs_file_id *b)
{
    return a->exists && b->exists && a->dev == b->dev && a->ino == b->ino;
}

bool
vs_file_id_unchanged(const vs_file_id *then, const vs_file_id *now)
{
    return vs_file_id_same(then, now) && then->size == now->size &&
           then->ctime_ns == now->ctime_ns;
}

bool
vs_same_image(const char *a, const char *b)
{
    vs_file_id ia, ib;
    char *na, *nb;
    bool eq;

    if (!a || !b)
        return false;
    if (strcmp(a, b) == 0)
        return true;
    if (vs_path_is_network(a) || vs_path_is_network(b)) {
        /* network: the same protocol, host, export or volume/path */
        na = vs_net_locator_normalise(a);
        nb = vs_net_locator_normalise(b);
        eq = na && nb && strcmp(na, nb) == 0;
        free(na);
        free(nb);
        return eq;
    }
    vs_file_id_get(a, &ia);
    vs_file_id_get(b, &ib);
    if (ia.exists && ib.exists)
        return vs_file_id_same(&ia, &ib);
    na = vs_path_absolute(a);
    nb = vs_path_absolute(b);
    eq = strcmp(na, nb) == 0;
    free(na);
    free(nb);
    return eq;
}

bool
vs_image_open_elsewhere(const char *path, bool writers_only)
{
    struct flock fl;
    int fd;
    bool held;

    if (!path || vs_path_is_network(path))
        return false;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
        return false;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = writers_only ? 101 : 100;
    fl.l_len = writers_only ? 1 : 200;
    held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return held;
}
