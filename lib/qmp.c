/* QMP client (see qmp.h). One socket, blocking I/O under poll() with an
 * absolute deadline per call, JSON read as a stream with json-c's tokener. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "mem.h"
#include "progress.h"
#include "qmp.h"

typedef struct qmp_event {
    char *name;
    json_object *data;          /* owned; NULL when the event had none */
} qmp_event;

struct vs_qmp {
    int fd;
    bool agent;                 /* guest agent protocol */
    char *what;                 /* "monitor socket PATH" */
    json_tokener *tok;
    char rbuf[65536];
    size_t rlen, roff;          /* unparsed bytes rbuf[roff..rlen) */
    size_t fed;                 /* bytes given to the tokener since the last message */
    int timeout_ms;
    size_t max_message;
    unsigned long long next_id;
    qmp_event *ev;              /* ring of queued events */
    size_t ev_head, ev_n, ev_cap, ev_dropped;
    int ver[3];
    pid_t peer;
    bool migration_events;
    char error_class[64];
    vs_error broken;            /* set once the stream is unusable */
    char *progress_what;        /* vs_qmp_set_progress */
    bool progress_shown;
};


/* Mark the connection unusable with this error (and return -1). */
static int
set_broken(vs_qmp *q, vs_error *err)
{
    if (q->broken.code == VS_ERR_OK && err)
        q->broken = *err;
    else if (q->broken.code == VS_ERR_OK)
        vs_error_set(&q->broken, VS_ERR_INTERNAL, "%s is unusable", q->what);
    return -1;
}

static int
check_usable(vs_qmp *q, vs_error *err)
{
    if (q->broken.code == VS_ERR_OK)
        return 0;
    if (err)
        *err = q->broken;
    return -1;
}

/* ---- event queue ------------------------------------------------------ */

static void
queue_event(vs_qmp *q, json_object *msg)
{
    json_object *name, *data = NULL;
    qmp_event *e;

    if (!json_object_object_get_ex(msg, "event", &name) ||
        !json_object_is_type(name, json_type_string))
        return;
    if (q->ev_n == VS_QMP_MAX_EVENTS) {
        e = &q->ev[q->ev_head];
        free(e->name);
        json_object_put(e->data);
        q->ev_head = (q->ev_head + 1) % q->ev_cap;
        q->ev_n--;
        q->ev_dropped++;
    }
    if (q->ev_n == q->ev_cap) {
        /* Grow and straighten the ring. */
        size_t ncap = q->ev_cap ? q->ev_cap * 2 : 16, i;
        qmp_event *n;

        if (ncap > VS_QMP_MAX_EVENTS)
            ncap = VS_QMP_MAX_EVENTS;
        n = vs_xcalloc(ncap, sizeof(*n));
        for (i = 0; i < q->ev_n; i++)
            n[i] = q->ev[(q->ev_head + i) % q->ev_cap];
        free(q->ev);
        q->ev = n;
        q->ev_cap = ncap;
        q->ev_head = 0;
    }
    e = &q->ev[(q->ev_head + q->ev_n) % q->ev_cap];
    e->name = vs_xstrdup(json_object_get_string(name));
    if (json_object_object_get_ex(msg, "data", &data))
        e->data = json_object_get(data);
    else
        e->data = NULL;
    q->ev_n++;
}

/* Remove queue entry k (0 = oldest), keeping the others in order. */
static void
dequeue_at(vs_qmp *q, size_t k)
{
    size_t i;

    free(q->ev[(q->ev_head + k) % q->ev_cap].name);
    for (i = k; i + 1 < q->ev_n; i++)
        q->ev[(q->ev_head + i) % q->ev_cap] = q->ev[(q->ev_head + i + 1) % q->ev_cap];
    q->ev_n--;
}

static bool
take_event(vs_qmp *q, const char *name, vs_qmp_event_match match, void *opaque,
           json_object **data)
{
    size_t k;

    for (k = 0; k < q->ev_n; k++) {
        qmp_event *e = &q->ev[(q->ev_head + k) % q->ev_cap];

        if (name && strcmp(e->name, name) != 0)
            continue;
        if (match && !match(e->data, opaque))
            continue;
        if (data)
            *data = e->data;
        else
            json_object_put(e->data);
        e->data = NULL;
        dequeue_at(q, k);
        return true;
    }
    return false;
}

void
vs_qmp_events_clear(vs_qmp *q)
{
    while (q->ev_n > 0) {
        json_object_put(q->ev[q->ev_head].data);
        q->ev[q->ev_head].data = NULL;
        dequeue_at(q, 0);
    }
}

size_t
vs_qmp_events_queued(const vs_qmp *q)
{
    return q->ev_n;
}

size_t
vs_qmp_events_dropped(const vs_qmp *q)
{
    return q->ev_dropped;
}

