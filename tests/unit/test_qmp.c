/* lib/qmp.c against a real QEMU (qemu-system-x86_64, TCG, 16 MiB, no guest
 * OS) and against tests/fake-qmp-peer, a FAKE peer for what QEMU cannot be
 * made to do (garbage, endless messages, silence). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "qmp.h"
#include "spawn.h"
#include "tap.h"

static char tmpdir[] = "/tmp/vsnap-test-qmp.XXXXXX";

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
wait_for_file(const char *path)
{
    long long end = now_ms() + 10000;
    struct stat st;

    while (stat(path, &st) < 0 && now_ms() < end)
        usleep(2000);
}

static pid_t
start_fake(const char *mode, const char *sock)
{
    const char *bin = getenv("FAKE_QMP_PEER");
    char *dflt = NULL;
    pid_t pid;

    if (!bin) {
        const char *top = getenv("top_builddir");
        dflt = vs_xasprintf("%s/tests/fake-qmp-peer", top ? top : ".");
        bin = dflt;
    }
    unlink(sock);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execl(bin, bin, mode, sock, (char *)NULL);
        _exit(127);
    }
    free(dflt);
    wait_for_file(sock);
    return pid;
}

static void
stop_fake(pid_t pid)
{
    int st;

    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

static bool
match_n2(json_object *data, void *opaque)
{
    json_object *n;

    (void)opaque;
    return data && json_object_object_get_ex(data, "n", &n) && json_object_get_int(n) == 2;
}

static int
event_n(vs_qmp *q)
{
    json_object *d = NULL, *n;
    vs_error err;
    int v = -1;

    if (vs_qmp_event_wait(q, "FAKE_EVENT", NULL, NULL, 0, &d, &err) == 1 && d &&
        json_object_object_get_ex(d, "n", &n))
        v = json_object_get_int(n);
    json_object_put(d);
    return v;
}

static void
fake_tests(void)
{
    char *sock = vs_xasprintf("%s/fake.sock", tmpdir);
    vs_error err;
    vs_qmp *q;
    pid_t p;
    long long t0;
    bool refused = false;
    json_object *ret = NULL;
    char *text = NULL;

    q = vs_qmp_connect(sock, 500, &refused, &err);
    ok(!q && refused, "nothing listening: refused (%s)", err.msg);

    p = start_fake("garbage", sock);
    t0 = now_ms();
    q = vs_qmp_connect(sock, 5000, &refused, &err);
    ok(!q && !refused && strstr(err.msg, "cannot parse the reply") && now_ms() - t0 < 2000,
       "garbage greeting: one clear error at once (%s)", err.msg);
    stop_fake(p);

    p = start_fake("huge", sock);
    t0 = now_ms();
    q = vs_qmp_connect(sock, 20000, NULL, &err);
    ok(!q && strstr(err.msg, "larger than") && now_ms() - t0 < 10000,
       "endless message: stopped at the size limit (%s, %lld ms)", err.msg, now_ms() - t0);
    stop_fake(p);

    p = start_fake("silent", sock);
    t0 = now_ms();
    q = vs_qmp_connect(sock, 300, NULL, &err);
    ok(!q && err.code == VS_ERR_TIMEOUT && strstr(err.msg, "no greeting") && now_ms() - t0 < 2000,
       "silent peer: timeout within the bound (%s)", err.msg);
    stop_fake(p);

    p = start_fake("close", sock);
    q = vs_qmp_connect(sock, 2000, NULL, &err);
    ok(!q && strstr(err.msg, "closed the connection"), "peer that hangs up: %s", err.msg);
    stop_fake(p);

    p = start_fake("mute", sock);
    q = vs_qmp_connect(sock, 300, NULL, &err);
    ok(q != NULL, "mute peer: greeting and capabilities");
    if (q) {
        t0 = now_ms();
        ok(vs_qmp_command(q, "query-status", NULL, NULL, &err) < 0 && err.code == VS_ERR_TIMEOUT &&
           now_ms() - t0 < 2000, "unanswered command: timeout (%s)", err.msg);
        t0 = now_ms();
        ok(vs_qmp_command(q, "query-status", NULL, NULL, &err) < 0 && err.code == VS_ERR_TIMEOUT &&
           now_ms() - t0 < 100, "a connection that timed out fails at once afterwards");
        vs_qmp_free(q);
    }
    stop_fake(p);

    p = start_fake("events", sock);
    q = vs_qmp_connect(sock, 2000, NULL, &err);
    ok(q != NULL, "events peer: connected");
    if (q) {
        vs_qmp_events_clear(q);   /* those that came with qmp_capabilities */
        ok(vs_qmp_command(q, "query-status", NULL, &ret, &err) == 0 && ret &&
           !json_object_object_get_ex(ret, "stale", NULL),
           "a stale reply with another id is skipped, ours is taken");
        json_object_put(ret);
        ok(vs_qmp_events_queued(q) == 3, "the three events that came first are queued");
        {
            json_object *d = NULL;
            ok(vs_qmp_event_wait(q, "FAKE_EVENT", match_n2, NULL, 0, &d, &err) == 1,
               "an event is taken by a predicate");
            json_object_put(d);
        }
        ok(event_n(q) == 1 && event_n(q) == 3, "the others stay queued in order");
        ok(vs_qmp_event_wait(q, "FAKE_EVENT", NULL, NULL, 50, NULL, &err) == 0,
           "no event left: 0 after the wait");
        ok(vs_qmp_command_text(q, "{\"execute\":\"query-status\"}", false, &text, &err) == 0 &&
           strstr(text, "\"status\":\"running\"") && strstr(text, "\"id\":\"vsnap-"),
           "a user's command: the whole reply as text (%s)", text ? text : err.msg);
        free(text);
        text = NULL;
        ok(vs_qmp_command_text(q, "{\"execute\": nope", false, &text, &err) < 0 &&
           strstr(err.msg, "cannot parse json"), "a user's command that is not JSON: %s", err.msg);
        vs_qmp_free(q);
    }
    stop_fake(p);

    p = start_fake("spam", sock);
    q = vs_qmp_connect(sock, 300, NULL, &err);
    if (q) {
        t0 = now_ms();
        ok(vs_qmp_command(q, "query-status", NULL, NULL, &err) < 0 && err.code == VS_ERR_TIMEOUT &&
           now_ms() - t0 < 3000, "endless events: the command still times out in time");
        ok(vs_qmp_events_queued(q) <= VS_QMP_MAX_EVENTS && vs_qmp_events_dropped(q) > 0,
           "the event queue is bounded (%zu kept, %zu dropped)", vs_qmp_events_queued(q),
           vs_qmp_events_dropped(q));
        vs_qmp_free(q);
    } else {
        ok(0, "spam peer: connected (%s)", err.msg);
        ok(0, "spam peer");
    }
    stop_fake(p);

    p = start_fake("agent", sock);
    q = vs_qga_connect(sock, 2000, NULL, &err);
    ok(q != NULL, "fake guest agent: guest-sync-delimited handshake (%s)", q ? "" : err.msg);
    if (q) {
        ok(vs_qmp_command_text(q, "{\"execute\":\"guest-info\"}", false, &text, &err) == 0 &&
           strstr(text, "fake-agent"), "agent command through the same client");
        free(text);
        text = NULL;
        vs_qmp_free(q);
    }
    stop_fake(p);
    p = start_fake("silent", sock);
    q = vs_qga_connect(sock, 300, NULL, &err);
    ok(!q && err.code == VS_ERR_AGENT_UNRESPONSIVE, "an agent that never answers: %s", err.msg);
    stop_fake(p);
    free(sock);
}

