/*
 * A FAKE QMP peer (and a fake guest agent) for tests: it listens on a unix
 * socket and misbehaves in ways a real QEMU cannot be made to, so that the
 * client's bounds on time and size can be tested. Not a QEMU.
 *
 *   fake-qmp-peer MODE SOCKET
 *
 * MODE:
 *   garbage   greets with a line that is not JSON
 *   huge      greets with one endless JSON string (never a newline)
 *   silent    accepts and never sends a byte
 *   close     accepts and closes at once
 *   mute      greets, answers qmp_capabilities, then never answers again
 *   events    greets; every command gets a stale reply with another id and
 *             three events (FAKE_EVENT n=1..3) before its real reply
 *   spam      greets, answers qmp_capabilities, then sends events forever
 *   agent     speaks the guest agent protocol: 0xff + the token for
 *             guest-sync-delimited; guest-fsfreeze-freeze, -thaw and -status
 *             as an agent does (a count of 1, the state kept across
 *             connections); {"return":{"fake-agent":true}} otherwise. With
 *             $FAKE_AGENT_LOG set, every command's name is appended to it,
 *             one a line.
 *   agent-hang the same, but guest-fsfreeze-freeze is never answered (a
 *             guest that cannot flush its file systems)
 *
 * It serves one connection after another until SIGTERM (or SIGKILL).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char greeting[] =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": 99}, "
    "\"package\": \"fake\"}, \"capabilities\": []}}\r\n";

static void
put(int fd, const char *s)
{
    size_t n = strlen(s);

    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Read one line (up to '\n'); 0 at EOF. */
static int
get_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;

    while (n + 1 < cap) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0)
            return 0;
        if (c == '\n')
            break;
        buf[n++] = c;
    }
    buf[n] = '\0';
    return 1;
}

/* The "id" member of a command line as JSON text (with its quotes), or "". */
static void
find_id(const char *line, char *out, size_t cap)
{
    const char *p = strstr(line, "\"id\"");
    size_t n = 0;

    out[0] = '\0';
    if (!p || !(p = strchr(p + 4, ':')))
        return;
    for (p++; *p == ' '; p++)
        ;
    if (*p == '"') {
        out[n++] = *p++;
        while (*p && *p != '"' && n + 2 < cap)
            out[n++] = *p++;
        out[n++] = '"';
    } else {
        while (*p && *p != ',' && *p != '}' && n + 1 < cap)
            out[n++] = *p++;
    }
    out[n] = '\0';
}

static void
serve(int fd, const char *mode)
{
    char line[65536], id[256], buf[512];
    int k;

    if (strcmp(mode, "close") == 0)
        return;
    if (strcmp(mode, "silent") == 0) {
        while (read(fd, line, sizeof(line)) > 0)
            ;
        return;
    }
    if (strcmp(mode, "garbage") == 0) {
        put(fd, "this is not JSON at all\r\n");
        while (read(fd, line, sizeof(line)) > 0)
            ;
        return;
    }
    if (strcmp(mode, "huge") == 0) {
        memset(line, 'a', sizeof(line));
        put(fd, "{\"QMP\": \"");
        for (;;) {
            ssize_t w = send(fd, line, sizeof(line), MSG_NOSIGNAL);
            if (w <= 0)
                return;
        }
    }
    if (strncmp(mode, "agent", 5) == 0) {
        static int frozen;
        const char *log = getenv("FAKE_AGENT_LOG");

        while (get_line(fd, line, sizeof(line))) {
            char *p = line, *e;
            while (*p == '\xff')
                p++;
            find_id(p, id, sizeof(id));
            if (log && (e = strstr(p, "\"execute\""))) {
                FILE *f = fopen(log, "a");
                char name[128] = "";

                if ((e = strchr(e + 9, '"')) && sscanf(e + 1, "%127[^\"]", name) == 1 && f)
                    fprintf(f, "%s\n", name);
                if (f)
                    fclose(f);
            }
            if (strstr(p, "guest-fsfreeze-freeze") && strcmp(mode, "agent-hang") == 0) {
                continue;
            } else if (strstr(p, "guest-fsfreeze-freeze") || strstr(p, "guest-fsfreeze-thaw")) {
                frozen = strstr(p, "guest-fsfreeze-freeze") != NULL;
                snprintf(buf, sizeof(buf), "{\"return\": 1%s%s}\n", *id ? ", \"id\": " : "", id);
                put(fd, buf);
            } else if (strstr(p, "guest-fsfreeze-status")) {
                snprintf(buf, sizeof(buf), "{\"return\": \"%s\"%s%s}\n", frozen ? "frozen" : "thawed",
                         *id ? ", \"id\": " : "", id);
                put(fd, buf);
            } else if (strstr(p, "guest-sync-delimited")) {
                const char *a = strstr(p, "\"arguments\"");
                const char *v = a ? strstr(a, "\"id\"") : NULL;
                long long tok = 0;
                if (v && (v = strchr(v, ':')))
                    tok = strtoll(v + 1, NULL, 10);
                snprintf(buf, sizeof(buf), "\xff{\"return\": %lld}\n", tok);
                put(fd, buf);
            } else if (*p) {
                snprintf(buf, sizeof(buf), "{\"return\": {\"fake-agent\": true}%s%s}\n",
                         *id ? ", \"id\": " : "", id);
                put(fd, buf);
            }
        }
        return;
    }
    put(fd, greeting);
    for (k = 0; get_line(fd, line, sizeof(line)); k++) {
        find_id(line, id, sizeof(id));
        if (k > 0 && strcmp(mode, "mute") == 0)
            continue;
        if (k > 0 && strcmp(mode, "spam") == 0) {
            for (;;) {
                if (send(fd, "{\"event\": \"FAKE_SPAM\", \"data\": {}}\r\n", 36, MSG_NOSIGNAL) <= 0)
                    return;
            }
        }
        if (strcmp(mode, "events") == 0) {
            int n;
            put(fd, "{\"return\": {\"stale\": true}, \"id\": \"not-yours\"}\r\n");
            for (n = 1; n <= 3; n++) {
                snprintf(buf, sizeof(buf),
                         "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, "
                         "\"event\": \"FAKE_EVENT\", \"data\": {\"n\": %d}}\r\n", n);
                put(fd, buf);
            }
        }
        if (strstr(line, "query-status"))
            snprintf(buf, sizeof(buf), "{\"return\": {\"status\": \"running\", \"singlestep\": false, "
                     "\"running\": true}%s%s}\r\n", *id ? ", \"id\": " : "", id);
        else
            snprintf(buf, sizeof(buf), "{\"return\": {}%s%s}\r\n", *id ? ", \"id\": " : "", id);
        put(fd, buf);
    }
}

int
main(int argc, char **argv)
{
    struct sockaddr_un sa;
    int lfd;

    if (argc != 3) {
        fprintf(stderr, "usage: fake-qmp-peer MODE SOCKET\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    /* Listen under a temporary name, then rename: the socket appears only
     * once it accepts connections. */
    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.tmp", argv[2]) >= (int)sizeof(sa.sun_path)) {
        fprintf(stderr, "socket path too long\n");
        return 2;
    }
    unlink(sa.sun_path);
    if ((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0 ||
        rename(sa.sun_path, argv[2]) < 0) {
        perror("fake-qmp-peer");
        return 1;
    }
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        serve(fd, argv[1]);
        close(fd);
    }
}