/* ---- reading ------------------------------------------------------------ */

/* A short, printable excerpt of what the peer sent, for messages. */
static char *
excerpt(const char *s, size_t len)
{
    vs_buf b = VS_BUF_INIT;
    size_t i;

    for (i = 0; i < len && i < 60; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f)
            vs_buf_addc(&b, (char)c);
        else
            vs_buf_addf(&b, "\\x%02x", c);
    }
    if (len > 60)
        vs_buf_add(&b, "...");
    return vs_buf_steal(&b);
}

/*
 * Parse the next complete message from the buffered bytes. Returns 1 with
 * *msg, 0 when more bytes are needed, -1 on garbage (broken).
 */
static int
parse_buffered(vs_qmp *q, json_object **msg, vs_error *err)
{
    while (q->roff < q->rlen) {
        const char *p = q->rbuf + q->roff;
        size_t n = q->rlen - q->roff, used;
        enum json_tokener_error jerr;
        json_object *o;

        /* Skip the separators between messages ourselves, so that "fed"
         * counts only bytes of a message. */
        if (q->fed == 0 && (*p == '\r' || *p == '\n' || *p == ' ' || *p == '\t' ||
                            (q->agent && (unsigned char)*p == 0xff))) {
            q->roff++;
            continue;
        }
        o = json_tokener_parse_ex(q->tok, p, (int)n);
        jerr = json_tokener_get_error(q->tok);
        used = json_tokener_get_parse_end(q->tok);
        if (used > n)
            used = n;
        if (o) {
            q->roff += used;
            q->fed = 0;
            json_tokener_reset(q->tok);
            if (!json_object_is_type(o, json_type_object)) {
                char *x = excerpt(p, used);
                json_object_put(o);
                vs_error_set(err, VS_ERR_INTERNAL, "unexpected message from %s: '%s'",
                             q->what, x);
                free(x);
                return set_broken(q, err);
            }
            *msg = o;
            return 1;
        }
        if (jerr != json_tokener_continue) {
            char *x = excerpt(p, n);
            vs_error_set(err, VS_ERR_INTERNAL, "cannot parse the reply from %s: %s: '%s'",
                         q->what, json_tokener_error_desc(jerr), x);
            free(x);
            return set_broken(q, err);
        }
        q->fed += n;
        q->roff = q->rlen;
        if (q->fed > q->max_message) {
            vs_error_set(err, VS_ERR_INTERNAL,
                         "%s sent a message larger than %zu bytes", q->what, q->max_message);
            return set_broken(q, err);
        }
    }
    q->roff = q->rlen = 0;
    return 0;
}

/*
 * The next message, read until the deadline. Returns 1 with *msg, 0 on
 * timeout (nothing set, connection still usable), -1 on error (broken).
 */
static int
read_message(vs_qmp *q, long long deadline, json_object **msg, vs_error *err)
{
    for (;;) {
        struct pollfd pfd;
        ssize_t r;
        int rc;

        /* A peer that never stops talking must not keep us past the
         * deadline: poll() with nothing left to wait reports data at once. */
        if (vs_clock_ms() >= deadline)
            return 0;
        if ((rc = parse_buffered(q, msg, err)) != 0)
            return rc;
        pfd.fd = q->fd;
        pfd.events = POLLIN;
        rc = poll(&pfd, 1, vs_clock_left(deadline));
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            vs_error_sys(err, errno, "cannot wait for %s", q->what);
            return set_broken(q, err);
        }
        if (rc == 0)
            return 0;
        r = recv(q->fd, q->rbuf, sizeof(q->rbuf), 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0 && errno == ECONNRESET)
            r = 0;
        if (r < 0) {
            vs_error_sys(err, errno, "cannot read from %s", q->what);
            return set_broken(q, err);
        }
        if (r == 0) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s closed the connection", q->what);
            return set_broken(q, err);
        }
        q->roff = 0;
        q->rlen = (size_t)r;
    }
}

/* ---- writing ------------------------------------------------------------ */

static int
send_all(vs_qmp *q, const char *data, size_t len, int fd, long long deadline, vs_error *err)
{
    size_t off = 0;

    while (off < len) {
        struct msghdr mh;
        struct iovec iov;
        union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } cm;
        struct pollfd pfd;
        ssize_t w;
        int rc;

        memset(&mh, 0, sizeof(mh));
        iov.iov_base = (void *)(data + off);
        iov.iov_len = len - off;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        if (fd >= 0 && off == 0) {
            struct cmsghdr *c;

            memset(&cm, 0, sizeof(cm));
            mh.msg_control = cm.buf;
            mh.msg_controllen = sizeof(cm.buf);
            c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        w = sendmsg(q->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s closed the connection", q->what);
            return set_broken(q, err);
        }
        if (w < 0 && errno != EAGAIN) {
            vs_error_sys(err, errno, "cannot write to %s", q->what);
            return set_broken(q, err);
        }
        pfd.fd = q->fd;
        pfd.events = POLLOUT;
        rc = poll(&pfd, 1, vs_clock_left(deadline));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            vs_error_set(err, VS_ERR_TIMEOUT, "%s does not accept a command", q->what);
            return set_broken(q, err);
        }
    }
    return 0;
}