/* ---- a real QEMU ------------------------------------------------------ */

static pid_t
start_qemu(const char *sock, const char *disk)
{
    char *qmp = vs_xasprintf("unix:%s,server=on,wait=off", sock);
    char *file = vs_xasprintf("{\"driver\":\"file\",\"filename\":\"%s\",\"node-name\":\"file0\"}", disk);
    const char *argv[] = {
        "qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "16", "-nodefaults",
        "-display", "none", "-no-user-config", "-qmp", qmp,
        "-blockdev", file,
        "-blockdev", "{\"driver\":\"qcow2\",\"file\":\"file0\",\"node-name\":\"fmt0\"}",
        "-device", "virtio-blk-pci,drive=fmt0,id=vda", NULL,
    };
    int logfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_t pid = -1;
    vs_error err;

    unlink(sock);
    if (vs_spawn_daemon(argv, NULL, logfd, NULL, 0, &pid, &err) < 0)
        printf("# %s\n", err.msg);
    close(logfd);
    wait_for_file(sock);
    free(qmp);
    free(file);
    return pid;
}

static bool
match_completed(json_object *data, void *opaque)
{
    json_object *s;

    (void)opaque;
    return data && json_object_object_get_ex(data, "status", &s) &&
           strcmp(json_object_get_string(s), "completed") == 0;
}

