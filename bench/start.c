/*
 * `vsnap start` until QMP answers, against the floor measured in the same
 * run: QEMU started directly with a minimal command line (64 MiB, TCG, two
 * qcow2 disks, no guest OS) until its QMP socket greets and accepts
 * qmp_capabilities. Runs alternate between the two.
 *
 *   bench/start VSNAP META DOMAIN DISK1 DISK2 RUNS
 *
 * Prints every time, then the medians; exits 1 when vsnap's median is not
 * under 120 ms.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "qmp.h"
#include "spawn.h"

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The floor: spawn QEMU, poll for its socket, greeting + capabilities. */
static double
floor_once(const char *dir, const char *d1, const char *d2)
{
    char *sock = vs_xasprintf("%s/floor.sock", dir);
    char *qmp = vs_xasprintf("unix:%s,server=on,wait=off", sock);
    char *b1 = vs_xasprintf("{\"driver\":\"file\",\"filename\":\"%s\",\"node-name\":\"file0\"}", d1);
    char *b2 = vs_xasprintf("{\"driver\":\"file\",\"filename\":\"%s\",\"node-name\":\"file1\"}", d2);
    const char *argv[] = {
        "qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "64", "-nodefaults",
        "-display", "none", "-no-user-config", "-serial", "none", "-monitor", "none",
        "-blockdev", b1, "-blockdev", "{\"driver\":\"qcow2\",\"file\":\"file0\",\"node-name\":\"fmt0\"}",
        "-device", "virtio-blk-pci,drive=fmt0,id=vda",
        "-blockdev", b2, "-blockdev", "{\"driver\":\"qcow2\",\"file\":\"file1\",\"node-name\":\"fmt1\"}",
        "-device", "virtio-blk-pci,drive=fmt1,id=vdb",
        "-qmp", qmp, NULL,
    };
    int logfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    vs_qmp *q = NULL;
    vs_error err;
    pid_t pid;
    double t0, t = -1;

    unlink(sock);
    t0 = now_ms();
    if (vs_spawn_daemon(argv, NULL, logfd, NULL, 0, &pid, &err) == 0) {
        while (!q && now_ms() - t0 < 30000) {
            struct stat st;
            if (stat(sock, &st) == 0)
                q = vs_qmp_connect(sock, 30000, NULL, &err);
            if (!q)
                usleep(500);
        }
        if (q)
            t = now_ms() - t0;
        vs_qmp_command(q, "quit", NULL, NULL, &err);
        vs_qmp_free(q);
        while (kill(pid, 0) == 0)
            usleep(500);
    }
    close(logfd);
    free(sock);
    free(qmp);
    free(b1);
    free(b2);
    return t;
}

static double
vsnap_once(const char *vsnap, const char *meta, const char *dom)
{
    const char *start[] = { vsnap, "-q", "-d", meta, "start", dom, NULL };
    const char *destroy[] = { vsnap, "-q", "-d", meta, "destroy", dom, NULL };
    vs_error err;
    double t0 = now_ms(), t;

    if (vs_spawn_check(start, NULL, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    t = now_ms() - t0;
    if (vs_spawn_check(destroy, NULL, &err) < 0)
        fprintf(stderr, "%s\n", err.msg);
    return t;
}

int
main(int argc, char **argv)
{
    double *fl, *vs, mf, mv;
    int runs, i;
    char *dir;

    if (argc != 7) {
        fprintf(stderr, "usage: start VSNAP META DOMAIN DISK1 DISK2 RUNS\n");
        return 2;
    }
    runs = atoi(argv[6]);
    if (runs < 1)
        runs = 1;
    dir = vs_xstrdup(argv[2]);
    fl = vs_xcalloc((size_t)runs, sizeof(*fl));
    vs = vs_xcalloc((size_t)runs, sizeof(*vs));
    /* one of each first, not counted: page cache, binaries */
    floor_once(dir, argv[4], argv[5]);
    vsnap_once(argv[1], argv[2], argv[3]);
    for (i = 0; i < runs; i++) {
        if ((fl[i] = floor_once(dir, argv[4], argv[5])) < 0 ||
            (vs[i] = vsnap_once(argv[1], argv[2], argv[3])) < 0) {
            fprintf(stderr, "run %d failed\n", i + 1);
            return 1;
        }
        printf("run %2d: floor %6.1f ms   vsnap start %6.1f ms\n", i + 1, fl[i], vs[i]);
    }
    mf = median(fl, runs);
    mv = median(vs, runs);
    printf("start to QMP ready, median of %d: floor %.1f ms, vsnap start %.1f ms "
           "(target < 120 ms; libvirt 9.0: 577 ms)\n", runs, mf, mv);
    free(fl);
    free(vs);
    free(dir);
    return mv < 120 ? 0 : 1;
}