static char *
to_text(json_object *o, bool pretty)
{
    int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

    flags |= pretty ? (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED) : JSON_C_TO_STRING_PLAIN;
    return vs_xstrdup(json_object_to_json_string_ext(o, flags));
}

/* Does reply `msg` answer the command with id `id`? QEMU answers a command
 * it could not even parse without an id: that answer is ours too. */
static bool
answers(json_object *msg, const char *id)
{
    json_object *v;

    if (!json_object_object_get_ex(msg, "return", NULL) &&
        !json_object_object_get_ex(msg, "error", NULL))
        return false;
    if (!json_object_object_get_ex(msg, "id", &v))
        return true;
    return json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), id) == 0;
}

/*
 * Wait for the reply to the command with id `id` (NULL: any reply is the
 * answer), queueing the events that come first: *reply (caller frees) is
 * the whole reply object.
 */
static int
await_reply(vs_qmp *q, const char *id, const char *name, long long deadline,
            json_object **reply, vs_error *err)
{
    int rc;

    *reply = NULL;
    for (;;) {
        json_object *msg = NULL;

        rc = read_message(q, deadline, &msg, err);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            vs_error_set(err, VS_ERR_TIMEOUT, "%s did not answer '%s' within %d ms",
                         q->what, name, q->timeout_ms);
            return set_broken(q, err);
        }
        if (json_object_object_get_ex(msg, "event", NULL)) {
            queue_event(q, msg);
            json_object_put(msg);
            continue;
        }
        if (!json_object_object_get_ex(msg, "return", NULL) &&
            !json_object_object_get_ex(msg, "error", NULL)) {
            char *x = to_text(msg, false);
            char *ex = excerpt(x, strlen(x));
            vs_error_set(err, VS_ERR_INTERNAL, "unexpected message from %s: '%s'", q->what, ex);
            free(ex);
            free(x);
            json_object_put(msg);
            return set_broken(q, err);
        }
        if (id && !answers(msg, id)) {
            /* A late answer to an earlier command: not ours. */
            json_object_put(msg);
            continue;
        }
        *reply = msg;
        return 0;
    }
}