static void
qemu_tests(void)
{
    char *sock = vs_xasprintf("%s/qemu.sock", tmpdir);
    char *disk = vs_xasprintf("%s/disk.qcow2", tmpdir);
    const char *mk[] = { "qemu-img", "create", "-q", "-f", "qcow2", disk, "16M", NULL };
    vs_error err;
    vs_qmp *q = NULL;
    pid_t pid;
    int maj, min, mic, fd, i;
    char *s = NULL, *out = NULL;
    bool running;
    json_object *a;

    if (vs_spawn_check(mk, NULL, &err) < 0 || (pid = start_qemu(sock, disk)) <= 0) {
        ok(0, "a real QEMU starts (%s)", err.msg);
        goto out;
    }
    for (i = 0; i < 200 && !q; i++) {
        if (!(q = vs_qmp_connect(sock, 5000, NULL, &err)))
            usleep(10000);
    }
    ok(q != NULL, "QEMU: greeting and capabilities (%s)", q ? "" : err.msg);
    if (!q)
        goto out;
    vs_qmp_version(q, &maj, &min, &mic);
    ok(maj >= 7, "QEMU's version from the greeting: %d.%d.%d", maj, min, mic);
    ok(vs_qmp_peer_pid(q) == pid, "the peer's pid from SO_PEERCRED");
    ok(vs_qmp_query_status(q, &s, &running, &err) == 0 && strcmp(s, "running") == 0 && running,
       "query-status: running");
    free(s);
    s = NULL;

    ok(vs_qmp_command(q, "stop", NULL, NULL, &err) == 0, "stop");
    ok(vs_qmp_query_status(q, &s, &running, &err) == 0 && strcmp(s, "paused") == 0 && !running,
       "paused");
    free(s);
    s = NULL;
    ok(vs_qmp_event_wait(q, "STOP", NULL, NULL, 0, NULL, &err) == 1,
       "the STOP event that came with the replies was queued, not lost");
    ok(vs_qmp_hmp(q, "info status", &out, &err) == 0 && strstr(out, "paused"),
       "HMP through human-monitor-command");
    free(out);
    out = NULL;

    ok(vs_qmp_command(q, "no-such-command", NULL, NULL, &err) < 0 &&
       strcmp(vs_qmp_error_class(q), "CommandNotFound") == 0 &&
       strstr(err.msg, "internal error: unable to execute QEMU command 'no-such-command': "),
       "QEMU's error as one line, with its class: %s", err.msg);
    ok(vs_qmp_query_status(q, NULL, NULL, &err) == 0, "the connection stays usable after an error reply");

    {
        /* commands sent at once, answered in order */
        const char *cmds[3] = { "query-status", "query-name", "query-kvm" };
        const char *bad[3] = { "query-status", "no-such-command", "query-name" };
        json_object *args[3] = { NULL, NULL, NULL }, *rets[3], *v;

        vs_error_clear(&err);
        ok(vs_qmp_commands(q, 3, cmds, args, rets, &err) == 0 && rets[0] && rets[2] &&
           json_object_object_get_ex(rets[0], "status", &v) &&
           strcmp(json_object_get_string(v), "paused") == 0 &&
           json_object_object_get_ex(rets[2], "enabled", NULL),
           "three commands in one round trip, each answer in its place (%s)", err.msg);
        for (i = 0; i < 3; i++)
            json_object_put(rets[i]);
        vs_error_clear(&err);
        ok(vs_qmp_commands(q, 3, bad, args, rets, &err) < 0 && !rets[0] && !rets[2] &&
           strstr(err.msg, "'no-such-command'"),
           "one refused command fails the batch with its message: %s", err.msg);
        ok(vs_qmp_query_status(q, &s, NULL, &err) == 0 && strcmp(s, "paused") == 0,
           "the answers after it were read: the next command gets its own");
        free(s);
        s = NULL;
    }

    fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    ok(vs_qmp_getfd(q, fd, "fd-test", &err) == 0, "getfd passes a descriptor (SCM_RIGHTS)");
    a = json_object_new_object();
    json_object_object_add(a, "fdname", json_object_new_string("fd-test"));
    ok(vs_qmp_command(q, "closefd", a, NULL, &err) == 0, "QEMU holds it under its name");
    a = json_object_new_object();
    json_object_object_add(a, "fdname", json_object_new_string("fd-test"));
    ok(vs_qmp_command(q, "closefd", a, NULL, &err) < 0, "and closed it: %s", err.msg);

    /* jobs: snapshot-save, then the restore-vm trap of a failed load */
    ok(vs_qmp_command(q, "cont", NULL, NULL, &err) == 0, "cont");
    a = json_object_new_object();
    json_object_object_add(a, "job-id", json_object_new_string("save-t1"));
    json_object_object_add(a, "tag", json_object_new_string("t1"));
    json_object_object_add(a, "vmstate", json_object_new_string("fmt0"));
    json_object_object_add(a, "devices", json_tokener_parse("[\"fmt0\"]"));
    ok(vs_qmp_job_run(q, "snapshot-save", a, "save-t1", 30000, &err) == 0,
       "snapshot-save job awaited through JOB_STATUS_CHANGE and dismissed (%s)", err.msg);
    a = json_object_new_object();
    json_object_object_add(a, "job-id", json_object_new_string("load-nope"));
    json_object_object_add(a, "tag", json_object_new_string("nope"));
    json_object_object_add(a, "vmstate", json_object_new_string("fmt0"));
    json_object_object_add(a, "devices", json_tokener_parse("[\"fmt0\"]"));
    ok(vs_qmp_job_run(q, "snapshot-load", a, "load-nope", 30000, &err) < 0 &&
       strstr(err.msg, "job 'load-nope' failed: "), "a failed job gives its error: %s", err.msg);
    ok(vs_qmp_query_status(q, &s, NULL, &err) == 0 && strcmp(s, "restore-vm") == 0,
       "the run state after a failed load is exposed: %s", s ? s : err.msg);
    free(s);
    s = NULL;
    ok(vs_qmp_command(q, "cont", NULL, NULL, &err) == 0 &&
       vs_qmp_query_status(q, &s, NULL, &err) == 0 && strcmp(s, "running") == 0,
       "cont leaves restore-vm");
    free(s);
    s = NULL;

    /* migration: events only with the capability; cont only in postmigrate */
    ok(vs_qmp_migration_events(q, &err) == 0, "MIGRATION events switched on");
    ok(vs_qmp_getfd(q, fd, "migrate", &err) == 0, "getfd for migrate");
    close(fd);
    a = json_object_new_object();
    json_object_object_add(a, "uri", json_object_new_string("fd:migrate"));
    ok(vs_qmp_command(q, "migrate", a, NULL, &err) == 0, "migrate to fd:migrate");
    ok(vs_qmp_event_wait(q, "MIGRATION", match_completed, NULL, 30000, NULL, &err) == 1,
       "MIGRATION completed event");
    ok(vs_qmp_wait_status(q, "postmigrate", 10000, &err) == 0, "run state postmigrate (%s)", err.msg);
    ok(vs_qmp_command(q, "cont", NULL, NULL, &err) == 0, "cont after the migration");

    ok(vs_qmp_command(q, "quit", NULL, NULL, &err) == 0, "quit");
    ok(vs_qmp_command(q, "query-status", NULL, NULL, &err) < 0 && strstr(err.msg, "closed the connection"),
       "QEMU gone: %s", err.msg);
 out:
    vs_qmp_free(q);
    free(sock);
    free(disk);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    fake_tests();
    qemu_tests();
    {
        const char *rm[] = { "rm", "-rf", tmpdir, NULL };
        vs_error err;
        vs_spawn_check(rm, NULL, &err);
    }
    return tap_done();
}