/* The text that sends command object cmd (caller frees). */
static char *
command_text(json_object *cmd)
{
    return vs_xasprintf("%s\r\n", json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Send the command object `cmd` (with id `id`, or NULL: then any reply is
 * the answer) and wait for its reply (await_reply). */
static int
transact(vs_qmp *q, json_object *cmd, const char *id, const char *name, int fd,
         json_object **reply, vs_error *err)
{
    long long deadline = vs_clock_ms() + q->timeout_ms;
    char *text;
    int rc;

    *reply = NULL;
    if (check_usable(q, err) < 0)
        return -1;
    text = command_text(cmd);
    rc = send_all(q, text, strlen(text), fd, deadline, err);
    free(text);
    if (rc < 0)
        return -1;
    return await_reply(q, id, name, deadline, reply, err);
}

static json_object *
make_command(vs_qmp *q, const char *cmd, json_object *args, char **id)
{
    json_object *o = json_object_new_object();

    *id = vs_xasprintf("vsnap-%llu", ++q->next_id);
    json_object_object_add(o, "execute", json_object_new_string(cmd));
    if (args)
        json_object_object_add(o, "arguments", args);
    json_object_object_add(o, "id", json_object_new_string(*id));
    return o;
}

static int
reply_error(vs_qmp *q, const char *cmd, json_object *reply, vs_error *err)
{
    json_object *e, *cls = NULL, *desc = NULL;

    if (!json_object_object_get_ex(reply, "error", &e))
        return 0;
    json_object_object_get_ex(e, "class", &cls);
    json_object_object_get_ex(e, "desc", &desc);
    snprintf(q->error_class, sizeof(q->error_class), "%s",
             cls ? json_object_get_string(cls) : "GenericError");
    if (q->agent)
        return vs_error_set(err, VS_ERR_INTERNAL,
                            "unable to execute QEMU agent command '%s': %s", cmd,
                            desc ? json_object_get_string(desc) : "unknown error");
    return vs_error_set(err, VS_ERR_INTERNAL, "unable to execute QEMU command '%s': %s", cmd,
                        desc ? json_object_get_string(desc) : "unknown error");
}

int
vs_qmp_command_fd(vs_qmp *q, const char *cmd, json_object *args, int fd, json_object **ret,
                  vs_error *err)
{
    json_object *o, *reply = NULL, *r;
    char *id;
    int rc;

    if (ret)
        *ret = NULL;
    q->error_class[0] = '\0';
    o = make_command(q, cmd, args, &id);
    rc = transact(q, o, id, cmd, fd, &reply, err);
    json_object_put(o);
    free(id);
    if (rc < 0)
        return -1;
    if (reply_error(q, cmd, reply, err) < 0) {
        json_object_put(reply);
        return -1;
    }
    if (ret && json_object_object_get_ex(reply, "return", &r))
        *ret = json_object_get(r);
    json_object_put(reply);
    return 0;
}

int
vs_qmp_command(vs_qmp *q, const char *cmd, json_object *args, json_object **ret, vs_error *err)
{
    return vs_qmp_command_fd(q, cmd, args, -1, ret, err);
}

int
vs_qmp_commands(vs_qmp *q, size_t n, const char *const *cmds, json_object **args,
                json_object **rets, vs_error *err)
{
    long long deadline = vs_clock_ms() + q->timeout_ms;
    char **ids = vs_xcalloc(n + 1, sizeof(*ids));
    vs_buf text = VS_BUF_INIT;
    size_t i;
    int ret = 0;

    for (i = 0; i < n; i++) {
        json_object *o = make_command(q, cmds[i], args[i], &ids[i]);
        char *t = command_text(o);

        vs_buf_add(&text, t);
        free(t);
        json_object_put(o);
        rets[i] = NULL;
    }
    q->error_class[0] = '\0';
    if (check_usable(q, err) < 0 ||
        send_all(q, vs_buf_str(&text), text.len, -1, deadline, err) < 0)
        ret = -1;
    /* QEMU answers in order: each reply is awaited, the ones after an error
     * reply too (they are read, not left for a later command) */
    for (i = 0; ret == 0 && i < n; i++) {
        json_object *reply = NULL, *r;
        vs_error e;

        vs_error_clear(&e);
        if (await_reply(q, ids[i], cmds[i], deadline, &reply, err) < 0) {
            ret = -1;
            break;
        }
        if (reply_error(q, cmds[i], reply, &e) < 0) {
            if (err)
                *err = e;
            json_object_put(reply);
            while (++i < n && await_reply(q, ids[i], cmds[i], deadline, &reply, &e) == 0)
                json_object_put(reply);
            ret = -1;
            break;
        }
        if (json_object_object_get_ex(reply, "return", &r))
            rets[i] = json_object_get(r);
        json_object_put(reply);
    }
    if (ret < 0)
        for (i = 0; i < n; i++) {
            json_object_put(rets[i]);
            rets[i] = NULL;
        }
    for (i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    vs_buf_reset(&text);
    return ret;
}

const char *
vs_qmp_error_class(const vs_qmp *q)
{
    return q->error_class;
}

int
vs_qmp_getfd(vs_qmp *q, int fd, const char *fdname, vs_error *err)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "fdname", json_object_new_string(fdname));
    return vs_qmp_command_fd(q, "getfd", args, fd, NULL, err);
}

int
vs_qmp_command_text(vs_qmp *q, const char *text, bool pretty, char **out, vs_error *err)
{
    json_tokener *tok;
    json_object *o, *idv, *reply = NULL;
    const char *name = "";
    char *id = NULL;
    int rc;

    *out = NULL;
    tok = json_tokener_new_ex(64);
    o = json_tokener_parse_ex(tok, text, (int)strlen(text));
    if (o) {
        /* Only blanks may follow the object. */
        const char *rest = text + json_tokener_get_parse_end(tok);

        rest += strspn(rest, " \t\r\n");
        if (*rest || !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            o = NULL;
        }
    }
    if (!o) {
        json_tokener_free(tok);
        return vs_error_set(err, VS_ERR_INTERNAL,
                            "cannot parse json %s: the command must be one JSON object", text);
    }
    json_tokener_free(tok);
    if (json_object_object_get_ex(o, "execute", &idv) && json_object_is_type(idv, json_type_string))
        name = json_object_get_string(idv);
    if (!json_object_object_get_ex(o, "id", &idv)) {
        id = vs_xasprintf("vsnap-%llu", ++q->next_id);
        json_object_object_add(o, "id", json_object_new_string(id));
    } else if (json_object_is_type(idv, json_type_string)) {
        id = vs_xstrdup(json_object_get_string(idv));
    }
    /* An id that is not a string cannot be matched: the next reply is ours. */
    rc = transact(q, o, id, name, -1, &reply, err);
    json_object_put(o);
    free(id);
    if (rc < 0)
        return -1;
    *out = to_text(reply, pretty);
    json_object_put(reply);
    return 0;
}

int
vs_qmp_hmp(vs_qmp *q, const char *cmdline, char **out, vs_error *err)
{
    json_object *args = json_object_new_object(), *r = NULL;

    *out = NULL;
    json_object_object_add(args, "command-line", json_object_new_string(cmdline));
    if (vs_qmp_command(q, "human-monitor-command", args, &r, err) < 0)
        return -1;
    *out = vs_xstrdup(r && json_object_is_type(r, json_type_string) ? json_object_get_string(r) : "");
    json_object_put(r);
    return 0;
}

/* ---- events and jobs ---------------------------------------------------- */

int
vs_qmp_event_wait(vs_qmp *q, const char *name, vs_qmp_event_match match, void *opaque,
                  int timeout_ms, json_object **data, vs_error *err)
{
    long long deadline = vs_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    if (data)
        *data = NULL;
    for (;;) {
        json_object *msg = NULL;
        int rc;

        if (take_event(q, name, match, opaque, data))
            return 1;
        if (check_usable(q, err) < 0)
            return -1;
        rc = read_message(q, deadline, &msg, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
        if (json_object_object_get_ex(msg, "event", NULL))
            queue_event(q, msg);
        /* A stray reply (to a command that timed out earlier) is dropped. */
        json_object_put(msg);
    }
}

int
vs_qmp_event_poll(vs_qmp *q, vs_error *err)
{
    int reads = 0;

    if (check_usable(q, err) < 0)
        return -1;
    /* What is buffered, then what the socket holds now: at most 64 reads,
     * so that a peer that never stops cannot keep us here. */
    for (;;) {
        json_object *msg = NULL;
        struct pollfd pfd;
        ssize_t r;
        int rc = parse_buffered(q, &msg, err);

        if (rc < 0)
            return -1;
        if (rc == 1) {
            if (json_object_object_get_ex(msg, "event", NULL))
                queue_event(q, msg);
            json_object_put(msg);
            continue;
        }
        pfd.fd = q->fd;
        pfd.events = POLLIN;
        if (reads++ >= 64 || poll(&pfd, 1, 0) <= 0)
            return 0;
        r = recv(q->fd, q->rbuf, sizeof(q->rbuf), 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            if (r < 0 && errno != ECONNRESET)
                vs_error_sys(err, errno, "cannot read from %s", q->what);
            else
                vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s closed the connection", q->what);
            return set_broken(q, err);
        }
        q->roff = 0;
        q->rlen = (size_t)r;
    }
}

typedef struct job_match {
    const char *id;
} job_match;

static bool
match_job(json_object *data, void *opaque)
{
    job_match *m = opaque;
    json_object *v;

    return data && json_object_object_get_ex(data, "id", &v) &&
           strcmp(json_object_get_string(v), m->id) == 0;
}

/* The "error" of job id in query-jobs (caller frees), NULL when none. */
static int
job_error(vs_qmp *q, const char *id, char **msg, vs_error *err)
{
    json_object *jobs = NULL;
    size_t i;

    *msg = NULL;
    if (vs_qmp_command(q, "query-jobs", NULL, &jobs, err) < 0)
        return -1;
    for (i = 0; jobs && i < json_object_array_length(jobs); i++) {
        json_object *j = json_object_array_get_idx(jobs, i), *v;

        if (!json_object_object_get_ex(j, "id", &v) || strcmp(json_object_get_string(v), id) != 0)
            continue;
        if (json_object_object_get_ex(j, "error", &v))
            *msg = vs_xstrdup(json_object_get_string(v));
    }
    json_object_put(jobs);
    return 0;
}

#define PROGRESS_EVERY_MS 200

/* The progress of QEMU's jobs, summed, reported under q->progress_what. */
static void
report_jobs(vs_qmp *q)
{
    json_object *jobs = NULL, *v;
    double cur = 0, total = 0;
    vs_error ignore;
    size_t i, n;

    vs_error_clear(&ignore);
    if (vs_qmp_command(q, "query-jobs", NULL, &jobs, &ignore) < 0)
        return;
    n = jobs && json_object_is_type(jobs, json_type_array) ? json_object_array_length(jobs) : 0;
    for (i = 0; i < n; i++) {
        json_object *j = json_object_array_get_idx(jobs, i);

        if (json_object_object_get_ex(j, "current-progress", &v))
            cur += (double)json_object_get_int64(v);
        if (json_object_object_get_ex(j, "total-progress", &v))
            total += (double)json_object_get_int64(v);
    }
    json_object_put(jobs);
    vs_progress_report(q->progress_what, total > 0 ? 100.0 * cur / total : 0, false);
    q->progress_shown = true;
}

void
vs_qmp_end_progress(vs_qmp *q, bool succeeded)
{
    if (q->progress_what && q->progress_shown) {
        if (succeeded)
            vs_progress_report(q->progress_what, 100, false);
        vs_progress_report(q->progress_what, 100, true);
    }
    free(q->progress_what);
    q->progress_what = NULL;
    q->progress_shown = false;
}

void
vs_qmp_set_progress(vs_qmp *q, const char *what)
{
    vs_qmp_end_progress(q, false);
    q->progress_what = vs_xstrdup(what);
}

int
vs_qmp_job_wait(vs_qmp *q, const char *id, const char *status, int timeout_ms, vs_error *err)
{
    long long deadline = vs_clock_ms() + timeout_ms;
    job_match m = { id };
    char *last = vs_xstrdup("unknown");
    bool show = q->progress_what && vs_progress_wanted();
    int ret = -1;

    if (show)
        report_jobs(q);
    for (;;) {
        json_object *data = NULL, *st;
        const char *s;
        int rc, left = vs_clock_left(deadline);

        rc = vs_qmp_event_wait(q, "JOB_STATUS_CHANGE", match_job, &m,
                               show && left > PROGRESS_EVERY_MS ? PROGRESS_EVERY_MS : left,
                               &data, err);
        if (rc < 0)
            break;
        if (rc == 0 && show && vs_clock_left(deadline) > 0) {
            report_jobs(q);
            continue;
        }
        if (rc == 0) {
            vs_error_set(err, VS_ERR_TIMEOUT, "job '%s' did not reach status '%s' within %d ms"
                         " (last status: %s)", id, status, timeout_ms, last);
            break;
        }
        s = data && json_object_object_get_ex(data, "status", &st) ? json_object_get_string(st) : "";
        free(last);
        last = vs_xstrdup(s);
        json_object_put(data);
        if (strcmp(last, status) == 0) {
            ret = 0;
            break;
        }
        /* "aborting" goes on to "concluded", where the error is */
        if (strcmp(last, "concluded") == 0 || strcmp(last, "null") == 0) {
            char *msg = NULL;

            if (strcmp(last, "null") != 0 && job_error(q, id, &msg, err) < 0)
                break;
            vs_error_set(err, VS_ERR_INTERNAL, "job '%s' ended (%s) before reaching status '%s'%s%s",
                         id, last, status, msg ? ": " : "", msg ? msg : "");
            free(msg);
            break;
        }
    }
    free(last);
    return ret;
}

static int
job_dismiss(vs_qmp *q, const char *id, vs_error *err)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "id", json_object_new_string(id));
    return vs_qmp_command(q, "job-dismiss", args, NULL, err);
}

int
vs_qmp_job_finish(vs_qmp *q, const char *id, vs_error *err)
{
    static const char *const cmds[] = { "query-jobs", "job-dismiss" };
    json_object *args[2] = { NULL, json_object_new_object() }, *r[2];
    char *msg = NULL;
    size_t i;

    json_object_object_add(args[1], "id", json_object_new_string(id));
    /* the job's result is read before it goes, in one round trip */
    if (vs_qmp_commands(q, 2, cmds, args, r, err) < 0)
        return -1;
    for (i = 0; r[0] && json_object_is_type(r[0], json_type_array) &&
                i < json_object_array_length(r[0]); i++) {
        json_object *j = json_object_array_get_idx(r[0], i), *v;

        if (json_object_object_get_ex(j, "id", &v) && strcmp(json_object_get_string(v), id) == 0 &&
            json_object_object_get_ex(j, "error", &v))
            msg = vs_xstrdup(json_object_get_string(v));
    }
    json_object_put(r[0]);
    json_object_put(r[1]);
    if (!msg)
        return 0;
    vs_error_set(err, VS_ERR_INTERNAL, "job '%s' failed: %s", id, msg);
    free(msg);
    return -1;
}

int
vs_qmp_job_run(vs_qmp *q, const char *cmd, json_object *args, const char *id, int timeout_ms,
               vs_error *err)
{
    vs_error ignore;

    if (vs_qmp_command(q, cmd, args, NULL, err) < 0)
        return -1;
    if (vs_qmp_job_wait(q, id, "concluded", timeout_ms, err) < 0) {
        /* It may have concluded with an error: then it is still there. */
        vs_error_clear(&ignore);
        if (q->broken.code == VS_ERR_OK)
            job_dismiss(q, id, &ignore);
        return -1;
    }
    return vs_qmp_job_finish(q, id, err);
}

/* ---- state -------------------------------------------------------------- */

int
vs_qmp_query_status(vs_qmp *q, char **status, bool *running, vs_error *err)
{
    json_object *r = NULL, *v;

    if (status)
        *status = NULL;
    if (vs_qmp_command(q, "query-status", NULL, &r, err) < 0)
        return -1;
    if (!r || !json_object_object_get_ex(r, "status", &v)) {
        json_object_put(r);
        return vs_error_set(err, VS_ERR_INTERNAL, "query-status of %s gave no status", q->what);
    }
    if (status)
        *status = vs_xstrdup(json_object_get_string(v));
    if (running)
        *running = json_object_object_get_ex(r, "running", &v) && json_object_get_boolean(v);
    json_object_put(r);
    return 0;
}

int
vs_qmp_wait_status(vs_qmp *q, const char *status, int timeout_ms, vs_error *err)
{
    long long deadline = vs_clock_ms() + timeout_ms;
    char *s = NULL;

    for (;;) {
        struct timespec ts = { 0, 2 * 1000 * 1000 };

        if (vs_qmp_query_status(q, &s, NULL, err) < 0)
            return -1;
        if (strcmp(s, status) == 0) {
            free(s);
            return 0;
        }
        if (vs_clock_ms() >= deadline) {
            vs_error_set(err, VS_ERR_TIMEOUT, "QEMU's run state is '%s', not '%s', after %d ms",
                         s, status, timeout_ms);
            free(s);
            return -1;
        }
        free(s);
        nanosleep(&ts, NULL);
    }
}

int
vs_qmp_migration_events(vs_qmp *q, vs_error *err)
{
    json_object *args, *caps, *c;

    if (q->migration_events)
        return 0;
    args = json_object_new_object();
    caps = json_object_new_array();
    c = json_object_new_object();
    json_object_object_add(c, "capability", json_object_new_string("events"));
    json_object_object_add(c, "state", json_object_new_boolean(1));
    json_object_array_add(caps, c);
    json_object_object_add(args, "capabilities", caps);
    if (vs_qmp_command(q, "migrate-set-capabilities", args, NULL, err) < 0)
        return -1;
    q->migration_events = true;
    return 0;
}

/* ---- connecting --------------------------------------------------------- */

/* connect(2) to a unix socket path of any length, within the deadline. */
static int
unix_connect(const char *path, bool *refused, vs_error *err)
{
    struct sockaddr_un sa;
    int fd, dirfd = -1, e;
    const char *target = path;
    char *via = NULL;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        /* Too long for sockaddr_un: go through the directory's descriptor. */
        const char *slash = strrchr(path, '/');
        char *dir = slash ? vs_xstrndup(path, (size_t)(slash - path)) : vs_xstrdup(".");

        dirfd = open(*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        e = errno;
        free(dir);
        if (dirfd < 0) {
            if (refused && (e == ENOENT || e == ENOTDIR))
                *refused = true;
            return vs_error_sys(err, e, "cannot reach socket '%s'", path);
        }
        via = vs_xasprintf("/proc/self/fd/%d/%s", dirfd, slash ? slash + 1 : path);
        target = via;
        if (strlen(target) >= sizeof(sa.sun_path)) {
            close(dirfd);
            free(via);
            return vs_error_set(err, VS_ERR_INTERNAL, "socket name too long: '%s'", path);
        }
    }
    memcpy(sa.sun_path, target, strlen(target) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        e = errno;
        if (dirfd >= 0)
            close(dirfd);
        free(via);
        return vs_error_sys(err, e, "cannot create a socket");
    }
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno == EINTR)
            continue;
        e = errno;
        close(fd);
        if (dirfd >= 0)
            close(dirfd);
        free(via);
        if (refused && (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR))
            *refused = true;
        return vs_error_sys(err, e, "cannot connect to '%s'", path);
    }
    if (dirfd >= 0)
        close(dirfd);
    free(via);
    return fd;
}

static vs_qmp *
qmp_new(int fd, const char *what, int timeout_ms)
{
    vs_qmp *q = vs_xcalloc(1, sizeof(*q));
    struct ucred cred;
    socklen_t len = sizeof(cred);

    q->fd = fd;
    q->what = vs_xstrdup(what);
    q->tok = json_tokener_new_ex(64);
    q->timeout_ms = timeout_ms > 0 ? timeout_ms : VS_QMP_TIMEOUT_MS;
    q->max_message = VS_QMP_MAX_MESSAGE;
    q->peer = -1;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
        q->peer = cred.pid;
    vs_error_clear(&q->broken);
    return q;
}

/* Read the greeting and send qmp_capabilities. */
static int
negotiate(vs_qmp *q, vs_error *err)
{
    long long deadline = vs_clock_ms() + q->timeout_ms;
    json_object *msg = NULL, *g, *v, *reply = NULL;
    int rc;

    for (;;) {
        rc = read_message(q, deadline, &msg, err);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            vs_error_set(err, VS_ERR_TIMEOUT,
                         "%s accepted the connection but sent no greeting within %d ms"
                         " (another client may hold the monitor)", q->what, q->timeout_ms);
            return set_broken(q, err);
        }
        if (!json_object_object_get_ex(msg, "event", NULL))
            break;
        queue_event(q, msg);
        json_object_put(msg);
    }
    if (!json_object_object_get_ex(msg, "QMP", &g) || !json_object_is_type(g, json_type_object)) {
        char *x = to_text(msg, false), *ex = excerpt(x, strlen(x));
        vs_error_set(err, VS_ERR_INTERNAL, "%s did not greet as QMP does: '%s'", q->what, ex);
        free(ex);
        free(x);
        json_object_put(msg);
        return set_broken(q, err);
    }
    if (json_object_object_get_ex(g, "version", &v) &&
        json_object_object_get_ex(v, "qemu", &v)) {
        json_object *n;
        if (json_object_object_get_ex(v, "major", &n))
            q->ver[0] = json_object_get_int(n);
        if (json_object_object_get_ex(v, "minor", &n))
            q->ver[1] = json_object_get_int(n);
        if (json_object_object_get_ex(v, "micro", &n))
            q->ver[2] = json_object_get_int(n);
    }
    json_object_put(msg);
    if (vs_qmp_command(q, "qmp_capabilities", NULL, &reply, err) < 0)
        return -1;
    json_object_put(reply);
    return 0;
}

vs_qmp *
vs_qmp_open_fd(int fd, const char *what, int timeout_ms, vs_error *err)
{
    vs_qmp *q = qmp_new(fd, what, timeout_ms);

    if (negotiate(q, err) < 0) {
        vs_qmp_free(q);
        return NULL;
    }
    return q;
}

vs_qmp *
vs_qmp_connect(const char *path, int timeout_ms, bool *refused, vs_error *err)
{
    char *what;
    vs_qmp *q;
    int fd;

    if (refused)
        *refused = false;
    if ((fd = unix_connect(path, refused, err)) < 0)
        return NULL;
    what = vs_xasprintf("the QEMU monitor at '%s'", path);
    q = vs_qmp_open_fd(fd, what, timeout_ms, err);
    free(what);
    return q;
}

vs_qmp *
vs_qga_connect(const char *path, int timeout_ms, bool *refused, vs_error *err)
{
    json_object *cmd, *args, *reply = NULL, *r;
    long long token;
    char *what;
    vs_qmp *q;
    int fd, rc;

    if (refused)
        *refused = false;
    if ((fd = unix_connect(path, refused, err)) < 0)
        return NULL;
    what = vs_xasprintf("the guest agent at '%s'", path);
    q = qmp_new(fd, what, timeout_ms);
    free(what);
    q->agent = true;
    /* guest-sync-delimited: the agent answers after a 0xff byte, which also
     * tells its JSON parser to drop anything an earlier client left. The
     * answer carries our token; older answers are skipped. */
    token = (long long)(vs_clock_ms() & 0x7fffffff) ^ (long long)getpid();
    cmd = json_object_new_object();
    args = json_object_new_object();
    json_object_object_add(args, "id", json_object_new_int64(token));
    json_object_object_add(cmd, "execute", json_object_new_string("guest-sync-delimited"));
    json_object_object_add(cmd, "arguments", args);
    if (send_all(q, "\xff", 1, -1, vs_clock_ms() + q->timeout_ms, err) < 0) {
        json_object_put(cmd);
        vs_qmp_free(q);
        return NULL;
    }
    for (;;) {
        rc = transact(q, cmd, NULL, "guest-sync-delimited", -1, &reply, err);
        if (rc < 0)
            break;
        if (json_object_object_get_ex(reply, "return", &r) &&
            json_object_get_int64(r) == token)
            break;
        json_object_put(reply);
        reply = NULL;
    }
    json_object_put(cmd);
    json_object_put(reply);
    if (rc < 0) {
        if (err && err->code == VS_ERR_TIMEOUT)
            vs_error_set(err, VS_ERR_AGENT_UNRESPONSIVE, "Guest agent not available for now");
        vs_qmp_free(q);
        return NULL;
    }
    return q;
}

void
vs_qmp_free(vs_qmp *q)
{
    if (!q)
        return;
    vs_qmp_end_progress(q, false);
    vs_qmp_events_clear(q);
    free(q->ev);
    if (q->fd >= 0)
        close(q->fd);
    json_tokener_free(q->tok);
    free(q->what);
    free(q);
}

void
vs_qmp_set_limits(vs_qmp *q, int timeout_ms, size_t max_message)
{
    if (timeout_ms > 0)
        q->timeout_ms = timeout_ms;
    if (max_message > 0)
        q->max_message = max_message;
}

void
vs_qmp_version(const vs_qmp *q, int *major, int *minor, int *micro)
{
    *major = q->ver[0];
    *minor = q->ver[1];
    *micro = q->ver[2];
}

pid_t
vs_qmp_peer_pid(const vs_qmp *q)
{
    return q->peer;
}
